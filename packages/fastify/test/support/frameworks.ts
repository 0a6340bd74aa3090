/**
 * Test support: the two Fastify majors the plugin supports, a real listening server on
 * 127.0.0.1, and a downstream HTTP server that records the headers it receives.
 */
import fastify5 from 'fastify';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import fastify4 from 'fastify4';
// The oldest Fastify the plugin supports (the first 4.x that keeps the route context under
// Symbol('fastify.context')), installed under an alias.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const fastify4Oldest = require('fastify4-oldest') as typeof fastify4;
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';

// Fastify 5's inject() loads light-my-request 6, which requires `cookie` 2, an ES module that
// jest (on Node < 24.9) cannot require. light-my-request only uses it to encode the `cookies`
// option of inject(), which these tests do not use: stand in for it.
const lightMyRequest = require.resolve('light-my-request', { paths: [dirname(require.resolve('fastify'))] });
jest.doMock(require.resolve('cookie', { paths: [dirname(lightMyRequest)] }), () => ({
  stringifySetCookie: () => {
    throw new Error('test support: inject({ cookies }) is not supported under jest');
  },
}));

// inject()'s response emits 'finish' a tick after the promise resolves, through the plugin's
// context binding: let it happen inside the test, not after jest tore the file's globals down.
afterEach(async () => {
  await new Promise((resolve) => setTimeout(resolve, 5));
  // The 'finish' comes from an immediate (the write's callback): on a busy machine, after the timer.
  await new Promise((resolve) => setImmediate(resolve));
});

export type FastifyFactory = (options?: FastifyServerOptions) => FastifyInstance;

/**
 * Fastify 4 and 5 under one (Fastify 5) type: the plugin's surface is the same on both; the cast
 * only papers over the two copies of the type declarations.
 */
export const FRAMEWORKS: ReadonlyArray<[name: string, create: FastifyFactory]> = [
  ['Fastify 5', (options) => fastify5(options)],
  ['Fastify 4', (options) => fastify4(options as never) as unknown as FastifyInstance],
];

/**
 * {@link FRAMEWORKS} and the oldest Fastify 4 the plugin supports (4.7.0), for the tests of what
 * depends on Fastify's internals (the route context the plugin wraps, the raw request's events)
 * rather than on features later releases added (onRequestAbort, the 408 of requestTimeout).
 */
export const FRAMEWORKS_WITH_OLDEST: ReadonlyArray<[name: string, create: FastifyFactory]> = [
  ...FRAMEWORKS,
  ['Fastify 4.7', (options) => fastify4Oldest(options as never) as unknown as FastifyInstance],
];

/** Starts `app` on 127.0.0.1 and returns its base URL. */
export async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

export interface Downstream {
  readonly url: string;
  /** Headers of every request received, in order. */
  readonly received: IncomingHttpHeaders[];
  close(): Promise<void>;
}

/** A plain node:http server that answers 200 and records each request's headers. */
export async function startDownstream(): Promise<Downstream> {
  const received: IncomingHttpHeaders[] = [];
  const server: Server = createServer((req, res) => {
    received.push(req.headers);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ traceparent: req.headers.traceparent ?? null, baggage: req.headers.baggage ?? null }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/downstream`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Polls `read` until it returns a value that satisfies `done`, or fails after `timeoutMs`. */
export async function waitFor<T>(read: () => T, done: (value: T) => boolean, timeoutMs = 2_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (done(value)) return value;
    if (Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** W3C Trace Context example values (https://www.w3.org/TR/trace-context/#examples-of-http-traceparent-headers). */
export const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
export const PARENT_ID = '00f067aa0ba902b7';
export const TRACEPARENT = `00-${TRACE_ID}-${PARENT_ID}-01`;

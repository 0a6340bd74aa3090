/**
 * Real Express 5, Express 4 and Fastify 5 servers on 127.0.0.1 with a small local middleware that
 * makes the inbound context active (`context.with(propagation.extract(ROOT_CONTEXT, headers),
 * next)`), and with a tracer, starts a SERVER span, the way the ctxprop adapters do. Fastify
 * re-enters the context in preValidation, as fastify-request-context does.
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, trace, type Context, type TextMapPropagator, type Tracer } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import * as core from '@ctxprop/core';
import express5 from 'express';
import fastify from 'fastify';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// Express 4 installed under an alias: no types of its own, and the same API as far as used here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const express4 = require('express4') as typeof express5;

/** Logs a request's lines; `n` identifies the request. */
export type Work = (n: number) => Promise<void>;

export interface Served {
  readonly url: string;
  close(): Promise<void>;
}

export const FRAMEWORKS = ['express 5', 'express 4', 'fastify 5'] as const;
export type FrameworkName = (typeof FRAMEWORKS)[number];

/**
 * Sets the global propagator: core's `createPropagator()` when core exports it, else OTel's W3C
 * trace-context + baggage composite. Returns which one.
 */
export function installPropagator(): 'ctxprop' | 'opentelemetry' {
  const create = (core as unknown as Record<string, unknown>).createPropagator as (() => TextMapPropagator) | undefined;
  if (typeof create === 'function') {
    propagation.setGlobalPropagator(create());
    return 'ctxprop';
  }
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  return 'opentelemetry';
}

function enter(headers: IncomingHttpHeaders, tracer: Tracer | undefined): Context {
  const parent = propagation.extract(ROOT_CONTEXT, headers);
  if (tracer === undefined) return parent;
  const span = tracer.startSpan('GET /work/:n', { kind: SpanKind.SERVER }, parent);
  return trace.setSpan(parent, span);
}

async function finish(work: Work, n: number): Promise<void> {
  await work(n);
  // Ends the SERVER span (a no-op without an SDK) before the response leaves.
  trace.getActiveSpan()?.end();
}

const BACKLOG = 4096;

/** Starts `framework` serving GET /work/:n, which runs `work(n)`. */
export async function serve(framework: FrameworkName, work: Work, tracer?: Tracer): Promise<Served> {
  if (framework === 'fastify 5') {
    const app = fastify();
    const contexts = new WeakMap<object, Context>();
    app.addHook('onRequest', (request, _reply, done) => {
      const ctx = enter(request.headers, tracer);
      contexts.set(request, ctx);
      context.with(ctx, done);
    });
    app.addHook('preValidation', (request, _reply, done) => {
      context.with(contexts.get(request) ?? context.active(), done);
    });
    app.get('/work/:n', async (request) => {
      await finish(work, Number((request.params as { n: string }).n));
      return { ok: true };
    });
    await app.listen({ port: 0, host: '127.0.0.1', backlog: BACKLOG });
    const { port } = app.server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
  }

  const app = framework === 'express 5' ? express5() : (express4 as unknown as typeof express5)();
  app.use((req, _res, next) => {
    context.with(enter(req.headers, tracer), next);
  });
  app.get('/work/:n', (req, res) => {
    finish(work, Number(req.params.n)).then(
      () => res.json({ ok: true }),
      (err: unknown) => res.status(500).json({ error: String(err) }),
    );
  });
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: BACKLOG }, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}

/**
 * Serves an Express app on 127.0.0.1; `close()` closes `middleware` (ctxprop's, which holds
 * outbound propagation), then the connections and the server.
 */
export async function serveExpressApp(app: (req: IncomingMessage, res: ServerResponse) => void, middleware: { close(): void }): Promise<Served> {
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      middleware.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

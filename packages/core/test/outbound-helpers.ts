/**
 * Shared pieces of the outbound tests: a real HTTP(S) server on 127.0.0.1 that records exactly
 * the headers it received (raw, so duplicates show), a DNS lookup that sends any host name to
 * 127.0.0.1 (a "public" host without the network), and contexts with a known trace and baggage.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { LookupFunction } from 'node:net';
import { propagation, ROOT_CONTEXT, trace, TraceFlags, type Context } from '@opentelemetry/api';

/** One request as the server saw it. */
export interface Received {
  readonly method: string;
  readonly url: string;
  /** Lower-case header name to every value received under it, in order. */
  readonly headers: Readonly<Record<string, readonly string[]>>;
}

export interface TestServer {
  readonly port: number;
  readonly received: Received[];
  /** The values received for one header on the last request (empty when absent). */
  last(name: string): readonly string[];
  close(): Promise<void>;
}

function record(req: IncomingMessage): Received {
  const headers: Record<string, string[]> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    (headers[name] ??= []).push(req.rawHeaders[i + 1]!);
  }
  return { method: req.method ?? '', url: req.url ?? '', headers };
}

function answer(received: Received[]) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const entry = record(req);
    received.push(entry);
    const status = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('status') ?? 200);
    const delay = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('delay') ?? 0);
    req.resume();
    setTimeout(() => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(entry.headers));
    }, delay);
  };
}

async function listen(server: Server, received: Received[]): Promise<TestServer> {
  server.keepAliveTimeout = 100;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    port,
    received,
    last(name) {
      return received[received.length - 1]?.headers[name.toLowerCase()] ?? [];
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/**
 * Starts a plain HTTP server on 127.0.0.1 that answers every request with the JSON of the
 * headers it received; `?status=503` and `?delay=20` change the answer.
 */
export function startServer(): Promise<TestServer> {
  const received: Received[] = [];
  return listen(createServer(answer(received)), received);
}

/** The same over TLS with the given key and certificate. */
export function startHttpsServer(key: string, cert: string): Promise<TestServer> {
  const received: Received[] = [];
  return listen(createHttpsServer({ key, cert }, answer(received)) as unknown as Server, received);
}

/** A DNS lookup that resolves every name to 127.0.0.1, in both of Node's callback shapes. */
export const lookupToLoopback: LookupFunction = ((_hostname: string, options: unknown, callback?: unknown) => {
  const cb = (typeof options === 'function' ? options : callback) as (...args: unknown[]) => void;
  const all = typeof options === 'object' && options !== null && (options as { all?: boolean }).all === true;
  if (all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
  else cb(null, '127.0.0.1', 4);
}) as LookupFunction;

/** W3C Trace Context §3.2 example ids. */
export const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
export const SPAN_ID = 'b7ad6b7169203331';

/** A context holding a remote sampled span context and the given baggage. */
export function contextWith(baggage: Record<string, string> = {}, traceId = TRACE_ID, spanId = SPAN_ID): Context {
  let ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
  const entries = Object.entries(baggage);
  if (entries.length > 0) {
    ctx = propagation.setBaggage(ctx, propagation.createBaggage(Object.fromEntries(entries.map(([key, value]) => [key, { value }]))));
  }
  return ctx;
}

/** Random lower-case hex of `length` characters, never all zeros. */
export function randomHex(length: number): string {
  let out = '';
  while (out.length < length) out += Math.floor(Math.random() * 16).toString(16);
  return out.replace(/^0/, '1');
}

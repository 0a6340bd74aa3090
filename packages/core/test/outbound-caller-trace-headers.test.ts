/**
 * Trace headers the caller set itself, as a real server on 127.0.0.1 receives them, through
 * global fetch, npm undici's fetch and request, and node:http, with no SDK:
 * - the caller has set the trace only when it set a propagator's id header (`traceparent`, `b3`,
 *   `x-b3-traceid`, ...); a lone auxiliary field (`tracestate`, `X-B3-Flags`) neither takes the
 *   call out of the active trace nor rides along beside ids it does not belong to;
 * - a single-valued trace header set as several lines that the client joins into one
 *   (`Headers.append`: "a, b") goes on as its first line under 'keep', never as the joined value.
 */
import * as http from 'node:http';
import { context, trace, type Context } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { fetch as undiciFetch, Headers as UndiciHeaders, request } from 'undici';
import { configureDiagnostics, createPropagator, enableOutboundPropagation, type OutboundHandle, type OutboundOptions } from '@ctxprop/core';
import { contextWith, SPAN_ID, startServer, TRACE_ID, type TestServer } from './outbound-helpers';

const TRACEPARENT = `00-${TRACE_ID}-${SPAN_ID}-01`;
const FIRST = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
const SECOND = `00-${'c'.repeat(32)}-${'d'.repeat(16)}-01`;

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
  // Withheld trace headers warn: kept out of the test output.
  configureDiagnostics({ warn: () => undefined });
});

afterAll(async () => {
  configureDiagnostics({ warn: (message, code) => process.emitWarning(message, { type: 'CtxpropWarning', code }) });
  await server.close();
});

/** Header lines as the caller sets them, in order; a name may repeat. */
type Lines = readonly (readonly [string, string])[];

/** A client sending one GET with `lines`, each set as the client's own API sets a repeated header. */
type Client = (url: string, lines: Lines) => Promise<unknown>;

/** `lines` appended one by one to a fetch `Headers` (global fetch's class, or npm undici's). */
function headersOf<H extends { append(name: string, value: string): void }>(lines: Lines, make: () => H): H {
  const headers = make();
  for (const [name, value] of lines) headers.append(name, value);
  return headers;
}

function send(url: string, headers: http.OutgoingHttpHeaders): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
  });
}

const CLIENTS: readonly (readonly [string, Client])[] = [
  ['global fetch', async (url, lines) => (await fetch(url, { headers: headersOf(lines, () => new Headers()) })).text()],
  ['undici fetch', async (url, lines) => (await undiciFetch(url, { headers: headersOf(lines, () => new UndiciHeaders()) })).text()],
  ['undici request', async (url, lines) => (await request(url, { headers: lines.flat() })).body.text()],
  [
    'node:http',
    (url, lines) => {
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of lines) {
        const before = headers[name];
        headers[name] = before === undefined ? value : [...(Array.isArray(before) ? before : [before]), value];
      }
      return send(url, headers);
    },
  ],
];

/** Sends `lines` to the test server in `ctx` and returns every header line it received. */
async function call(client: Client, lines: Lines, ctx: Context = contextWith({ tenant: 'acme' })): Promise<Readonly<Record<string, readonly string[]>>> {
  await context.with(ctx, () => client(`http://127.0.0.1:${server.port}/call`, lines));
  return server.received.at(-1)!.headers;
}

/** Enables outbound propagation with `options` for the enclosing describe block. */
function enableForBlock(options: OutboundOptions): void {
  let handle: OutboundHandle | undefined;
  beforeAll(() => {
    handle = enableOutboundPropagation(options);
  });
  afterAll(() => handle?.disable());
}

describe.each(CLIENTS)("with existingTraceparent: 'keep', through %s", (_name, client) => {
  describe('and W3C Trace Context, baggage and B3 multi', () => {
    enableForBlock({ propagator: createPropagator('tracecontext,baggage,b3multi') });

    it('writes the active trace when the caller set only a tracestate, and does not send that tracestate beside it', async () => {
      const received = await call(client, [['tracestate', 'vendor=abc']]);
      expect(received.traceparent).toEqual([TRACEPARENT]);
      expect(received['x-b3-traceid']).toEqual([TRACE_ID]);
      expect(received['x-b3-spanid']).toEqual([SPAN_ID]);
      expect(received.tracestate).toBeUndefined();
      expect(received.baggage).toEqual(['tenant=acme']);
    });

    it("sends the active context's tracestate, once, in place of a stale one the caller set alone", async () => {
      const active = trace.getSpanContext(contextWith())!;
      const ctx = trace.setSpanContext(contextWith({ tenant: 'acme' }), { ...active, traceState: new TraceState('ours=1') });
      const received = await call(client, [['tracestate', 'vendor=abc']], ctx);
      expect(received.traceparent).toEqual([TRACEPARENT]);
      expect(received.tracestate).toEqual(['ours=1']);
    });

    it('keeps a B3 sampling decision the caller sent without ids (valid B3 on its own: "Sampling state can also be sent on its own"), and writes no trace beside it', async () => {
      let received = await call(client, [['X-B3-Flags', '1']]);
      expect(received['x-b3-flags']).toEqual(['1']);
      expect(received.traceparent).toBeUndefined();
      expect(received['x-b3-traceid']).toBeUndefined();
      received = await call(client, [['x-b3-sampled', '0']]);
      expect(received['x-b3-sampled']).toEqual(['0']);
      expect(received.traceparent).toBeUndefined();
      expect(received['x-b3-traceid']).toBeUndefined();
      expect(received.baggage).toEqual(['tenant=acme']);
    });

    it('drops a stale X-B3-ParentSpanId the caller set without ids: it would name the parent of another span', async () => {
      const received = await call(client, [['X-B3-ParentSpanId', '05e3ac9a4f6e3b90']]);
      expect(received['x-b3-traceid']).toEqual([TRACE_ID]);
      expect(received['x-b3-spanid']).toEqual([SPAN_ID]);
      expect(received['x-b3-parentspanid']).toBeUndefined();
    });

    it('keeps the trace the caller set with a traceparent, its tracestate too, and writes no B3 ids beside it', async () => {
      const received = await call(client, [
        ['traceparent', FIRST],
        ['tracestate', 'vendor=abc'],
      ]);
      expect(received.traceparent).toEqual([FIRST]);
      expect(received.tracestate).toEqual(['vendor=abc']);
      expect(received['x-b3-traceid']).toBeUndefined();
      expect(received.baggage).toEqual(['tenant=acme']);
    });

    it('keeps the trace the caller set with B3 ids, and writes no traceparent beside it', async () => {
      const received = await call(client, [
        ['X-B3-TraceId', 'a'.repeat(32)],
        ['X-B3-SpanId', 'b'.repeat(16)],
        ['X-B3-Flags', '1'],
      ]);
      expect(received['x-b3-traceid']).toEqual(['a'.repeat(32)]);
      expect(received['x-b3-spanid']).toEqual(['b'.repeat(16)]);
      expect(received['x-b3-flags']).toEqual(['1']);
      expect(received.traceparent).toBeUndefined();
    });
  });

  describe('and a rule that withholds trace headers from the destination', () => {
    enableForBlock({ destinations: { rules: [{ hosts: ['127.0.0.1'], trace: false }] } });

    it('sends neither the active trace nor the lone tracestate the caller set', async () => {
      const received = await call(client, [['tracestate', 'vendor=abc']]);
      expect(received.traceparent).toBeUndefined();
      expect(received.tracestate).toBeUndefined();
      expect(received.baggage).toEqual(['tenant=acme']);
    });
  });
});

describe('a single-valued trace header set as several lines', () => {
  describe("with existingTraceparent: 'keep'", () => {
    enableForBlock({ propagator: createPropagator('tracecontext,baggage') });

    it.each(CLIENTS)('goes on as the first line through %s, once, never as the lines joined', async (_name, client) => {
      const received = await call(client, [
        ['traceparent', FIRST],
        ['traceparent', SECOND],
      ]);
      expect(received.traceparent).toEqual([FIRST]);
    });

    it('goes on as the first of the lines a proxy joined into one (node:http, the string "a, b")', async () => {
      await context.with(contextWith(), () => send(`http://127.0.0.1:${server.port}/joined`, { traceparent: `${FIRST}, ${SECOND}` }));
      expect(server.last('traceparent')).toEqual([FIRST]);
    });

    it('leaves tracestate, a list, as the caller wrote it, every member', async () => {
      const received = await call(CLIENTS[0]![1], [
        ['traceparent', FIRST],
        ['traceparent', SECOND],
        ['tracestate', 'foo=1,bar=2'],
        ['tracestate', 'baz=3'],
      ]);
      expect(received.traceparent).toEqual([FIRST]);
      // fetch joins the two lines into one: still every member, in order.
      expect(received.tracestate).toEqual(['foo=1,bar=2, baz=3']);
    });
  });

  describe('with B3 single', () => {
    enableForBlock({ propagator: createPropagator('b3') });

    it.each(CLIENTS)('goes on as the first b3 line through %s', async (_name, client) => {
      const first = `${'a'.repeat(32)}-${'b'.repeat(16)}-1`;
      const received = await call(client, [
        ['b3', first],
        ['b3', `${'c'.repeat(32)}-${'d'.repeat(16)}-0`],
      ]);
      expect(received.b3).toEqual([first]);
    });
  });

  describe("with existingTraceparent: 'replace'", () => {
    enableForBlock({ existingTraceparent: 'replace' });

    it("replaces lines the caller joined into one (fetch's Headers.append) with the active trace", async () => {
      const received = await call(CLIENTS[0]![1], [
        ['traceparent', FIRST],
        ['traceparent', SECOND],
      ]);
      expect(received.traceparent).toEqual([TRACEPARENT]);
    });
  });
});

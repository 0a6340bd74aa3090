/**
 * node:http requests whose headers do not tell the whole story when ctxprop sees them: a Host
 * header that names another host or port than the connection's (the destination port must still
 * be the real one, on every Node line), and trace headers the caller sets or appends after the
 * request was created (they follow `existingTraceparent` as one given in the options does). Real
 * servers on 127.0.0.1 record the raw header lines they received, so a second line shows; an SDK
 * records the CLIENT spans.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { context, createTraceState, ROOT_CONTEXT, SpanKind, trace, TraceFlags } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import supertest from 'supertest';
import { enableOutboundPropagation, type OutboundHandle } from '@ctxprop/core';
import { startServer, type TestServer } from './outbound-helpers';
import { hasRequestCreatedChannel } from '../src/outbound/http';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('test');

/** A traceparent the caller brings (forwarded from its own inbound request, say). */
const CALLERS = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
const CALLERS_SECOND = `00-${'c'.repeat(32)}-${'d'.repeat(16)}-01`;

let server: TestServer;

beforeAll(async () => {
  trace.setGlobalTracerProvider(provider);
  server = await startServer();
});

afterAll(async () => {
  await server.close();
  await provider.shutdown();
  trace.disable();
});

beforeEach(() => exporter.reset());

/**
 * Makes one request with `make`, lets `before` touch it before `end()`, and resolves once it
 * closed (ctxprop ends its span on `close`, before the caller's listeners run).
 */
function roundTrip(make: (callback: (res: http.IncomingMessage) => void) => http.ClientRequest, before?: (req: http.ClientRequest) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = make((res) => res.resume());
    req.on('error', reject);
    req.on('close', () => resolve());
    before?.(req);
    req.end();
  });
}

/** Runs `fn` under an active SDK span (trace state `ours=1`) and returns that span's trace id. */
async function underParent(fn: () => Promise<void>): Promise<string> {
  const remote = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
    traceState: createTraceState('ours=1'),
  });
  return context.with(remote, () =>
    tracer.startActiveSpan('parent', async (parent) => {
      try {
        await fn();
      } finally {
        parent.end();
      }
      return parent.spanContext().traceId;
    }),
  );
}

function clientSpans(): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.CLIENT);
}

/**
 * The CLIENT spans once `count` ended, or what ended within 200 ms: superagent resolves on the
 * response's end, before the request's `close` ends the span.
 */
async function clientSpansAfterClose(count: number): Promise<ReadableSpan[]> {
  for (let waited = 0; clientSpans().length < count && waited < 200; waited += 5) await new Promise((resolve) => setTimeout(resolve, 5));
  return clientSpans();
}

/** The traceparent a CLIENT span puts on the wire. */
function traceparentOf(span: ReadableSpan): string {
  const { traceId, spanId } = span.spanContext();
  return `00-${traceId}-${spanId}-01`;
}

describe('node:http: the destination port', () => {
  let handle: OutboundHandle;

  beforeAll(() => {
    handle = enableOutboundPropagation({
      destinations: { rules: [{ name: 'closed-port', origins: [`http://127.0.0.1:${server.port}`], trace: false, baggage: 'none' }] },
    });
  });

  afterAll(() => handle.disable());

  it.each([
    ['a virtual-host Host header', { headers: { Host: 'orders.example' } }],
    ['setHost: false (no Host header)', { setHost: false }],
    ['a Host header naming another port', { headers: { Host: '127.0.0.1:9999' } }],
    ['a Host header Node wrote', {}],
  ])('is the port the request connects to, not its Host header: %s', async (_name, extra) => {
    await underParent(() => roundTrip((cb) => http.request({ host: '127.0.0.1', port: server.port, path: '/port?x=1', ...extra }, cb)));
    // The origins rule for this port matched: nothing was sent.
    expect(server.last('traceparent')).toEqual([]);
    expect(server.last('tracestate')).toEqual([]);
    const [span] = clientSpans();
    expect(span?.attributes['server.port']).toBe(server.port);
    expect(span?.attributes['url.full']).toBe(`http://127.0.0.1:${server.port}/port?x=1`);
  });

  it('is the port given as a string, and the port of a URL string, with a virtual host too', async () => {
    await underParent(async () => {
      await roundTrip((cb) => http.request({ host: '127.0.0.1', port: String(server.port), path: '/string', headers: { host: 'orders.example' } }, cb));
      await roundTrip((cb) => http.request(`http://127.0.0.1:${server.port}/url`, { headers: { host: 'orders.example' } }, cb));
    });
    for (const entry of server.received.slice(-2)) expect(entry.headers.traceparent).toBeUndefined();
    expect(clientSpans().map((span) => span.attributes['server.port'])).toEqual([server.port, server.port]);
  });

  it('of a request made with createConnection and no agent (seen on Node 22.12+ only) comes from the Host header Node wrote', async () => {
    await underParent(() =>
      roundTrip((cb) =>
        http.request({ host: '127.0.0.1', port: server.port, path: '/no-agent', createConnection: (options) => net.createConnection(options as net.NetConnectOpts) }, cb),
      ),
    );
    expect(server.last('traceparent')).toEqual([]);
    expect(clientSpans().map((span) => span.attributes['server.port'])).toEqual(hasRequestCreatedChannel() ? [server.port] : []);
  });
});

describe("node:http: a trace header set after the request was created, existingTraceparent: 'replace'", () => {
  let handle: OutboundHandle;

  beforeAll(() => {
    handle = enableOutboundPropagation({ existingTraceparent: 'replace' });
  });

  afterAll(() => handle.disable());

  it.each([
    ['setHeader', (req: http.ClientRequest) => req.setHeader('traceparent', CALLERS)],
    ['setHeader, in another case', (req: http.ClientRequest) => req.setHeader('TraceParent', CALLERS)],
    ['setHeaders', (req: http.ClientRequest) => req.setHeaders(new Map([['traceparent', CALLERS]]))],
    ['appendHeader', (req: http.ClientRequest) => req.appendHeader('traceparent', CALLERS)],
    ['setHeader of two lines', (req: http.ClientRequest) => req.setHeader('traceparent', [CALLERS, CALLERS_SECOND])],
  ])("is ignored (%s): ctxprop's header, with its span's id, is the only one that leaves", async (_name, late) => {
    await underParent(() => roundTrip((cb) => http.request({ host: '127.0.0.1', port: server.port, path: '/replace' }, cb), late));
    const spans = clientSpans();
    expect(spans).toHaveLength(1);
    expect(server.last('traceparent')).toEqual([traceparentOf(spans[0]!)]);
    expect(server.last('tracestate')).toEqual(['ours=1']);
  });

  it("is ignored for a late tracestate too (set or appended): ctxprop's trace state leaves", async () => {
    await underParent(async () => {
      await roundTrip((cb) => http.request({ host: '127.0.0.1', port: server.port, path: '/ts-set' }, cb), (req) => req.setHeader('tracestate', 'theirs=2'));
      await roundTrip((cb) => http.request({ host: '127.0.0.1', port: server.port, path: '/ts-append' }, cb), (req) => req.appendHeader('tracestate', 'theirs=2'));
    });
    for (const entry of server.received.slice(-2)) expect(entry.headers.tracestate).toEqual(['ours=1']);
  });

  it("is ignored when superagent sets it (supertest's .set(): in the options, then setHeader again)", async () => {
    await underParent(async () => {
      await supertest(`http://127.0.0.1:${server.port}`).get('/superagent').set('traceparent', CALLERS);
    });
    const spans = await clientSpansAfterClose(1);
    expect(spans).toHaveLength(1);
    expect(server.last('traceparent')).toEqual([traceparentOf(spans[0]!)]);
  });
});

describe("node:http: a trace header set after the request was created, existingTraceparent: 'keep'", () => {
  let handle: OutboundHandle;

  beforeAll(() => {
    handle = enableOutboundPropagation({ existingTraceparent: 'keep' });
  });

  afterAll(() => handle.disable());

  it.each([
    ['setHeader', (req: http.ClientRequest) => req.setHeader('traceparent', CALLERS)],
    ['setHeaders', (req: http.ClientRequest) => req.setHeaders(new Map([['traceparent', CALLERS]]))],
    ['appendHeader', (req: http.ClientRequest) => req.appendHeader('traceparent', CALLERS)],
    ['setHeader of two lines (the first goes)', (req: http.ClientRequest) => req.setHeader('traceparent', [CALLERS, CALLERS_SECOND])],
    ['setHeader, then appendHeader (the first goes)', (req: http.ClientRequest) => req.setHeader('traceparent', CALLERS).appendHeader('traceparent', CALLERS_SECOND)],
  ])("replaces ctxprop's (%s), which starts no span for that call and sends none of its own trace headers", async (_name, late) => {
    await underParent(() => roundTrip((cb) => http.request({ host: '127.0.0.1', port: server.port, path: '/keep' }, cb), late));
    expect(server.last('traceparent')).toEqual([CALLERS]);
    // ctxprop's tracestate belonged with its traceparent: none goes beside the caller's.
    expect(server.last('tracestate')).toEqual([]);
    expect(clientSpans().map(traceparentOf)).toEqual([]);
  });

  it("keeps the caller's tracestate beside the caller's traceparent, whichever is set first", async () => {
    await underParent(async () => {
      await roundTrip(
        (cb) => http.request({ host: '127.0.0.1', port: server.port, path: '/pair' }, cb),
        (req) => req.setHeader('traceparent', CALLERS).setHeader('tracestate', 'theirs=2'),
      );
      await roundTrip(
        (cb) => http.request({ host: '127.0.0.1', port: server.port, path: '/pair-reversed' }, cb),
        (req) => req.setHeader('tracestate', 'theirs=2').setHeader('traceparent', CALLERS),
      );
    });
    for (const entry of server.received.slice(-2)) {
      expect(entry.headers.traceparent).toEqual([CALLERS]);
      expect(entry.headers.tracestate).toEqual(['theirs=2']);
    }
    expect(clientSpans().map(traceparentOf)).toEqual([]);
  });

  it("holds back a tracestate set or appended beside ctxprop's trace (it qualifies no ids of the caller's): ctxprop's trace state goes, and its span stays", async () => {
    await underParent(async () => {
      await roundTrip((cb) => http.request({ host: '127.0.0.1', port: server.port, path: '/ts-set' }, cb), (req) => req.setHeader('tracestate', 'theirs=2'));
      await roundTrip((cb) => http.request({ host: '127.0.0.1', port: server.port, path: '/ts-append' }, cb), (req) => req.appendHeader('tracestate', 'theirs=2'));
    });
    const spans = clientSpans();
    expect(spans).toHaveLength(2);
    server.received.slice(-2).forEach((entry, i) => {
      expect(entry.headers.traceparent).toEqual([traceparentOf(spans[i]!)]);
      expect(entry.headers.tracestate).toEqual(['ours=1']);
    });
  });

  it("appends a late tracestate to the caller's (a list: every line goes)", async () => {
    await underParent(() =>
      roundTrip(
        (cb) => http.request({ host: '127.0.0.1', port: server.port, path: '/ts-lines' }, cb),
        (req) => req.appendHeader('tracestate', 'theirs=2').setHeader('traceparent', CALLERS).appendHeader('tracestate', 'theirs=3'),
      ),
    );
    expect(server.last('traceparent')).toEqual([CALLERS]);
    expect(server.last('tracestate')).toEqual(['theirs=2', 'theirs=3']);
    expect(clientSpans().map(traceparentOf)).toEqual([]);
  });

  it('lets Node refuse a late tracestate with a control character, as without ctxprop', async () => {
    await underParent(() =>
      roundTrip(
        (cb) => http.request({ host: '127.0.0.1', port: server.port, path: '/ts-invalid' }, cb),
        (req) => expect(() => req.setHeader('tracestate', 'a=1\r\nx: y')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CHAR' })),
      ),
    );
    expect(server.last('tracestate')).toEqual(['ours=1']);
  });

  it("keeps the caller's own header when it is set again after the request was created (superagent: in the options, then setHeader)", async () => {
    await underParent(async () => {
      await supertest(`http://127.0.0.1:${server.port}`).get('/superagent').set('traceparent', CALLERS);
    });
    expect(server.last('traceparent')).toEqual([CALLERS]);
    expect((await clientSpansAfterClose(1)).map(traceparentOf)).toEqual([]);
  });

  it("sends a late traceparent as the only one outside any trace too, and drops the root span ctxprop started there", async () => {
    await roundTrip((cb) => http.request({ host: '127.0.0.1', port: server.port, path: '/no-context' }, cb), (req) => req.appendHeader('traceparent', CALLERS));
    expect(server.last('traceparent')).toEqual([CALLERS]);
    expect(clientSpans().map(traceparentOf)).toEqual([]);
  });
});

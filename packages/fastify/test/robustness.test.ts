/**
 * Wire input never fails a request (issue #3, "Robustness"; DESIGN decision 4): no header,
 * however bad, turns into a 4xx or 5xx; it gives "no context" and a diagnostics count. A throw
 * inside ctxprop is counted and the request goes on without context.
 */
import type { FastifyInstance } from 'fastify';
import fc from 'fast-check';
import { connect } from 'node:net';
import { configureDiagnostics, diagnosticsSnapshot, resetDiagnostics } from '@ctxprop/core';
import { ctxprop } from '@ctxprop/fastify';
import { FRAMEWORKS, listen, TRACEPARENT } from './support/frameworks';

interface Seen {
  traceId: string | null;
  baggage: Record<string, string>;
}

const LONG = 'a'.repeat(64 * 1024);

// Bad headers warn once per kind; the tests below look at the counters instead.
configureDiagnostics({ warn: false });

/** Bad headers, each with what the handler must see (W3C Trace Context §3.2, W3C Baggage §3.3). */
const BAD_HEADERS: ReadonlyArray<[name: string, headers: Record<string, string>]> = [
  ['traceparent of the wrong length', { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1' }],
  ['traceparent with upper-case hex', { traceparent: '00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01' }],
  ['traceparent with an all-zero trace id', { traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' }],
  ['traceparent with version ff', { traceparent: 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }],
  ['traceparent of 64 KiB', { traceparent: LONG }],
  ['tracestate that is not a list', { traceparent: TRACEPARENT, tracestate: '=,=,==' }],
  ['baggage without "="', { baggage: 'just-a-word' }],
  ['baggage of 64 KiB', { baggage: `k=${LONG}` }],
  ['baggage with 1,000 members', { baggage: Array.from({ length: 1000 }, (_, i) => `k${i}=v`).join(',') }],
  ['baggage whose key is not a token', { baggage: 'bad key=1' }],
  ['b3 garbage with no traceparent', { b3: 'not-a-b3-header', 'x-b3-traceid': 'zz' }],
];

describe.each(FRAMEWORKS)('%s', (_framework, createApp) => {
  let app: FastifyInstance;

  beforeEach(async () => {
    resetDiagnostics();
    app = createApp();
    await app.register(ctxprop);
    app.get('/', async (request): Promise<Seen> => ({ traceId: request.traceContext?.traceId ?? null, baggage: request.baggage.toJSON() }));
  });

  afterEach(() => app.close());

  test.each(BAD_HEADERS)('%s: 200, and no context from that header', async (_name, headers) => {
    const response = await app.inject({ method: 'GET', url: '/', headers });

    expect(response.statusCode).toBe(200);
    const seen = response.json() as Seen;
    if (headers.traceparent !== TRACEPARENT) expect(seen.traceId).toBeNull();
    if (headers.baggage !== undefined && !headers.baggage.startsWith('k0=')) expect(seen.baggage).toEqual({});
  });

  test('bad headers are counted as diagnostics', async () => {
    await app.inject({ method: 'GET', url: '/', headers: { traceparent: 'garbage', baggage: 'no-equals-sign' } });

    const counts = diagnosticsSnapshot();
    expect(counts['extract.trace.malformed']).toBeGreaterThanOrEqual(1);
    expect(counts['extract.baggage.invalid_member']).toBeGreaterThanOrEqual(1);
  });

  test('a header sent twice (two traceparent lines) on a real connection gives 200 and no trace', async () => {
    const base = new URL(await listen(app));
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(base.port), base.hostname, () => {
        socket.end(
          'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n' +
            `traceparent: ${TRACEPARENT}\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n` +
            'baggage: a=1\r\nbaggage: b=2\r\n\r\n',
        );
      });
      let text = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => (text += chunk));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });

    expect(raw.startsWith('HTTP/1.1 200')).toBe(true);
    const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as Seen;
    // Node folds repeated headers into one comma-separated value: two traceparents make an
    // invalid one (W3C Trace Context §3.2.1); two baggage lines are one list (W3C Baggage §3.2.1).
    expect(body.traceId).toBeNull();
    expect(body.baggage).toEqual({ a: '1', b: '2' });
  });

  test('property: any printable header values for every propagation header give 200', async () => {
    const value = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 300 });
    await fc.assert(
      fc.asyncProperty(fc.record({ traceparent: value, tracestate: value, baggage: value, b3: value }), async (headers) => {
        const response = await app.inject({ method: 'GET', url: '/', headers });
        return response.statusCode === 200;
      }),
      { numRuns: 200 },
    );
  });

  test('a throw inside ctxprop is counted and the request goes on without context', async () => {
    const broken = createApp();
    // Runs before the plugin's hook: reading the client address now throws, inside ctxprop's
    // set-up (the trust rule below needs it; Fastify itself does not read it without a logger).
    broken.addHook('onRequest', async (request) => {
      Object.defineProperty(request, 'ip', {
        get() {
          throw new Error('exploding address');
        },
      });
    });
    await broken.register(ctxprop, { trust: { trustedAddresses: ['private'] } });
    broken.get('/', async (request) => ({ baggage: request.baggage.toJSON(), traceId: request.traceContext?.traceId ?? null }));

    const warnings: string[] = [];
    configureDiagnostics({ warn: (_message, code) => warnings.push(code) });
    try {
      const first = await broken.inject({ method: 'GET', url: '/', headers: { traceparent: TRACEPARENT, baggage: 'a=1' } });
      const second = await broken.inject({ method: 'GET', url: '/', headers: { traceparent: TRACEPARENT, baggage: 'a=1' } });

      expect([first.statusCode, second.statusCode]).toEqual([200, 200]);
      expect(first.json()).toEqual({ baggage: {}, traceId: null });
      expect(diagnosticsSnapshot()['internal.error']).toBe(2);
      // Warned once, not per request.
      expect(warnings).toEqual(['CTXPROP_INBOUND_FAILED']);
    } finally {
      configureDiagnostics({ warn: false });
      await broken.close();
    }
  });
});

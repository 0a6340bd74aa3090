/**
 * No OpenTelemetry SDK: nothing records spans, yet the inbound context (trace and baggage) is the
 * active context in every hook from onRequest to onResponse, in handlers, timers and streams, and
 * outbound calls forward the inbound trace (issue #3, "What each does on every request" 1, 2, 4).
 */
import { context, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import { Readable } from 'node:stream';
import { ctxprop } from '@ctxprop/fastify';
import { FRAMEWORKS, listen, PARENT_ID, startDownstream, TRACE_ID, TRACEPARENT, type Downstream } from './support/frameworks';

const BAGGAGE = 'user.id=alice,tenant=acme;region=eu;sensitive,empty=';

/** What the active context holds at one point of the request. */
function seen(): string {
  const active = context.active();
  const traceId = trace.getSpanContext(active)?.traceId ?? '-';
  const user = propagation.getBaggage(active)?.getEntry('user.id')?.value ?? '-';
  return `${traceId}/${user}`;
}

const EXPECTED = `${TRACE_ID}/alice`;

type Transport = (app: FastifyInstance, init: { method: string; path: string; headers: Record<string, string>; body?: string[] }) => Promise<{ status: number; body: string }>;

/**
 * The body's chunks, each sent a few milliseconds after the last, from a timer of the test (not of
 * the request): the body then ends in a context of its own, as a slow client's would, and not in
 * the one the request's first chunk arrived in.
 */
function slowly(chunks: string[]): Readable {
  let next = 0;
  return new Readable({
    read() {
      setTimeout(() => this.push(next < chunks.length ? chunks[next++] : null), 10);
    },
  });
}

function slowlyForFetch(chunks: string[]): ReadableStream<Uint8Array> {
  return Readable.toWeb(slowly(chunks)) as ReadableStream<Uint8Array>;
}

const TRANSPORTS: ReadonlyArray<[name: string, send: Transport]> = [
  [
    'inject()',
    async (app, { method, path, headers, body }) => {
      const response = await app.inject({ method: method as 'GET', url: path, headers, payload: body && slowly(body) });
      return { status: response.statusCode, body: response.body };
    },
  ],
  [
    'a listening server called with fetch',
    async (app, { method, path, headers, body }) => {
      const base = await listen(app);
      const init = body === undefined ? { method, headers } : { method, headers, body: slowlyForFetch(body), duplex: 'half' };
      const response = await fetch(base + path, init as RequestInit);
      return { status: response.status, body: await response.text() };
    },
  ],
];

describe.each(FRAMEWORKS)('%s', (_framework, createApp) => {
  describe.each(TRANSPORTS)('through %s', (_transport, send) => {
    let app: FastifyInstance;
    let downstream: Downstream;

    beforeEach(async () => {
      app = createApp();
      downstream = await startDownstream();
    });

    afterEach(async () => {
      await app.close();
      await downstream.close();
    });

    test('every hook, the handler, its awaits and timers see the inbound trace and baggage, with a JSON body that arrives slowly', async () => {
      const points: Record<string, string> = {};
      await app.register(ctxprop);
      app.addHook('onRequest', async () => void (points.onRequest = seen()));
      app.addHook('preParsing', async () => void (points.preParsing = seen()));
      app.addHook('preValidation', async () => void (points.preValidation = seen()));
      app.addHook('preHandler', (_request, _reply, done) => {
        points.preHandler = seen();
        done();
      });
      app.addHook('preSerialization', async () => void (points.preSerialization = seen()));
      app.addHook('onSend', async () => void (points.onSend = seen()));
      const responded = new Promise<void>((resolve) => {
        app.addHook('onResponse', (_request, _reply, done) => {
          points.onResponse = seen();
          done();
          resolve();
        });
      });
      app.post('/orders/:id', async (request) => {
        points.handler = seen();
        await new Promise((resolve) => setTimeout(resolve, 5));
        points.afterTimer = seen();
        await Promise.resolve();
        points.afterAwait = seen();
        return { body: request.body, user: request.baggage.get('user.id') };
      });

      const response = await send(app, {
        method: 'POST',
        path: '/orders/42',
        headers: { traceparent: TRACEPARENT, baggage: BAGGAGE, 'content-type': 'application/json' },
        body: ['{"item":', '"book"}'],
      });
      await responded;

      expect(response.status).toBe(200);
      expect(JSON.parse(response.body)).toEqual({ body: { item: 'book' }, user: 'alice' });
      expect(points).toEqual({
        onRequest: EXPECTED,
        preParsing: EXPECTED,
        preValidation: EXPECTED,
        preHandler: EXPECTED,
        handler: EXPECTED,
        afterTimer: EXPECTED,
        afterAwait: EXPECTED,
        preSerialization: EXPECTED,
        onSend: EXPECTED,
        onResponse: EXPECTED,
      });
    });

    test('a callback-style handler and a stream it returns run in the request context', async () => {
      const points: string[] = [];
      await app.register(ctxprop);
      app.get('/stream', (_request, reply) => {
        setTimeout(() => {
          let sent = 0;
          const stream = new Readable({
            read() {
              points.push(seen());
              setImmediate(() => this.push(sent++ < 2 ? `${seen()}\n` : null));
            },
          });
          reply.type('text/plain').send(stream);
        }, 1);
      });

      const response = await send(app, { method: 'GET', path: '/stream', headers: { traceparent: TRACEPARENT, baggage: BAGGAGE } });

      expect(response.status).toBe(200);
      expect(response.body.trim().split('\n')).toEqual([EXPECTED, EXPECTED]);
      expect(points.length).toBeGreaterThan(0);
      expect(new Set(points)).toEqual(new Set([EXPECTED]));
    });

    test("listeners a handler adds to the raw request and response streams run in the request context", async () => {
      const points: Record<string, string> = {};
      await app.register(ctxprop);
      // Hand the body stream to the handler unread, as an upload handler would.
      app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));
      app.post('/upload', (request, reply) => {
        const body = request.body as NodeJS.ReadableStream;
        let bytes = 0;
        body.on('data', (chunk: Buffer) => {
          points.data = seen();
          bytes += chunk.length;
        });
        body.on('end', () => {
          points.end = seen();
          reply.raw.on('finish', () => void (points.finish = seen()));
          void reply.send({ bytes });
        });
      });

      const response = await send(app, {
        method: 'POST',
        path: '/upload',
        headers: { traceparent: TRACEPARENT, baggage: BAGGAGE, 'content-type': 'application/octet-stream' },
        body: ['abc', 'defg'],
      });

      expect(JSON.parse(response.body)).toEqual({ bytes: 7 });
      expect(points).toEqual({ data: EXPECTED, end: EXPECTED, finish: EXPECTED });
    });

    test('a hook that calls done() from outside the request context does not lose it for the hooks after it', async () => {
      const points: Record<string, string> = {};
      await app.register(ctxprop);
      app.addHook('onRequest', (_request, _reply, done) => {
        // A pooled client's callback, say: it runs in the context the pool was made in.
        context.with(ROOT_CONTEXT, () => setTimeout(done, 1));
      });
      app.addHook('preParsing', async () => void (points.preParsing = seen()));
      app.addHook('preHandler', async () => void (points.preHandler = seen()));
      app.get('/', async () => {
        points.handler = seen();
        return 'ok';
      });

      await send(app, { method: 'GET', path: '/', headers: { traceparent: TRACEPARENT, baggage: BAGGAGE } });

      // Every hook after the one that lost the context is restored, the first one after it too.
      expect(points).toEqual({ preParsing: EXPECTED, preHandler: EXPECTED, handler: EXPECTED });
    });

    test('onError and the error handler see the request context when the handler throws', async () => {
      const points: Record<string, string> = {};
      await app.register(ctxprop);
      app.addHook('onError', async () => void (points.onError = seen()));
      app.setErrorHandler((error, _request, reply) => {
        points.errorHandler = seen();
        void reply.status(500).send({ message: (error as Error).message });
      });
      app.get('/boom', async () => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        throw new Error('boom');
      });

      const response = await send(app, { method: 'GET', path: '/boom', headers: { traceparent: TRACEPARENT, baggage: BAGGAGE } });

      expect(response.status).toBe(500);
      expect(points).toEqual({ onError: EXPECTED, errorHandler: EXPECTED });
    });

    test('request.baggage reads the inbound members with their properties', async () => {
      await app.register(ctxprop);
      app.get('/', async (request) => ({
        user: request.baggage.get('user.id'),
        missing: request.baggage.get('nope') ?? null,
        hasTenant: request.baggage.has('tenant'),
        tenant: request.baggage.getEntry('tenant'),
        size: request.baggage.size,
        keys: [...request.baggage].map(([key]) => key).sort(),
        json: request.baggage.toJSON(),
      }));

      const response = await send(app, { method: 'GET', path: '/', headers: { baggage: BAGGAGE } });

      expect(JSON.parse(response.body)).toEqual({
        user: 'alice',
        missing: null,
        hasTenant: true,
        // W3C Baggage §3.2.1.2: properties follow the value, `;key=value` or a bare `;key`.
        tenant: expect.objectContaining({ value: 'acme', properties: [{ key: 'region', value: 'eu' }, { key: 'sensitive' }] }),
        size: 3,
        keys: ['empty', 'tenant', 'user.id'],
        json: { 'user.id': 'alice', tenant: 'acme', empty: '' },
      });
    });

    test('request.baggage is an empty view, never undefined, when the request carries none', async () => {
      await app.register(ctxprop);
      app.get('/', async (request) => ({
        type: typeof request.baggage,
        size: request.baggage.size,
        json: request.baggage.toJSON(),
        entries: [...request.baggage].length,
      }));

      const response = await send(app, { method: 'GET', path: '/', headers: {} });

      expect(JSON.parse(response.body)).toEqual({ type: 'object', size: 0, json: {}, entries: 0 });
    });

    test('request.traceContext gives the inbound trace, and with no SDK the inbound parent span id', async () => {
      await app.register(ctxprop);
      app.get('/', async (request) => request.traceContext ?? null);

      const response = await send(app, { method: 'GET', path: '/', headers: { traceparent: TRACEPARENT } });

      expect(JSON.parse(response.body)).toEqual(
        expect.objectContaining({ traceId: TRACE_ID, spanId: PARENT_ID, traceFlags: 1, sampled: true, traceparent: TRACEPARENT }),
      );
    });

    test('an outbound fetch from the handler forwards the inbound trace and baggage', async () => {
      await app.register(ctxprop);
      app.get('/', async () => {
        await fetch(downstream.url);
        return 'ok';
      });

      await send(app, { method: 'GET', path: '/', headers: { traceparent: TRACEPARENT, baggage: 'user.id=alice' } });

      expect(downstream.received).toHaveLength(1);
      // No SDK: the API's non-recording span keeps the parent's ids, so the trace continues as is.
      expect(downstream.received[0]!.traceparent).toBe(TRACEPARENT);
      expect(downstream.received[0]!.baggage).toBe('user.id=alice');
    });

    test("with `trust: 'ignore'` the caller's trace and baggage are neither seen nor forwarded", async () => {
      await app.register(ctxprop, { trust: 'ignore' });
      app.get('/', async (request) => {
        await fetch(downstream.url);
        return { seen: seen(), traceContext: request.traceContext ?? null, baggage: request.baggage.toJSON() };
      });

      const response = await send(app, { method: 'GET', path: '/', headers: { traceparent: TRACEPARENT, baggage: BAGGAGE } });

      expect(JSON.parse(response.body)).toEqual({ seen: '-/-', traceContext: null, baggage: {} });
      expect(downstream.received[0]!.traceparent).toBeUndefined();
      expect(downstream.received[0]!.baggage).toBeUndefined();
    });

    test('`outbound: false` leaves outbound calls alone', async () => {
      await app.register(ctxprop, { outbound: false });
      app.get('/', async () => {
        await fetch(downstream.url);
        return 'ok';
      });

      await send(app, { method: 'GET', path: '/', headers: { traceparent: TRACEPARENT, baggage: 'user.id=alice' } });

      expect(downstream.received).toHaveLength(1);
      expect(downstream.received[0]!.traceparent).toBeUndefined();
      expect(downstream.received[0]!.baggage).toBeUndefined();
    });

    test('the request context does not outlive the request', async () => {
      await app.register(ctxprop);
      app.get('/', async () => 'ok');

      await send(app, { method: 'GET', path: '/', headers: { traceparent: TRACEPARENT, baggage: BAGGAGE } });

      expect(seen()).toBe('-/-');
    });
  });
});

describe.each(FRAMEWORKS)('%s, when the client goes away', (_framework, createApp) => {
  test('onRequestAbort hooks run in the request context', async () => {
    const app = createApp({ forceCloseConnections: true });
    const points: string[] = [];
    let aborted!: () => void;
    const abortSeen = new Promise<void>((resolve) => (aborted = resolve));
    await app.register(ctxprop);
    app.addHook('onRequestAbort', async (_request) => {
      points.push(seen());
      aborted();
    });
    let handlerDone!: () => void;
    const handled = new Promise<void>((resolve) => (handlerDone = resolve));
    app.get('/slow', async (_request, reply) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      setImmediate(handlerDone);
      return reply.send('late');
    });
    try {
      const base = await listen(app);
      const controller = new AbortController();
      const request = fetch(`${base}/slow`, { headers: { traceparent: TRACEPARENT, baggage: BAGGAGE }, signal: controller.signal });
      setTimeout(() => controller.abort(), 50);
      await expect(request).rejects.toThrow();
      await abortSeen;

      expect(points).toEqual([EXPECTED]);
      await handled;
    } finally {
      await app.close();
    }
  });
});

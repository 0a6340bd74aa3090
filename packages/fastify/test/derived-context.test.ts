/**
 * A context derived from the request's (baggage a hook added with `context.with(ctx, done)`, a
 * child span the handler runs code in) is kept past the handler: by the listeners added to the
 * raw request and response while it was active, and by the hooks Fastify runs after it (onSend,
 * onResponse). A listener added from a context that is not the request's (a pooled client's
 * callback) runs in the request's latest context.
 */
import { context, propagation, ROOT_CONTEXT, trace, type Baggage } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { ctxprop, type CtxpropOptions } from '@ctxprop/fastify';
import { FRAMEWORKS_WITH_OLDEST, listen } from './support/frameworks';
import { startRecordingSdk } from './support/sdk';

const sdk = startRecordingSdk();

afterAll(() => sdk.provider.shutdown());

const PARENT = '00f067aa0ba902b7';
const traceIdOf = (n: number) => (n + 1).toString(16).padStart(32, '0');
const traceparent = (n: number) => `00-${traceIdOf(n)}-${PARENT}-01`;

interface Seen {
  traceId: string | null;
  spanId: string | null;
  tier: string | null;
  added: string | null;
}

function seen(): Seen {
  const active = context.active();
  const baggage = propagation.getBaggage(active);
  const spanContext = trace.getSpanContext(active);
  return {
    traceId: spanContext?.traceId ?? null,
    spanId: spanContext?.spanId ?? null,
    tier: baggage?.getEntry('customer.tier')?.value ?? null,
    added: baggage?.getEntry('added')?.value ?? null,
  };
}

/** A preHandler that runs the rest of the request with `added=<the request's tier>` in its baggage, as contrib #3527's users do. */
function addBaggage(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  const tier = String(request.headers['x-tier']);
  const baggage: Baggage = (propagation.getActiveBaggage() ?? propagation.createBaggage()).setEntry('added', { value: `for-${tier}` });
  context.with(propagation.setBaggage(context.active(), baggage), done);
}

/** What one request's code saw, by place. */
type Points = Record<string, Seen | number>;

describe.each(FRAMEWORKS_WITH_OLDEST)('%s: a context derived from the request\'s', (_name, createApp) => {
  let app: FastifyInstance;
  let base: string;
  const points = new Map<string, Points>();
  const pointsOf = (request: FastifyRequest): Points => {
    const id = String(request.headers['x-tier']);
    let found = points.get(id);
    if (found === undefined) points.set(id, (found = {}));
    return found;
  };
  let finished: Promise<void>[];

  async function start(plugin: CtxpropOptions = {}): Promise<void> {
    app = createApp();
    await app.register(ctxprop, plugin);
    // Hand the body stream to the handler unread, as an upload handler would.
    app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));
    app.addHook('preHandler', addBaggage);
    app.addHook('onSend', async (request, _reply, payload) => {
      pointsOf(request).onSend = seen();
      return payload;
    });
    app.addHook('onResponse', async (request) => {
      pointsOf(request).onResponse = seen();
    });
    app.post('/upload', (request, reply) => {
      const at = pointsOf(request);
      at.handler = seen();
      const body = request.body as NodeJS.ReadableStream;
      let settle!: () => void;
      finished.push(new Promise<void>((resolve) => (settle = resolve)));
      // A listener added from another context (a pooled client's callback, say): the request's latest.
      context.with(ROOT_CONTEXT, () => request.raw.on('end', () => void (at.foreignEnd = seen())));
      const child = trace.getTracer('test').startSpan('child');
      context.with(trace.setSpan(context.active(), child), () => {
        at.child = seen();
        reply.raw.on('finish', () => {
          at.finish = seen();
          child.end();
          settle();
        });
        // once(), and a listener removed by the function given: still Node's bookkeeping.
        let onceCalls = 0;
        reply.raw.once('finish', () => {
          at.onceFinish = seen();
          at.onceCalls = ++onceCalls;
        });
        const removed = () => void (at.removed = seen());
        request.raw.on('end', removed);
        request.raw.removeListener('end', removed);
        at.listeners = request.raw.listeners('end').length;
        body.on('data', () => void (at.data = seen()));
        body.on('end', () => {
          at.end = seen();
          void reply.send({ ok: true });
        });
      });
    });
    base = await listen(app);
  }

  beforeEach(() => {
    points.clear();
    finished = [];
  });

  afterEach(async () => {
    await app.close();
  });

  async function upload(n: number): Promise<void> {
    const response = await fetch(`${base}/upload`, {
      method: 'POST',
      headers: { traceparent: traceparent(n), baggage: `customer.tier=t${n}`, 'x-tier': `t${n}`, 'content-type': 'application/octet-stream' },
      body: `body of ${n}`,
    });
    expect(response.status).toBe(200);
    await response.text();
  }

  function expectKept(n: number): void {
    const at = points.get(`t${n}`)!;
    const inRequest = { traceId: traceIdOf(n), tier: `t${n}`, added: `for-t${n}` };
    const handler = at.handler as Seen;
    const child = at.child as Seen;
    expect(handler).toMatchObject(inRequest);
    expect(child).toMatchObject(inRequest);
    expect(child.spanId).not.toBe(handler.spanId);
    // Added in the child span: run in it.
    expect(at.data).toEqual(child);
    expect(at.end).toEqual(child);
    expect(at.finish).toEqual(child);
    expect(at.onceFinish).toEqual(child);
    expect(at.onceCalls).toBe(1);
    expect(at.removed).toBeUndefined();
    // Run from the child span's 'end' listener.
    expect(at.onSend).toEqual(child);
    // Fastify's own listener and the foreign one: the request's latest context, with the hook's baggage.
    expect(at.onResponse).toMatchObject(inRequest);
    expect(at.foreignEnd).toMatchObject(inRequest);
  }

  test("listeners added in it, and the onSend and onResponse hooks after them, keep it", async () => {
    await start();
    await upload(1);
    await Promise.all(finished);
    expectKept(1);
    expect(points.get('t1')!.listeners).toBe(1);
  });

  test('50 concurrent requests each keep their own', async () => {
    await start();
    await Promise.all(Array.from({ length: 50 }, (_, n) => upload(n)));
    await Promise.all(finished);
    for (let n = 0; n < 50; n++) expectKept(n);
  });

  test('with restoreContext: false, listeners added in it still keep it', async () => {
    await start({ restoreContext: false });
    await upload(2);
    await Promise.all(finished);
    const at = points.get('t2')!;
    expect(at.end).toEqual(at.child);
    expect(at.finish).toEqual(at.child);
    // Nothing restores the latest context: a foreign listener gets the request's own, as it was set up.
    expect(at.foreignEnd).toMatchObject({ traceId: traceIdOf(2), tier: 't2', added: null });
  });
});

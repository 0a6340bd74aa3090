/**
 * No context leaks between requests (issue #3, "Robustness"): 1,000 requests in flight at once,
 * each with its own trace and baggage, through JSON body parsing, hooks, `await`s, timers and
 * baggage added mid-request; every handler sees its own, and so do its outbound calls.
 */
import { context, propagation, trace } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import { Agent, fetch as undiciFetch } from 'undici';
import { ctxprop } from '@ctxprop/fastify';
import { FRAMEWORKS_WITH_OLDEST, listen, startDownstream, type Downstream } from './support/frameworks';

const REQUESTS = 1_000;

function traceIdOf(n: number): string {
  return (n + 1).toString(16).padStart(32, 'a');
}

function randomDelay(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 8)));
}

/** What one handler saw, compared with what its request carried. */
interface Check {
  n: number;
  mismatches: string[];
}

function checkActive(n: number, where: string, mismatches: string[], withStep: boolean): void {
  const active = context.active();
  const traceId = trace.getSpanContext(active)?.traceId;
  const baggage = propagation.getBaggage(active);
  if (traceId !== traceIdOf(n)) mismatches.push(`${where}: trace ${traceId}`);
  if (baggage?.getEntry('request.n')?.value !== String(n)) mismatches.push(`${where}: request.n ${baggage?.getEntry('request.n')?.value}`);
  if (withStep && baggage?.getEntry('step')?.value !== `s${n}`) mismatches.push(`${where}: step ${baggage?.getEntry('step')?.value}`);
}

describe.each(FRAMEWORKS_WITH_OLDEST)('%s', (_framework, createApp) => {
  let app: FastifyInstance;
  let downstream: Downstream;

  beforeAll(async () => {
    downstream = await startDownstream();
    app = createApp({ forceCloseConnections: true });
    await app.register(ctxprop);
    app.addHook('preHandler', async (request) => {
      await randomDelay();
      request.setBaggage({ step: `s${(request.body as { n: number }).n}` });
    });
    app.post('/work', async (request): Promise<Check> => {
      const { n } = request.body as { n: number };
      const mismatches: string[] = [];
      checkActive(n, 'handler', mismatches, true);
      await randomDelay();
      checkActive(n, 'after await', mismatches, true);
      await new Promise<void>((resolve) =>
        setTimeout(() => {
          checkActive(n, 'timer', mismatches, true);
          setImmediate(() => {
            checkActive(n, 'immediate', mismatches, true);
            resolve();
          });
        }, Math.floor(Math.random() * 5)),
      );
      if (request.baggage.get('request.n') !== String(n)) mismatches.push(`request.baggage ${request.baggage.get('request.n')}`);
      if (request.traceContext?.traceId !== traceIdOf(n)) mismatches.push(`request.traceContext ${request.traceContext?.traceId}`);
      // Every tenth request calls out: its outbound headers must carry its own context.
      if (n % 10 === 0) await fetch(`${downstream.url}?n=${n}`);
      return { n, mismatches };
    });
  });

  afterAll(async () => {
    await app.close();
    await downstream.close();
  });

  function headersOf(n: number): Record<string, string> {
    return {
      'content-type': 'application/json',
      traceparent: `00-${traceIdOf(n)}-00f067aa0ba902b7-01`,
      baggage: `request.n=${n},tenant=t${n % 7}`,
    };
  }

  test(`${REQUESTS} concurrent inject() requests each see only their own context`, async () => {
    // Booted first: 1,000 inject() calls queued on an app still booting overflow the stack of
    // avvio's ready queue on Fastify 4.7 (Node 22 and later), before any request runs.
    await app.ready();
    const results = await Promise.all(
      Array.from({ length: REQUESTS }, (_, n) =>
        app.inject({ method: 'POST', url: '/work', headers: headersOf(n), payload: JSON.stringify({ n }) }).then((response) => response.json() as Check),
      ),
    );

    expect(results.map((result) => result.n)).toEqual(Array.from({ length: REQUESTS }, (_, n) => n));
    expect(results.flatMap((result) => result.mismatches.map((mismatch) => `${result.n}: ${mismatch}`))).toEqual([]);
  });

  test(`${REQUESTS} concurrent requests over real connections each see only their own context, outbound calls included`, async () => {
    downstream.received.length = 0;
    const base = await listen(app);
    const agent = new Agent({ connections: 256 });
    try {
      const results = await Promise.all(
        Array.from({ length: REQUESTS }, (_, n) =>
          undiciFetch(`${base}/work`, { method: 'POST', headers: headersOf(n), body: JSON.stringify({ n }), dispatcher: agent }).then(
            async (response) => (await response.json()) as Check,
          ),
        ),
      );

      expect(results.flatMap((result) => result.mismatches.map((mismatch) => `${result.n}: ${mismatch}`))).toEqual([]);
    } finally {
      await agent.close();
    }
    expect(downstream.received).toHaveLength(REQUESTS / 10);
    for (const headers of downstream.received) {
      // The baggage names the request whose handler made the call.
      const baggage = String(headers.baggage);
      const n = Number(/request\.n=(\d+)/.exec(baggage)?.[1]);
      expect(headers.traceparent).toBe(`00-${traceIdOf(n)}-00f067aa0ba902b7-01`);
      expect(baggage).toContain(`step=s${n}`);
    }
  });
});

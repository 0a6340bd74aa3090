// No context leaks between requests: 1,000 concurrent requests with distinct trace ids and baggage,
// through JSON body parsing, awaits, timers, request-stream callbacks and an outbound fetch, on
// Express 5 and Express 4. Every point of every request must see its own context.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from 'undici';
import { context, propagation, trace } from '@opentelemetry/api';
import { ctxprop } from '@ctxprop/express';
import { echoApp, EXPRESS_VERSIONS, listen } from './support/apps';

const REQUESTS = 1_000;

interface Seen {
  id: string | undefined;
  traceId: string | undefined;
}

interface Answer {
  id: string;
  bodyId: string;
  echoed: string | undefined;
  seen: Seen[];
  downstream: { traceparent: string | null; baggage: string | null };
}

/** What the active context says, read through @opentelemetry/api only. */
function seenNow(): Seen {
  return { id: propagation.getActiveBaggage()?.getEntry('isolation.id')?.value, traceId: trace.getSpanContext(context.active())?.traceId };
}

describe.each(EXPRESS_VERSIONS)('%s under 1,000 concurrent requests', (_name, express) => {
  it('gives every handler its own trace context and baggage, at every step', async () => {
    const downstream = await listen(echoApp(express));
    const app = express();
    const middleware = ctxprop({ spanAttributesFromBaggage: ['isolation.id'] });
    app.use(middleware);
    // Seen by res.on('finish') listeners, which run from the socket after the handler is done.
    const onFinish = new Map<string, Seen>();
    app.post('/isolated', express.json(), async (req, res, next) => {
      try {
        res.on('finish', () => onFinish.set(String(req.body.id), seenNow()));
        const seen: Seen[] = [seenNow()];
        const delay = Number((req.body as { delay: number }).delay);
        await sleep(delay);
        seen.push(seenNow());
        req.setBaggage({ 'isolation.echo': String(req.body.id) });
        await new Promise<void>((resolve) => setTimeout(resolve, delay % 3));
        seen.push(seenNow());
        const response = await fetch(`${downstream.url}/echo`);
        const downstreamHeaders = (await response.json()) as Answer['downstream'];
        seen.push(seenNow());
        const echoed = propagation.getActiveBaggage()?.getEntry('isolation.echo')?.value;
        const answer: Answer = {
          id: String(req.baggage.get('isolation.id')),
          bodyId: String(req.body.id),
          echoed,
          seen,
          downstream: downstreamHeaders,
        };
        res.json(answer);
      } catch (error) {
        next(error);
      }
    });
    const server = createServer(app);
    server.listen(0, '127.0.0.1', 4_096);
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = new Agent({ connections: 256, pipelining: 0 });
    try {
      const ids = Array.from({ length: REQUESTS }, (_, i) => ({ id: `r${i}`, traceId: randomBytes(16).toString('hex') }));
      const answers = await Promise.all(
        ids.map(async ({ id, traceId }, i) => {
          const response = await fetch(`${url}/isolated`, {
            method: 'POST',
            dispatcher: client,
            headers: {
              'content-type': 'application/json',
              traceparent: `00-${traceId}-${'1'.repeat(15)}${(i % 9) + 1}-01`,
              baggage: `isolation.id=${id},shared=same`,
            },
            body: JSON.stringify({ id, delay: i % 7 }),
            // undici 7's Agent, typed against the undici-types Node's fetch is declared with.
          } as unknown as RequestInit);
          expect(response.status).toBe(200);
          return { id, traceId, answer: (await response.json()) as Answer };
        }),
      );
      // 'finish' is emitted when the response is handed to the OS: give the last ones a moment.
      await sleep(50);
      let checked = 0;
      for (const { id, traceId, answer } of answers) {
        expect(answer.id).toBe(id);
        expect(answer.bodyId).toBe(id);
        expect(answer.echoed).toBe(id);
        expect(answer.seen).toEqual([
          { id, traceId },
          { id, traceId },
          { id, traceId },
          { id, traceId },
        ]);
        expect(onFinish.get(id)).toEqual({ id, traceId });
        expect(answer.downstream.traceparent?.slice(3, 35)).toBe(traceId);
        expect(answer.downstream.baggage).toContain(`isolation.id=${id}`);
        expect(answer.downstream.baggage).toContain(`isolation.echo=${id}`);
        checked++;
      }
      expect(checked).toBe(REQUESTS);
    } finally {
      await client.close();
      middleware.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await downstream.close();
    }
  }, 60_000);
});

// An app whose /poll route starts a setInterval poller in the request (express-intervals.test.ts,
// and alongside instrumentation-http in express-instrumentation-http.test.ts).
import type { Express } from 'express';
import { ctxprop, type CtxpropOptions } from '@ctxprop/express';
import { observe, type ExpressFactory } from './apps';

export interface Tick {
  /** Whether the response had ended when the tick began. */
  afterResponse: boolean;
  traceId: string | null;
  tier: string | null;
  /** The headers the downstream service received from this tick's fetch. */
  downstream: { traceparent: string | null; baggage: string | null };
}

/** Intervals the apps started, cleared after each test whatever happened. */
const timers: NodeJS.Timeout[] = [];

/**
 * An app whose /poll route polls downstream every 5 ms (one call at a time, as pollers do),
 * answers after two polls and polls twice more after its response.
 */
export function pollingApp(express: ExpressFactory, downstreamUrl: () => string, options?: CtxpropOptions) {
  const app: Express = express();
  const middleware = ctxprop(options);
  app.locals['ctxprop'] = middleware;
  app.use(middleware);
  let finished!: (ticks: Tick[]) => void;
  const polled = new Promise<Tick[]>((resolve) => (finished = resolve));
  app.get('/poll', (_req, res) => {
    const ticks: Tick[] = [];
    let busy = false;
    const timer = setInterval(async () => {
      if (busy) return;
      busy = true;
      const afterResponse = res.writableEnded;
      const { traceId, tier } = observe();
      const downstream = (await (await fetch(`${downstreamUrl()}/echo`)).json()) as Tick['downstream'];
      ticks.push({ afterResponse, traceId: traceId ?? null, tier: tier ?? null, downstream });
      busy = false;
      if (ticks.length === 2) res.json({ ok: true });
      if (ticks.filter((tick) => tick.afterResponse).length === 2) {
        clearInterval(timer);
        finished(ticks);
      }
    }, 5);
    timers.push(timer);
  });
  return { app, polled };
}

/** Clears every interval the apps started (call it after each test, whatever happened). */
export function clearPollingTimers(): void {
  for (const timer of timers.splice(0)) clearInterval(timer);
}

/**
 * Fires `count` requests at once at a served `/work/:n` route, each with its own trace context
 * (support/trace-headers.ts), and returns what each request's log lines must carry: with no SDK,
 * the ids the client sent; with one, the client's trace id and the id of the SERVER span the SDK
 * recorded for that request.
 */
import type { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Expected } from './expect-lines';
import type { Served } from './servers';
import { sentContext, type SentContext } from './trace-headers';

async function fire(served: Served, sent: readonly SentContext[]): Promise<void> {
  await Promise.all(
    sent.map(async (context, n) => {
      const response = await fetch(`${served.url}/work/${n}`, { headers: context.headers });
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    }),
  );
}

/** No SDK: every line must carry the ids the client sent (sampled and unsampled mixed). */
export async function callAll(served: Served, count: number): Promise<Map<number, Expected>> {
  const sent = Array.from({ length: count }, (_, n) => sentContext(n));
  await fire(served, sent);
  return new Map(sent.map((context, n) => [n, { sent: context, spanId: context.parentId }]));
}

/** With the SDK: all sampled; each request is paired with the SERVER span `exporter` recorded for it. */
export async function callAllRecorded(served: Served, exporter: InMemorySpanExporter, count: number): Promise<Map<number, Expected>> {
  const sent = Array.from({ length: count }, (_, n) => sentContext(n, '01'));
  await fire(served, sent);
  const byParent = new Map(exporter.getFinishedSpans().map((span) => [span.parentSpanContext?.spanId ?? '', span]));
  return new Map(
    sent.map((context, n) => {
      const span = byParent.get(context.parentId);
      expect(span?.spanContext().traceId).toBe(context.traceId);
      return [n, { sent: context, spanId: span!.spanContext().spanId }];
    }),
  );
}

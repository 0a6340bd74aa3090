/**
 * What a client sends: a random W3C traceparent and a baggage header, built here with
 * node:crypto and template strings, independent of the code under test.
 * https://www.w3.org/TR/trace-context/#traceparent-header-field-values
 */
import { randomBytes } from 'node:crypto';

export interface SentContext {
  readonly traceId: string;
  readonly parentId: string;
  readonly flags: string;
  readonly tier: string;
  readonly headers: Record<string, string>;
}

/**
 * A fresh trace per call; `n` makes the baggage value unique to the request. Even requests are
 * sampled (`01`), odd ones not (`00`), unless `flags` is given.
 */
export function sentContext(n: number, flags = n % 2 === 0 ? '01' : '00'): SentContext {
  const traceId = randomBytes(16).toString('hex');
  const parentId = randomBytes(8).toString('hex');
  const tier = `tier-${n}`;
  return {
    traceId,
    parentId,
    flags,
    tier,
    headers: { traceparent: `00-${traceId}-${parentId}-${flags}`, baggage: `customer.tier=${tier},other=x` },
  };
}

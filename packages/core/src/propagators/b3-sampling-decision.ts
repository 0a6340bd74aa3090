/**
 * A B3 sampling decision that came without trace ids (`b3: 0`, `X-B3-Sampled: 0`, `b3: d`,
 * `X-B3-Flags: 1`), kept in the context under a key of ctxprop's so that it is sent on downstream.
 *
 * Spec: https://github.com/openzipkin/b3-propagation (README, "Single Header": "Sampling state can
 * also be sent on its own (with no identifiers)"; FAQ "Why propagate a reject sampling decision?").
 *
 * It is deliberately not a span context: there are no ids, and an OpenTelemetry sampler must not
 * mistake it for a parent. A sampler that wants to honour it reads it with
 * {@link getB3SamplingDecision} (the context reaches `Sampler.shouldSample`).
 */
import { createContextKey, type Context } from '@opentelemetry/api';

/**
 * A sampling state that can travel without ids: accept (`1`), deny (`0`) or debug (`d`, an
 * emphasised accept). Defer is the absence of a decision, so it is never kept on its own.
 *
 * @example
 * ```ts
 * const decision: B3SamplingDecision = 'deny'; // from `b3: 0`
 * ```
 */
export type B3SamplingDecision = 'accept' | 'deny' | 'debug';

// createContextKey is Symbol.for-based: two copies of ctxprop in one process share the key.
const B3_SAMPLING_DECISION_KEY = createContextKey('ctxprop.b3.sampling-decision');

/**
 * The sampling decision a caller sent without trace ids, when the context holds one.
 *
 * @example
 * ```ts
 * // A root sampler that honours the caller's `b3: 0` (ParentBased samplers hand it the context):
 * const root: Sampler = {
 *   shouldSample: (ctx) => ({
 *     decision: getB3SamplingDecision(ctx) === 'deny' ? SamplingDecision.NOT_RECORD : SamplingDecision.RECORD_AND_SAMPLED,
 *   }),
 *   toString: () => 'HonourB3Deny',
 * };
 * ```
 */
export function getB3SamplingDecision(context: Context): B3SamplingDecision | undefined {
  return context.getValue(B3_SAMPLING_DECISION_KEY) as B3SamplingDecision | undefined;
}

/**
 * `context` with a sampling decision that came without trace ids.
 *
 * @example
 * ```ts
 * const ctx = setB3SamplingDecision(ROOT_CONTEXT, 'deny'); // B3Propagator.inject writes `b3: 0`
 * ```
 */
export function setB3SamplingDecision(context: Context, decision: B3SamplingDecision): Context {
  return context.setValue(B3_SAMPLING_DECISION_KEY, decision);
}

/**
 * `context` without a sampling decision of its own (the same object when it holds none): for a
 * valid span context that replaces it, or a destination that must receive no trace headers.
 *
 * @example
 * ```ts
 * const withheld = deleteB3SamplingDecision(trace.deleteSpan(ctx));
 * ```
 */
export function deleteB3SamplingDecision(context: Context): Context {
  return context.getValue(B3_SAMPLING_DECISION_KEY) === undefined ? context : context.deleteValue(B3_SAMPLING_DECISION_KEY);
}

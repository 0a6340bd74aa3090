/**
 * `request.baggage`, `request.traceContext` and `request.setBaggage()`: declared once on Fastify's
 * request with `decorateRequest` (getters and a shared function, plus one private slot that
 * starts as null), so a request costs one property write: its scope.
 */
import { EMPTY_BAGGAGE_VIEW, warnOnce, type BaggageEntries, type BaggageView, type InboundScope, type TraceContextInfo } from '@ctxprop/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The request's baggage, read-only: `get(key)`, `getEntry(key)` (with properties), `has`,
     * `size`, iteration, `toJSON()`. Empty (never undefined) when the request carried none.
     * Reflects `request.setBaggage()`.
     *
     * @example
     * ```ts
     * app.get('/', async (request) => ({ tier: request.baggage.get('customer.tier') ?? 'free' }));
     * ```
     */
    readonly baggage: BaggageView;
    /**
     * The request's trace context: trace id, span id (the server span's, or the caller's with no
     * SDK), flags, sampled, and the `traceparent` string to hand to code ctxprop does not
     * instrument. Undefined when there is none (no SDK and no inbound trace context).
     *
     * @example
     * ```ts
     * legacyClient.call({ headers: { traceparent: request.traceContext?.traceparent } });
     * ```
     */
    readonly traceContext: TraceContextInfo | undefined;
    /**
     * Adds or replaces baggage entries for the rest of this request: later hooks, the handler
     * after `await`, timers and outbound calls all see them. Entries that look like secrets or
     * personal data are refused (and counted).
     *
     * @example
     * ```ts
     * app.addHook('preHandler', async (request) => request.setBaggage({ 'customer.tier': request.user.tier }));
     * ```
     */
    setBaggage(entries: BaggageEntries): void;
  }
}

/** The private slot that holds a request's scope. */
export const SCOPE = Symbol('ctxprop.fastify.scope');

interface ScopedRequest {
  [SCOPE]: InboundScope<FastifyRequest> | null;
}

/** The scope ctxprop made for `request`, if any. */
export function scopeOf(request: FastifyRequest): InboundScope<FastifyRequest> | null {
  return (request as unknown as ScopedRequest)[SCOPE];
}

/** Keeps `scope` on `request`. */
export function attachScope(request: FastifyRequest, scope: InboundScope<FastifyRequest>): void {
  (request as unknown as ScopedRequest)[SCOPE] = scope;
}

function getBaggage(this: FastifyRequest): BaggageView {
  const scope = scopeOf(this);
  return scope === null ? EMPTY_BAGGAGE_VIEW : scope.baggageView;
}

function getTraceContext(this: FastifyRequest): TraceContextInfo | undefined {
  return scopeOf(this)?.traceContext;
}

function setBaggage(this: FastifyRequest, entries: BaggageEntries): void {
  const scope = scopeOf(this);
  if (scope === null) {
    warnOnce(
      'CTXPROP_FASTIFY_NO_SCOPE',
      'ctxprop: request.setBaggage() was called on a request @ctxprop/fastify did not set up; nothing was set. ' +
        'Register the plugin (await app.register(ctxprop)) before your routes and hooks.',
    );
    return;
  }
  scope.setBaggage(entries);
}

/** Declares the request properties on `fastify` (once per application). */
export function decorateRequests(fastify: FastifyInstance): void {
  fastify.decorateRequest(SCOPE, null);
  fastify.decorateRequest('baggage', { getter: getBaggage });
  fastify.decorateRequest('traceContext', { getter: getTraceContext });
  fastify.decorateRequest('setBaggage', setBaggage);
}

/**
 * @ctxprop/fastify: `await app.register(ctxprop, options)` for Fastify 4 and 5. Inbound W3C Trace
 * Context and Baggage (or the formats `OTEL_PROPAGATORS` names) on every request, a trust policy
 * for the public edge, a SERVER span when an OpenTelemetry SDK is registered,
 * `request.baggage`, `request.traceContext`, `request.setBaggage()`, and outbound propagation.
 *
 * @packageDocumentation
 */
// Brings the `FastifyRequest` augmentation (request.baggage, request.traceContext,
// request.setBaggage) into the published declarations.
import './request-properties.js';
import { ctxprop } from './plugin.js';

export { ctxprop };
export type { CtxpropOptions } from './plugin.js';
export { PACKAGE_VERSION as VERSION } from './version.js';
export type {
  BaggageEntries,
  BaggageView,
  BaggageViewEntry,
  TraceContextInfo,
  TrustDecision,
  TrustOption,
  TrustPolicyOptions,
  TrustRequestInfo,
  TrustVerdict,
} from '@ctxprop/core';

/**
 * The plugin, as Fastify plugins customarily export it.
 *
 * @example
 * ```ts
 * import ctxprop from '@ctxprop/fastify';
 * await app.register(ctxprop);
 * ```
 */
export default ctxprop;

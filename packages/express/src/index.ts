/**
 * @ctxprop/express: `app.use(ctxprop(options))` for Express 4 and 5. Inbound W3C Trace Context
 * and Baggage (or the formats `OTEL_PROPAGATORS` names) on every request, a trust policy for the
 * public edge, a SERVER span when an OpenTelemetry SDK is registered, `req.baggage`,
 * `req.traceContext`, `req.setBaggage()`, and outbound propagation.
 *
 * @packageDocumentation
 */
// Brings the `Express.Request` augmentation (req.baggage, req.traceContext, req.setBaggage) into
// the published declarations; at run time the module is loaded by the middleware anyway.
import './request-properties.js';

export { ctxprop, recordErrors } from './middleware.js';
export type { CtxpropMiddleware, CtxpropOptions } from './middleware.js';
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

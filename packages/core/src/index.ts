/**
 * @ctxprop/core: wire formats, propagators, context runtime, outbound injection, policies and
 * diagnostics. Everything here is built on `@opentelemetry/api`.
 *
 * @packageDocumentation
 */

// Errors
export { CtxpropError, InvalidOptionError, isCtxpropError } from './errors.js';
export type { CtxpropErrorCode } from './errors.js';

// Diagnostics
export {
  configureDiagnostics,
  countDiagnostic,
  diagnosticsSnapshot,
  registerDiagnosticsMetrics,
  resetDiagnostics,
  warnOnce,
} from './diagnostics/diagnostics.js';
export type { DiagnosticEvent, DiagnosticsOptions, DiagnosticsSnapshot, WarningHandler } from './diagnostics/diagnostics.js';

// Carriers
export { headerGetter, headerKeys, headerSetter, readHeader, writeHeader } from './carrier/headers.js';
export type { HeaderCarrier, HeaderValue } from './carrier/headers.js';

// Context runtime
export { AsyncLocalStorageContextManager } from './context/async-local-storage-context-manager.js';
export { ensureContextManager, hasContextManager } from './context/runtime.js';

// Baggage model
export type { BaggageMember, BaggageProperty } from './baggage/types.js';

// -- trace context (traceparent, tracestate, tracecontext propagator) --

// -- baggage (wire format, baggage propagator, baggage view) --

// -- other propagators (b3, jaeger, xray, ottrace, composite, createPropagator) --

// -- context helpers --
export { bindContext, bindEmitter } from './context/bind.js';
export { getTraceContext } from './context/trace-context.js';
export type { TraceContextInfo } from './context/trace-context.js';

// -- outbound injection and destination policy --

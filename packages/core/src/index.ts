/**
 * @ctxprop/core: wire formats, propagators, context runtime, outbound injection, policies and
 * diagnostics. Everything here is built on `@opentelemetry/api`.
 *
 * @packageDocumentation
 */

// Errors
export { CtxpropError, InvalidOptionError, isCtxpropError, rejectUnknownOptions } from './errors.js';
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
export { headerGetter, headerKeys, headerSetter, lowercaseHeaderGetter, readHeader, writeHeader } from './carrier/headers.js';
export type { HeaderCarrier, HeaderValue } from './carrier/headers.js';

// Context runtime
export { AsyncLocalStorageContextManager } from './context/async-local-storage-context-manager.js';
export { ensureContextManager, hasContextManager } from './context/runtime.js';
export { createActiveContextReader } from './context/active-context.js';
export type { ActiveContextReader } from './context/active-context.js';

// Baggage model
export type { BaggageMember, BaggageProperty } from './baggage/types.js';

// -- trace context (traceparent, tracestate, tracecontext propagator) --
export {
  formatTraceparent,
  KNOWN_TRACE_FLAGS,
  MAX_TRACEPARENT_LENGTH,
  PARENT_ID_LENGTH,
  parseTraceparent,
  TRACE_FLAG_RANDOM,
  TRACE_FLAG_SAMPLED,
  TRACE_ID_LENGTH,
  TRACEPARENT_HEADER,
  TRACEPARENT_LENGTH,
  TRACEPARENT_VERSION,
} from './wire/traceparent.js';
export {
  MAX_TRACESTATE_KEY_LENGTH,
  MAX_TRACESTATE_MEMBERS,
  MAX_TRACESTATE_VALUE_LENGTH,
  parseTracestate,
  TRACESTATE_HEADER,
  TraceStateList,
} from './wire/tracestate.js';
export { TraceContextPropagator } from './propagators/trace-context.js';

// -- baggage (wire format, baggage propagator, baggage view) --
export {
  BAGGAGE_HEADER,
  formatBaggage,
  formatBaggageMember,
  formatBaggageProperties,
  isBaggageKey,
  MAX_BAGGAGE_BYTES,
  MAX_BAGGAGE_MEMBERS,
  parseBaggage,
  parseBaggageProperties,
  resolveBaggageLimits,
} from './wire/baggage.js';
export type { BaggageLimits, ParsedBaggage, ResolvedBaggageLimits } from './wire/baggage.js';
export {
  baggageMembersOf,
  baggagePropertiesOf,
  createBaggageFromMembers,
  rawBaggageHeaderOf,
  WireBaggage,
} from './baggage/wire-baggage.js';
export { createBaggageView, EMPTY_BAGGAGE_VIEW } from './baggage/baggage-view.js';
export type { BaggageView, BaggageViewEntry } from './baggage/baggage-view.js';
export { getActiveBaggage, setBaggage, withBaggage } from './baggage/active-baggage.js';
export type { BaggageEntries, SetBaggageOptions } from './baggage/active-baggage.js';
export { BaggagePropagator } from './propagators/baggage.js';
export type { BaggagePropagatorOptions } from './propagators/baggage.js';

// -- other propagators (b3, jaeger, xray, ottrace, composite, createPropagator) --
export { B3Propagator } from './propagators/b3.js';
export type { B3InjectEncoding, B3PropagatorOptions } from './propagators/b3.js';
export { getB3SamplingDecision } from './propagators/b3-sampling-decision.js';
export type { B3SamplingDecision } from './propagators/b3-sampling-decision.js';
export { JaegerPropagator } from './propagators/jaeger.js';
export type { JaegerPropagatorOptions } from './propagators/jaeger.js';
export { XRayPropagator } from './propagators/xray.js';
export { OTTracePropagator } from './propagators/ot-trace.js';
export { NonePropagator } from './propagators/none.js';
export { CompositePropagator } from './propagators/composite.js';
export type { CompositePropagatorOptions } from './propagators/composite.js';
export { createPropagator, PROPAGATOR_NAMES } from './propagators/create-propagator.js';
export type { PropagatorName } from './propagators/create-propagator.js';

// -- context helpers --
export { bindContext, bindEmitter } from './context/bind.js';
export type { ListenerEmitter } from './context/emitter-binding.js';
export { enableIntervalDetachment } from './context/interval-detachment.js';
export type { IntervalDetachmentHandle } from './context/interval-detachment.js';
export { runDetached } from './context/run-detached.js';
export { getTraceContext } from './context/trace-context.js';
export type { TraceContextInfo } from './context/trace-context.js';
// -- inbound (trust policy, server spans) --
export { createTrustPolicy } from './policy/trust.js';
export type {
  TrustDecision,
  TrustedHeader,
  TrustFunction,
  TrustOption,
  TrustPolicy,
  TrustPolicyOptions,
  TrustRequestInfo,
  TrustVerdict,
} from './policy/trust.js';
export { resolveInboundOptions } from './inbound/options.js';
export type { InboundAdapterInfo, InboundOptions, ResolvedInboundOptions } from './inbound/options.js';
export { createInboundHandler } from './inbound/handler.js';
export type { InboundHandler } from './inbound/handler.js';
export type { InboundRequestAccessors } from './inbound/request-accessors.js';
export { inboundScopeOf, InboundScope } from './inbound/request-scope.js';
export { warnContextRestored } from './inbound/context-restored-warning.js';
export type { ServerSpanOrigin } from './inbound/request-scope.js';
export { endScopeOnClose, finishWithResponse, responseClosed } from './inbound/finish-with-response.js';
export type { ResponseLike } from './inbound/finish-with-response.js';
export { runEmitterInContext } from './inbound/bind-emitter.js';
export { bindListenersToContext } from './inbound/bind-listeners.js';
export type { EmitterContextLookup } from './inbound/bind-listeners.js';
export { ScopedBaggageContext, scopeHolderOf } from './inbound/scoped-context.js';
export type { BaggageHolder } from './inbound/scoped-context.js';
export { HTTP_SERVER_DURATION_BUCKETS, METRIC_HTTP_SERVER_REQUEST_DURATION } from './inbound/http-semconv.js';

// -- outbound injection and destination policy --
export { createCidrMatcher, isPrivateAddress, parseCidr } from './policy/cidr.js';
export type { Cidr } from './policy/cidr.js';
export { createSensitiveDataGuard, defaultSensitiveDataGuard } from './policy/sensitive-data.js';
export type { SensitiveDataGuard, SensitiveDataOptions } from './policy/sensitive-data.js';
export { createDestinationPolicy, defaultDestinationPolicy, INTERNAL_HOST_SUFFIXES } from './policy/destination.js';
export type {
  BaggageAllowance,
  DestinationDecision,
  DestinationGrant,
  DestinationPolicy,
  DestinationPolicyOptions,
  DestinationRule,
} from './policy/destination.js';
export { enableOutboundPropagation } from './outbound/enable.js';
export type { OutboundHandle, OutboundOptions } from './outbound/enable.js';
export type { ExistingTraceparentMode } from './outbound/outbound-state.js';
export { inject } from './outbound/inject.js';
export type { InjectOptions } from './outbound/inject.js';

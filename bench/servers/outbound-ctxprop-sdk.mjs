// ctxprop with the OpenTelemetry SDK (spans batched to an exporter that drops them): a SERVER
// span per request, as the adapters start, and ctxprop's CLIENT span for the outbound fetch.
import { context, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createPropagator, enableOutboundPropagation } from '@ctxprop/core';
import { serve } from './outbound-route.mjs';

const dropAll = { export: (_spans, done) => done({ code: 0 }), shutdown: () => Promise.resolve() };
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(dropAll)] }));
enableOutboundPropagation();
const propagator = createPropagator();
const tracer = trace.getTracer('bench');

serve((req, res, route) => {
  const parent = propagator.extract(ROOT_CONTEXT, req.headers);
  const span = tracer.startSpan('GET', { kind: SpanKind.SERVER }, parent);
  res.once('finish', () => span.end());
  context.with(trace.setSpan(parent, span), route, undefined, req, res);
});

// OpenTelemetry's own auto-instrumentation doing the same job: the SDK (spans batched to an
// exporter that drops them), W3C trace context and baggage propagators, instrumentation-http
// (SERVER span, extraction) and instrumentation-express (route, middleware spans).
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createRequire } from 'node:module';
import { serve } from './express-app.mjs';

const dropAll = { export: (_spans, done) => done({ code: 0 }), shutdown: () => Promise.resolve() };
const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(dropAll)] });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(provider);
propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
registerInstrumentations({ instrumentations: [new HttpInstrumentation(), new ExpressInstrumentation()], tracerProvider: provider });

// Required (not imported) after the instrumentations are registered, so require-in-the-middle
// patches node:http and express as it does in an application started with --require.
const http = createRequire(import.meta.url)('node:http');
serve(undefined, http.createServer);

// Fastify with ctxprop and the OpenTelemetry SDK recording: a SERVER span per request with the
// HTTP semantic-convention attributes, batched to an exporter that drops them.
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ctxprop } from '@ctxprop/fastify';
import { serve } from './fastify-app.mjs';

const dropAll = { export: (_spans, done) => done({ code: 0 }), shutdown: () => Promise.resolve() };
const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(dropAll)] });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(provider);

await serve((app) => app.register(ctxprop));

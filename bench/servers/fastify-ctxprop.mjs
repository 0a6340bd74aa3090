// Fastify with ctxprop and no OpenTelemetry SDK: inbound extraction (traceparent, tracestate,
// baggage), the request's context around every later hook and the handler, request.baggage /
// request.traceContext, outbound propagation turned on (the default). Imports the BUILT package.
import { ctxprop } from '@ctxprop/fastify';
import { serve } from './fastify-app.mjs';

await serve((app) => app.register(ctxprop));

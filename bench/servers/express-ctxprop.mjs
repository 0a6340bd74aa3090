// Express with ctxprop and no OpenTelemetry SDK: inbound extraction (traceparent, tracestate,
// baggage), the request's context around the rest of the chain, req.baggage / req.traceContext,
// outbound propagation turned on (the default). Imports the BUILT package.
import { ctxprop } from '@ctxprop/express';
import { serve } from './express-app.mjs';

serve((app) => app.use(ctxprop()));

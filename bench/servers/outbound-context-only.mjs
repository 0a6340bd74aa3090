// ctxprop's context runtime alone: inbound headers extracted and the route run in that context,
// but no outbound injection. Against `outbound-ctxprop.mjs` it isolates what injection costs;
// against bare, what an AsyncLocalStorage context costs a promise-heavy fetch on this Node.
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import { createPropagator, ensureContextManager } from '@ctxprop/core';
import { serve } from './outbound-route.mjs';

ensureContextManager();
const propagator = createPropagator();

serve((req, res, route) => context.with(propagator.extract(ROOT_CONTEXT, req.headers), route, undefined, req, res));

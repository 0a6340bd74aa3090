// ctxprop, no SDK: inbound headers extracted with createPropagator(), the route run in that
// context (ctxprop's AsyncLocalStorage runtime), and the outbound fetch injected by
// enableOutboundPropagation() under the default destination policy.
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import { createPropagator, enableOutboundPropagation } from '@ctxprop/core';
import { serve } from './outbound-route.mjs';

enableOutboundPropagation();
const propagator = createPropagator();

serve((req, res, route) => context.with(propagator.extract(ROOT_CONTEXT, req.headers), route, undefined, req, res));

// Loads ctxprop and does what its Express middleware and Fastify plugin do once, at start-up
// (registers the AsyncLocalStorage context manager, turns on outbound propagation), and nothing
// per request. Imported by the `*-hand-written-loaded.mjs` servers: the hand-written context in a
// process that also holds ctxprop, which separates what ctxprop's presence in a process costs from
// what its per-request work costs.
import { enableOutboundPropagation, ensureContextManager } from '@ctxprop/core';

ensureContextManager();
enableOutboundPropagation();

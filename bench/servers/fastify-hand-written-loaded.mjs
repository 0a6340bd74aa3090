// Fastify with the hand-written minimal onRequest hook (hand-written-context.mjs), in a process
// where ctxprop is loaded and started but never runs for a request (ctxprop-started.mjs).
import '@ctxprop/fastify';
import './ctxprop-started.mjs';
import { requestStore, storage } from './hand-written-context.mjs';
import { serve } from './fastify-app.mjs';

await serve((app) => {
  app.addHook('onRequest', (request, _reply, done) => storage.run(requestStore(request.headers), done));
});

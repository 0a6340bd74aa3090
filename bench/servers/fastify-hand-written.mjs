// Fastify with a hand-written minimal onRequest hook (hand-written-context.mjs): the level the
// issue's "ctxprop without SDK" target is set at.
import { requestStore, storage } from './hand-written-context.mjs';
import { serve } from './fastify-app.mjs';

await serve((app) => {
  app.addHook('onRequest', (request, _reply, done) => storage.run(requestStore(request.headers), done));
});

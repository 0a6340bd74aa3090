// Express with the hand-written minimal middleware (hand-written-context.mjs), in a process where
// ctxprop is loaded and started but never runs for a request (ctxprop-started.mjs).
import '@ctxprop/express';
import './ctxprop-started.mjs';
import { requestStore, storage } from './hand-written-context.mjs';
import { serve } from './express-app.mjs';

serve((app) => {
  app.use((req, _res, next) => storage.run(requestStore(req.headers), next));
});

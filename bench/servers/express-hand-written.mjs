// Express with the hand-written minimal middleware (hand-written-context.mjs): the level the
// issue's "ctxprop without SDK" target is set at.
import { requestStore, storage } from './hand-written-context.mjs';
import { serve } from './express-app.mjs';

serve((app) => {
  app.use((req, _res, next) => storage.run(requestStore(req.headers), next));
});

// Express with one AsyncLocalStorage.run per request around the rest of the chain, with an empty
// store: no header read, no parsing. The floor of any AsyncLocalStorage-based request context on
// this Node version (on Node 20, every promise and nextTick then pays for async hooks).
import { AsyncLocalStorage } from 'node:async_hooks';
import { serve } from './express-app.mjs';

const storage = new AsyncLocalStorage();
const EMPTY = Object.freeze({});

serve((app) => {
  app.use((_req, _res, next) => storage.run(EMPTY, next));
});

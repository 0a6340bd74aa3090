// Fastify with one AsyncLocalStorage.run per request around the rest of the hooks, with an empty
// store: no header read, no parsing. The floor of any AsyncLocalStorage-based request context on
// this Node version (on Node 20, every promise and nextTick then pays for async hooks).
import { AsyncLocalStorage } from 'node:async_hooks';
import { serve } from './fastify-app.mjs';

const storage = new AsyncLocalStorage();
const EMPTY = Object.freeze({});

await serve((app) => {
  app.addHook('onRequest', (_request, _reply, done) => storage.run(EMPTY, done));
});

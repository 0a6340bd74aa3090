// The Fastify app every fastify-*.mjs benchmark server serves: one route with a path parameter
// answering a small JSON body, behind whatever `setup(app)` registers first. BENCH_FASTIFY=4
// serves it with Fastify 4 (`fastify4`), otherwise Fastify 5.
import { createRequire } from 'node:module';
import { ready } from '../lib/server-ipc.mjs';

const require = createRequire(import.meta.url);

/**
 * Starts the server. Fastify is required only now, after any instrumentation was registered, so
 * require-in-the-middle sees it load; `setup` may be async (plugins are awaited).
 */
export async function serve(setup) {
  const fastify = require(process.env.BENCH_FASTIFY === '4' ? 'fastify4' : 'fastify');
  const app = fastify({ logger: false, keepAliveTimeout: 30_000 });
  if (setup) await setup(app);
  app.get('/users/:id', async (request) => ({ id: request.params.id, ok: true }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  ready(app.server);
}

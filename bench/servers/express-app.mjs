// The Express app every express-*.mjs benchmark server serves: one route with a path parameter
// answering a small JSON body, behind whatever `setup(app)` adds first. BENCH_EXPRESS=4 serves it
// with Express 4 (`express4`), otherwise Express 5.
import http from 'node:http';
import { createRequire } from 'node:module';
import { ready } from '../lib/server-ipc.mjs';

const require = createRequire(import.meta.url);

/**
 * Starts the server. `createServer` defaults to node:http's (an instrumented `http` module can be
 * passed); Express is required only now, after any instrumentation was registered.
 */
export function serve(setup, createServer = http.createServer) {
  const express = require(process.env.BENCH_EXPRESS === '4' ? 'express4' : 'express');
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  if (setup) setup(app);
  app.get('/users/:id', (req, res) => {
    res.json({ id: req.params.id, ok: true });
  });
  const server = createServer(app);
  server.keepAliveTimeout = 30_000;
  server.listen(0, '127.0.0.1', () => ready(server));
}

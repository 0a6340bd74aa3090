// The route every outbound benchmark server serves: one `fetch` to the upstream named by
// UPSTREAM_URL (a keep-alive server in the bench process, so its CPU is not counted here), then
// a small JSON answer. `wrap` lets a variant run the route inside its own context.
import http from 'node:http';
import { ready } from '../lib/server-ipc.mjs';

const upstream = process.env.UPSTREAM_URL;
if (!upstream) throw new Error('bench: UPSTREAM_URL is not set');
const body = JSON.stringify({ ok: true });

async function route(req, res) {
  try {
    const answer = await fetch(upstream);
    await answer.text();
    res.setHeader('content-type', 'application/json');
    res.end(body);
  } catch (error) {
    res.statusCode = 502;
    res.end(String(error));
  }
}

/** Starts the server; `wrap(req, res, route)` runs the route (the default runs it as it is). */
export function serve(wrap = (req, res, next) => next(req, res), createServer = http.createServer) {
  const server = createServer((req, res) => {
    wrap(req, res, route);
  });
  server.keepAliveTimeout = 30_000;
  server.listen(0, '127.0.0.1', () => ready(server));
}

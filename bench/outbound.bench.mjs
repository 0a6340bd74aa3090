#!/usr/bin/env node
// A route that makes one outbound `fetch`, served five ways: bare (no propagation), context-only
// (ctxprop's AsyncLocalStorage context and inbound extraction, no injection: what a context costs
// a promise-heavy fetch on this Node), ctxprop (the same plus automatic outbound injection under
// the destination policy, no SDK), ctxprop with the OpenTelemetry SDK (SERVER and CLIENT spans),
// and OpenTelemetry's own instrumentation-http + instrumentation-undici with the SDK. Requests
// carry a traceparent and three baggage members, so there is a context to carry. The upstream
// runs in this process, so its CPU is not counted in the servers'. Server CPU per request and
// requests/s over interleaved paired rounds (bench/lib/http-load.mjs). Target (issue 4): ctxprop
// at most 1.18x the bare route's CPU per request.
// Imports the BUILT packages (run `pnpm build` or `node scripts/build.mjs core` first).
import { once } from 'node:events';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareServers } from './lib/http-load.mjs';

const TARGET = 1.18;
const here = dirname(fileURLToPath(import.meta.url));
const server = (name) => join(here, 'servers', `outbound-${name}.mjs`);

const upstream = http.createServer((req, res) => {
  req.resume();
  res.setHeader('content-type', 'application/json');
  res.end('{"upstream":true}');
});
upstream.keepAliveTimeout = 30_000;
upstream.listen(0, '127.0.0.1');
await once(upstream, 'listening');
const env = { UPSTREAM_URL: `http://127.0.0.1:${upstream.address().port}/items` };

try {
  const { variants } = await compareServers({
    title: 'outbound: a route making one fetch (server CPU per request; ratios are medians of per-round ratios to bare)',
    variants: [
      { name: 'bare', script: server('bare'), env },
      { name: 'context-only', script: server('context-only'), env },
      { name: 'ctxprop', script: server('ctxprop'), env },
      { name: 'ctxprop-sdk', script: server('ctxprop-sdk'), env },
      { name: 'otel-auto', script: server('otel'), env },
    ],
    baseline: 'bare',
    headers: {
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      baggage: 'customer.tier=gold,tenant.id=acme-42,request.origin=web',
    },
    pairs: [
      ['ctxprop', 'context-only'],
      ['otel-auto', 'ctxprop-sdk'],
    ],
  });
  const ours = variants.find((row) => row.name === 'ctxprop');
  const met = ours.cpuRatio <= TARGET;
  console.log(`  target: ctxprop <= ${TARGET}x bare CPU per request: ${ours.cpuRatio.toFixed(2)}x, ${met ? 'met' : 'NOT MET'}`);
  if (!met) process.exitCode = 1;
} finally {
  upstream.closeAllConnections();
  upstream.close();
}

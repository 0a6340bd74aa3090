#!/usr/bin/env node
// Express, served six ways: bare; with one AsyncLocalStorage.run per request and an empty store
// (servers/express-als-only.mjs: the floor of any such context); with the hand-written minimal
// context the targets are set against (servers/hand-written-context.mjs: one
// AsyncLocalStorage, a traceparent regex, a baggage split); with ctxprop and no SDK; with ctxprop and the OpenTelemetry SDK recording SERVER
// spans; and with OpenTelemetry's auto-instrumentation (instrumentation-http + instrumentation-express +
// SDK) doing the same job. Requests carry a traceparent and three baggage members. Server CPU per
// request (user and system) and requests/s over interleaved paired rounds, fresh server processes
// each round (bench/lib/http-load.mjs), medians of per-round ratios.
// Targets (issue 3): ctxprop without SDK <= 1.10x bare CPU per request; ctxprop with the SDK at
// least 1.5x less CPU per request than OpenTelemetry's auto-instrumentation.
// BENCH_EXPRESS=4 runs the same on Express 4. Imports the BUILT packages (`pnpm build` first).
import { runFrameworkBench } from './lib/framework-bench.mjs';

await runFrameworkBench({
  prefix: 'express',
  version: process.env.BENCH_EXPRESS === '4' ? 'Express 4' : 'Express 5',
  noSdkTarget: 1.1,
  versusOtelTarget: 1.5,
});

#!/usr/bin/env node
// Fastify, served four ways: bare; with ctxprop and no SDK; with ctxprop and the OpenTelemetry SDK
// recording SERVER spans; and with OpenTelemetry's auto-instrumentation (instrumentation-http +
// @fastify/otel + SDK) doing the same job. Requests carry a traceparent and three baggage
// members. Server CPU per request and requests/s over interleaved paired rounds
// (bench/lib/http-load.mjs), medians of per-round ratios.
// Targets (issue 3): ctxprop without SDK <= 1.25x bare CPU per request; ctxprop with the SDK at
// least 2x less CPU per request than OpenTelemetry's auto-instrumentation.
// BENCH_FASTIFY=4 runs the same on Fastify 4. Imports the BUILT packages (`pnpm build` first).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareServers } from './lib/http-load.mjs';

const NO_SDK_TARGET = 1.25;
const VERSUS_OTEL_TARGET = 2;
const here = dirname(fileURLToPath(import.meta.url));
const server = (name) => join(here, 'servers', `fastify-${name}.mjs`);
const version = process.env.BENCH_FASTIFY === '4' ? 'Fastify 4' : 'Fastify 5';

const { variants, pairs } = await compareServers({
  title: `${version}: GET /users/:id (server CPU per request; ratios are medians of per-round ratios to bare)`,
  variants: [
    { name: 'bare', script: server('bare') },
    { name: 'ctxprop', script: server('ctxprop') },
    { name: 'ctxprop-sdk', script: server('ctxprop-sdk') },
    { name: 'otel-auto', script: server('otel') },
  ],
  baseline: 'bare',
  path: '/users/42',
  headers: {
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    baggage: 'customer.tier=gold,tenant.id=acme-42,request.origin=web',
  },
  pairs: [['otel-auto', 'ctxprop-sdk']],
});
const ours = variants.find((row) => row.name === 'ctxprop');
const versusOtel = pairs.find((pair) => pair.a === 'otel-auto');
const noSdkMet = ours.cpuRatio <= NO_SDK_TARGET;
const sdkMet = versusOtel.cpuRatio >= VERSUS_OTEL_TARGET;
console.log(`  target: ctxprop <= ${NO_SDK_TARGET}x bare CPU per request: ${ours.cpuRatio.toFixed(2)}x, ${noSdkMet ? 'met' : 'NOT MET'}`);
console.log(`  target: otel-auto >= ${VERSUS_OTEL_TARGET}x ctxprop-sdk CPU per request: ${versusOtel.cpuRatio.toFixed(2)}x, ${sdkMet ? 'met' : 'NOT MET'}`);
if (!noSdkMet || !sdkMet) process.exitCode = 1;

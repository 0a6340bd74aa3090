/**
 * The framework benchmark both `express.bench.mjs` and `fastify.bench.mjs` run: one framework
 * served six ways (bare; one AsyncLocalStorage.run per request with an empty store, the floor of
 * any such context; the hand-written minimal context the targets are set against; ctxprop
 * without SDK; ctxprop with the OpenTelemetry SDK; OpenTelemetry's auto-instrumentation), requests
 * carrying a traceparent and three baggage members, then the two targets checked. The
 * servers are `bench/servers/{prefix}-{bare,als-only,hand-written,ctxprop,ctxprop-sdk,otel}.mjs`.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareServers } from './http-load.mjs';

const servers = join(dirname(fileURLToPath(import.meta.url)), '..', 'servers');

/** Runs the comparison; sets a failing exit code when a target is not met. */
export async function runFrameworkBench({ prefix, version, noSdkTarget, versusOtelTarget }) {
  const server = (name) => join(servers, `${prefix}-${name}.mjs`);
  const { variants, pairs } = await compareServers({
    title: `${version}: GET /users/:id (server CPU per request; ratios are medians of per-round ratios to bare)`,
    variants: [
      { name: 'bare', script: server('bare') },
      { name: 'als-only', script: server('als-only') },
      { name: 'hand-written', script: server('hand-written') },
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
    pairs: [
      ['ctxprop', 'hand-written'],
      ['hand-written', 'als-only'],
      ['otel-auto', 'ctxprop-sdk'],
    ],
  });
  const ours = variants.find((row) => row.name === 'ctxprop');
  const versusOtel = pairs.find((pair) => pair.a === 'otel-auto');
  const reference = variants.find((row) => row.name === 'hand-written');
  const versusReference = pairs.find((pair) => pair.a === 'ctxprop');
  // The issue set its targets at what it measured for the hand-written context (Express 1.07x,
  // Fastify 1.24x); how far this run's machine puts that reference from bare shows how far the
  // absolute targets moved with it.
  const floor = variants.find((row) => row.name === 'als-only');
  console.log(`  reference: the hand-written minimal context costs ${reference.cpuRatio.toFixed(2)}x bare here; ctxprop costs ${versusReference.cpuRatio.toFixed(2)}x the hand-written context`);
  console.log(`  floor: an AsyncLocalStorage.run per request with an empty store costs ${floor.cpuRatio.toFixed(2)}x bare here (any AsyncLocalStorage-based context pays it)`);
  const noSdkMet = ours.cpuRatio <= noSdkTarget;
  const sdkMet = versusOtel.cpuRatio >= versusOtelTarget;
  console.log(`  target: ctxprop <= ${noSdkTarget}x bare CPU per request: ${ours.cpuRatio.toFixed(2)}x, ${noSdkMet ? 'met' : 'NOT MET'}`);
  console.log(`  target: otel-auto >= ${versusOtelTarget}x ctxprop-sdk CPU per request: ${versusOtel.cpuRatio.toFixed(2)}x, ${sdkMet ? 'met' : 'NOT MET'}`);
  if (!noSdkMet || !sdkMet) process.exitCode = 1;
}

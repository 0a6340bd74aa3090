#!/usr/bin/env node
// Instructions per request under load, counted by callgrind (lib/callgrind.mjs): Fastify and
// Express served bare, with the AsyncLocalStorage floor, with the hand-written reference context,
// and with ctxprop (no SDK), with requests carrying a traceparent and three baggage members, as
// the CPU benchmarks' requests do. And instructions per pino line (no-op stream, inside a request
// context): bare pino, pinoMixin(), a mixin returning the same fields as constants, and
// pinoCorrelation() (cases/pino-lines.mjs; per line: the difference between a run of 200,000 and
// one of 600,000 lines). Not part of `pnpm bench` (about 15 minutes: a server takes 2 to 6 minutes
// under valgrind); run with `pnpm bench:instructions`. Skips with a message when valgrind is missing.
//
// Environment: BENCH_PARTS=fastify,express,pino (the default: all three), BENCH_FASTIFY=4 /
// BENCH_EXPRESS=4 (the older majors), BENCH_WARM_REQUESTS (30000), BENCH_MEASURED_REQUESTS
// (10000), BENCH_PARALLEL (2 runs at a time), BENCH_CACHE_SIM=1 (adds simulated L1 misses).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { countInstructions, countRunInstructions, valgrindAvailable } from './lib/callgrind.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const servers = join(here, 'servers');
const PINO_CASES = ['pino', 'pinoMixin', 'constant-mixin', 'pinoCorrelation'];
const PINO_LINES = [200_000, 600_000];
const VARIANTS = ['bare', 'als-only', 'hand-written', 'ctxprop'];
const HEADERS = {
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  baggage: 'customer.tier=gold,tenant.id=acme-42,request.origin=web',
};

if (!valgrindAvailable()) {
  console.log('bench: instruction counts skipped: valgrind (with callgrind_control) is not on the PATH; install it (Debian: apt-get install valgrind) to run them.');
  process.exit(0);
}

const parts = (process.env.BENCH_PARTS ?? 'fastify,express,pino').split(',').map((name) => name.trim()).filter(Boolean);
for (const part of parts) {
  if (!['fastify', 'express', 'pino'].includes(part)) throw new Error(`bench: BENCH_PARTS names "${part}"; use fastify, express and/or pino`);
}
const frameworks = parts.filter((part) => part !== 'pino');
const number = (name, fallback) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`bench: ${name} must be a positive integer, got "${process.env[name]}"`);
  return value;
};
const warmRequests = number('BENCH_WARM_REQUESTS', 30_000);
const measuredRequests = number('BENCH_MEASURED_REQUESTS', 10_000);
const parallel = number('BENCH_PARALLEL', 2);
const valgrindArgs = process.env.BENCH_CACHE_SIM === '1' ? ['--cache-sim=yes'] : [];

// Each job is one process under valgrind; `parallel` of them run at a time.
const results = new Map();
const jobs = [
  ...frameworks.flatMap((framework) =>
    VARIANTS.map((variant) => ({
      label: `${framework} ${variant}`,
      run: async () => {
        const script = join(servers, `${framework}-${variant}.mjs`);
        results.set(`${framework}/${variant}`, await countInstructions({ script, path: '/users/42', headers: HEADERS, warmRequests, measuredRequests, valgrindArgs }));
      },
    })),
  ),
  ...(parts.includes('pino')
    ? PINO_CASES.flatMap((name) =>
        PINO_LINES.map((lines) => ({
          label: `pino ${name} x ${lines}`,
          run: async () => results.set(`pino/${name}/${lines}`, await countRunInstructions({ script: join(here, 'cases', 'pino-lines.mjs'), args: [name, lines] })),
        })),
      )
    : []),
];
let next = 0;
async function worker() {
  while (next < jobs.length) {
    const job = jobs[next++];
    const started = Date.now();
    await job.run();
    console.log(`  counted ${job.label} in ${Math.round((Date.now() - started) / 1000)} s`);
  }
}
console.log(`instruction counts (callgrind; servers: ${warmRequests} warm-up requests, about ${measuredRequests} counted; ${parallel} runs at a time)`);
await Promise.all(Array.from({ length: parallel }, worker));

const format = (value) => Math.round(value).toLocaleString('en');
for (const framework of frameworks) {
  const version = framework === 'fastify' ? `Fastify ${process.env.BENCH_FASTIFY === '4' ? 4 : 5}` : `Express ${process.env.BENCH_EXPRESS === '4' ? 4 : 5}`;
  const row = (variant) => results.get(`${framework}/${variant}`);
  const bare = row('bare');
  const floor = row('als-only');
  const extra = valgrindArgs.length > 0 ? `  ${'I1 misses'.padStart(10)} ${'D1 misses'.padStart(10)}` : '';
  console.log(`\n${version}: GET /users/:id, instructions per request`);
  console.log(`  ${'variant'.padEnd(13)} ${'main thread'.padStart(12)} ${'x bare'.padStart(7)} ${'x floor'.padStart(8)} ${'all threads'.padStart(12)} ${'x bare'.padStart(7)}${extra}`);
  for (const variant of VARIANTS) {
    const r = row(variant);
    const misses = valgrindArgs.length > 0 ? `  ${format(r.events.I1mr ?? 0).padStart(10)} ${format((r.events.D1mr ?? 0) + (r.events.D1mw ?? 0)).padStart(10)}` : '';
    console.log(
      `  ${variant.padEnd(13)} ${format(r.mainThread).padStart(12)} ${(r.mainThread / bare.mainThread).toFixed(2).padStart(6)}x ${(r.mainThread / floor.mainThread).toFixed(2).padStart(7)}x ${format(r.allThreads).padStart(12)} ${(r.allThreads / bare.allThreads).toFixed(2).padStart(6)}x${misses}`,
    );
  }
  const ours = row('ctxprop');
  const reference = row('hand-written');
  console.log(
    `  ctxprop / hand-written: ${(ours.mainThread / reference.mainThread).toFixed(3)}x on the main thread, ${(ours.allThreads / reference.allThreads).toFixed(3)}x on all threads` +
      ` (context work above the floor: ctxprop ${format(ours.mainThread - floor.mainThread)}, hand-written ${format(reference.mainThread - floor.mainThread)})`,
  );
}

if (parts.includes('pino')) {
  const [fewer, more] = PINO_LINES;
  const perLine = (name) => {
    const a = results.get(`pino/${name}/${fewer}`);
    const b = results.get(`pino/${name}/${more}`);
    return (b.mainThread - a.mainThread) / (more - fewer);
  };
  const bare = perLine('pino');
  console.log(`\npino ${require('pino/package.json').version}: one line, no-op stream, inside a request context; instructions per line (main thread)`);
  for (const name of PINO_CASES) {
    const value = perLine(name);
    console.log(`  ${name.padEnd(16)} ${format(value).padStart(8)} ${(value / bare).toFixed(2).padStart(6)}x pino`);
  }
  console.log(`  pinoMixin / constant-mixin: ${(perLine('pinoMixin') / perLine('constant-mixin')).toFixed(2)}x (what reading the context adds to any mixin of the same fields)`);
}

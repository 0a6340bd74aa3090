/**
 * HTTP load harness for the framework benchmarks: server CPU time per request and requests/s,
 * measured over interleaved, paired rounds (fresh server processes each round), reported as
 * medians of the per-round ratios.
 *
 * Why this shape: on a 2-core machine the load generator saturates its core on a fast route, so
 * requests/s alone hides a server's overhead; the server's own CPU counters (process.cpuUsage,
 * read over IPC) do not. This machine also has slow phases in which allocation-heavy JS runs up
 * to 2x slower, so each round runs every variant once, back to back (order rotated per round),
 * and each variant is compared with the baseline *of the same round*.
 *
 * API:
 *   compareServers({
 *     title, variants: [{ name, script, env?, execArgv? }], baseline: 'bare',
 *     rounds = 7, seconds = 4, warmupSeconds = 5, connections = 32, path = '/',
 *     method = 'GET', headers = {}, body,
 *     pairs = [['otel-auto', 'ctxprop-sdk']],   // extra "a costs N x b" lines
 *     rate,                                     // optional fixed offered load (req/s); BENCH_RATE
 *   }) -> Promise<{ variants: {name, rps, heapPerRequestBytes, promotedPerRequestBytes, cpuPerRequestUs, userPerRequestUs, systemPerRequestUs,
 *                   mainThreadPerRequestUs, otherThreadsPerRequestUs, mainThreadRatio,
 *                   cpuRatio, cpuRatioQuartiles, userRatio, rpsRatio}[], pairs }>
 *
 * A variant's `script` is a server file that listens on 127.0.0.1:0 and calls `ready(server)`
 * from `./server-ipc.mjs`. Every round starts every server afresh and warms it; only one is under
 * load at a time. Environment: BENCH_ROUNDS, BENCH_SECONDS, BENCH_WARMUP_SECONDS, BENCH_CONNECTIONS
 * and BENCH_RATE override the defaults; BENCH_SEMI_SPACE=default runs the servers without SERVER_V8_FLAGS.
 */
import { fork, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * V8 flags every server runs with: its young generation at its full default size (16 MB
 * semispaces on 64-bit Node 20) from the start, the size a server under sustained load settles at.
 * V8 grows the young generation as objects survive its scavenges, so a server that keeps more per
 * in-flight request reaches 16 MB sooner: within the measured seconds, while a leaner one is still
 * at 8 MB. Short runs then compare processes caught at different sizes (1.25x against 1.08x for
 * the same two Fastify servers over 21 rounds). BENCH_SEMI_SPACE=default keeps V8's own growth.
 */
const SERVER_V8_FLAGS = process.env.BENCH_SEMI_SPACE === 'default' ? [] : ['--min-semi-space-size=16', '--max-semi-space-size=16'];

function startServer(variant) {
  return new Promise((resolve, reject) => {
    const child = fork(variant.script, [], {
      env: { ...process.env, ...variant.env },
      execArgv: ['--expose-gc', ...SERVER_V8_FLAGS, ...(variant.execArgv ?? [])],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const timer = setTimeout(() => reject(new Error(`bench: ${variant.name} did not start in 20 s`)), 20_000);
    child.once('exit', (code) => reject(new Error(`bench: ${variant.name} exited with ${code} before it was ready`)));
    child.on('message', (message) => {
      if (message?.type === 'ready') {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve({ ...variant, child, port: message.port });
      }
    });
  });
}

let nextId = 0;
function readCpu(server) {
  return new Promise((resolve) => {
    const id = nextId++;
    const onMessage = (message) => {
      if (message?.type === 'cpu' && message.id === id) {
        server.child.off('message', onMessage);
        resolve({ ...message.usage, threads: message.threads, allocated: message.allocated, promoted: message.promoted });
      }
    };
    server.child.on('message', onMessage);
    server.child.send({ type: 'cpu', id });
  });
}

function runLoad(config) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(here, 'load-runner.mjs'), JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`bench: load generator exited with ${code}`));
      resolve(JSON.parse(out.trim().split('\n').pop()));
    });
  });
}

async function measure(server, options, seconds) {
  const before = await readCpu(server);
  const load = await runLoad({
    url: `http://127.0.0.1:${server.port}${options.path}`,
    connections: options.connections,
    seconds,
    headers: options.headers,
    method: options.method,
    body: options.body,
    rate: options.rate,
  });
  const after = await readCpu(server);
  if (load.errors > 0 || load.non2xx > 0 || load.requests === 0) {
    throw new Error(`bench: ${server.name} answered ${load.non2xx} non-2xx and ${load.errors} errors of ${load.requests}`);
  }
  const user = (after.user - before.user) / load.requests;
  const system = (after.system - before.system) / load.requests;
  // Main thread against the rest (GC helpers, JIT compiler threads), where /proc has them.
  const threads = before.threads && after.threads;
  const mainThread = threads ? (after.threads.main - before.threads.main) / load.requests : NaN;
  const otherThreads = threads ? (after.threads.others - before.threads.others) / load.requests : NaN;
  // The server's heap allocation per request (after.allocated covers the time since `before`).
  const heapPerRequestBytes = typeof after.allocated === 'number' ? after.allocated / load.requests : NaN;
  // What of it scavenges moved to the old generation, for a full collection to free.
  const promotedPerRequestBytes = typeof after.promoted === 'number' ? after.promoted / load.requests : NaN;
  return {
    rps: load.rps,
    heapPerRequestBytes,
    promotedPerRequestBytes,
    cpuPerRequestUs: user + system,
    userPerRequestUs: user,
    systemPerRequestUs: system,
    mainThreadPerRequestUs: mainThread,
    otherThreadsPerRequestUs: otherThreads,
    p99: load.latencyP99,
  };
}

/** The p-quantile (0..1) of `values`, linearly interpolated. */
function quantile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * p;
  const low = Math.floor(at);
  return sorted[low] + (sorted[Math.ceil(at)] - sorted[low]) * (at - low);
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const fmt = (n, digits = 2) => n.toFixed(digits);

/** Runs the comparison and prints a table; see the header comment. */
export async function compareServers(options) {
  const opts = {
    rounds: Number(process.env.BENCH_ROUNDS ?? options.rounds ?? 7),
    seconds: Number(process.env.BENCH_SECONDS ?? options.seconds ?? 4),
    // V8 is still optimizing a Fastify server's hot functions 40,000 requests in (--trace-opt),
    // about 2 to 3 s at these rates; the compiler threads' time and the unoptimized code count
    // against whichever server has more code to tier up. 5 s measures steady state.
    warmupSeconds: Number(process.env.BENCH_WARMUP_SECONDS ?? options.warmupSeconds ?? 5),
    connections: Number(process.env.BENCH_CONNECTIONS ?? options.connections ?? 32),
    path: options.path ?? '/',
    method: options.method ?? 'GET',
    headers: options.headers ?? {},
    body: options.body,
    baseline: options.baseline ?? options.variants[0].name,
    pairs: options.pairs ?? [],
    rate: process.env.BENCH_RATE ? Number(process.env.BENCH_RATE) : options.rate,
  };
  console.log(`\n${options.title}`);
  console.log(`  ${opts.rounds} interleaved rounds x ${opts.seconds} s (after ${opts.warmupSeconds} s of warm-up), ${opts.connections} connections, ${opts.method} ${opts.path}; servers run with ${SERVER_V8_FLAGS.join(' ') || "V8's default young generation"}`);
  // Each round starts fresh server processes: one process's JIT can settle in a faster or slower
  // state for its whole life, so a variant served by one process for every round would carry that
  // luck into all its samples.
  const samples = new Map(options.variants.map((v) => [v.name, []]));
  const names = options.variants.map((v) => v.name);
  for (let round = 0; round < opts.rounds; round++) {
    const servers = [];
    try {
      for (const variant of options.variants) servers.push(await startServer(variant));
      for (const server of servers) await measure(server, opts, opts.warmupSeconds);
      const order = servers.map((_, i) => servers[(i + round) % servers.length]);
      for (const server of order) samples.get(server.name).push(await measure(server, opts, opts.seconds));
    } finally {
      for (const server of servers) server.child.send({ type: 'exit' });
    }
    process.stdout.write(`  round ${round + 1}/${opts.rounds} done\r`);
  }
  process.stdout.write('\n');
  const base = samples.get(opts.baseline);
  // Per-round ratios of one field, variant `a` over variant `b` (paired by round).
  const ratios = (a, b, field) => a.map((r, i) => r[field] / b[i][field]);
  // The middle half of the per-round ratios: how far one run's median can move on this machine.
  const quartiles = (values) => [quantile(values, 0.25), quantile(values, 0.75)];
  const rows = names.map((name) => {
    const runs = samples.get(name);
    const cpuRatios = ratios(runs, base, 'cpuPerRequestUs');
    return {
      name,
      rps: median(runs.map((r) => r.rps)),
      heapPerRequestBytes: median(runs.map((r) => r.heapPerRequestBytes)),
      promotedPerRequestBytes: median(runs.map((r) => r.promotedPerRequestBytes)),
      cpuPerRequestUs: median(runs.map((r) => r.cpuPerRequestUs)),
      userPerRequestUs: median(runs.map((r) => r.userPerRequestUs)),
      systemPerRequestUs: median(runs.map((r) => r.systemPerRequestUs)),
      mainThreadPerRequestUs: median(runs.map((r) => r.mainThreadPerRequestUs)),
      otherThreadsPerRequestUs: median(runs.map((r) => r.otherThreadsPerRequestUs)),
      mainThreadRatio: median(ratios(runs, base, 'mainThreadPerRequestUs')),
      userRatio: median(ratios(runs, base, 'userPerRequestUs')),
      cpuRatio: median(cpuRatios),
      cpuRatioQuartiles: quartiles(cpuRatios),
      rpsRatio: median(ratios(runs, base, 'rps')),
    };
  });
  console.log(`  ${'variant'.padEnd(28)} ${'req/s'.padStart(9)} ${'CPU us/req'.padStart(11)} ${'CPU x bare'.padStart(11)} ${'req/s x bare'.padStart(13)} ${'user us'.padStart(8)} ${'sys us'.padStart(7)} ${'user x bare'.padStart(12)} ${'main us'.padStart(8)} ${'other us'.padStart(9)} ${'main x bare'.padStart(12)} ${'heap KB/req'.padStart(12)} ${'promoted B/req'.padStart(15)}  CPU x bare, middle half of rounds`);
  for (const row of rows) {
    console.log(
      `  ${row.name.padEnd(28)} ${fmt(row.rps, 0).padStart(9)} ${fmt(row.cpuPerRequestUs, 1).padStart(11)} ${fmt(row.cpuRatio).padStart(11)} ${fmt(row.rpsRatio).padStart(13)} ${fmt(row.userPerRequestUs, 1).padStart(8)} ${fmt(row.systemPerRequestUs, 1).padStart(7)} ${fmt(row.userRatio).padStart(12)} ${fmt(row.mainThreadPerRequestUs, 1).padStart(8)} ${fmt(row.otherThreadsPerRequestUs, 1).padStart(9)} ${fmt(row.mainThreadRatio).padStart(12)} ${fmt(row.heapPerRequestBytes / 1024).padStart(12)} ${fmt(row.promotedPerRequestBytes, 0).padStart(15)}  ${fmt(row.cpuRatioQuartiles[0])}-${fmt(row.cpuRatioQuartiles[1])}`,
    );
  }
  const pairs = opts.pairs.map(([a, b]) => {
    const pairRatios = ratios(samples.get(a), samples.get(b), 'cpuPerRequestUs');
    const ratio = median(pairRatios);
    const [low, high] = quartiles(pairRatios);
    const heap = (name) => rows.find((row) => row.name === name).heapPerRequestBytes;
    const heapDifference = heap(a) - heap(b);
    const heapText = Number.isNaN(heapDifference) ? '' : `; allocates ${heapDifference >= 0 ? '+' : ''}${fmt(heapDifference, 0)} bytes of heap per request`;
    console.log(`  ${a} uses ${fmt(ratio)}x the CPU per request of ${b} (middle half of rounds ${fmt(low)}-${fmt(high)})${heapText}`);
    return { a, b, cpuRatio: ratio, heapDifferenceBytes: heapDifference };
  });
  return { variants: rows, pairs };
}

/**
 * Instructions a server executes per request, counted by valgrind's callgrind while the server is
 * under load: a second measure beside the CPU-time tables of http-load.mjs, one the machine's slow
 * phases do not move. CPU time on this machine varies by 0.1x to 0.3x from run to run; the counts
 * repeat to within about 3% (GC and JIT timing still vary a little).
 *
 * How one count is made:
 * 1. the server script runs under `valgrind --tool=callgrind --separate-threads=yes` (same V8 flags
 *    as the CPU benchmarks) and prints its port (server-ipc.mjs, when not under the IPC harness);
 * 2. a warm-up load lets V8 optimize (under valgrind that takes tens of thousands of requests);
 * 3. a one-connection trickle load starts, `callgrind_control --zero` resets the counters, the
 *    measured load runs, `callgrind_control --dump` writes them, and the trickle stops: every
 *    response counted between the zero and the dump is a counted request (to within one);
 * 4. the main thread's total (`thread 1`: JavaScript, the HTTP parser, the ALS hooks) and the sum
 *    over all threads (adding V8's background GC and compiler threads) are divided by it.
 *
 * Counts are of user-space instructions: the kernel's share of each request (socket reads and
 * writes), the same for every variant, is not in them, so ratios to bare come out larger than the
 * CPU-time ratios. Instructions are not time either: cache misses and branch mispredictions are
 * not in them (callgrind's `--cache-sim=yes` simulates the caches, much slower).
 *
 * API:
 *   valgrindAvailable() -> boolean
 *   countInstructions({ script, env?, path, headers, warmRequests?, measuredRequests?, connections?, valgrindArgs? })
 *     -> Promise<{ requests, mainThread, allThreads, events }>   (per-request counts; events: extra callgrind events)
 *   countRunInstructions({ script, args? }) -> Promise<{ mainThread, allThreads }>
 *     (totals of a script run to its end: for workloads that take a count, measured at two counts)
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import autocannon from 'autocannon';

/** The V8 flags the CPU benchmarks give their servers (http-load.mjs explains them). */
const SERVER_V8_FLAGS = ['--min-semi-space-size=16', '--max-semi-space-size=16'];

/** True when valgrind and callgrind_control are on the PATH. */
export function valgrindAvailable() {
  const probe = (command) => spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0;
  return probe('valgrind') && probe('callgrind_control');
}

function control(pid, flag) {
  return new Promise((resolve, reject) => {
    execFile('callgrind_control', [flag, String(pid)], (error) => (error ? reject(new Error(`callgrind_control ${flag} failed: ${error.message}`)) : resolve()));
  });
}

function waitForPort(child, script) {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`bench: ${script} did not start under valgrind in 5 min`)), 300_000);
    timer.unref();
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const match = /127\.0\.0\.1:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`bench: ${script} exited with ${code} under valgrind`));
    });
  });
}

/** The totals line of each thread's dump: [{ thread, events: { Ir, ... } }]. */
function readDumps(directory) {
  const dumps = [];
  for (const name of readdirSync(directory)) {
    const text = readFileSync(join(directory, name), 'utf8');
    const names = /^events: (.*)$/m.exec(text)?.[1].trim().split(/\s+/);
    const totals = /^totals: (.*)$/m.exec(text)?.[1].trim().split(/\s+/).map(Number);
    const thread = Number(/^thread: (\d+)$/m.exec(text)?.[1]);
    if (names === undefined || totals === undefined) continue;
    dumps.push({ thread, events: Object.fromEntries(names.map((event, i) => [event, totals[i] ?? 0])) });
  }
  return dumps;
}

function callgrindArgs(directory, extra) {
  // V8 writes and rewrites machine code: valgrind must notice every change.
  return ['--tool=callgrind', '--smc-check=all', '--separate-threads=yes', `--callgrind-out-file=${join(directory, 'callgrind.out')}`, ...extra];
}

function totalsOf(directory, what) {
  const dumps = readDumps(directory);
  const main = dumps.find((dump) => dump.thread === 1);
  if (main === undefined) throw new Error(`bench: callgrind wrote no dump of the main thread for ${what}`);
  return { main, all: dumps.reduce((sum, dump) => sum + (dump.events.Ir ?? 0), 0) };
}

/** Runs `node script ...args` to its end under callgrind and returns its instruction totals. */
export async function countRunInstructions({ script, args = [] }) {
  const directory = mkdtempSync(join(tmpdir(), 'ctxprop-callgrind-'));
  try {
    const child = spawn('valgrind', [...callgrindArgs(directory, []), process.execPath, script, ...args.map(String)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`bench: ${script} ${args.join(' ')} exited with ${code} under valgrind:\n${stderr.slice(-2000)}`);
    const { main, all } = totalsOf(directory, script);
    return { mainThread: main.events.Ir, allThreads: all };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/** Runs one server under callgrind and returns its per-request instruction counts. */
export async function countInstructions({
  script,
  env = {},
  path,
  headers = {},
  warmRequests = 30_000,
  measuredRequests = 10_000,
  connections = 16,
  valgrindArgs = [],
}) {
  const directory = mkdtempSync(join(tmpdir(), 'ctxprop-callgrind-'));
  const child = spawn(
    'valgrind',
    [...callgrindArgs(directory, valgrindArgs), process.execPath, ...SERVER_V8_FLAGS, script],
    { cwd: dirname(script), env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'ignore'] },
  );
  let trickle;
  try {
    const port = await waitForPort(child, script);
    const url = `http://127.0.0.1:${port}${path}`;
    let responses = 0;
    const load = (options) => {
      const instance = autocannon({ url, headers, timeout: 60, ...options });
      instance.on('response', () => responses++);
      return instance;
    };
    const checkErrors = (result, phase) => {
      if (result.errors > 0 || result.non2xx > 0) throw new Error(`bench: ${script} answered ${result.errors} errors and ${result.non2xx} non-2xx responses (${phase})`);
    };
    checkErrors(await load({ connections, amount: warmRequests }), 'warm-up');
    trickle = load({ connections: 1, duration: 3_600 });
    await control(child.pid, '--zero');
    const from = responses;
    checkErrors(await load({ connections, amount: measuredRequests }), 'measured');
    await control(child.pid, '--dump');
    const requests = responses - from;
    const { main, all } = totalsOf(directory, script);
    const events = Object.fromEntries(Object.entries(main.events).map(([event, total]) => [event, total / requests]));
    return { requests, mainThread: main.events.Ir / requests, allThreads: all / requests, events };
  } finally {
    trickle?.stop();
    child.kill('SIGKILL');
    rmSync(directory, { recursive: true, force: true });
  }
}

/**
 * The server side of the HTTP load harness (`http-load.mjs`). A benchmark server script starts
 * its server on 127.0.0.1 (port 0) and then calls `ready(server)`; the harness then asks it for
 * its own CPU counters before and after each load run, over IPC.
 *
 * @example
 * ```js
 * import { ready } from '../lib/server-ipc.mjs';
 * const server = http.createServer(handler).listen(0, '127.0.0.1', () => ready(server));
 * ```
 */
import { readdirSync, readFileSync } from 'node:fs';
import v8 from 'node:v8';

let handled = 0;

/**
 * Bytes allocated on the V8 heap since the last query, from V8's own statistics around each
 * garbage collection (`v8.GCProfiler`): the heap in use before each collection less what the
 * previous one left, plus the growth since the last. Unlike CPU time on this machine, it repeats
 * to within about 1% from run to run, so it shows what a change does to the allocation per
 * request without the noise.
 */
let profiler;
let usedAtStart = 0;

/** The young generation's spaces; a scavenge moves what survives it twice out of them. */
const YOUNG_SPACES = new Set(['new_space', 'new_large_object_space']);

/**
 * Bytes a scavenge moved into the old generation: what the old spaces grew by across it. Objects
 * kept alive past two scavenges (in flight, or referenced from objects that are) are promoted, and
 * only a full mark-compact frees them again: the cost the young-generation findings in bench/README.md
 * are about.
 */
function promotedBy(gc) {
  const before = gc.beforeGC.heapSpaceStatistics;
  const after = gc.afterGC.heapSpaceStatistics;
  let promoted = 0;
  for (let i = 0; i < after.length; i++) {
    if (!YOUNG_SPACES.has(after[i].spaceName)) promoted += after[i].spaceUsedSize - before[i].spaceUsedSize;
  }
  return Math.max(promoted, 0);
}

/** Heap allocated (see above) and bytes promoted by scavenges since the last query. */
function heapSinceLastQuery() {
  if (profiler === undefined) return { allocated: undefined, promoted: undefined };
  const { statistics } = profiler.stop();
  let allocated = 0;
  let promoted = 0;
  let previous = usedAtStart;
  for (const gc of statistics) {
    allocated += gc.beforeGC.heapStatistics.usedHeapSize - previous;
    previous = gc.afterGC.heapStatistics.usedHeapSize;
    if (gc.gcType === 'Scavenge') promoted += promotedBy(gc);
  }
  return { allocated: allocated + v8.getHeapStatistics().used_heap_size - previous, promoted };
}

function startAllocationCount() {
  if (typeof v8.GCProfiler !== 'function') return;
  usedAtStart = v8.getHeapStatistics().used_heap_size;
  profiler = new v8.GCProfiler();
  profiler.start();
}

/**
 * CPU time of this process's main thread and of all its other threads (GC helpers, the JIT's
 * compiler threads, libuv's pool), in microseconds, from Linux's per-thread counters; undefined
 * where /proc is not there. process.cpuUsage() sums every thread.
 */
function threadCpu() {
  try {
    const tick = 10_000; // USER_HZ is 100 on Linux: one tick is 10 ms
    let main = 0;
    let others = 0;
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const us = (Number(fields[11]) + Number(fields[12])) * tick;
      if (Number(tid) === process.pid) main += us;
      else others += us;
    }
    return { main, others };
  } catch {
    return undefined;
  }
}

/** Counts one handled request (optional: the harness counts responses on the client side). */
export function countRequest() {
  handled++;
}

/** Reports the listening port to the harness and answers its CPU queries. */
export function ready(server) {
  const { port } = server.address();
  if (!process.send) {
    console.log(`listening on http://127.0.0.1:${port} (not under the harness)`);
    return;
  }
  process.on('message', (message) => {
    if (message?.type === 'cpu') {
      // Allocation is read before the collection, CPU after it (as the runs before this counter).
      const { allocated, promoted } = heapSinceLastQuery();
      if (global.gc) global.gc();
      const usage = process.cpuUsage();
      const threads = threadCpu();
      startAllocationCount();
      process.send({ type: 'cpu', id: message.id, usage, threads, allocated, promoted, handled, memory: process.memoryUsage().rss });
    } else if (message?.type === 'exit') {
      server.close();
      process.exit(0);
    }
  });
  process.send({ type: 'ready', port });
}

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

let handled = 0;

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
      if (global.gc) global.gc();
      process.send({ type: 'cpu', id: message.id, usage: process.cpuUsage(), threads: threadCpu(), handled, memory: process.memoryUsage().rss });
    } else if (message?.type === 'exit') {
      server.close();
      process.exit(0);
    }
  });
  process.send({ type: 'ready', port });
}

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
let handled = 0;

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
      process.send({ type: 'cpu', id: message.id, usage: process.cpuUsage(), handled, memory: process.memoryUsage().rss });
    } else if (message?.type === 'exit') {
      server.close();
      process.exit(0);
    }
  });
  process.send({ type: 'ready', port });
}

// Test support: a client of the kind that loses request context. One real TCP connection to a
// local echo server, opened by the first call and shared by every later one, whose replies are
// delivered from the socket's 'data' events, in order. As with a callback-style database or cache
// client, a callback runs in the context the connection was opened in (AsyncLocalStorage follows
// the socket, not the caller): the first caller's request, or none.
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

export interface PooledConnection {
  /** Sends one byte over the shared connection and calls `callback` when its echo arrives. */
  call(callback: () => void): void;
  close(): Promise<void>;
}

/** Starts the echo server; the connection to it opens on the first `call`. */
export async function createPooledConnection(): Promise<PooledConnection> {
  const server: Server = createServer((socket) => socket.pipe(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const waiting: Array<() => void> = [];
  let socket: Socket | undefined;
  return {
    call(callback) {
      if (socket === undefined) {
        socket = connect(port, '127.0.0.1');
        // Echoes may arrive coalesced: one callback per byte.
        socket.on('data', (chunk: Buffer) => {
          for (let i = 0; i < chunk.length; i++) waiting.shift()?.();
        });
      }
      waiting.push(callback);
      socket.write('x');
    },
    async close() {
      socket?.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

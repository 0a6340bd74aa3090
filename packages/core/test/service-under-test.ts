// Test support: a whole service under test, end to end. A client sends a request with chosen
// header lines (names in any case, repeated lines, white space, all as given) over a plain socket;
// the service, on `GET /call/:count`, calls `${callbackUrl}/${i}` for i < count, one after the
// other, then answers 200; the callback server records every header line each call carried.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';

export interface ServiceUnderTest {
  readonly url: string;
  close(): Promise<void>;
}

/** Starts the service under test, calling back to `callbackUrl`. */
export type StartService = (callbackUrl: string) => Promise<ServiceUnderTest>;

/** Header lines: name and value, in order, as sent. */
export type HeaderLines = ReadonlyArray<readonly [name: string, value: string]>;

/** What one outbound call carried: its header lines by lower-case name, each name's lines in order. */
export type Received = ReadonlyMap<string, readonly string[]>;

/** The lines of header `name` one call carried (none: an empty list). */
export const linesOf = (received: Received, name: string): readonly string[] => received.get(name) ?? [];

/** Sends `inbound` to the service, which calls back `count` times; resolves with what each call carried. */
export type SendToService = (inbound: HeaderLines, count?: number) => Promise<Received[]>;

/**
 * Sends `GET path` with exactly these header lines over a plain socket, as a client in another
 * process would: not through node:http, whose outgoing requests ctxprop's outbound propagation (on
 * in this process) would adjust. Resolves with the status code.
 */
async function sendRaw(url: string, path: string, lines: HeaderLines): Promise<number> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await once(socket, 'connect');
  const head = [`GET ${path} HTTP/1.1`, `Host: ${hostname}:${port}`, 'Connection: close', ...lines.map(([name, value]) => `${name}:${value}`)];
  // Connection: close: the service closes the socket after its answer, which ends the loop below.
  socket.write(`${head.join('\r\n')}\r\n\r\n`);
  let response = '';
  socket.setEncoding('latin1');
  for await (const chunk of socket) response += chunk as string;
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0);
}

/**
 * Starts the callback server and the service around the calling test file's tests (or describe),
 * and returns the function that sends a request to the service.
 */
export function useServiceUnderTest(start: StartService): SendToService {
  let callbackServer: Server;
  let service: ServiceUnderTest;
  const received: Received[] = [];

  beforeAll(async () => {
    callbackServer = createServer((req, res) => {
      const lines = new Map<string, string[]>();
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i]!.toLowerCase();
        const value = req.rawHeaders[i + 1]!;
        const existing = lines.get(name);
        if (existing === undefined) lines.set(name, [value]);
        else existing.push(value);
      }
      received.push(lines);
      req.resume();
      res.end('ok');
    });
    callbackServer.listen(0, '127.0.0.1');
    await once(callbackServer, 'listening');
    service = await start(`http://127.0.0.1:${(callbackServer.address() as AddressInfo).port}/callback`);
  });

  afterAll(async () => {
    await service.close();
    callbackServer.closeAllConnections();
    await new Promise<void>((resolve) => callbackServer.close(() => resolve()));
  });

  return async (inbound, count = 1) => {
    received.length = 0;
    expect(await sendRaw(service.url, `/call/${count}`, inbound)).toBe(200);
    expect(received).toHaveLength(count);
    return [...received];
  };
}

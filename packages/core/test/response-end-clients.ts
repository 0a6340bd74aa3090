// Test support: clients that leave a response unfinished in the ways the adapters' response-end
// tests tell apart (the client went away, or the server cut the connection).
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';

/** Starts uploading a 1 MB body to `path`, sends 1,000 bytes of it, then destroys the connection. */
export function abandonUpload(port: number, path: string): Promise<void> {
  return new Promise<void>((resolve) => {
    const upload = httpRequest({ host: '127.0.0.1', port, method: 'POST', path, headers: { 'content-length': 1_000_000, 'content-type': 'application/octet-stream' } });
    upload.on('error', () => resolve());
    upload.write('x'.repeat(1000));
    setTimeout(() => {
      upload.destroy();
      resolve();
    }, 50);
  });
}

/** GETs `path` and reads the response to its end; resolves with 'complete', 'cut after status N' or 'error CODE'. */
export function readToEnd(port: number, path: string): Promise<string> {
  return new Promise<string>((resolve) => {
    httpRequest({ host: '127.0.0.1', port, path }, (response: IncomingMessage) => {
      response.resume();
      response.on('aborted', () => resolve(`cut after status ${response.statusCode}`));
      response.on('end', () => resolve('complete'));
    })
      .on('error', (error) => resolve(`error ${(error as NodeJS.ErrnoException).code}`))
      .end();
  });
}

/** GETs `path` and resolves once it is answered or fails (a server that destroys the response). */
export function requestOnce(port: number, path: string): Promise<void> {
  return new Promise<void>((resolve) => {
    httpRequest({ host: '127.0.0.1', port, path })
      .on('error', () => resolve())
      .on('response', () => resolve())
      .end();
  });
}

/** GETs `path` and resets the connection (TCP RST) after the first chunk of the body. */
export function resetAfterFirstChunk(port: number, path: string): Promise<void> {
  return new Promise<void>((resolve) => {
    httpRequest({ host: '127.0.0.1', port, path }, (response) => {
      response.once('data', () => {
        response.socket.resetAndDestroy();
        resolve();
      });
    })
      .on('error', () => resolve())
      .end();
  });
}

/**
 * Starts uploading a 1,000-byte body to `path`, sends 10 bytes of it and waits: a server whose
 * `requestTimeout` passes answers 408 itself. Resolves with 'status N' or 'error CODE'.
 */
export function stallUpload(port: number, path: string): Promise<string> {
  return new Promise<string>((resolve) => {
    const upload = httpRequest({ host: '127.0.0.1', port, method: 'POST', path, headers: { 'content-length': 1000, 'content-type': 'application/octet-stream' } }, (response) => {
      response.resume();
      resolve(`status ${response.statusCode}`);
    });
    upload.on('error', (error) => resolve(`error ${(error as NodeJS.ErrnoException).code}`));
    upload.write('x'.repeat(10));
  });
}

/**
 * POSTs a chunked body to `path` whose second chunk size is not hexadecimal, after a first chunk
 * the handler may read: Node's parser fails in the middle of the request (`HPE_INVALID_CHUNK_SIZE`)
 * and the server answers it itself. `trailer` sends an 80 KB trailer instead (`HPE_HEADER_OVERFLOW`),
 * `chunk-extension` a chunk with 20 KB of extensions (`HPE_CHUNK_EXTENSIONS_OVERFLOW`).
 * Resolves with the status line the client got ('HTTP/1.1 400 Bad Request'), or 'no response'.
 */
export function malformedChunkedUpload(port: number, path: string, fault: 'chunk-size' | 'trailer' | 'chunk-extension' = 'chunk-size'): Promise<string> {
  return new Promise<string>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => (received += text));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(received === '' ? 'no response' : received.slice(0, received.indexOf('\r\n'))));
    socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`);
    // The handler has started (it read the first chunk) when the fault arrives.
    const faults = { 'chunk-size': 'zz\r\nhello\r\n', trailer: `0\r\nx-trailer: ${'t'.repeat(80 * 1024)}\r\n\r\n`, 'chunk-extension': `5;${'e'.repeat(20 * 1024)}\r\nhello\r\n` };
    setTimeout(() => socket.write(faults[fault]), 50);
  });
}

/** GETs `path` over a raw connection and closes it after `ms` milliseconds, answered or not. */
export function leaveAfter(port: number, path: string, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, ms);
    });
    socket.on('error', () => resolve());
  });
}

// Test support: clients that leave a response unfinished in the ways the adapters' response-end
// tests tell apart (the client went away, or the server cut the connection).
import { request as httpRequest, type IncomingMessage } from 'node:http';

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

// How the server span and the duration histogram end when the response does not complete: the
// client went away first (error.type 'aborted'), or the server closed the connection itself (an
// error after the headers were sent, res.destroy()): then the exception recordErrors() saw, else
// '_OTHER', never 'aborted'.
import { Agent, createServer, request as httpRequest } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SpanStatusCode } from '@opentelemetry/api';
import type { Express, NextFunction, Request, Response } from 'express';
import { ctxprop, recordErrors } from '@ctxprop/express';
import { EXPRESS_VERSIONS, listen, type ExpressFactory, type Running } from './support/apps';
import { useSdk } from './support/sdk';
import { abandonUpload, leaveAfter, malformedChunkedUpload, readToEnd, requestOnce, resetAfterFirstChunk, stallUpload } from '../../core/test/response-end-clients';

const sdk = useSdk();

function endingApp(express: ExpressFactory): Express {
  const app = express();
  // Express's final handler stays quiet about the errors it handles.
  app.set('env', 'test');
  const middleware = ctxprop({ outbound: false });
  app.locals['ctxprop'] = middleware;
  app.use(middleware);
  app.post('/upload/:id', express.raw({ type: '*/*', limit: '10mb' }), (_req, res) => {
    res.send('got');
  });
  // The headers go out, then the handler fails: Express's final handler destroys the connection.
  app.get('/stream/:id', (_req, res, next) => {
    res.write('partial');
    next(new RangeError('generator failed'));
  });
  // Answers before the body is in, then waits for it.
  app.post('/early/:id', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('accepted; reading');
    req.on('end', () => res.end());
    req.resume();
  });
  app.get('/destroy/:id', (_req, res) => {
    res.destroy();
  });
  // Sends part of a large body and waits: the client leaves in the middle.
  app.get('/large/:id', (req, res) => {
    res.write(Buffer.alloc(4 * 1024 * 1024));
    req.on('close', () => res.end());
  });
  app.use(recordErrors());
  // An error handler that answers unless the headers are out (then Express's final handler takes it).
  app.use((err: Error & { status?: number }, req: Request, res: Response, next: NextFunction) => {
    if (req.path.startsWith('/stream/')) return next(err);
    res.status(err.status ?? 500).end();
  });
  return app;
}

/** Runs `check` with the port of a fresh ending app whose server's requestTimeout is 300 ms; closes it after. */
async function withTimingOutServer(express: ExpressFactory, check: (port: number) => Promise<void>): Promise<void> {
  const app = endingApp(express);
  const server = createServer({ requestTimeout: 300, connectionsCheckingInterval: 50 }, app);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    await check((server.address() as AddressInfo).port);
  } finally {
    (app.locals['ctxprop'] as { close(): void }).close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

function histogramPoint(method: string, route: string, extra: Record<string, unknown>): Record<string, unknown> {
  return { 'http.request.method': method, 'url.scheme': 'http', 'http.route': route, 'network.protocol.version': '1.1', ...extra };
}

describe.each(EXPRESS_VERSIONS)('%s: a response that does not complete', (_name, express) => {
  let app: Running;
  let port: number;

  beforeAll(async () => {
    app = await listen(endingApp(express));
    port = Number(new URL(app.url).port);
  });

  afterAll(async () => {
    await app.close();
  });

  it("ends the span with error.type 'aborted' when the client goes away during the body upload (not the 400 written after)", async () => {
    await abandonUpload(port, '/upload/1');
    const [span] = await sdk.finishedSpans(1);
    expect(span!.name).toBe('POST /upload/:id');
    expect(span!.attributes['error.type']).toBe('aborted');
    expect(span!.attributes['http.response.status_code']).toBeUndefined();
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    // The body parser's error, which recordErrors() saw on its way to the error handler, stays an event.
    expect(span!.events.map((event) => event.attributes?.['exception.message'])).toEqual(['request aborted']);
    expect(await sdk.durationPoints()).toEqual([histogramPoint('POST', '/upload/:id', { 'error.type': 'aborted' })]);
  });

  it("ends the span with Node's 408 and error.type 'timeout' when the server's requestTimeout passes during the body upload", async () => {
    await withTimingOutServer(express, async (timingOut) => {
      expect(await stallUpload(timingOut, '/upload/1')).toBe('status 408');
      const [span] = await sdk.finishedSpans(1);
      expect(span!.name).toBe('POST /upload/:id');
      expect(span!.attributes['http.response.status_code']).toBe(408);
      expect(span!.attributes['error.type']).toBe('timeout');
      expect(span!.status.code).toBe(SpanStatusCode.ERROR);
      expect(await sdk.durationPoints()).toEqual([histogramPoint('POST', '/upload/:id', { 'http.response.status_code': 408, 'error.type': 'timeout' })]);
    });
  });

  it("keeps the status a response under way sent when the server's requestTimeout passes during the body upload (Node sends no 408 then)", async () => {
    await withTimingOutServer(express, async (timingOut) => {
      expect(await stallUpload(timingOut, '/early/1')).toBe('status 200');
      const [span] = await sdk.finishedSpans(1);
      expect(span!.attributes['http.response.status_code']).toBe(200);
      expect(span!.attributes['error.type']).toBe('timeout');
      expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    });
  });

  it.each([
    ['chunk-size', 'HTTP/1.1 400 Bad Request', 400, 'HPE_INVALID_CHUNK_SIZE'],
    ['trailer', 'HTTP/1.1 431 Request Header Fields Too Large', 431, 'HPE_HEADER_OVERFLOW'],
    ['chunk-extension', 'HTTP/1.1 413 Payload Too Large', 413, 'HPE_CHUNK_EXTENSIONS_OVERFLOW'],
  ] as const)("ends the span with the status Node answered and the parser's code as error.type when the request body is malformed (%s)", async (fault, statusLine, status, code) => {
    expect(await malformedChunkedUpload(port, '/upload/1', fault)).toBe(statusLine);
    const [span] = await sdk.finishedSpans(1);
    expect(span!.name).toBe('POST /upload/:id');
    expect(span!.attributes['http.response.status_code']).toBe(status);
    expect(span!.attributes['error.type']).toBe(code);
    // The request was not received in full (semconv http-spans §Status).
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(await sdk.durationPoints()).toEqual([histogramPoint('POST', '/upload/:id', { 'http.response.status_code': status, 'error.type': code })]);
  });

  it("ends the span with error.type 'aborted' when the client left while a middleware before ctxprop's waited", async () => {
    const late = express();
    late.use((_req, _res, next) => void setTimeout(next, 150));
    const middleware = ctxprop({ outbound: false });
    late.use(middleware);
    late.get('/late/:id', (_req, res) => void setTimeout(() => res.send('too late'), 10));
    const server = await listen(late);
    try {
      await leaveAfter(Number(new URL(server.url).port), '/late/1', 30);
      const [span] = await sdk.finishedSpans(1);
      expect(span!.attributes['error.type']).toBe('aborted');
      expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    } finally {
      middleware.close();
      await server.close();
    }
  });

  it('ends the span with the exception recordErrors() saw when an error after the headers makes the server close the connection', async () => {
    const clientSaw = await readToEnd(port, '/stream/1');
    // The server cut the response: the client did not go away.
    expect(clientSaw).toBe('cut after status 200');
    const [span] = await sdk.finishedSpans(1);
    expect(span!.name).toBe('GET /stream/:id');
    expect(span!.attributes['error.type']).toBe('RangeError');
    expect(span!.attributes['http.response.status_code']).toBe(200);
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.events.map((event) => event.attributes?.['exception.type'])).toEqual(['RangeError']);
    expect(await sdk.durationPoints()).toEqual([histogramPoint('GET', '/stream/:id', { 'http.response.status_code': 200, 'error.type': 'RangeError' })]);
  });

  it("ends the span with error.type '_OTHER' when a handler destroys the response without an exception", async () => {
    await requestOnce(port, '/destroy/1');
    const [span] = await sdk.finishedSpans(1);
    expect(span!.name).toBe('GET /destroy/:id');
    expect(span!.attributes['error.type']).toBe('_OTHER');
    expect(span!.attributes['http.response.status_code']).toBeUndefined();
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(await sdk.durationPoints()).toEqual([histogramPoint('GET', '/destroy/:id', { 'error.type': '_OTHER' })]);
  });

  it("ends the span with error.type 'aborted' when the client resets the connection in the middle of the response", async () => {
    await resetAfterFirstChunk(port, '/large/1');
    const [span] = await sdk.finishedSpans(1);
    expect(span!.name).toBe('GET /large/:id');
    expect(span!.attributes['error.type']).toBe('aborted');
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(await sdk.durationPoints()).toEqual([histogramPoint('GET', '/large/:id', { 'error.type': 'aborted' })]);
  });

  it('ends the span as a complete response when the client closes its keep-alive connection afterwards', async () => {
    const agent = new Agent({ keepAlive: true });
    const body = await new Promise<string>((resolve, reject) => {
      const call = httpRequest({ host: '127.0.0.1', port, agent, method: 'POST', path: '/upload/2', headers: { 'content-type': 'application/octet-stream' } }, (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => {
          // The socket goes back to the agent first; then the client closes it.
          setImmediate(() => agent.destroy());
          resolve(text);
        });
      });
      call.on('error', reject);
      call.end('payload');
    });
    expect(body).toBe('got');
    const [span] = await sdk.finishedSpans(1);
    expect(span!.attributes['http.response.status_code']).toBe(200);
    expect(span!.attributes['error.type']).toBeUndefined();
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    expect(await sdk.durationPoints()).toEqual([histogramPoint('POST', '/upload/:id', { 'http.response.status_code': 200 })]);
  });
});

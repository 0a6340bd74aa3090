/**
 * How the server span ends when the response does not complete: the client went away first
 * (error.type 'aborted'), or the server closed the connection itself (Fastify destroys the
 * response after an error that came once the headers were out, or a handler destroys it): then
 * the exception the plugin recorded, else '_OTHER', never 'aborted'.
 */
import { Readable } from 'node:stream';
import { SpanStatusCode } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import { ctxprop } from '@ctxprop/fastify';
import { FRAMEWORKS, listen } from './support/frameworks';
import { startRecordingSdk } from './support/sdk';
import { abandonUpload, leaveAfter, malformedChunkedUpload, readToEnd, requestOnce, resetAfterFirstChunk, stallUpload } from '../../core/test/response-end-clients';

const sdk = startRecordingSdk();

afterAll(() => sdk.provider.shutdown());

class GeneratorError extends Error {
  override name = 'GeneratorError';
}

describe.each(FRAMEWORKS)('%s: a response that does not complete', (_framework, createApp) => {
  let app: FastifyInstance;
  let port: number;

  beforeAll(async () => {
    app = createApp({ logger: false });
    await app.register(ctxprop, { outbound: false });
    app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: 10_000_000 }, (_request, body, done) => done(null, body));
    app.post('/upload/:id', async () => 'got');
    // The headers and a first chunk go out, then the body stream fails: Fastify destroys the response.
    app.get('/stream/:id', async (_request, reply) =>
      reply.type('text/plain').send(
        Readable.from(
          (async function* failing() {
            yield 'partial';
            await new Promise((resolve) => setTimeout(resolve, 5));
            throw new GeneratorError('generator failed');
          })(),
        ),
      ),
    );
    app.get('/destroy/:id', (_request, reply) => {
      reply.hijack();
      reply.raw.destroy();
    });
    // A large body the client leaves in the middle of.
    app.get('/large/:id', async (_request, reply) => reply.send(Readable.from((function* chunks() { for (let i = 0; i < 64; i++) yield Buffer.alloc(256 * 1024); })())));
    port = Number(new URL(await listen(app)).port);
  });

  afterAll(async () => {
    await app.close();
  });

  beforeEach(() => sdk.exporter.reset());

  it("ends the span with error.type 'aborted' when the client goes away during the body upload", async () => {
    await abandonUpload(port, '/upload/1');
    const [span] = await sdk.serverSpans(1);
    expect(span!.name).toBe('POST /upload/:id');
    expect(span!.attributes['error.type']).toBe('aborted');
    expect(span!.attributes['http.response.status_code']).toBeUndefined();
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
  });

  it("ends the span with the 408 Fastify answers and error.type 'timeout' when the server's requestTimeout passes during the body upload", async () => {
    // Node reads the timeouts given to its constructor (Fastify sets requestTimeout after it).
    const slow = createApp({ logger: false, requestTimeout: 300, http: { requestTimeout: 300, connectionsCheckingInterval: 50 } } as never);
    await slow.register(ctxprop, { outbound: false });
    slow.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    slow.post('/upload/:id', async () => 'got');
    try {
      const clientSaw = await stallUpload(Number(new URL(await listen(slow)).port), '/upload/1');
      expect(clientSaw).toBe('status 408');
      const [span] = await sdk.serverSpans(1);
      expect(span!.name).toBe('POST /upload/:id');
      expect(span!.attributes['http.response.status_code']).toBe(408);
      expect(span!.attributes['error.type']).toBe('timeout');
      expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    } finally {
      await slow.close();
    }
  });

  it.each([
    ['chunk-size', 'HTTP/1.1 400 Bad Request', 400, 'HPE_INVALID_CHUNK_SIZE'],
    ['trailer', 'HTTP/1.1 431 Request Header Fields Too Large', 431, 'HPE_HEADER_OVERFLOW'],
    // Node would answer 413; Fastify's clientError handler answers 400.
    ['chunk-extension', 'HTTP/1.1 400 Bad Request', 400, 'HPE_CHUNK_EXTENSIONS_OVERFLOW'],
  ] as const)("ends the span with the status Fastify answered and the parser's code as error.type when the request body is malformed (%s)", async (fault, statusLine, status, code) => {
    expect(await malformedChunkedUpload(port, '/upload/1', fault)).toBe(statusLine);
    const [span] = await sdk.serverSpans(1);
    expect(span!.name).toBe('POST /upload/:id');
    expect(span!.attributes['http.response.status_code']).toBe(status);
    expect(span!.attributes['error.type']).toBe(code);
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
  });

  it("ends the span with error.type 'aborted' when the client left while an onRequest hook registered before ctxprop waited", async () => {
    const late = createApp({ logger: false });
    late.addHook('onRequest', async () => {
      await new Promise((resolve) => setTimeout(resolve, 150));
    });
    await late.register(ctxprop, { outbound: false });
    late.get('/late/:id', async () => 'too late');
    try {
      await leaveAfter(Number(new URL(await listen(late)).port), '/late/1', 30);
      const [span] = await sdk.serverSpans(1);
      expect(span!.attributes['error.type']).toBe('aborted');
      expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    } finally {
      await late.close();
    }
  });

  it("ends the span in error, not 'aborted', when the body stream fails after the headers and Fastify destroys the response", async () => {
    const clientSaw = await readToEnd(port, '/stream/1');
    expect(clientSaw).toBe('cut after status 200');
    const [span] = await sdk.serverSpans(1);
    expect(span!.name).toBe('GET /stream/:id');
    // Fastify reports a body stream's error to no hook (it logs it): the type is not known here.
    expect(span!.attributes['error.type']).toBe('_OTHER');
    expect(span!.attributes['http.response.status_code']).toBe(200);
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
  });

  it("ends the span with error.type '_OTHER' when a handler destroys the response itself", async () => {
    await requestOnce(port, '/destroy/1');
    const [span] = await sdk.serverSpans(1);
    expect(span!.name).toBe('GET /destroy/:id');
    expect(span!.attributes['error.type']).toBe('_OTHER');
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
  });

  it("ends the span with error.type 'aborted' when the client resets the connection in the middle of the response", async () => {
    await resetAfterFirstChunk(port, '/large/1');
    const [span] = await sdk.serverSpans(1);
    expect(span!.name).toBe('GET /large/:id');
    expect(span!.attributes['error.type']).toBe('aborted');
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
  });
});

/**
 * Fastify served over HTTP/2 (`http2: true`, cleartext), with a real `node:http2` client: the
 * request's context reaches the handler and the response's events, the SERVER span carries the
 * HTTP/2 attributes (`server.address` from `:authority`, `network.protocol.version` 2), and
 * requests multiplexed as streams of one connection, which share its socket, keep their own
 * context.
 */
import { propagation, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import { connect, constants, type ClientHttp2Session, type Http2ServerResponse, type OutgoingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { ctxprop } from '@ctxprop/fastify';
import { FRAMEWORKS, PARENT_ID, TRACE_ID, TRACEPARENT, waitFor } from './support/frameworks';
import { startRecordingSdk } from './support/sdk';

const sdk = startRecordingSdk();

afterAll(() => sdk.provider.shutdown());

interface Seen {
  tier: string | null;
  traceId: string | null;
  afterTimer: string | null;
}

/** One request on `session`: the response status and its JSON body. */
function get(session: ClientHttp2Session, path: string, headers: OutgoingHttpHeaders = {}): Promise<{ status: number; body: Seen }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'GET', ':path': path, ...headers });
    let status = 0;
    let text = '';
    stream.setEncoding('utf8');
    stream.on('response', (responseHeaders) => (status = Number(responseHeaders[':status'])));
    stream.on('data', (chunk: string) => (text += chunk));
    stream.on('end', () => resolve({ status, body: JSON.parse(text) as Seen }));
    stream.on('error', reject);
    stream.end();
  });
}

describe.each(FRAMEWORKS)('%s over HTTP/2', (_framework, createApp) => {
  let app: FastifyInstance;
  let session: ClientHttp2Session;
  let port: number;
  const finished: (string | null)[] = [];
  let release: () => void;
  let released: Promise<void>;
  let entered: () => void;
  let handlerEntered: Promise<void>;

  beforeEach(async () => {
    sdk.exporter.reset();
    finished.length = 0;
    app = createApp({ http2: true } as never);
    await app.register(ctxprop);
    app.get('/users/:id', async (request, reply) => {
      reply.raw.on('finish', () => finished.push(propagation.getActiveBaggage()?.getEntry('customer.tier')?.value ?? null));
      const afterTimer = await new Promise<string | null>((resolve) =>
        setTimeout(() => resolve(propagation.getActiveBaggage()?.getEntry('customer.tier')?.value ?? null), Math.random() * 5),
      );
      return { tier: request.baggage.get('customer.tier') ?? null, traceId: request.traceContext?.traceId ?? null, afterTimer } satisfies Seen;
    });
    released = new Promise<void>((resolve) => (release = resolve));
    handlerEntered = new Promise<void>((resolve) => (entered = resolve));
    app.get('/slow', async (_request, reply) => {
      entered();
      await released;
      return reply.code(201).send('late');
    });
    app.get('/created', async (_request, reply) => reply.code(201).send('made'));
    app.get('/raw-respond', (_request, reply) => {
      reply.hijack();
      const { stream } = reply.raw as unknown as Http2ServerResponse;
      stream.respond({ ':status': 201 });
      stream.end('made on the stream');
    });
    app.get('/destroy', (_request, reply) => {
      reply.hijack();
      reply.raw.writeHead(200);
      reply.raw.write('partial');
      setTimeout(() => reply.raw.destroy(), 10);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as AddressInfo).port;
    session = connect(`http://127.0.0.1:${port}`);
  });

  afterEach(async () => {
    session.close();
    await app.close();
  });

  /** GETs `path` on the session, reads the response to its close, and gives how its SERVER span ended: status code, error.type, status. */
  async function endingOf(path: string): Promise<[unknown, unknown, SpanStatusCode]> {
    const stream = session.request({ ':method': 'GET', ':path': path });
    stream.on('error', () => {});
    stream.resume();
    stream.end();
    await new Promise((resolve) => stream.on('close', resolve));
    const [span] = await sdk.serverSpans();
    return [span!.attributes['http.response.status_code'], span!.attributes['error.type'], span!.status.code];
  }

  test('the handler, its timers and the response events run in the request context; the SERVER span has the HTTP/2 attributes', async () => {
    const { status, body } = await get(session, '/users/7?tab=orders', { traceparent: TRACEPARENT, baggage: 'customer.tier=gold', 'user-agent': 'ctxprop-h2/1.0' });
    expect(status).toBe(200);
    expect(body).toEqual({ tier: 'gold', traceId: TRACE_ID, afterTimer: 'gold' });
    await waitFor(() => finished, (values) => values.length === 1);
    expect(finished).toEqual(['gold']);

    const [span, ...others] = await sdk.serverSpans();
    expect(others).toHaveLength(0);
    expect(span!.name).toBe('GET /users/:id');
    expect(span!.kind).toBe(SpanKind.SERVER);
    expect(span!.spanContext().traceId).toBe(TRACE_ID);
    expect(span!.parentSpanContext?.spanId).toBe(PARENT_ID);
    expect(span!.attributes).toEqual({
      'http.request.method': 'GET',
      'url.path': '/users/7',
      'url.query': 'tab=orders',
      'url.scheme': 'http',
      'http.route': '/users/:id',
      'http.response.status_code': 200,
      // No Host header in HTTP/2: the :authority pseudo-header names the server.
      'server.address': '127.0.0.1',
      'server.port': port,
      'network.protocol.version': '2',
      'network.peer.address': '127.0.0.1',
      'network.peer.port': expect.any(Number),
      'client.address': '127.0.0.1',
      'user_agent.original': 'ctxprop-h2/1.0',
    });
  });

  test("a stream the client cancels before the response ends its span as 'aborted', not with the status the handler set", async () => {
    const stream = session.request({ ':method': 'GET', ':path': '/slow', traceparent: TRACEPARENT });
    stream.on('error', () => {});
    stream.end();
    await handlerEntered;
    stream.close(constants.NGHTTP2_CANCEL);
    const [span] = await sdk.serverSpans();
    release();
    expect(span!.name).toBe('GET /slow');
    expect(span!.attributes['error.type']).toBe('aborted');
    expect(span!.attributes['http.response.status_code']).toBeUndefined();
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
  });

  test('a response the handler sent on the raw HTTP/2 stream (stream.respond(), then end()) ends its span with the status sent, not as an error', async () => {
    expect(await endingOf('/raw-respond')).toEqual([201, undefined, SpanStatusCode.UNSET]);
  });

  test("a stream the server destroys itself ends its span in error with the status sent and error.type '_OTHER', not 'aborted'", async () => {
    expect(await endingOf('/destroy')).toEqual([200, '_OTHER', SpanStatusCode.ERROR]);
  });

  test('a response the handler ended in full ends its span with its status, though the stream closed with it', async () => {
    expect(await endingOf('/created')).toEqual([201, undefined, SpanStatusCode.UNSET]);
  });

  test('200 concurrent streams of one connection each see their own baggage and trace', async () => {
    const count = 200;
    const responses = await Promise.all(
      Array.from({ length: count }, (_, i) => {
        const traceId = (i + 1).toString(16).padStart(32, '0');
        return get(session, `/users/${i}`, { traceparent: `00-${traceId}-${PARENT_ID}-01`, baggage: `customer.tier=tier-${i}` }).then((response) => ({ i, traceId, response }));
      }),
    );
    for (const { i, traceId, response } of responses) {
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ tier: `tier-${i}`, traceId, afterTimer: `tier-${i}` });
    }
    await waitFor(() => finished, (values) => values.length === count);
    expect([...finished].sort()).toEqual(Array.from({ length: count }, (_, i) => `tier-${i}`).sort());
  });
});

/**
 * What a sampler sees. Fastify routes a request before its first hook, so the plugin starts the
 * SERVER span with its final name `{METHOD} {route}` and `http.route` among the attributes the
 * sampler is given, beside the ones the HTTP conventions ask for at creation (`url.path`,
 * `url.scheme`, `server.address`, `user_agent.original`, `client.address`, the method). A sampler
 * can then drop a route (health checks) by its template, not by guessing at paths.
 * https://opentelemetry.io/docs/specs/semconv/http/http-spans/#http-server
 */
import { SpanKind, trace, TraceFlags, type Attributes, type Context, type Link } from '@opentelemetry/api';
import { InMemorySpanExporter, SamplingDecision, SimpleSpanProcessor, type Sampler, type SamplingResult } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { FastifyInstance } from 'fastify';
import { ctxprop } from '@ctxprop/fastify';
import { FRAMEWORKS, listen, startDownstream, TRACE_ID, TRACEPARENT, waitFor, type Downstream } from './support/frameworks';

interface Seen {
  readonly name: string;
  readonly kind: SpanKind;
  readonly attributes: Attributes;
}

/**
 * Records what it is asked, and drops the spans of the `/health` route; a span whose parent in
 * this process was dropped is dropped too (the CLIENT span of a call made from a dropped request).
 */
class RouteSampler implements Sampler {
  readonly seen: Seen[] = [];

  shouldSample(ctx: Context, _traceId: string, name: string, kind: SpanKind, attributes: Attributes, _links: Link[]): SamplingResult {
    this.seen.push({ name, kind, attributes: { ...attributes } });
    const parent = trace.getSpanContext(ctx);
    if (parent !== undefined && parent.isRemote !== true && (parent.traceFlags & TraceFlags.SAMPLED) === 0) return { decision: SamplingDecision.NOT_RECORD };
    return { decision: attributes['http.route'] === '/health' ? SamplingDecision.NOT_RECORD : SamplingDecision.RECORD_AND_SAMPLED };
  }

  toString(): string {
    return 'RouteSampler';
  }
}

const sampler = new RouteSampler();
const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ sampler, spanProcessors: [new SimpleSpanProcessor(exporter)] });
provider.register();

afterAll(() => provider.shutdown());

const serverSeen = (): Seen[] => sampler.seen.filter((seen) => seen.kind === SpanKind.SERVER);

describe.each(FRAMEWORKS)('%s', (_framework, createApp) => {
  let app: FastifyInstance;
  let downstream: Downstream;

  beforeEach(async () => {
    sampler.seen.length = 0;
    exporter.reset();
    downstream = await startDownstream();
    app = createApp();
    await app.register(ctxprop);
    app.get('/users/:id', async () => ({ ok: true }));
    app.get('/health', async () => {
      await fetch(downstream.url);
      return { up: true };
    });
  });

  afterEach(async () => {
    await app.close();
    await downstream.close();
  });

  test('the sampler is given the span name "{METHOD} {route}" and http.route, with the attributes the conventions ask for at creation', async () => {
    const base = await listen(app);
    const response = await fetch(`${base}/users/7?tab=orders`, { headers: { traceparent: TRACEPARENT, 'user-agent': 'ctxprop-test/1.0' } });
    expect(response.status).toBe(200);

    const seen = serverSeen();
    expect(seen).toHaveLength(1);
    expect(seen[0]!.name).toBe('GET /users/:id');
    expect(seen[0]!.attributes).toEqual({
      'http.request.method': 'GET',
      'http.route': '/users/:id',
      'url.path': '/users/7',
      'url.scheme': 'http',
      'server.address': '127.0.0.1',
      'server.port': Number(new URL(base).port),
      'user_agent.original': 'ctxprop-test/1.0',
      'client.address': '127.0.0.1',
      'url.query': 'tab=orders',
      'network.protocol.version': '1.1',
      'network.peer.address': '127.0.0.1',
      'network.peer.port': expect.any(Number),
    });
    // The recorded span keeps what the sampler saw, set once (no second http.route, no rename).
    const [span] = await waitFor(
      () => exporter.getFinishedSpans().filter((finished) => finished.kind === SpanKind.SERVER),
      (spans) => spans.length === 1,
    );
    expect(span!.name).toBe('GET /users/:id');
    expect(span!.attributes['http.route']).toBe('/users/:id');
    expect(span!.attributes['http.response.status_code']).toBe(200);
  });

  test('a sampler that drops a route by its template: no span recorded, the request served, the trace still propagated', async () => {
    const base = await listen(app);
    const response = await fetch(`${base}/health`, { headers: { traceparent: TRACEPARENT } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ up: true });

    expect(serverSeen().map((seen) => seen.name)).toEqual(['GET /health']);
    expect(sampler.seen.map((seen) => seen.kind)).toEqual([SpanKind.SERVER, SpanKind.CLIENT]);
    // Give a wrongly recorded span the time to end before asserting there is none.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.SERVER)).toEqual([]);
    // The downstream call carries the same trace, with the sampled flag the sampler decided.
    expect(downstream.received).toHaveLength(1);
    expect(downstream.received[0]!.traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-00$`));
  });

  test('the not-found handler has no route: the sampler sees the method alone as the name, and no http.route', async () => {
    const base = await listen(app);
    const response = await fetch(`${base}/nowhere`);
    expect(response.status).toBe(404);
    const seen = serverSeen();
    expect(seen).toHaveLength(1);
    expect(seen[0]!.name).toBe('GET');
    expect(seen[0]!.attributes).not.toHaveProperty('http.route');
    expect(seen[0]!.attributes['url.path']).toBe('/nowhere');
  });
});

/**
 * Fastify over HTTP/2 with no SDK (so ctxprop listens for no response event): a setInterval
 * started by a request whose client cancels its stream leaves the request's context once the
 * stream is gone. An `Http2ServerResponse` has no `destroyed`; the scope reads its stream's.
 */
import { propagation } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import { connect, constants, type ClientHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { diagnosticsSnapshot, resetDiagnostics } from '@ctxprop/core';
import { ctxprop } from '@ctxprop/fastify';
import { FRAMEWORKS, waitFor } from './support/frameworks';

const timers: NodeJS.Timeout[] = [];

afterEach(() => {
  for (const timer of timers.splice(0)) clearInterval(timer);
});

describe.each(FRAMEWORKS)('%s over HTTP/2, no SDK', (_framework, createApp) => {
  let app: FastifyInstance;
  let session: ClientHttp2Session;
  /** The baggage each tick saw, and whether the stream was gone when it ran. */
  const ticks: { tier: string | null; streamGone: boolean }[] = [];
  let started!: () => void;
  let handlerStarted: Promise<void>;

  beforeEach(async () => {
    ticks.length = 0;
    resetDiagnostics();
    handlerStarted = new Promise((resolve) => (started = resolve));
    app = createApp({ http2: true } as never);
    await app.register(ctxprop);
    // Never answers: it polls until the client gives up.
    app.get('/wait', (_request, reply) => {
      const timer = setInterval(() => {
        const streamGone = (reply.raw as unknown as { stream: { destroyed: boolean } }).stream.destroyed;
        ticks.push({ tier: propagation.getActiveBaggage()?.getEntry('customer.tier')?.value ?? null, streamGone });
        if (ticks.filter((tick) => tick.streamGone).length === 2) clearInterval(timer);
      }, 5);
      timers.push(timer);
      started();
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    session = connect(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`);
  });

  afterEach(async () => {
    session.destroy();
    await app.close();
  });

  it('keeps the context while the stream is open and leaves it once the client cancelled', async () => {
    const stream = session.request({ ':method': 'GET', ':path': '/wait', baggage: 'customer.tier=gold' });
    stream.on('error', () => undefined);
    stream.end();
    await handlerStarted;
    await waitFor(() => ticks.length, (count) => count >= 2);
    stream.close(constants.NGHTTP2_CANCEL);
    const seen = await waitFor(
      () => ticks.filter((tick) => tick.streamGone),
      (gone) => gone.length === 2,
    );
    expect(ticks.filter((tick) => !tick.streamGone).length).toBeGreaterThanOrEqual(2);
    for (const tick of ticks.filter((t) => !t.streamGone)) expect(tick.tier).toBe('gold');
    expect(seen).toEqual([
      { tier: null, streamGone: true },
      { tier: null, streamGone: true },
    ]);
    expect(diagnosticsSnapshot()['context.interval_detached']).toBe(1);
  });
});

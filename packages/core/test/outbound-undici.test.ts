/**
 * Outbound propagation through `fetch` and npm undici (request, stream, Client, Pool, Agent),
 * with no SDK: real servers on 127.0.0.1 receive the calls and the tests assert the exact
 * headers they got. A "public" host is an undici Agent whose DNS lookup answers 127.0.0.1.
 */
import { context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import { Writable } from 'node:stream';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, Client, interceptors, Pool, ProxyAgent, fetch as undiciFetch, request, stream } from 'undici';
import {
  configureDiagnostics,
  diagnosticsSnapshot,
  enableOutboundPropagation,
  resetDiagnostics,
  type OutboundHandle,
} from '@ctxprop/core';
import { contextWith, lookupToLoopback, randomHex, SPAN_ID, startServer, TRACE_ID, type TestServer } from './outbound-helpers';

const TRACEPARENT = `00-${TRACE_ID}-${SPAN_ID}-01`;

let server: TestServer;
let base: string;
let publicAgent: Agent;
let warnings: string[];

beforeAll(async () => {
  server = await startServer();
  base = `http://127.0.0.1:${server.port}`;
  publicAgent = new Agent({ connect: { lookup: lookupToLoopback } });
});

afterAll(async () => {
  await publicAgent.close();
  await server.close();
  configureDiagnostics({ warn: (message, code) => process.emitWarning(message, { type: 'CtxpropWarning', code }) });
});

beforeEach(() => {
  resetDiagnostics();
  warnings = [];
  configureDiagnostics({ warn: (message) => warnings.push(message) });
});

function publicUrl(path = '/'): string {
  return `http://api.public.example:${server.port}${path}`;
}

describe('with enableOutboundPropagation() and no SDK', () => {
  let handle: OutboundHandle;
  beforeAll(() => {
    handle = enableOutboundPropagation();
  });
  afterAll(() => handle.disable());

  const clients: [string, (url: string) => Promise<unknown>][] = [
    ['global fetch', async (url) => (await fetch(url)).text()],
    ['undici fetch', async (url) => (await undiciFetch(url)).text()],
    ['undici request', async (url) => (await request(url)).body.text()],
    [
      'undici stream',
      (url) =>
        stream(url, { method: 'GET' }, () => new Writable({ write: (_chunk, _encoding, done) => done() })),
    ],
    [
      'an undici Client',
      async (url) => {
        const client = new Client(new URL(url).origin);
        try {
          return await (await client.request({ path: new URL(url).pathname, method: 'GET' })).body.text();
        } finally {
          await client.close();
        }
      },
    ],
    [
      'an undici Pool',
      async (url) => {
        const pool = new Pool(new URL(url).origin);
        try {
          return await (await pool.request({ path: new URL(url).pathname, method: 'POST', body: 'x' })).body.text();
        } finally {
          await pool.close();
        }
      },
    ],
    [
      'an undici Agent',
      async (url) => {
        const agent = new Agent();
        try {
          return await (await request(url, { dispatcher: agent })).body.text();
        } finally {
          await agent.close();
        }
      },
    ],
  ];

  it.each(clients)('%s sends the active trace and baggage to a loopback server', async (_name, call) => {
    await context.with(contextWith({ tenant: 'acme', plan: 'gold' }), () => call(`${base}/items`));
    expect(server.last('traceparent')).toEqual([TRACEPARENT]);
    expect(server.last('baggage')).toEqual(['tenant=acme,plan=gold']);
    expect(server.last('tracestate')).toEqual([]);
  });

  it('sends nothing and counts inject.no_context outside any context', async () => {
    await context.with(ROOT_CONTEXT, () => request(`${base}/none`).then((res) => res.body.text()));
    expect(server.last('traceparent')).toEqual([]);
    expect(server.last('baggage')).toEqual([]);
    expect(diagnosticsSnapshot()['inject.no_context']).toBe(1);
  });

  it('withholds baggage from a public host (simulated by DNS) but sends the trace, and warns once', async () => {
    await context.with(contextWith({ tenant: 'acme', plan: 'gold' }), async () => {
      await (await request(publicUrl('/a'), { dispatcher: publicAgent })).body.text();
      await (await undiciFetch(publicUrl('/b'), { dispatcher: publicAgent })).text();
      await (await fetch(publicUrl('/c'), { dispatcher: publicAgent } as unknown as RequestInit)).text();
    });
    const last = server.received.slice(-3);
    expect(last.map((entry) => entry.headers.traceparent)).toEqual([[TRACEPARENT], [TRACEPARENT], [TRACEPARENT]]);
    expect(last.map((entry) => entry.headers.baggage)).toEqual([undefined, undefined, undefined]);
    expect(last.map((entry) => entry.headers.host)).toEqual(Array(3).fill([`api.public.example:${server.port}`]));
    expect(diagnosticsSnapshot()['inject.baggage.withheld']).toBe(6);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('withheld from api.public.example by the destination rule "default:public"');
    expect(warnings[0]).toContain('hosts: ["api.public.example"]');
  });

  it('refuses baggage that looks like credentials or personal data, even to internal hosts', async () => {
    const ctx = contextWith({ tenant: 'acme', 'auth.token': 'abc', contact: 'jdoe@example.com' });
    await context.with(ctx, () => request(`${base}/s`).then((res) => res.body.text()));
    expect(server.last('baggage')).toEqual(['tenant=acme']);
    expect(diagnosticsSnapshot()['baggage.sensitive.refused']).toBe(2);
    expect(warnings.join('\n')).toContain('"auth.token" refused (key looks like a credential: token)');
    expect(warnings.join('\n')).not.toContain('jdoe@example.com');
  });

  it('keeps a traceparent the caller set by hand, once, in whatever case it was written', async () => {
    const mine = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
    await context.with(contextWith({ tenant: 'acme' }), async () => {
      await (await request(`${base}/k1`, { headers: { TraceParent: mine } })).body.text();
      await (await fetch(`${base}/k2`, { headers: { traceparent: mine } })).text();
    });
    for (const entry of server.received.slice(-2)) {
      expect(entry.headers.traceparent).toEqual([mine]);
      expect(entry.headers.baggage).toEqual(['tenant=acme']);
    }
  });

  it('never lets CR, LF or control characters in baggage reach the wire', async () => {
    const ctx = propagation.setBaggage(
      contextWith(),
      propagation.createBaggage({ note: { value: 'a\r\nx-injected: 1' }, 'bad\r\nx-injected': { value: '1' } }),
    );
    await context.with(ctx, () => request(`${base}/inj`).then((res) => res.body.text()));
    expect(server.last('x-injected')).toEqual([]);
    // ':' is a baggage-octet (W3C Baggage §3.3.1.3) and stays as it is; CR and LF are encoded.
    expect(server.last('baggage')).toEqual(['note=a%0D%0Ax-injected:%201']);
    expect(diagnosticsSnapshot()['inject.baggage.invalid_member']).toBe(1);
  });

  it('gives every one of many concurrent calls its own context', async () => {
    const calls = Array.from({ length: 40 }, (_, i) => ({ traceId: randomHex(32), spanId: randomHex(16), tenant: `t${i}` }));
    const results = await Promise.all(
      calls.map((call, i) =>
        context.with(contextWith({ tenant: call.tenant }, call.traceId, call.spanId), async () => {
          await new Promise((resolve) => setTimeout(resolve, i % 7));
          const url = `${base}/c?delay=${(i * 3) % 11}`;
          const body = i % 2 === 0 ? await (await fetch(url)).text() : await (await request(url)).body.text();
          return JSON.parse(body) as Record<string, string[]>;
        }),
      ),
    );
    results.forEach((headers, i) => {
      expect(headers.traceparent).toEqual([`00-${calls[i]!.traceId}-${calls[i]!.spanId}-01`]);
      expect(headers.baggage).toEqual([`tenant=${calls[i]!.tenant}`]);
    });
  });
});

describe('a forward proxy without a tunnel (ProxyAgent, proxyTunnel: false)', () => {
  let handle: OutboundHandle;
  beforeAll(() => {
    handle = enableOutboundPropagation();
  });
  afterAll(() => handle.disable());

  it('decides by the URL the proxy is asked for, not by the proxy', async () => {
    // The test server stands in for the proxy: it records what the proxy would forward.
    const proxy = new ProxyAgent({ uri: base, proxyTunnel: false });
    try {
      await context.with(contextWith({ tenant: 'acme' }), async () => (await request('http://api.public.example/via-proxy', { dispatcher: proxy })).body.text());
    } finally {
      await proxy.close();
    }
    expect(server.last('traceparent')).toEqual([TRACEPARENT]);
    expect(server.last('baggage')).toEqual([]);
    expect(warnings[0]).toContain('withheld from api.public.example');
  });
});

describe('calls a saturated pool queues until a connection is free', () => {
  let handle: OutboundHandle;
  beforeAll(() => {
    handle = enableOutboundPropagation();
  });
  afterAll(() => handle.disable());

  // A queued call's request is built when a connection frees up, in the context of whichever
  // call freed it: the context must be the one the call was made in, not that one's.
  const limited: [string, (dispatcher: Pool | Agent) => (url: string) => Promise<string>][] = [
    ['Pool.request', (pool) => async (url) => (await (pool as Pool).request({ path: new URL(url).pathname + new URL(url).search, method: 'GET' })).body.text()],
    ['undici request through an Agent', (agent) => async (url) => (await request(url, { dispatcher: agent })).body.text()],
    ['undici fetch through an Agent', (agent) => async (url) => (await undiciFetch(url, { dispatcher: agent })).text()],
    ['global fetch through an Agent', (agent) => async (url) => (await fetch(url, { dispatcher: agent } as unknown as RequestInit)).text()],
  ];

  it("gives a handler object used again for another call that call's context, and none outside any", async () => {
    const client = new Client(base);
    try {
      let done: () => void = () => undefined;
      const handler = {
        onConnect: () => undefined,
        onHeaders: () => true,
        onData: () => true,
        onComplete: () => done(),
        onError: () => done(),
      };
      const sent = (path: string) => new Promise<void>((resolve) => {
        done = resolve;
        client.dispatch({ path, method: 'GET' }, handler);
      });
      const calls = [0, 1, 2].map((i) => ({ traceId: randomHex(32), spanId: randomHex(16), tenant: `t${i}` }));
      for (const [i, call] of calls.entries()) {
        await context.with(contextWith({ tenant: call.tenant }, call.traceId, call.spanId), () => sent(`/reused/${i}`));
        expect(server.last('traceparent')).toEqual([`00-${call.traceId}-${call.spanId}-01`]);
        expect(server.last('baggage')).toEqual([`tenant=${call.tenant}`]);
      }
      await sent('/reused/none');
      expect(server.last('traceparent')).toEqual([]);
      expect(server.last('baggage')).toEqual([]);
    } finally {
      await client.close();
    }
  });

  it("gives every attempt of a retried call and every hop of a redirected one the call's own context (retry and redirect interceptors)", async () => {
    const seen: { url: string; traceparent: unknown; baggage: unknown }[] = [];
    const attempts = new Map<string, number>();
    const flaky = createServer((req, res) => {
      const url = req.url ?? '/';
      seen.push({ url, traceparent: req.headers.traceparent, baggage: req.headers.baggage });
      const attempt = (attempts.get(url) ?? 0) + 1;
      attempts.set(url, attempt);
      setTimeout(() => {
        if (url.startsWith('/retry/') && attempt === 1) {
          res.writeHead(503, { 'retry-after': '0' }).end();
        } else if (url.startsWith('/moved/')) {
          res.writeHead(302, { location: url.replace('/moved/', '/landed/') }).end();
        } else {
          res.end('ok');
        }
      }, 2);
    });
    await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(flaky.address() as AddressInfo).port}`;
    const dispatcher = new Agent({ connections: 1 }).compose(
      interceptors.retry({ minTimeout: 2, maxTimeout: 5, statusCodes: [503], methods: ['GET'] }),
      interceptors.redirect({ maxRedirections: 2 }),
    );
    try {
      const calls = Array.from({ length: 10 }, (_, i) => ({ traceId: randomHex(32), spanId: randomHex(16), tenant: `t${i}` }));
      await Promise.all(
        calls.map((call, i) =>
          context.with(contextWith({ tenant: call.tenant }, call.traceId, call.spanId), async () => {
            await (await request(`${origin}/retry/${i}`, { dispatcher })).body.text();
            await (await request(`${origin}/moved/${i}`, { dispatcher })).body.text();
          }),
        ),
      );
      expect(seen).toHaveLength(40);
      for (const { url, traceparent, baggage } of seen) {
        const call = calls[Number(url.split('/').pop())]!;
        expect([url, traceparent, baggage]).toEqual([url, `00-${call.traceId}-${call.spanId}-01`, `tenant=${call.tenant}`]);
      }
    } finally {
      await dispatcher.close();
      await new Promise((resolve) => flaky.close(resolve));
    }
  });

  it.each(limited)('%s with one connection: each queued call carries its own context', async (name, clientOf) => {
    const dispatcher = name === 'Pool.request' ? new Pool(base, { connections: 1 }) : new Agent({ connections: 1 });
    const call = clientOf(dispatcher);
    try {
      const calls = Array.from({ length: 12 }, (_, i) => ({ traceId: randomHex(32), spanId: randomHex(16), tenant: `t${i}` }));
      const results = await Promise.all(
        calls.map((one) =>
          context.with(contextWith({ tenant: one.tenant }, one.traceId, one.spanId), async () => JSON.parse(await call(`${base}/queued?delay=5`)) as Record<string, string[]>),
        ),
      );
      results.forEach((headers, i) => {
        expect(headers.traceparent).toEqual([`00-${calls[i]!.traceId}-${calls[i]!.spanId}-01`]);
        expect(headers.baggage).toEqual([`tenant=${calls[i]!.tenant}`]);
      });
    } finally {
      await dispatcher.close();
    }
  });
});

describe('with destination rules', () => {
  let handle: OutboundHandle;
  beforeAll(() => {
    handle = enableOutboundPropagation({
      destinations: {
        rules: [
          { hosts: ['api.public.example'], baggage: ['tenant'] },
          { hosts: ['secret.public.example'], trace: false, baggage: 'none' },
        ],
      },
    });
  });
  afterAll(() => handle.disable());

  it('sends only the allowed keys to a host with an allowlist', async () => {
    await context.with(contextWith({ tenant: 'acme', plan: 'gold' }), () =>
      request(publicUrl('/allow'), { dispatcher: publicAgent }).then((res) => res.body.text()),
    );
    expect(server.last('traceparent')).toEqual([TRACEPARENT]);
    expect(server.last('baggage')).toEqual(['tenant=acme']);
    expect(diagnosticsSnapshot()['inject.baggage.withheld']).toBe(1);
  });

  it('withholds trace headers, even a hand-set one, where the rule says so', async () => {
    await context.with(contextWith({ tenant: 'acme' }), async () => {
      const url = `http://secret.public.example:${server.port}/t`;
      await (await request(url, { dispatcher: publicAgent })).body.text();
      await (await request(url, { dispatcher: publicAgent, headers: { traceparent: TRACEPARENT, baggage: 'a=1' } })).body.text();
    });
    for (const entry of server.received.slice(-2)) {
      expect(entry.headers.traceparent).toBeUndefined();
      expect(entry.headers.baggage).toBeUndefined();
    }
    expect(diagnosticsSnapshot()['inject.trace.withheld']).toBe(2);
    expect(warnings.join('\n')).toContain('trace headers withheld from secret.public.example by the destination rule "destinations.rules[1]"');
  });
});

describe('with existingTraceparent: replace', () => {
  let handle: OutboundHandle;
  beforeAll(() => {
    handle = enableOutboundPropagation({ existingTraceparent: 'replace' });
  });
  afterAll(() => handle.disable());

  it('replaces a hand-set traceparent with the active one instead of appending a second', async () => {
    const stale = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
    await context.with(contextWith(), async () => {
      await (await request(`${base}/r1`, { headers: ['Traceparent', stale] })).body.text();
      await (await fetch(`${base}/r2`, { headers: { traceparent: stale } })).text();
    });
    for (const entry of server.received.slice(-2)) expect(entry.headers.traceparent).toEqual([TRACEPARENT]);
  });
});

describe('after disable()', () => {
  it('leaves requests alone', async () => {
    enableOutboundPropagation().disable();
    await context.with(contextWith({ tenant: 'acme' }), () => request(`${base}/off`).then((res) => res.body.text()));
    expect(server.last('traceparent')).toEqual([]);
    expect(server.last('baggage')).toEqual([]);
  });
});

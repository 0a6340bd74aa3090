/**
 * Outbound propagation through node:http and node:https client requests (what axios, got and
 * node-fetch use), with no SDK: real servers on 127.0.0.1 (HTTPS with a local self-signed
 * certificate) receive the calls and the tests assert the exact headers they got. A "public"
 * host is a name whose custom DNS lookup answers 127.0.0.1.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import { generate } from 'selfsigned';
import { configureDiagnostics, diagnosticsSnapshot, enableOutboundPropagation, resetDiagnostics, type OutboundHandle } from '@ctxprop/core';
import {
  contextWith,
  lookupToLoopback,
  randomHex,
  SPAN_ID,
  startHttpsServer,
  startServer,
  TRACE_ID,
  type TestServer,
} from './outbound-helpers';
import { hasRequestCreatedChannel } from '../src/outbound/http';

const TRACEPARENT = `00-${TRACE_ID}-${SPAN_ID}-01`;

let server: TestServer;
let secure: TestServer;
let ca: string;
let warnings: string[];
let handle: OutboundHandle;

/** Sends one request and resolves with the response body once it ended. */
async function send(make: (callback: (res: http.IncomingMessage) => void) => http.ClientRequest): Promise<string> {
  let resolveBody!: (body: string) => void;
  const body = new Promise<string>((resolve) => (resolveBody = resolve));
  const req = make((res) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => (text += chunk));
    res.on('end', () => resolveBody(text));
  });
  req.end();
  return body;
}

beforeAll(async () => {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 2, value: 'api.public.example' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  ca = pems.cert;
  server = await startServer();
  secure = await startHttpsServer(pems.private, pems.cert);
  handle = enableOutboundPropagation();
});

afterAll(async () => {
  handle.disable();
  await server.close();
  await secure.close();
  configureDiagnostics({ warn: (message, code) => process.emitWarning(message, { type: 'CtxpropWarning', code }) });
});

beforeEach(() => {
  resetDiagnostics();
  warnings = [];
  configureDiagnostics({ warn: (message) => warnings.push(message) });
});

describe('node:http', () => {
  it('http.request sends the active trace and baggage to a loopback server', async () => {
    await context.with(contextWith({ tenant: 'acme', plan: 'gold' }), () =>
      send((cb) => http.request({ host: '127.0.0.1', port: server.port, path: '/a', method: 'POST' }, cb)),
    );
    expect(server.last('traceparent')).toEqual([TRACEPARENT]);
    expect(server.last('baggage')).toEqual(['tenant=acme,plan=gold']);
  });

  it('http.get with a URL string, agent: false and a custom Agent subclass all carry the context', async () => {
    class CountingAgent extends http.Agent {}
    await context.with(contextWith({ tenant: 'acme' }), async () => {
      await send((cb) => http.get(`http://127.0.0.1:${server.port}/g`, cb));
      await send((cb) => http.request({ host: '127.0.0.1', port: server.port, path: '/n', agent: false }, cb));
      const agent = new CountingAgent({ keepAlive: true });
      await send((cb) => http.request({ host: '127.0.0.1', port: server.port, path: '/c', agent }, cb));
      agent.destroy();
    });
    for (const entry of server.received.slice(-3)) {
      expect(entry.headers.traceparent).toEqual([TRACEPARENT]);
      expect(entry.headers.baggage).toEqual(['tenant=acme']);
    }
  });

  it('withholds baggage from a public host name (custom lookup to 127.0.0.1) and warns once', async () => {
    await context.with(contextWith({ tenant: 'acme' }), async () => {
      for (const path of ['/p1', '/p2']) {
        await send((cb) => http.request({ host: 'api.public.example', port: server.port, path, lookup: lookupToLoopback }, cb));
      }
    });
    for (const entry of server.received.slice(-2)) {
      expect(entry.headers.host).toEqual([`api.public.example:${server.port}`]);
      expect(entry.headers.traceparent).toEqual([TRACEPARENT]);
      expect(entry.headers.baggage).toBeUndefined();
    }
    expect(diagnosticsSnapshot()['inject.baggage.withheld']).toBe(2);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('"tenant" withheld from api.public.example by the destination rule "default:public"');
  });

  it('filters a baggage header set after the request was created (superagent sets its headers so) by the policy and the guard', async () => {
    const late = (host: string, header: (req: http.ClientRequest) => void) =>
      context.with(contextWith({ tenant: 'acme' }), () =>
        send((cb) => {
          const req = http.request({ host, port: server.port, path: '/late', lookup: lookupToLoopback }, cb);
          header(req);
          return req;
        }),
      );
    await late('api.public.example', (req) => req.setHeader('Baggage', 'tenant=acme,contact=bob%40x.example'));
    expect(server.last('baggage')).toEqual([]);
    await late('127.0.0.1', (req) => req.setHeader('baggage', 'tenant=acme,contact=bob%40x.example'));
    expect(server.last('baggage')).toEqual(['tenant=acme']);
    await late('127.0.0.1', (req) => req.appendHeader('baggage', 'user.email=bob%40x.example'));
    expect(server.last('baggage')).toEqual(['tenant=acme']);
    await late('127.0.0.1', (req) => req.setHeaders(new Headers({ baggage: 'plan=gold,contact=bob%40x.example' })));
    expect(server.last('baggage')).toEqual(['plan=gold']);
    expect(diagnosticsSnapshot()['baggage.sensitive.refused']).toBe(3);
  });

  it("leaves Node's own checks to Node: setting or appending a header once they were sent still throws", async () => {
    await context.with(contextWith({ tenant: 'acme' }), () =>
      send((cb) => {
        const req = http.request({ host: 'api.public.example', port: server.port, path: '/sent', lookup: lookupToLoopback }, cb);
        req.flushHeaders();
        expect(() => req.appendHeader('baggage', 'contact=bob%40x.example')).toThrow(expect.objectContaining({ code: 'ERR_HTTP_HEADERS_SENT' }));
        expect(() => req.setHeader('baggage', 'tenant=acme')).toThrow(expect.objectContaining({ code: 'ERR_HTTP_HEADERS_SENT' }));
        return req;
      }),
    );
  });

  it('filters a baggage header given as a number like any other value', async () => {
    await context.with(contextWith({ tenant: 'acme' }), () =>
      send((cb) => {
        const req = http.request({ host: 'api.public.example', port: server.port, path: '/number', lookup: lookupToLoopback }, cb);
        req.setHeader('baggage', 5);
        return req;
      }),
    );
    expect(server.last('baggage')).toEqual([]);
  });

  it('decides by the URL of a request sent to a forward proxy in absolute form, not by the proxy', async () => {
    // The test server stands in for the proxy: it records what the proxy would forward.
    await context.with(contextWith({ tenant: 'acme' }), () =>
      send((cb) => http.request({ host: '127.0.0.1', port: server.port, path: 'http://api.public.example/via-proxy', headers: { host: 'api.public.example' } }, cb)),
    );
    expect(server.last('traceparent')).toEqual([TRACEPARENT]);
    expect(server.last('baggage')).toEqual([]);
    expect(warnings[0]).toContain('withheld from api.public.example');
  });

  it('keeps a hand-set traceparent (any case) as the only one, and filters a hand-set baggage header by policy', async () => {
    const mine = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-00`;
    await context.with(contextWith({ tenant: 'acme' }), () =>
      send((cb) =>
        http.request(
          {
            host: 'api.public.example',
            port: server.port,
            path: '/k',
            lookup: lookupToLoopback,
            headers: { TraceParent: mine, Baggage: 'user=jdoe' },
          },
          cb,
        ),
      ),
    );
    expect(server.last('traceparent')).toEqual([mine]);
    expect(server.last('baggage')).toEqual([]);
  });

  it('keeps the first of two hand-set traceparent lines, and every hand-set tracestate line (one list: no member lost)', async () => {
    const first = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
    const second = `00-${'c'.repeat(32)}-${'d'.repeat(16)}-01`;
    await context.with(contextWith(), () =>
      send((cb) =>
        http.request(
          { host: '127.0.0.1', port: server.port, path: '/lines', headers: { traceparent: [first, second], tracestate: ['foo=1,bar=2', 'baz=3'] } },
          cb,
        ),
      ),
    );
    expect(server.last('traceparent')).toEqual([first]);
    // The test server keeps each header line: both tracestate lines arrived, as the caller wrote them.
    expect(server.last('tracestate')).toEqual(['foo=1,bar=2', 'baz=3']);
  });

  it('cannot write into headers rendered in the constructor (array headers): counts it and sends the request as it was', async () => {
    await context.with(contextWith({ tenant: 'acme' }), () =>
      send((cb) => http.request({ host: '127.0.0.1', port: server.port, path: '/arr', headers: ['host', `127.0.0.1:${server.port}`, 'x-mine', '1'] }, cb)),
    );
    expect(server.last('x-mine')).toEqual(['1']);
    expect(server.last('traceparent')).toEqual([]);
    expect(diagnosticsSnapshot()['inject.headers_already_sent']).toBe(1);
  });

  it('sends nothing outside any context', async () => {
    await context.with(ROOT_CONTEXT, () => send((cb) => http.get({ host: '127.0.0.1', port: server.port, path: '/none' }, cb)));
    expect(server.last('traceparent')).toEqual([]);
    expect(diagnosticsSnapshot()['inject.no_context']).toBe(1);
  });

  it('gives every one of many concurrent requests its own context', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const calls = Array.from({ length: 40 }, (_, i) => ({ traceId: randomHex(32), spanId: randomHex(16), tenant: `t${i}` }));
    const bodies = await Promise.all(
      calls.map((call, i) =>
        context.with(contextWith({ tenant: call.tenant }, call.traceId, call.spanId), async () => {
          await new Promise((resolve) => setTimeout(resolve, i % 5));
          return send((cb) => http.get({ host: '127.0.0.1', port: server.port, path: `/c?delay=${(i * 7) % 13}`, agent }, cb));
        }),
      ),
    );
    agent.destroy();
    bodies.forEach((body, i) => {
      const headers = JSON.parse(body) as Record<string, string[]>;
      expect(headers.traceparent).toEqual([`00-${calls[i]!.traceId}-${calls[i]!.spanId}-01`]);
      expect(headers.baggage).toEqual([`tenant=${calls[i]!.tenant}`]);
    });
  });

  it('never lets CR, LF or control characters in baggage reach the wire', async () => {
    const ctx = contextWith({ note: 'a\r\nx-injected: 1\u0000' });
    await context.with(ctx, () => send((cb) => http.get({ host: '127.0.0.1', port: server.port, path: '/inj' }, cb)));
    expect(server.last('x-injected')).toEqual([]);
    expect(server.last('baggage')).toEqual(['note=a%0D%0Ax-injected:%201%00']);
  });
});

describe('node:https with a local self-signed certificate', () => {
  it('https.request sends the trace and all baggage to localhost', async () => {
    await context.with(contextWith({ tenant: 'acme' }), () =>
      send((cb) => https.request({ host: 'localhost', port: secure.port, path: '/s', ca }, cb)),
    );
    expect(secure.last('traceparent')).toEqual([TRACEPARENT]);
    expect(secure.last('baggage')).toEqual(['tenant=acme']);
  });

  it('https.request withholds baggage from a public host name', async () => {
    await context.with(contextWith({ tenant: 'acme' }), () =>
      send((cb) => https.request({ host: 'api.public.example', port: secure.port, path: '/p', ca, lookup: lookupToLoopback }, cb)),
    );
    expect(secure.last('host')).toEqual([`api.public.example:${secure.port}`]);
    expect(secure.last('traceparent')).toEqual([TRACEPARENT]);
    expect(secure.last('baggage')).toEqual([]);
  });
});

describe('hasRequestCreatedChannel()', () => {
  // Node's changelog: http.client.request.created added in 23.2.0 and backported to 22.12.0.
  it.each([
    ['20.20.2', false],
    ['22.11.0', false],
    ['22.12.0', true],
    ['23.1.0', false],
    ['23.2.0', true],
    ['24.0.0', true],
  ])('Node %s → %s', (version, expected) => {
    expect(hasRequestCreatedChannel(version)).toBe(expected);
  });
});

import * as http from 'node:http';
import { context } from '@opentelemetry/api';
import { Agent, fetch as undiciFetch } from 'undici';
import { configureDiagnostics, createDestinationPolicy, defaultDestinationPolicy, enableOutboundPropagation } from '@ctxprop/core';
import { invalidOptionOf } from './invalid-option';
import { contextWith, lookupToLoopback, SPAN_ID, startServer, TRACE_ID } from './outbound-helpers';

describe('the default destination policy', () => {
  it.each([
    ['http://localhost:3000/a', 'default:loopback'],
    ['http://api.localhost/a', 'default:loopback'],
    ['http://127.0.0.1:8080/', 'default:loopback'],
    ['http://127.5.6.7/', 'default:loopback'],
    ['http://[::1]:8080/', 'default:loopback'],
    ['http://10.0.3.7:8080/', 'default:private-network'],
    ['http://172.20.0.5/', 'default:private-network'],
    ['https://192.168.1.10/', 'default:private-network'],
    ['http://169.254.169.254/latest/meta-data', 'default:private-network'],
    ['http://100.64.0.1/', 'default:private-network'],
    ['http://[fd00::5]/', 'default:private-network'],
    ['http://[fe80::1]/', 'default:private-network'],
    ['http://[::ffff:10.0.0.1]/', 'default:private-network'],
    ['http://orders:8080/v1', 'default:single-label-host'],
    ['http://printer.local/', 'default:internal-suffix'],
    ['http://billing.internal/', 'default:internal-suffix'],
    ['http://orders.shop.svc:8080/', 'default:internal-suffix'],
    ['http://orders.shop.svc.cluster.local/', 'default:internal-suffix'],
    ['grpc://orders.svc:50051', 'default:internal-suffix'],
  ])('sends trace headers and all baggage to %s (%s)', (url, rule) => {
    expect(defaultDestinationPolicy(url)).toEqual({ trace: true, baggage: 'all', rule });
  });

  it.each([
    'https://api.github.com/repos',
    'https://api.stripe.com:443/v1/charges',
    'http://8.8.8.8/',
    'http://[2001:4860:4860::8888]/',
    'http://[::ffff:8.8.8.8]/',
    'https://example.com./',
    'https://svc.example.com/',
    'https://local.example.com/',
  ])('sends trace headers and no baggage to the public host %s', (url) => {
    expect(defaultDestinationPolicy(url)).toEqual({ trace: true, baggage: 'none', rule: 'default:public' });
  });

  it('accepts URL objects and treats a URL it cannot parse as public', () => {
    expect(defaultDestinationPolicy(new URL('http://orders.svc/')).rule).toBe('default:internal-suffix');
    expect(defaultDestinationPolicy('not a url').rule).toBe('default:public');
    expect(defaultDestinationPolicy('').rule).toBe('default:public');
  });
});

describe('createDestinationPolicy() rules', () => {
  const policy = createDestinationPolicy({
    rules: [
      { name: 'payments', origins: ['https://api.payments.example'], trace: false, baggage: 'none' },
      { hosts: ['*.partner.example', 'partner.example'], baggage: ['tenant.id'] },
      { cidrs: ['10.9.0.0/16'], baggage: 'none' },
      { hosts: ['API.Vendor.Example'] },
    ],
  });

  it.each([
    ['https://api.payments.example/v1/charge', { trace: false, baggage: 'none', rule: 'payments' }],
    ['https://api.payments.example:443/', { trace: false, baggage: 'none', rule: 'payments' }],
    ['https://api.payments.example./v1/charge', { trace: false, baggage: 'none', rule: 'payments' }],
    ['https://API.Payments.Example.:443/', { trace: false, baggage: 'none', rule: 'payments' }],
    ['http://api.payments.example/', { trace: true, baggage: 'none', rule: 'default:public' }],
    ['https://api.payments.example:8443/', { trace: true, baggage: 'none', rule: 'default:public' }],
    ['https://eu.partner.example/x', { trace: true, baggage: ['tenant.id'], rule: 'destinations.rules[1]' }],
    ['https://a.b.partner.example/x', { trace: true, baggage: ['tenant.id'], rule: 'destinations.rules[1]' }],
    ['https://partner.example/', { trace: true, baggage: ['tenant.id'], rule: 'destinations.rules[1]' }],
    ['https://notpartner.example/', { trace: true, baggage: 'none', rule: 'default:public' }],
    ['http://10.9.4.2/', { trace: true, baggage: 'none', rule: 'destinations.rules[2]' }],
    ['http://10.8.4.2/', { trace: true, baggage: 'all', rule: 'default:private-network' }],
    ['https://api.vendor.example/', { trace: true, baggage: 'all', rule: 'destinations.rules[3]' }],
  ])('decides %s', (url, expected) => {
    expect(policy(url)).toEqual(expected);
  });

  it('lets the first matching rule win', () => {
    const ordered = createDestinationPolicy({
      rules: [{ hosts: ['a.example'], baggage: ['x'] }, { hosts: ['*.example', 'a.example'], baggage: 'all' }],
    });
    expect(ordered('https://a.example/').baggage).toEqual(['x']);
    expect(ordered('https://b.example/').baggage).toBe('all');
  });

  it('asks a function rule on every call, in rule order, and skips it when it throws', () => {
    const seen: string[] = [];
    const withFunction = createDestinationPolicy({
      rules: [
        { hosts: ['early.example'], baggage: ['first'] },
        { match: (url) => { seen.push(url.pathname); return url.pathname.startsWith('/internal/'); }, baggage: 'all' },
        { match: () => { throw new Error('boom'); }, baggage: ['never'] },
      ],
    });
    expect(withFunction('https://api.example/internal/x')).toEqual({ trace: true, baggage: 'all', rule: 'destinations.rules[1]' });
    expect(withFunction('https://api.example/public/x')).toEqual({ trace: true, baggage: 'none', rule: 'default:public' });
    expect(withFunction('https://early.example/internal/x').baggage).toEqual(['first']);
    expect(seen).toEqual(['/internal/x', '/public/x']);
  });

  it('opens or closes the defaults with the internal and public options', () => {
    const open = createDestinationPolicy({ public: { baggage: ['tenant.id'] }, internal: { trace: false } });
    expect(open('https://api.example.com/')).toEqual({ trace: true, baggage: ['tenant.id'], rule: 'default:public' });
    expect(open('http://orders.svc/')).toEqual({ trace: false, baggage: 'all', rule: 'default:internal-suffix' });
    const closed = createDestinationPolicy({ public: { trace: false } });
    expect(closed('https://api.example.com/')).toEqual({ trace: false, baggage: 'none', rule: 'default:public' });
  });

  it('keeps decisions per origin in a bounded cache, and the answers stay right past the bound', () => {
    const small = createDestinationPolicy({ cacheSize: 2, rules: [{ hosts: ['b.example'], baggage: 'all' }] });
    for (let round = 0; round < 3; round++) {
      expect(small('https://a.example/1').rule).toBe('default:public');
      expect(small('https://b.example/2').rule).toBe('destinations.rules[0]');
      expect(small('http://10.0.0.1/3').rule).toBe('default:private-network');
    }
  });
});

describe('createDestinationPolicy() rules on internationalised host names', () => {
  // URL spells an internationalised host in its ASCII (punycode) form, `xn--bcher-kva.example`:
  // the rules are compared in that form too (UTS #46 processing, as WHATWG URL's host parser does).
  const policy = createDestinationPolicy({
    rules: [
      { name: 'books', hosts: ['bücher.example'], trace: false, baggage: 'none' },
      { name: 'munich', hosts: ['*.MÜNCHEN.example'], baggage: ['tenant.id'] },
      { name: 'shop', origins: ['https://Läden.example:8443'], baggage: ['cart.id'] },
      { name: 'ascii-form', hosts: ['xn--fiqs8s.example'], baggage: 'all' },
    ],
  });

  it.each([
    ['https://bücher.example/', 'books'],
    ['https://BÜCHER.example/x', 'books'],
    ['https://xn--bcher-kva.example/', 'books'],
    ['https://bücher.example./', 'books'],
    ['https://shop.münchen.example/', 'munich'],
    ['https://a.b.xn--mnchen-3ya.example/', 'munich'],
    ['https://läden.example:8443/', 'shop'],
    ['https://xn--lden-loa.example:8443/', 'shop'],
    ['https://中国.example/', 'ascii-form'],
    ['https://münchen.example/', 'default:public'],
    ['https://läden.example/', 'default:public'],
    // A scheme URL does not know (grpc, amqp) keeps the host percent-encoded: read as the name it encodes.
    ['grpc://bücher.example:50051/pkg.Service/Call', 'books'],
    ['amqp://b%C3%BCcher.example/', 'books'],
    ['nats://shop.MÜNCHEN.example:4222', 'munich'],
  ])('decides %s by the rule %s', (url, rule) => {
    expect(policy(url).rule).toBe(rule);
  });

  // Names an http URL cannot spell on some Node.js lines (Node 20's and 22's URL refuse
  // `xn--zz.example`, 24's takes it) are still hosts a scheme URL does not know holds as they are.
  it.each([['xn--zz.example'], ['*.xn--a.example'], ['foo.123']])('takes %s, an ASCII name, and matches it where a URL holds it', (host) => {
    const name = host.startsWith('*.') ? `any.${host.slice(2)}` : host;
    const policy = createDestinationPolicy({ rules: [{ name: 'named', hosts: ['ok.example', host], baggage: 'none' }] });
    expect(policy(`grpc://${name}:50051/`).rule).toBe('named');
    let spelt: string | undefined;
    try {
      spelt = new URL(`https://${name}/`).hostname;
    } catch {
      spelt = undefined;
    }
    if (spelt !== undefined) expect(policy(`https://${spelt}/`).rule).toBe('named');
  });

  it('refuses a name that is empty once mapped (a soft hyphen alone is ignored by the mapping)', () => {
    expect(invalidOptionOf(() => createDestinationPolicy({ rules: [{ hosts: ['\u00ad.example'] }] })).option).toBe('destinations.rules[0].hosts[0]');
  });
});

describe('an internationalised host name on the wire', () => {
  it('is matched by a rule naming it in Unicode: fetch and node:http send it no trace header and no baggage', async () => {
    const server = await startServer();
    const agent = new Agent({ connect: { lookup: lookupToLoopback } });
    const warnings: string[] = [];
    configureDiagnostics({ warn: (message) => warnings.push(message) });
    const handle = enableOutboundPropagation({
      destinations: { rules: [{ name: 'books', hosts: ['bücher.example'], trace: false, baggage: 'none' }, { hosts: ['*.münchen.example'], baggage: 'all' }] },
    });
    try {
      await context.with(contextWith({ tenant: 'acme' }), async () => {
        await (await undiciFetch(`http://bücher.example:${server.port}/fetch`, { dispatcher: agent })).text();
        expect(server.last('traceparent')).toEqual([]);
        expect(server.last('baggage')).toEqual([]);
        await new Promise<void>((resolve, reject) => {
          const req = http.get({ host: 'bücher.example', port: server.port, path: '/http', lookup: lookupToLoopback }, (res) => {
            res.resume();
            res.on('end', resolve);
          });
          req.on('error', reject);
        });
        expect(server.received.at(-1)!.url).toBe('/http');
        expect(server.last('traceparent')).toEqual([]);
        expect(server.last('baggage')).toEqual([]);
        // The wildcard rule opens a public host to baggage: it arrives.
        await (await undiciFetch(`http://shop.münchen.example:${server.port}/wild`, { dispatcher: agent })).text();
        expect(server.last('traceparent')).toEqual([`00-${TRACE_ID}-${SPAN_ID}-01`]);
        expect(server.last('baggage')).toEqual(['tenant=acme']);
      });
      expect(warnings.join('\n')).toContain('"books"');
    } finally {
      configureDiagnostics({ warn: (message, code) => process.emitWarning(message, { type: 'CtxpropWarning', code }) });
      handle.disable();
      await agent.close();
      await server.close();
    }
  });
});

describe('createDestinationPolicy() validation', () => {
  it.each([
    [{ rules: 'x' }, 'destinations.rules'],
    [{ rules: [{}] }, 'destinations.rules[0]'],
    [{ rules: [{ hosts: ['https://api.example.com'] }] }, 'destinations.rules[0].hosts[0]'],
    [{ rules: [{ hosts: ['api.example.com:443'] }] }, 'destinations.rules[0].hosts[0]'],
    [{ rules: [{ hosts: ['*'] }] }, 'destinations.rules[0].hosts[0]'],
    [{ rules: [{ hosts: 'api.example.com' }] }, 'destinations.rules[0].hosts'],
    [{ rules: [{ origins: ['api.example.com'] }] }, 'destinations.rules[0].origins[0]'],
    [{ rules: [{ origins: ['https://api.example.com/v1'] }] }, 'destinations.rules[0].origins[0]'],
    [{ rules: [{ hosts: ['a.example'] }, { cidrs: ['10.0.0.0/40'] }] }, 'destinations.rules[1].cidrs[0]'],
    [{ rules: [{ match: 'x' }] }, 'destinations.rules[0].match'],
    [{ rules: [{ hosts: ['a.example'], trace: 'yes' }] }, 'destinations.rules[0].trace'],
    [{ rules: [{ hosts: ['a.example'], baggage: 'some' }] }, 'destinations.rules[0].baggage'],
    [{ public: { baggage: [1] } }, 'destinations.public.baggage'],
    [{ cacheSize: 0 }, 'destinations.cacheSize'],
  ])('refuses %j, naming %s', (options, option) => {
    const thrown = invalidOptionOf(() => createDestinationPolicy(options as never));
    expect(thrown.option).toBe(option);
    expect(thrown.message.startsWith('ctxprop: ')).toBe(true);
  });

  it.each([
    [{ rule: [] }, 'destinations.rule', 'Did you mean "rules"?'],
    [{ cachesize: 10 }, 'destinations.cachesize', 'Did you mean "cacheSize"?'],
    [{ rules: [{ host: ['a.example'] }] }, 'destinations.rules[0].host', 'Did you mean "hosts"?'],
    [{ rules: [{ hosts: ['a.example'], origin: ['https://a.example'] }] }, 'destinations.rules[0].origin', 'Did you mean "origins"?'],
    [{ rules: [{ hosts: ['a.example'], when: () => true }] }, 'destinations.rules[0].when', 'Remove it'],
    [{ public: { traces: false } }, 'destinations.public.traces', 'Did you mean "trace"?'],
    [{ internal: { baggages: 'none' } }, 'destinations.internal.baggages', 'Did you mean "baggage"?'],
    [{ public: 'none' }, 'destinations.public', 'trace'],
    [[{ hosts: ['a.example'] }], 'destinations', 'rules'],
  ])('refuses the unknown key or wrong shape in %j, naming %s and the fix', (options, option, fix) => {
    const thrown = invalidOptionOf(() => createDestinationPolicy(options as never));
    expect(thrown.option).toBe(option);
    expect(thrown.message).toContain(fix);
  });

  it('names the options by the path it is given, and keeps the rule names of its decisions', () => {
    expect(() => createDestinationPolicy({ rules: [{ hosts: ['*'] }] }, 'egress')).toThrow('option "egress.rules[0].hosts[0]"');
    expect(createDestinationPolicy({ rules: [{ hosts: ['a.example'] }] }, 'egress')('https://a.example/').rule).toBe('destinations.rules[0]');
  });

  it('suggests the fix in the message', () => {
    expect(() => createDestinationPolicy({ rules: [{ hosts: ['https://api.example.com'] }] })).toThrow(/use "origins" for scheme and port/);
  });
});

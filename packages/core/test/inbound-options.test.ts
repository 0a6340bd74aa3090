import { trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InvalidOptionError, resolveInboundOptions } from '@ctxprop/core';
import { normalizeMethod, parseHostHeader, pathOf, serverSpanName } from '../src/inbound/http-semconv';
import { fakeRequest, handlerFor, INBOUND_SPAN_ID, INBOUND_TRACEPARENT } from './inbound-support';

const ADAPTER = { name: '@ctxprop/test', version: '0.0.0', extraOptions: ['logLevel'] };

function optionError(options: unknown): InvalidOptionError {
  try {
    resolveInboundOptions(options as never, ADAPTER);
  } catch (error) {
    if (error instanceof InvalidOptionError) return error;
    throw error;
  }
  throw new Error('expected resolveInboundOptions to throw');
}

describe('resolveInboundOptions()', () => {
  it('gives the defaults with no options', () => {
    const resolved = resolveInboundOptions(undefined, ADAPTER);
    expect(resolved.trust.trustsEverything).toBe(true);
    expect(resolved.metrics).toBe(true);
    expect(resolved.urlQuery).toBe(true);
    expect(resolved.detachIntervals).toBe(true);
    expect(resolved.restoreContext).toBe(true);
    expect(resolved.outbound).toBe(true);
    expect(resolved.baggageAttributeKeys).toEqual([]);
    expect(resolved.propagator.fields()).toEqual(expect.arrayContaining(['traceparent', 'tracestate', 'baggage']));
  });

  it.each([
    ['options that are not an object', 'yes', 'options'],
    ['an unknown option', { spanAttributesFromBagage: ['a'] }, 'spanAttributesFromBagage'],
    ['an unknown propagator name', { propagators: ['w3c'] }, 'propagators'],
    ['a propagators value of the wrong type', { propagators: 42 }, 'propagators'],
    ['a trust value it does not know', { trust: 'sometimes' }, 'trust'],
    ['a bad CIDR block in the trust rules', { trust: { trustedAddresses: ['300.0.0.0/8'] } }, 'trust.trustedAddresses[0]'],
    ['a baggage option that is not a function', { baggage: { tier: 'gold' } }, 'baggage'],
    ['a baggage attribute list that is not an array', { spanAttributesFromBaggage: 'customer.tier' }, 'spanAttributesFromBaggage'],
    ['an empty baggage attribute key', { spanAttributesFromBaggage: [''] }, 'spanAttributesFromBaggage'],
    ['a metrics flag that is not a boolean', { metrics: 'yes' }, 'metrics'],
    ['a urlQuery flag that is not a boolean', { urlQuery: 'redact' }, 'urlQuery'],
    ['a detachIntervals flag that is not a boolean', { detachIntervals: 1 }, 'detachIntervals'],
    ['a restoreContext flag that is not a boolean', { restoreContext: 'always' }, 'restoreContext'],
    ['an outbound value of the wrong type', { outbound: 'on' }, 'outbound'],
    ['sensitiveData that is not an object', { sensitiveData: true }, 'sensitiveData'],
    ['a bad sensitiveData option', { sensitiveData: { allowKeys: 'a' } }, 'sensitiveData.allowKeys'],
  ])('throws InvalidOptionError naming the option for %s', (_name, options, option) => {
    const error = optionError(options);
    expect(error.option).toBe(option);
    expect(error.message.startsWith(`ctxprop: option "${option}" must be`)).toBe(true);
  });

  // Issue 3: every nested options object rejects unknown keys, and errors name the option by its
  // full path (options under `outbound` included) and say the fix.
  it.each([
    ['a misspelt option', { trsut: 'link' }, 'trsut', 'Did you mean "trust"?'],
    ['an option in the wrong case', { Metrics: false }, 'Metrics', 'Did you mean "metrics"?'],
    ['an unknown option with no close name', { colour: 'red' }, 'colour', 'Remove it'],
    ['a misspelt sensitiveData.allowKeys', { sensitiveData: { allowkeys: ['contact'] } }, 'sensitiveData.allowkeys', 'Did you mean "allowKeys"?'],
    ['a misspelt sensitiveData.enabled', { sensitiveData: { enable: false } }, 'sensitiveData.enable', 'Did you mean "enabled"?'],
    ['sensitiveData given as an array', { sensitiveData: ['contact'] }, 'sensitiveData', 'allowKeys'],
    ['a misspelt trust option', { trust: { trustedAddress: ['private'] } }, 'trust.trustedAddress', 'Did you mean "trustedAddresses"?'],
    ['a misspelt trustedHeader option', { trust: { trustedHeader: { name: 'x-gw', valeu: 's' } } }, 'trust.trustedHeader.valeu', 'Did you mean "value"?'],
    ['an unknown outbound option', { outbound: { nope: 1 } }, 'outbound.nope', 'Remove it'],
    ['a misspelt outbound option', { outbound: { destination: {} } }, 'outbound.destination', 'Did you mean "destinations"?'],
    ['an outbound propagator that is not one', { outbound: { propagator: 5 } }, 'outbound.propagator', 'createPropagator'],
    ['an outbound spans flag that is not a boolean', { outbound: { spans: 'yes' } }, 'outbound.spans', 'false'],
    ['an outbound existingTraceparent it does not know', { outbound: { existingTraceparent: 'append' } }, 'outbound.existingTraceparent', 'replace'],
    ['outbound sensitiveData of the wrong type', { outbound: { sensitiveData: 'off' } }, 'outbound.sensitiveData', 'false'],
    ['a bad outbound sensitiveData option', { outbound: { sensitiveData: { allowKeys: 'x' } } }, 'outbound.sensitiveData.allowKeys', 'array'],
    ['a misspelt outbound sensitiveData option', { outbound: { sensitiveData: { allowkeys: [] } } }, 'outbound.sensitiveData.allowkeys', 'Did you mean "allowKeys"?'],
    ['outbound destinations of the wrong type', { outbound: { destinations: 5 } }, 'outbound.destinations', 'createDestinationPolicy'],
    ['outbound destinations given as an array', { outbound: { destinations: [{ hosts: ['a.example'] }] } }, 'outbound.destinations', 'rules'],
    ['a misspelt destinations option', { outbound: { destinations: { rule: [] } } }, 'outbound.destinations.rule', 'Did you mean "rules"?'],
    ['a bad host in a destination rule', { outbound: { destinations: { rules: [{ hosts: ['*'] }] } } }, 'outbound.destinations.rules[0].hosts[0]', 'origins'],
    ['a bad CIDR block in a destination rule', { outbound: { destinations: { rules: [{ cidrs: ['10.0.0.0/40'] }] } } }, 'outbound.destinations.rules[0].cidrs[0]', 'CIDR'],
    ['a misspelt destination rule option', { outbound: { destinations: { rules: [{ host: ['a.example'] }] } } }, 'outbound.destinations.rules[0].host', 'Did you mean "hosts"?'],
    ['a misspelt grant in a destination rule', { outbound: { destinations: { rules: [{ hosts: ['a.example'], baggages: 'none' }] } } }, 'outbound.destinations.rules[0].baggages', 'Did you mean "baggage"?'],
    ['a misspelt public grant option', { outbound: { destinations: { public: { traces: false } } } }, 'outbound.destinations.public.traces', 'Did you mean "trace"?'],
    ['a bad internal grant option', { outbound: { destinations: { internal: { baggage: [1] } } } }, 'outbound.destinations.internal.baggage', 'baggage keys'],
    ['a bad destinations cache size', { outbound: { destinations: { cacheSize: 0 } } }, 'outbound.destinations.cacheSize', 'whole number'],
  ])('names the full path of the option and the fix for %s', (_name, options, option, fix) => {
    const error = optionError(options);
    expect(error.option).toBe(option);
    expect(error.message.startsWith(`ctxprop: option "${option}" must be`)).toBe(true);
    expect(error.message).toContain(fix);
  });

  it('checks the outbound options when they are resolved, not when the handler starts', () => {
    expect(() => resolveInboundOptions({ outbound: { spanz: false } } as never, ADAPTER)).toThrow(InvalidOptionError);
    expect(() => resolveInboundOptions({ outbound: { spans: false, destinations: { rules: [{ hosts: ['a.example'] }] } } }, ADAPTER)).not.toThrow();
  });

  it('accepts the options an adapter adds', () => {
    expect(() => resolveInboundOptions({ logLevel: 'debug' } as never, ADAPTER)).not.toThrow();
  });

  it("hands outbound propagation the inbound propagators when it names none", () => {
    const resolved = resolveInboundOptions({ propagators: 'b3multi' }, ADAPTER);
    expect(resolved.outbound).toEqual({ propagator: resolved.propagator });
    const own = resolveInboundOptions({ propagators: 'b3multi', outbound: { spans: false } }, ADAPTER);
    expect(own.outbound).toEqual({ spans: false, propagator: own.propagator });
    expect(resolveInboundOptions({ outbound: false }, ADAPTER).outbound).toBe(false);
  });

  it("takes OpenTelemetry's own propagators", () => {
    const scope = handlerFor({ propagators: new W3CTraceContextPropagator() }).start(fakeRequest({ traceparent: INBOUND_TRACEPARENT }))!;
    expect(trace.getSpanContext(scope.context)?.spanId).toBe(INBOUND_SPAN_ID);
  });

  it('reads only the formats named in propagators', () => {
    const scope = handlerFor({ propagators: ['b3'] }).start(fakeRequest({ traceparent: INBOUND_TRACEPARENT }))!;
    expect(trace.getSpanContext(scope.context)).toBeUndefined();
  });
});

describe('HTTP semantic-convention helpers', () => {
  it.each([
    ['example.com', 'example.com', undefined],
    ['example.com:8080', 'example.com', 8080],
    ['10.0.0.1:3000', '10.0.0.1', 3000],
    ['[::1]:3000', '::1', 3000],
    ['[2001:db8::1]', '2001:db8::1', undefined],
    ['example.com:', 'example.com', undefined],
    ['example.com:99999', 'example.com', undefined],
    ['example.com:80a', 'example.com', undefined],
    ['::1', '::1', undefined],
  ])('splits the Host header %j into %j and port %j (RFC 9110 §7.2)', (header, host, port) => {
    expect(parseHostHeader(header)).toEqual({ host, port });
  });

  it('gives nothing for a missing or empty Host header', () => {
    expect(parseHostHeader(undefined)).toBeUndefined();
    expect(parseHostHeader('')).toBeUndefined();
  });

  it.each([
    ['GET', 'GET'],
    ['PATCH', 'PATCH'],
    ['get', '_OTHER'],
    ['PURGE', '_OTHER'],
    [undefined, '_OTHER'],
  ])('normalizes the method %j to %j (semconv http.request.method)', (method, expected) => {
    expect(normalizeMethod(method)).toBe(expected);
  });

  it.each([
    ['GET', '/users/:id', 'GET /users/:id'],
    ['GET', undefined, 'GET'],
    ['_OTHER', '/x', 'HTTP /x'],
    ['_OTHER', undefined, 'HTTP'],
  ])('names the span of %s with route %j %j (semconv http-spans §Name)', (method, route, name) => {
    expect(serverSpanName(method, route)).toBe(name);
  });

  it('cuts the query off the target for url.path', () => {
    expect(pathOf('/a/b?c=1&d')).toBe('/a/b');
    expect(pathOf('/a')).toBe('/a');
  });
});

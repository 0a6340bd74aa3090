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

import { EventEmitter } from 'node:events';
import fc from 'fast-check';
import { context, createContextKey, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { diagnosticsSnapshot, EMPTY_BAGGAGE_VIEW, inboundScopeOf, resetDiagnostics, runEmitterInContext, type InboundRequestAccessors } from '@ctxprop/core';
import { createInboundHandler } from '../src/inbound/handler';
import { resolveInboundOptions } from '../src/inbound/options';
import { fakeAccessors, fakeRequest, handlerFor, INBOUND_SPAN_ID, INBOUND_TRACE_ID, INBOUND_TRACEPARENT, type FakeRequest } from './inbound-support';

const activeBaggageValue = (key: string) => propagation.getActiveBaggage()?.getEntry(key)?.value;

beforeEach(() => {
  resetDiagnostics();
});

describe('InboundHandler.start() with no SDK', () => {
  it("continues the caller's trace: the context holds the caller's span context and nothing is recorded", () => {
    const scope = handlerFor().start(fakeRequest({ traceparent: INBOUND_TRACEPARENT }))!;
    expect(scope.span).toBeUndefined();
    expect(scope.spanOrigin).toBe('none');
    expect(scope.needsResponse).toBe(false);
    expect(trace.getSpanContext(scope.context)).toEqual({ traceId: INBOUND_TRACE_ID, spanId: INBOUND_SPAN_ID, traceFlags: 1, isRemote: true });
    expect(scope.traceContext).toMatchObject({
      traceId: INBOUND_TRACE_ID,
      spanId: INBOUND_SPAN_ID,
      traceFlags: 1,
      sampled: true,
      traceparent: INBOUND_TRACEPARENT,
    });
  });

  it('exposes the inbound baggage as a view, properties included (W3C Baggage §3.3.1)', () => {
    const scope = handlerFor().start(fakeRequest({ baggage: 'customer.tier=gold;ttl=60, tenant=acme%20corp' }))!;
    const view = scope.baggageView;
    expect(view.size).toBe(2);
    expect(view.get('customer.tier')).toBe('gold');
    expect(view.getEntry('customer.tier')).toEqual({ value: 'gold', properties: [{ key: 'ttl', value: '60' }] });
    expect(view.get('tenant')).toBe('acme corp');
    context.with(scope.context, () => expect(activeBaggageValue('tenant')).toBe('acme corp'));
  });

  it('gives the empty view and no trace context when the request carries neither', () => {
    const scope = handlerFor().start(fakeRequest())!;
    expect(scope.baggageView).toBe(EMPTY_BAGGAGE_VIEW);
    expect(scope.traceContext).toBeUndefined();
    expect(diagnosticsSnapshot()['extract.trace.missing']).toBe(1);
  });

  it("takes no trace and no baggage from the context active when the request arrived (the server's start-up context), only from the request", () => {
    // AsyncLocalStorage hands a server's connections the context listen() was called in.
    const startup = trace.setSpanContext(
      propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage({ 'deploy.secret': { value: 'x' } })),
      { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 },
    );
    const key = createContextKey('other.library');
    const active = startup.setValue(key, 'kept');
    const bare = handlerFor().start(fakeRequest(), active)!;
    expect(bare.traceContext).toBeUndefined();
    expect(trace.getSpanContext(bare.context)).toBeUndefined();
    expect(bare.baggageView.size).toBe(0);
    expect(propagation.getBaggage(bare.context)).toBeUndefined();
    // What other libraries keep in the context stays.
    expect(bare.context.getValue(key)).toBe('kept');
    const carrying = handlerFor().start(fakeRequest({ traceparent: INBOUND_TRACEPARENT, baggage: 'tenant=acme' }), active)!;
    expect(carrying.traceContext?.traceId).toBe(INBOUND_TRACE_ID);
    expect([...carrying.baggageView].map(([name]) => name)).toEqual(['tenant']);
  });

  it('reads Node-style lowercase headers without walking them when the adapter says they are lowercase', () => {
    // The adapters for Express and Fastify hand core Node's IncomingHttpHeaders. A request with no
    // trace context reads every configured and every known format's header, all absent.
    let walks = 0;
    const headers = new Proxy({ host: 'a', 'user-agent': 'b', baggage: 'tier=gold' } as Record<string, string>, {
      ownKeys(target) {
        walks++;
        return Reflect.ownKeys(target);
      },
    });
    const accessors: InboundRequestAccessors<FakeRequest> = { ...fakeAccessors, lowercaseHeaders: true };
    const handler = createInboundHandler(resolveInboundOptions<FakeRequest>({ outbound: false }, { name: 'test-adapter', version: '1.2.3' }), accessors);
    const scope = handler.start(fakeRequest(headers))!;
    expect(scope.baggageView.get('tier')).toBe('gold');
    expect(diagnosticsSnapshot()['extract.trace.missing']).toBe(1);
    expect(walks).toBe(0);
    // The same request through the case-insensitive default walks the names for each absent header.
    handlerFor().start(fakeRequest(headers));
    expect(walks).toBeGreaterThan(0);
  });

  it("with trust 'link' keeps the baggage but does not continue the caller's trace", () => {
    const scope = handlerFor({ trust: 'link' }).start(fakeRequest({ traceparent: INBOUND_TRACEPARENT, baggage: 'a=1' }))!;
    expect(trace.getSpanContext(scope.context)).toBeUndefined();
    expect(scope.baggageView.get('a')).toBe('1');
  });

  it('drops the baggage of an untrusted caller except the allowlisted keys', () => {
    const handler = handlerFor({ trust: { trustedAddresses: ['private'], untrustedBaggage: ['synthetic.test'] } });
    const headers = { traceparent: INBOUND_TRACEPARENT, baggage: 'customer.tier=platinum,synthetic.test=1' };
    const outside = handler.start(fakeRequest(headers, { ip: '203.0.113.9' }))!;
    expect(outside.baggageView.toJSON()).toEqual({ 'synthetic.test': '1' });
    expect(trace.getSpanContext(outside.context)).toBeUndefined();
    const inside = handler.start(fakeRequest(headers, { ip: '10.0.0.9' }))!;
    expect(inside.baggageView.toJSON()).toEqual({ 'customer.tier': 'platinum', 'synthetic.test': '1' });
    expect(trace.getSpanContext(inside.context)?.traceId).toBe(INBOUND_TRACE_ID);
  });
});

describe('InboundScope.setBaggage()', () => {
  it('is seen by code that captured the context before the change (opentelemetry-js-contrib #3357)', () => {
    const scope = handlerFor().start(fakeRequest({ baggage: 'a=1' }))!;
    const boundEarlier = context.bind(scope.context, () => [activeBaggageValue('a'), activeBaggageValue('b')]);
    scope.setBaggage({ b: '2' });
    expect(boundEarlier()).toEqual(['1', '2']);
    expect(scope.baggageView.toJSON()).toEqual({ a: '1', b: '2' });
  });

  it('survives await and timers inside the request context', async () => {
    const scope = handlerFor().start(fakeRequest())!;
    const seen = await context.with(scope.context, async () => {
      await Promise.resolve();
      scope.setBaggage({ step: 'one' });
      await new Promise((resolve) => setTimeout(resolve, 1));
      const afterTimer = activeBaggageValue('step');
      scope.setBaggage({ step: 'two' });
      return [afterTimer, await new Promise((resolve) => setImmediate(() => resolve(activeBaggageValue('step'))))];
    });
    expect(seen).toEqual(['one', 'two']);
  });

  it('is seen through contexts derived later, unless a derived context sets baggage itself', () => {
    const scope = handlerFor().start(fakeRequest({ baggage: 'a=1' }))!;
    const derived = scope.context.setValue(Symbol('user key'), 1);
    const override = propagation.setBaggage(scope.context, propagation.createBaggage({ own: { value: 'x' } }));
    scope.setBaggage({ a: '2' });
    expect(propagation.getBaggage(derived)?.getEntry('a')?.value).toBe('2');
    expect(propagation.getBaggage(override)?.getAllEntries().map(([key]) => key)).toEqual(['own']);
  });

  it("reaches a derived context that changed the baggage itself: the request's entries, with that context's changes on top", () => {
    const scope = handlerFor().start(fakeRequest({ baggage: 'a=1,b=1,c=1' }))!;
    const request = propagation.getBaggage(scope.context)!;
    // A hook adds, changes and removes entries the OpenTelemetry way, for the rest of the request.
    const hooked = propagation.setBaggage(scope.context, request.setEntry('via', { value: 'otel' }).setEntry('b', { value: 'hook' }).removeEntry('c'));
    scope.setBaggage({ late: '1', b: 'late', c: 'late' });
    const values = (ctx: typeof hooked) => Object.fromEntries(propagation.getBaggage(ctx)!.getAllEntries().map(([key, entry]) => [key, entry.value]));
    expect(values(hooked)).toEqual({ a: '1', b: 'hook', late: '1', via: 'otel' });
    expect(propagation.getBaggage(hooked)).toBe(propagation.getBaggage(hooked));
    // Derived again, for a span or another value: the same baggage.
    expect(values(hooked.setValue(Symbol('user key'), 1))).toEqual(values(hooked));
    // Derived again with baggage of its own: its changes on top of its parent's, which still follow the request.
    const nested = propagation.setBaggage(hooked, propagation.getBaggage(hooked)!.setEntry('nested', { value: 'yes' }));
    scope.setBaggage({ later: '2' });
    expect(values(nested)).toEqual({ a: '1', b: 'hook', late: '1', later: '2', via: 'otel', nested: 'yes' });
    expect(values(hooked)).toEqual({ a: '1', b: 'hook', late: '1', later: '2', via: 'otel' });
  });

  it('reads baggage through 20,000 nested derived contexts that each set baggage, before and after the request changes its own', () => {
    const scope = handlerFor().start(fakeRequest({ baggage: 'a=1' }))!;
    let ctx = scope.context;
    for (let i = 0; i < 20_000; i++) ctx = propagation.setBaggage(ctx, propagation.getBaggage(ctx)!.setEntry(`k${i % 50}`, { value: String(i) }));
    expect(propagation.getBaggage(ctx)?.getEntry('k49')?.value).toBe('19999');
    scope.setBaggage({ late: '1' });
    const after = propagation.getBaggage(ctx)!;
    expect([after.getEntry('a')?.value, after.getEntry('late')?.value, after.getEntry('k0')?.value]).toEqual(['1', '1', '19950']);
    // Unchanged since: the same object, not computed again.
    expect(propagation.getBaggage(ctx)).toBe(after);
  });

  it('leaves a derived context that deleted the baggage without any', () => {
    const scope = handlerFor().start(fakeRequest({ baggage: 'a=1' }))!;
    const cleared = propagation.deleteBaggage(scope.context);
    scope.setBaggage({ late: '1' });
    expect(propagation.getBaggage(cleared)).toBeUndefined();
  });

  it('refuses entries that look like secrets or personal data, and counts them', () => {
    const scope = handlerFor().start(fakeRequest())!;
    scope.setBaggage({ 'user.token': 'abc', contact: 'jdoe@example.com', tier: 'gold' });
    expect(scope.baggageView.toJSON()).toEqual({ tier: 'gold' });
    expect(diagnosticsSnapshot()['baggage.sensitive.refused']).toBe(2);
  });

  it('follows the sensitiveData option', () => {
    const scope = handlerFor({ sensitiveData: { allowKeys: ['session.region'] } }).start(fakeRequest())!;
    scope.setBaggage({ 'session.region': 'eu' });
    expect(scope.baggageView.get('session.region')).toBe('eu');
  });

  it('skips malformed entries without throwing', () => {
    const scope = handlerFor().start(fakeRequest())!;
    scope.setBaggage({ 'no spaces allowed': 'x', ok: 'y', bad: { value: 7 } as never });
    scope.setBaggage('nonsense' as never);
    expect(scope.baggageView.toJSON()).toEqual({ ok: 'y' });
    expect(diagnosticsSnapshot()['baggage.invalid_set']).toBe(3);
  });
});

describe('inboundScopeOf()', () => {
  it('finds the request scope from any context derived from the request context, baggage overrides included', () => {
    const scope = handlerFor().start(fakeRequest({ baggage: 'a=1' }))!;
    const child = trace.setSpanContext(scope.context, { traceId: INBOUND_TRACE_ID, spanId: INBOUND_SPAN_ID, traceFlags: 1 });
    const overridden = propagation.deleteBaggage(propagation.setBaggage(child, propagation.createBaggage({ b: { value: '2' } })));
    expect(inboundScopeOf(scope.context)).toBe(scope);
    expect(inboundScopeOf(child)).toBe(scope);
    expect(inboundScopeOf(overridden)).toBe(scope);
    expect(propagation.getBaggage(overridden)).toBeUndefined();
    expect(inboundScopeOf(ROOT_CONTEXT)).toBeUndefined();
    expect(context.with(scope.context, () => inboundScopeOf())).toBe(scope);
  });

  it('lets a second start() for the same request in its own context return the same scope', () => {
    const handler = handlerFor();
    const request = fakeRequest({ baggage: 'a=1' });
    const scope = handler.start(request)!;
    expect(context.with(scope.context, () => handlerFor().start(request))).toBe(scope);
    expect(context.with(scope.context, () => handler.start(fakeRequest()))).not.toBe(scope);
  });
});

describe('InboundScope.contextToRestore()', () => {
  it("answers undefined in the request's context or one derived from it, noting the latest", () => {
    const scope = handlerFor().start(fakeRequest({ baggage: 'a=1' }))!;
    const derived = propagation.setBaggage(scope.context, propagation.createBaggage({ b: { value: '2' } }));
    expect(scope.contextToRestore(scope.context)).toBeUndefined();
    expect(scope.contextToRestore(derived)).toBeUndefined();
    expect(diagnosticsSnapshot()['context.restored']).toBeUndefined();
    // From elsewhere: the latest context noted, counted.
    expect(scope.contextToRestore(ROOT_CONTEXT)).toBe(derived);
    expect(diagnosticsSnapshot()['context.restored']).toBe(1);
  });

  it("restores the request's own context when nothing else was noted, also from another request's", () => {
    const scope = handlerFor().start(fakeRequest({ baggage: 'a=1' }))!;
    const other = handlerFor().start(fakeRequest({ baggage: 'a=2' }))!;
    expect(scope.contextToRestore(other.context)).toBe(scope.context);
    expect(other.contextToRestore(scope.context)).toBe(other.context);
    expect(diagnosticsSnapshot()['context.restored']).toBe(2);
  });

  it('gives the latest context without counting for a step that never had it (handOff false)', () => {
    const scope = handlerFor().start(fakeRequest({ baggage: 'a=1' }))!;
    expect(scope.contextToRestore(ROOT_CONTEXT, false)).toBe(scope.context);
    expect(diagnosticsSnapshot()['context.restored']).toBeUndefined();
  });

  it('answers undefined whatever the context with restoreContext: false', () => {
    const scope = handlerFor({ restoreContext: false }).start(fakeRequest())!;
    expect(scope.contextToRestore(ROOT_CONTEXT)).toBeUndefined();
    expect(diagnosticsSnapshot()['context.restored']).toBeUndefined();
  });
});

describe('origin baggage (the baggage option)', () => {
  it('adds entries computed from the request, replacing inbound ones of the same key', () => {
    const handler = handlerFor({ baggage: (request) => ({ 'customer.tier': request.headers['x-tier'] as string, edge: 'eu-1' }) });
    const scope = handler.start(fakeRequest({ baggage: 'customer.tier=platinum,other=1', 'x-tier': 'free' }))!;
    expect(scope.baggageView.toJSON()).toEqual({ 'customer.tier': 'free', other: '1', edge: 'eu-1' });
  });

  it('lets the request go on without origin baggage when the function throws', () => {
    const handler = handlerFor({
      baggage: () => {
        throw new Error('no user');
      },
    });
    const scope = handler.start(fakeRequest({ baggage: 'a=1' }))!;
    expect(scope.baggageView.toJSON()).toEqual({ a: '1' });
    expect(diagnosticsSnapshot()['internal.error']).toBe(1);
  });
});

describe('failures inside ctxprop', () => {
  it('returns undefined and counts internal.error instead of throwing', () => {
    const broken: InboundRequestAccessors<FakeRequest> = {
      ...fakeAccessors,
      headers: () => {
        throw new Error('broken accessor');
      },
    };
    const handler = createInboundHandler(resolveInboundOptions({ outbound: false }, { name: 'test-adapter', version: '1.0.0' }), broken);
    expect(handler.start(fakeRequest())).toBeUndefined();
    expect(diagnosticsSnapshot()['internal.error']).toBe(1);
  });

  it('never throws and always gives a scope, whatever the headers say', () => {
    const handler = handlerFor();
    const headerValue = fc.oneof(fc.string({ maxLength: 200 }), fc.array(fc.string({ maxLength: 80 }), { maxLength: 3 }));
    fc.assert(
      fc.property(
        fc.record({ traceparent: headerValue, tracestate: headerValue, baggage: headerValue, host: headerValue, 'user-agent': headerValue }, { requiredKeys: [] }),
        (headers) => {
          const scope = handler.start(fakeRequest(headers as Record<string, string>));
          if (scope === undefined) return false;
          scope.baggageView.toJSON();
          void scope.traceContext;
          scope.finish(200);
          return true;
        },
      ),
    );
    expect(diagnosticsSnapshot()['internal.error']).toBeUndefined();
  });
});

describe('runEmitterInContext()', () => {
  it('runs listeners of events emitted from elsewhere in the bound context', () => {
    const scope = handlerFor().start(fakeRequest({ baggage: 'who=first' }))!;
    const emitter = new EventEmitter();
    const seen: (string | undefined)[] = [];
    emitter.on('data', () => seen.push(activeBaggageValue('who')));
    runEmitterInContext(emitter, scope.context);
    emitter.on('end', () => seen.push(activeBaggageValue('who')));
    context.with(ROOT_CONTEXT, () => {
      emitter.emit('data');
      emitter.emit('end');
    });
    expect(seen).toEqual(['first', 'first']);
  });

  it('swaps the context when bound again, and keeps removeListener working', () => {
    const first = handlerFor().start(fakeRequest({ baggage: 'who=first' }))!;
    const second = handlerFor().start(fakeRequest({ baggage: 'who=second' }))!;
    const emitter = new EventEmitter();
    const seen: (string | undefined)[] = [];
    const listener = () => seen.push(activeBaggageValue('who'));
    emitter.on('tick', listener);
    runEmitterInContext(emitter, first.context);
    emitter.emit('tick');
    runEmitterInContext(emitter, second.context);
    emitter.emit('tick');
    emitter.removeListener('tick', listener);
    expect(emitter.emit('tick')).toBe(false);
    expect(seen).toEqual(['first', 'second']);
  });

  it('passes arguments and the return value through, with and without listeners', () => {
    const scope = handlerFor().start(fakeRequest({ baggage: 'who=first' }))!;
    const emitter = new EventEmitter();
    runEmitterInContext(emitter, scope.context);
    const received: unknown[][] = [];
    emitter.on('chunk', (...args: unknown[]) => received.push([...args, activeBaggageValue('who')]));
    const listened = context.with(ROOT_CONTEXT, () => emitter.emit('chunk', 1, 'two', { three: 3 }));
    const unlistened = context.with(ROOT_CONTEXT, () => emitter.emit('nobody-listens', 1));
    expect(listened).toBe(true);
    expect(unlistened).toBe(false);
    expect(received).toEqual([[1, 'two', { three: 3 }, 'first']]);
  });

  it("still throws an 'error' nobody listens to, and runs a listener added for it later in the context", () => {
    const scope = handlerFor().start(fakeRequest({ baggage: 'who=first' }))!;
    const emitter = new EventEmitter();
    runEmitterInContext(emitter, scope.context);
    const failure = new Error('socket hang up');
    expect(() => context.with(ROOT_CONTEXT, () => emitter.emit('error', failure))).toThrow(/socket hang up/);
    let seen: string | undefined;
    emitter.on('error', () => (seen = activeBaggageValue('who')));
    context.with(ROOT_CONTEXT, () => emitter.emit('error', failure));
    expect(seen).toBe('first');
  });

  it('wraps every event of an emitter that keeps no EventEmitter listener table', () => {
    const scope = handlerFor().start(fakeRequest({ baggage: 'who=first' }))!;
    const seen: (string | undefined)[] = [];
    const emitter = { emit: (event: string) => seen.push(`${event}:${activeBaggageValue('who')}`) > 0 };
    runEmitterInContext(emitter, scope.context);
    context.with(ROOT_CONTEXT, () => emitter.emit('custom'));
    expect(seen).toEqual(['custom:first']);
  });
});

describe('InboundScope.ended and detachIntervals (for interval detachment)', () => {
  const response = (state: { writableEnded?: boolean; destroyed?: boolean; stream?: { destroyed: boolean } }) => ({ statusCode: 200, on: () => undefined, ...state });

  it('follows the response: end() called, an HTTP/1 response destroyed, an HTTP/2 stream destroyed', () => {
    const handler = handlerFor({ detachIntervals: true });
    const open = { writableEnded: false, destroyed: false };
    const scope = handler.start(fakeRequest(), undefined, response(open))!;
    expect([scope.ended, scope.detachIntervals]).toEqual([false, false]);
    const live = response({ writableEnded: false, destroyed: false });
    const sent = handler.start(fakeRequest(), undefined, live)!;
    live.writableEnded = true;
    expect([sent.ended, sent.detachIntervals]).toEqual([true, true]);
    expect(handler.start(fakeRequest(), undefined, response({ destroyed: true }))!.ended).toBe(true);
    expect(handler.start(fakeRequest(), undefined, response({ writableEnded: false, stream: { destroyed: true } }))!.ended).toBe(true);
    expect(handler.start(fakeRequest(), undefined, response({ writableEnded: false, stream: { destroyed: false } }))!.ended).toBe(false);
    handler.close();
  });

  it('without a response, follows finish() and abort() only', () => {
    const handler = handlerFor();
    const finished = handler.start(fakeRequest())!;
    const aborted = handler.start(fakeRequest())!;
    expect([finished.ended, aborted.ended]).toEqual([false, false]);
    finished.finish(200);
    aborted.abort();
    expect([finished.ended, aborted.ended]).toEqual([true, true]);
  });

  it('leaves intervals alone (detachIntervals undefined) when the option is off', () => {
    const handler = handlerFor({ detachIntervals: false });
    const scope = handler.start(fakeRequest(), undefined, response({ writableEnded: true }))!;
    expect(scope.ended).toBe(true);
    expect(scope.detachIntervals).toBeUndefined();
    handler.close();
  });
});

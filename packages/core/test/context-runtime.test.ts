import { EventEmitter } from 'node:events';
import { context, createContextKey, defaultTextMapSetter, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import {
  AsyncLocalStorageContextManager,
  bindContext,
  bindEmitter,
  ensureContextManager,
  getTraceContext,
  hasContextManager,
  parseTraceparent,
  TraceContextPropagator,
} from '@ctxprop/core';
import { AsyncLocalStorageContextManager as OtelAsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';

const KEY = createContextKey('test.value');
const withValue = (value: string) => ROOT_CONTEXT.setValue(KEY, value);
const valueNow = () => context.active().getValue(KEY);

afterEach(() => {
  context.disable();
});

describe('ensureContextManager()', () => {
  it('registers an AsyncLocalStorage context manager when none is registered', () => {
    expect(hasContextManager()).toBe(false);
    expect(ensureContextManager()).toBe(true);
    expect(hasContextManager()).toBe(true);
    expect(context.with(withValue('a'), valueNow)).toBe('a');
  });

  it('keeps a context manager that was registered before it (an OTel SDK started first)', () => {
    const theirs = new AsyncLocalStorageContextManager();
    context.setGlobalContextManager(theirs);
    const activeSpy = jest.spyOn(theirs, 'active');
    ensureContextManager();
    context.with(withValue('b'), valueNow);
    expect(activeSpy).toHaveBeenCalled();
  });

  it('is idempotent', () => {
    ensureContextManager();
    ensureContextManager();
    expect(context.with(withValue('c'), valueNow)).toBe('c');
  });
});

describe('AsyncLocalStorageContextManager', () => {
  beforeEach(() => ensureContextManager());

  it('keeps the context across await, timers and promise callbacks', async () => {
    const seen = await context.with(withValue('async'), async () => {
      const values: unknown[] = [];
      await new Promise((resolve) => setTimeout(resolve, 1));
      values.push(valueNow());
      await Promise.resolve().then(() => values.push(valueNow()));
      await new Promise<void>((resolve) => setImmediate(() => { values.push(valueNow()); resolve(); }));
      return values;
    });
    expect(seen).toEqual(['async', 'async', 'async']);
    expect(valueNow()).toBeUndefined();
  });

  it('isolates interleaved concurrent tasks', async () => {
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        context.with(withValue(`task-${i}`), async () => {
          await new Promise((resolve) => setTimeout(resolve, (i * 7) % 5));
          return valueNow();
        }),
      ),
    );
    expect(results).toEqual(Array.from({ length: 200 }, (_, i) => `task-${i}`));
  });

  it('passes thisArg and arguments through with()', () => {
    const target = { name: 'target' };
    const result = context.with(withValue('x'), function (this: typeof target, a: number, b: number) {
      return `${this.name}:${a + b}:${String(valueNow())}`;
    }, target, 1, 2);
    expect(result).toBe('target:3:x');
  });
});

describe('bindContext() and bindEmitter()', () => {
  beforeEach(() => ensureContextManager());

  it('runs a bound function in the context it was bound to', () => {
    const bound = context.with(withValue('bound'), () => bindContext(() => valueNow()));
    expect(context.with(withValue('other'), bound)).toBe('bound');
  });

  it("binds a callback written as the README's example is (parameters not annotated), keeping its arguments and result", () => {
    const seen: unknown[] = [];
    // With parameters typed `never`, `onMessage({ id: 1 })` would not compile (tsc checks this file).
    const onMessage = context.with(withValue('subscriber'), () => bindContext((message) => seen.push([message, valueNow()])));
    const emitter = new EventEmitter();
    emitter.on('message', onMessage);
    context.with(withValue('producer'), () => emitter.emit('message', { id: 1 }));
    expect(onMessage({ id: 2 })).toBe(2);
    expect(seen).toEqual([
      [{ id: 1 }, 'subscriber'],
      [{ id: 2 }, 'subscriber'],
    ]);
  });

  it('runs listeners added to a bound emitter in its context, and still removes them', () => {
    const emitter = new EventEmitter();
    context.with(withValue('emitter'), () => bindEmitter(emitter));
    const seen: unknown[] = [];
    const listener = () => seen.push(valueNow());
    context.with(withValue('adder'), () => emitter.on('event', listener));
    context.with(withValue('emitting'), () => emitter.emit('event'));
    emitter.off('event', listener);
    emitter.emit('event');
    expect(seen).toEqual(['emitter']);
    expect(emitter.listenerCount('event')).toBe(0);
  });

  it.each([
    ["ctxprop's context manager", () => ensureContextManager()],
    ["OpenTelemetry's AsyncLocalStorageContextManager (an SDK registered first)", () => context.setGlobalContextManager(new OtelAsyncLocalStorageContextManager().enable())],
  ])('with %s, binds an emitter bound again (a shared one, per request) to the latest context from then on', (_manager, register) => {
    context.disable();
    register();
    const emitter = new EventEmitter();
    const seen: unknown[] = [];
    const listenerOf = (name: string) => () => seen.push(`${name} in ${String(valueNow())}`);
    context.with(withValue('alice'), () => {
      bindEmitter(emitter);
      emitter.on('message', listenerOf('alice'));
    });
    context.with(withValue('bob'), () => {
      bindEmitter(emitter);
      emitter.once('message', listenerOf('bob'));
    });
    const explicit = listenerOf('carol');
    bindEmitter(emitter, withValue('carol'));
    context.with(withValue('dave'), () => emitter.prependListener('message', explicit));
    context.with(withValue('emitting'), () => emitter.emit('message'));
    expect(seen).toEqual(['carol in carol', 'alice in alice', 'bob in bob']);
    emitter.removeListener('message', explicit);
    expect(emitter.listenerCount('message')).toBe(1);
  });

  it("removes listeners of an emitter OpenTelemetry's context manager bound first (instrumentation-http binds req and res)", () => {
    context.disable();
    context.setGlobalContextManager(new OtelAsyncLocalStorageContextManager().enable());
    const emitter = new EventEmitter();
    context.bind(withValue('otel'), emitter);
    bindEmitter(emitter, withValue('ctxprop'));
    const seen: unknown[] = [];
    const listener = () => seen.push(valueNow());
    emitter.on('data', listener);
    emitter.emit('data');
    emitter.removeListener('data', listener);
    const once = () => seen.push(`once in ${String(valueNow())}`);
    emitter.once('end', once);
    emitter.off('end', once);
    emitter.emit('data');
    emitter.emit('end');
    expect(seen).toEqual(['ctxprop']);
    expect(emitter.listenerCount('data') + emitter.listenerCount('end')).toBe(0);
  });

  it('binds an emitter-like object that is not an EventEmitter (no rawListeners, no prependListener) and still removes its listeners', () => {
    const listeners = new Map<string, Array<(...args: unknown[]) => unknown>>();
    const emitter = {
      on(event: string, listener: (...args: unknown[]) => unknown) {
        listeners.set(event, [...(listeners.get(event) ?? []), listener]);
        return this;
      },
      once(event: string, listener: (...args: unknown[]) => unknown) {
        return this.on(event, listener);
      },
      addListener(event: string, listener: (...args: unknown[]) => unknown) {
        return this.on(event, listener);
      },
      removeListener(event: string, listener: (...args: unknown[]) => unknown) {
        listeners.set(event, (listeners.get(event) ?? []).filter((candidate) => candidate !== listener));
        return this;
      },
      emit(event: string) {
        for (const listener of listeners.get(event) ?? []) listener();
      },
    };
    bindEmitter(emitter, withValue('bound'));
    const seen: unknown[] = [];
    const listener = () => seen.push(valueNow());
    emitter.on('tick', listener);
    context.with(withValue('emitting'), () => emitter.emit('tick'));
    emitter.removeListener('tick', listener);
    emitter.emit('tick');
    expect(seen).toEqual(['bound']);
    expect('prependListener' in emitter).toBe(false);
  });

  it('removes a listener by the function added, the last added first, as Node does, once-listeners and listeners added before the binding included', () => {
    const emitter = new EventEmitter();
    const seen: unknown[] = [];
    const before = () => seen.push(`before in ${String(valueNow())}`);
    const twice = () => seen.push(`twice in ${String(valueNow())}`);
    emitter.on('message', before);
    bindEmitter(emitter, withValue('first'));
    emitter.on('message', twice);
    emitter.once('message', before);
    bindEmitter(emitter, withValue('second'));
    emitter.once('message', twice);
    // The once-listener added last goes first; the other stays.
    emitter.off('message', twice);
    emitter.emit('message');
    expect(seen).toEqual(['before in undefined', 'twice in first', 'before in first']);
    seen.length = 0;
    emitter.removeListener('message', twice);
    emitter.removeListener('message', before);
    expect(emitter.listenerCount('message')).toBe(0);
    emitter.removeListener('message', before);
    emitter.emit('message');
    expect(seen).toEqual([]);
  });
});

describe('getTraceContext()', () => {
  it('returns the ids, flags and a traceparent of the active span context', () => {
    ensureContextManager();
    const spanContext = {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: 0x03,
      isRemote: true,
    };
    const info = context.with(trace.setSpanContext(ROOT_CONTEXT, spanContext), () => getTraceContext());
    expect(info).toEqual({
      traceId: spanContext.traceId,
      spanId: spanContext.spanId,
      traceFlags: 0x03,
      sampled: true,
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03',
      tracestate: undefined,
      isRemote: true,
    });
  });

  it('gives the traceparent the propagator writes (lower-case ids, reserved flag bits left out), one the parser accepts', () => {
    // The API accepts upper-case ids and any flags byte; W3C Trace Context does not.
    const spanContext = { traceId: '0AF7651916CD43DD8448EB211C80319C', spanId: 'B7AD6B7169203331', traceFlags: 0x09, isRemote: false };
    const info = getTraceContext(trace.setSpanContext(ROOT_CONTEXT, spanContext))!;
    const written: Record<string, string> = {};
    new TraceContextPropagator().inject(trace.setSpanContext(ROOT_CONTEXT, spanContext), written, defaultTextMapSetter);
    expect(info.traceparent).toBe(written['traceparent']);
    expect(info).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 0x01, sampled: true });
    expect(parseTraceparent(info.traceparent)).toBeDefined();
  });

  it('returns undefined with no valid span context', () => {
    expect(getTraceContext(ROOT_CONTEXT)).toBeUndefined();
    const invalid = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: '00000000000000000000000000000000',
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.SAMPLED,
    });
    expect(getTraceContext(invalid)).toBeUndefined();
  });
});

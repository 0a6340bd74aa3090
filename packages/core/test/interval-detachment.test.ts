// Repeating timers and the work that started them (DESIGN: "a setInterval started in a request
// keeps that request's context forever; polling loops build endless traces"). With detachment on,
// an interval keeps its work's context while the work is in flight and runs in the root context
// from the first tick after it ended; intervals outside any work are left alone.
import * as timers from 'node:timers';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { context, createContextKey, propagation, ROOT_CONTEXT, trace, type Baggage, type Context } from '@opentelemetry/api';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import {
  diagnosticsSnapshot,
  enableIntervalDetachment,
  ensureContextManager,
  resetDiagnostics,
  runDetached,
  ScopedBaggageContext,
  type IntervalDetachmentHandle,
} from '@ctxprop/core';

const TAG = createContextKey('test.tag');

/** A unit of work as the inbound handler makes one: a scope whose `ended` the test controls. */
class Work {
  baggage: Baggage = propagation.createBaggage({ tenant: { value: 'acme' } });
  readonly context: Context = new ScopedBaggageContext(this, ROOT_CONTEXT.setValue(TAG, 'request'));
  constructor(readonly state: { ended: boolean } = { ended: false }) {}
  get detachIntervals(): boolean {
    return this.state.ended;
  }
}

interface Seen {
  tag: unknown;
  tenant: string | undefined;
  /** What a continuation after `await` inside the tick sees. */
  afterAwait?: unknown;
}

function seeNow(): Seen {
  return { tag: context.active().getValue(TAG), tenant: propagation.getActiveBaggage()?.getEntry('tenant')?.value };
}

/** Runs `fn` for every tick of a 5 ms interval started in `ctx` until `ticks` ticks ran. */
function tickIn(ctx: Context, onTick: (tick: number) => void, ticks: number): Promise<Seen[]> {
  return new Promise((resolve) => {
    const seen: Seen[] = [];
    context.with(ctx, () => {
      const timer = setInterval(() => {
        seen.push(seeNow());
        onTick(seen.length);
        if (seen.length === ticks) {
          clearInterval(timer);
          resolve(seen);
        }
      }, 5);
    });
  });
}

const diagnostic = () => diagnosticsSnapshot()['context.interval_detached'] ?? 0;

let handle: IntervalDetachmentHandle;

beforeAll(() => {
  ensureContextManager();
});

beforeEach(() => {
  resetDiagnostics();
  handle = enableIntervalDetachment();
});

afterEach(() => handle.disable());

describe('enableIntervalDetachment', () => {
  it('keeps the work context while the work is in flight, then runs ticks in the root context', async () => {
    const work = new Work();
    const seen = await tickIn(work.context, (tick) => (work.state.ended = tick === 2), 4);
    expect(seen).toEqual([
      { tag: 'request', tenant: 'acme' },
      { tag: 'request', tenant: 'acme' },
      { tag: undefined, tenant: undefined },
      { tag: undefined, tenant: undefined },
    ]);
    expect(diagnostic()).toBe(1);
  });

  it('detaches from the first tick an interval started after the work ended', async () => {
    const work = new Work();
    work.state.ended = true;
    expect(await tickIn(work.context, () => undefined, 2)).toEqual([
      { tag: undefined, tenant: undefined },
      { tag: undefined, tenant: undefined },
    ]);
  });

  it('reads baggage the work set after the interval started, while in flight (the scope, not a copy)', async () => {
    const work = new Work();
    const seen = await tickIn(
      work.context,
      (tick) => {
        if (tick === 1) work.baggage = propagation.createBaggage({ tenant: { value: 'globex' } });
      },
      2,
    );
    expect(seen.map((s) => s.tenant)).toEqual(['acme', 'globex']);
  });

  it('runs continuations and timers started in a detached tick in the root context too', async () => {
    const work = new Work();
    work.state.ended = true;
    const seen = await new Promise<Seen[]>((resolve) => {
      context.with(work.context, () => {
        const timer = setInterval(async () => {
          clearInterval(timer);
          await new Promise((r) => setImmediate(r));
          const afterAwait = seeNow();
          setTimeout(() => resolve([afterAwait, seeNow()]), 1);
        }, 1);
      });
    });
    expect(seen).toEqual([
      { tag: undefined, tenant: undefined },
      { tag: undefined, tenant: undefined },
    ]);
  });

  it('leaves intervals alone where the work says so (a request whose adapter has detachIntervals: false)', async () => {
    const work = new Work();
    Object.defineProperty(work, 'detachIntervals', { value: undefined });
    const seen = await tickIn(work.context, () => undefined, 2);
    expect(seen.map((s) => s.tag)).toEqual(['request', 'request']);
    expect(diagnostic()).toBe(0);
  });

  it('leaves intervals started outside any work in the context they were started in', async () => {
    const plain = ROOT_CONTEXT.setValue(TAG, 'startup');
    const seen = await tickIn(plain, () => undefined, 2);
    expect(seen.map((s) => s.tag)).toEqual(['startup', 'startup']);
    expect(diagnostic()).toBe(0);
  });

  it('follows an SDK span outside requests: ticks leave its context once the span has ended', async () => {
    const tracer = new BasicTracerProvider().getTracer('test');
    const span = tracer.startSpan('job');
    const ctx = trace.setSpan(ROOT_CONTEXT, span);
    const ids: (string | undefined)[] = [];
    await tickIn(
      ctx,
      (tick) => {
        ids.push(trace.getActiveSpan()?.spanContext().spanId);
        if (tick === 1) span.end();
      },
      3,
    );
    expect(ids).toEqual([span.spanContext().spanId, undefined, undefined]);
  });

  it('keeps what setInterval promises: the Timeout, this, extra arguments, clearInterval, unref', async () => {
    const work = new Work();
    const got = await new Promise<{ self: unknown; args: unknown[]; timer: NodeJS.Timeout }>((resolve) => {
      context.with(work.context, () => {
        const timer: NodeJS.Timeout = setInterval(
          function (this: unknown, ...args: unknown[]) {
            clearInterval(timer);
            resolve({ self: this, args, timer });
          },
          1,
          'a',
          2,
        );
        expect(timer.hasRef()).toBe(true);
        expect(timer.unref()).toBe(timer);
        timer.ref();
      });
    });
    expect(got.self).toBe(got.timer);
    expect(got.args).toEqual(['a', 2]);
    expect(got.timer.constructor.name).toBe('Timeout');
  });

  it('throws what Node throws for a callback that is not a function', () => {
    context.with(new Work().context, () => {
      expect(() => setInterval('tick' as never, 5)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    });
  });

  it("wraps node:timers' setInterval as well as the global one", async () => {
    const work = new Work();
    work.state.ended = true;
    const tag = await new Promise((resolve) => {
      context.with(work.context, () => {
        const timer = timers.setInterval(() => {
          timers.clearInterval(timer);
          resolve(context.active().getValue(TAG));
        }, 1);
      });
    });
    expect(tag).toBeUndefined();
  });

  it('lets the work context go once detached: the interval no longer keeps it alive', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const state = { ended: false };
    let ref!: WeakRef<object>;
    let timer!: NodeJS.Timeout;
    let ticks = 0;
    const onTick = () => {
      ticks += 1;
    };
    // Nothing but the interval refers to the work once this function returns.
    (() => {
      const work = new Work(state);
      ref = new WeakRef(work);
      context.with(work.context, () => {
        timer = setInterval(onTick, 2);
      });
    })();
    const until = async (n: number) => {
      while (ticks < n) await new Promise((r) => setTimeout(r, 2));
    };
    await until(1);
    state.ended = true;
    await until(ticks + 2);
    // deref() keeps its target alive until the current job ends: collect in a later one.
    for (let i = 0; i < 5 && ref.deref() !== undefined; i += 1) {
      await new Promise((r) => setImmediate(r));
      gc();
    }
    clearInterval(timer);
    expect(ref.deref()).toBeUndefined();
  });

  it('counts holds: setInterval gets its original back when the last one is released, not before', () => {
    const wrapped = globalThis.setInterval;
    const timersWrapped = timers.setInterval;
    const second = enableIntervalDetachment();
    handle.disable();
    expect(globalThis.setInterval).toBe(wrapped);
    expect(timers.setInterval).toBe(timersWrapped);
    second.disable();
    second.disable();
    expect(globalThis.setInterval).not.toBe(wrapped);
    expect(timers.setInterval).not.toBe(timersWrapped);
    handle = enableIntervalDetachment();
  });

  it('does nothing once released, even where another wrapper sits on top of it', async () => {
    handle.disable();
    const original = globalThis.setInterval;
    handle = enableIntervalDetachment();
    const ours = globalThis.setInterval;
    const onTop = function (this: unknown, ...args: Parameters<typeof setInterval>) {
      return ours.apply(this, args);
    } as typeof setInterval;
    globalThis.setInterval = onTop;
    try {
      handle.disable();
      expect(globalThis.setInterval).toBe(onTop);
      const work = new Work();
      work.state.ended = true;
      const seen = await tickIn(work.context, () => undefined, 1);
      expect(seen).toEqual([{ tag: 'request', tenant: 'acme' }]);
    } finally {
      globalThis.setInterval = original;
      handle = enableIntervalDetachment();
    }
  });
});

describe('without detachment', () => {
  it('keeps an ended work context in every tick (the AsyncLocalStorage behaviour it corrects)', async () => {
    handle.disable();
    const work = new Work();
    work.state.ended = true;
    const seen = await tickIn(work.context, () => undefined, 2);
    expect(seen.map((s) => s.tag)).toEqual(['request', 'request']);
    handle = enableIntervalDetachment();
  });
});

describe('runDetached', () => {
  it('runs the function in the root context, with its arguments, and returns its result', async () => {
    const work = new Work();
    const result = await context.with(work.context, () =>
      runDetached(async (a: number, b: number) => {
        await new Promise((r) => setTimeout(r, 1));
        return { sum: a + b, ...seeNow() };
      }, 2, 3),
    );
    expect(result).toEqual({ sum: 5, tag: undefined, tenant: undefined });
    // and the caller's context is back after it
    expect(context.with(work.context, () => (runDetached(() => 0), seeNow()))).toEqual({ tag: 'request', tenant: 'acme' });
  });
});

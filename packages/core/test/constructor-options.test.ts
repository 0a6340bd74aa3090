/**
 * Options given to the propagators' constructors and to configureDiagnostics are checked when they
 * are given, like the adapters' (issue #3: "a wrong option throws with a message naming it and the
 * fix"): a misspelt one throws, naming it and the name it is closest to, instead of being ignored.
 */
import { B3Propagator, BaggagePropagator, CompositePropagator, configureDiagnostics, InvalidOptionError, JaegerPropagator, TraceContextPropagator } from '@ctxprop/core';
import { invalidOptionOf } from './invalid-option';

describe.each([
  ['B3Propagator', () => new B3Propagator({ injectEncodng: 'multi' } as never), 'injectEncodng', 'injectEncoding'],
  ['JaegerPropagator', () => new JaegerPropagator({ traceheader: 'x-trace' } as never), 'traceheader', 'traceHeader'],
  ['BaggagePropagator', () => new BaggagePropagator({ limit: { maxMembers: 8 } } as never), 'limit', 'limits'],
  ['BaggagePropagator limits', () => new BaggagePropagator({ limits: { maxMember: 8 } } as never), 'limits.maxMember', 'maxMembers'],
  ['CompositePropagator', () => new CompositePropagator([new TraceContextPropagator()], { name: ['tracecontext'] } as never), 'name', 'names'],
  ['configureDiagnostics', () => configureDiagnostics({ wran: false } as never), 'wran', 'warn'],
])('%s', (_name, make, option, closest) => {
  it(`refuses the misspelt option "${option}", suggesting "${closest}"`, () => {
    expect(make).toThrow(InvalidOptionError);
    expect(make).toThrow(`option "${option}"`);
    expect(make).toThrow(`Did you mean "${closest}"?`);
  });
});

describe('configureDiagnostics', () => {
  afterAll(() => configureDiagnostics({ warn: (message, code) => process.emitWarning(message, { type: 'CtxpropWarning', code }) }));

  it('refuses a warn that is neither a function nor false', () => {
    expect(() => configureDiagnostics({ warn: 'console' as never })).toThrow(/option "warn" must be a function \(message, code\) => void, or false/);
  });

  it.each([['undefined', undefined], ['null', null], ['a function', () => undefined]])('refuses options that are %s with an InvalidOptionError, not a TypeError', (_name, options) => {
    expect(invalidOptionOf(() => configureDiagnostics(options as never)).option).toBe('options');
  });

  it('takes a function or false', () => {
    expect(() => configureDiagnostics({ warn: false })).not.toThrow();
    expect(() => configureDiagnostics({ warn: () => undefined })).not.toThrow();
  });
});

/**
 * Chosen baggage keys as log fields (issue #5): an allowlist, an optional prefix, and the
 * sensitive-data guard of @ctxprop/core, which keeps values that look like secrets or personal
 * data out of the log (W3C Baggage, Privacy and Security Considerations:
 * https://www.w3.org/TR/baggage/#privacy-considerations).
 */
import { context, propagation, ROOT_CONTEXT, trace, type Context } from '@opentelemetry/api';
import { configureDiagnostics, createSensitiveDataGuard, diagnosticsSnapshot, ensureContextManager, resetDiagnostics } from '@ctxprop/core';
import pino from 'pino';
import { createTraceFields, pinoMixin } from '@ctxprop/logging';
import { LineSink } from './support/capture';

ensureContextManager();

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

function withBaggage(entries: Record<string, string>, ctx: Context = ROOT_CONTEXT): Context {
  const baggage = propagation.createBaggage(Object.fromEntries(Object.entries(entries).map(([key, value]) => [key, { value }])));
  return propagation.setBaggage(ctx, baggage);
}

const warnings: string[] = [];
beforeAll(() => configureDiagnostics({ warn: (message) => warnings.push(message) }));
beforeEach(() => {
  resetDiagnostics();
  warnings.length = 0;
});

describe('baggageKeys', () => {
  it('writes only the allowlisted keys the baggage has', () => {
    const fields = createTraceFields({ baggageKeys: ['customer.tier', 'tenant', 'absent'] });
    expect(fields(withBaggage({ 'customer.tier': 'gold', tenant: 'acme', 'user.id': 'u-1' }))).toEqual({ 'customer.tier': 'gold', tenant: 'acme' });
  });

  it('takes a key listed twice once', () => {
    const fields = createTraceFields({ baggageKeys: ['tenant', 'customer.tier', 'tenant'] });
    expect(fields(withBaggage({ 'customer.tier': 'gold', tenant: 'acme' }))).toEqual({ tenant: 'acme', 'customer.tier': 'gold' });
  });

  it('puts the prefix before each field name', () => {
    const fields = createTraceFields({ baggageKeys: ['customer.tier'], baggagePrefix: 'baggage.' });
    expect(fields(withBaggage({ 'customer.tier': 'gold' }))).toEqual({ 'baggage.customer.tier': 'gold' });
  });

  it('writes them beside the trace fields', () => {
    const traced = trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1, isRemote: true });
    const fields = createTraceFields({ preset: 'ecs', baggageKeys: ['customer.tier'] });
    expect(fields(withBaggage({ 'customer.tier': 'gold' }, traced))).toEqual({ 'trace.id': TRACE_ID, 'span.id': SPAN_ID, 'customer.tier': 'gold' });
  });

  it('writes nothing when there is no baggage', () => {
    expect(createTraceFields({ baggageKeys: ['customer.tier'] })(ROOT_CONTEXT)).toEqual({});
  });
});

describe('the sensitive-data guard', () => {
  it.each([
    ['a credential key', 'session.token', 'abc123'],
    ['an e-mail value', 'contact', 'ana@example.com'],
    ['a bearer token value', 'auth.scheme', 'Bearer abcdefghijkl'],
    ['a payment card number value', 'card', '4111 1111 1111 1111'],
  ])('keeps %s out of the log, counts it and warns once', (_name, key, value) => {
    const fields = createTraceFields({ baggageKeys: [key, 'tenant'] });
    const ctx = withBaggage({ [key]: value, tenant: 'acme' });
    expect(fields(ctx)).toEqual({ tenant: 'acme' });
    expect(fields(withBaggage({ [key]: value }))).toEqual({});
    expect(diagnosticsSnapshot()['baggage.sensitive.refused']).toBe(2);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`"${key}"`);
    expect(warnings[0]).not.toContain(value);
  });

  it('judges each baggage once: further lines under the same baggage reuse the verdict', () => {
    let calls = 0;
    const fields = createTraceFields({ baggageKeys: ['tenant'], sensitiveDataGuard: () => (calls++, undefined) });
    const ctx = withBaggage({ tenant: 'acme' });
    for (let i = 0; i < 5; i++) expect(fields(ctx)).toEqual({ tenant: 'acme' });
    expect(calls).toBe(1);
  });

  it('can be replaced, for example by createSensitiveDataGuard() with allowKeys', () => {
    const fields = createTraceFields({ baggageKeys: ['session.region'], sensitiveDataGuard: createSensitiveDataGuard({ allowKeys: ['session.region'] }) });
    expect(fields(withBaggage({ 'session.region': 'eu' }))).toEqual({ 'session.region': 'eu' });
  });

  it('refuses the value when the guard throws, and the log call goes on', () => {
    const fields = createTraceFields({
      baggageKeys: ['tenant'],
      sensitiveDataGuard: () => {
        throw new Error('boom');
      },
    });
    expect(fields(withBaggage({ tenant: 'acme' }))).toEqual({});
  });

  it('applies on real pino lines', () => {
    const sink = new LineSink();
    const logger = pino({ mixin: pinoMixin({ baggageKeys: ['customer.tier', 'user.email'] }) }, sink);
    const ctx = withBaggage({ 'customer.tier': 'gold', 'user.email': 'ana@example.com' });
    context.with(ctx, () => logger.info('order'));
    const record = sink.records()[0]!;
    expect(record['customer.tier']).toBe('gold');
    expect(record).not.toHaveProperty(['user.email']);
  });
});

import { context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import {
  createSensitiveDataGuard,
  type CtxpropError,
  diagnosticsSnapshot,
  isCtxpropError,
  ensureContextManager,
  getActiveBaggage,
  resetDiagnostics,
  setBaggage,
  withBaggage,
} from '@ctxprop/core';

const keysOf = (ctx: ReturnType<typeof setBaggage>) => (propagation.getBaggage(ctx)?.getAllEntries() ?? []).map(([key]) => key);

beforeEach(() => resetDiagnostics());

describe('setBaggage() refuses entries that look like secrets or personal data when they are set', () => {
  it.each([
    ['a credential key', 'auth.token', 'x1'],
    ['a password key', 'db_password', 'hunter2'],
    ['an e-mail address value', 'user', 'jane.doe@example.com'],
    ['a bearer token value', 'forward', 'Bearer abc.def'],
    ['a JWT value', 'claims', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl'],
    ['a payment card number value', 'card', '4111 1111 1111 1111'],
  ])('refuses %s and keeps the other entries', (_kind, key, value) => {
    const ctx = setBaggage(ROOT_CONTEXT, { tenant: 'acme', [key]: value });
    expect(keysOf(ctx)).toEqual(['tenant']);
    expect(diagnosticsSnapshot()['baggage.sensitive.refused']).toBe(1);
  });

  it('takes a configured guard, so a false alarm can be allowed by key', () => {
    const sensitiveDataGuard = createSensitiveDataGuard({ allowKeys: ['session.region'] });
    const ctx = setBaggage(ROOT_CONTEXT, { 'session.region': 'eu', 'session.id': 's-1' }, { sensitiveDataGuard });
    expect(keysOf(ctx)).toEqual(['session.region']);
  });

  it('sets everything when the check is turned off', () => {
    const ctx = setBaggage(ROOT_CONTEXT, { 'auth.token': 'x1' }, { sensitiveDataGuard: false });
    expect(keysOf(ctx)).toEqual(['auth.token']);
    expect(diagnosticsSnapshot()['baggage.sensitive.refused']).toBeUndefined();
  });

  it('applies to withBaggage() too', () => {
    ensureContextManager();
    const seen = withBaggage({ tier: 'gold', password: 'p' }, () => getActiveBaggage().toJSON());
    expect(seen).toEqual({ tier: 'gold' });
    context.disable();
  });
});

describe('setBaggage() given what is not a context, entries or options', () => {
  it.each([null, undefined, 'ctx', {}])('throws a CtxpropError naming the argument for a context of %p', (ctx) => {
    const error = (() => {
      try {
        setBaggage(ctx as never, { tenant: 'acme' });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(isCtxpropError(error)).toBe(true);
    expect((error as CtxpropError).code).toBe('CTXPROP_INVALID_ARGUMENT');
    expect((error as Error).message).toMatch(/^ctxprop: setBaggage\(\) takes a Context as its first argument/);
  });

  it('takes null options as none, and returns the context unchanged for entries that are not an object', () => {
    expect(propagation.getBaggage(setBaggage(ROOT_CONTEXT, { tenant: 'acme' }, null as never))?.getEntry('tenant')?.value).toBe('acme');
    expect(setBaggage(ROOT_CONTEXT, null as never)).toBe(ROOT_CONTEXT);
  });
});

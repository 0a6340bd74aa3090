import { context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import {
  createSensitiveDataGuard,
  diagnosticsSnapshot,
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

import fc from 'fast-check';
import { InvalidOptionError } from '@ctxprop/core';
import { createSensitiveDataGuard, defaultSensitiveDataGuard } from '../src/policy/sensitive-data';

describe('defaultSensitiveDataGuard', () => {
  it.each([
    ['authorization', 'authorization'],
    ['Authorization', 'authorization'],
    ['user.token', 'token'],
    ['refresh_token', 'token'],
    ['db.password', 'password'],
    ['passwd', 'password'],
    ['client_secret', 'secret'],
    ['api_key', 'api key'],
    ['X-API-Key', 'api key'],
    ['apikey', 'api key'],
    ['cookie', 'cookie'],
    ['session.id', 'session'],
    ['JSESSIONID', 'session'],
  ])('refuses the key %j as a credential (%s)', (key, label) => {
    expect(defaultSensitiveDataGuard(key, 'x')).toBe(`key looks like a credential: ${label}`);
  });

  it.each([
    // Addresses in the reserved example domains of RFC 2606.
    ['jdoe@example.com', 'value looks like an e-mail address'],
    [' first.last+tag@mail.example.org ', 'value looks like an e-mail address'],
    // RFC 7519 §3.1 (JWS) and §6.1 (unsecured JWT, empty signature).
    [
      'eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk',
      'value looks like a JSON Web Token',
    ],
    [
      'eyJhbGciOiJub25lIn0.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.',
      'value looks like a JSON Web Token',
    ],
    // RFC 6750 §2.1 and RFC 7617 §2.
    ['Bearer mF_9.B5f-4.1JqM', 'value looks like a bearer token'],
    ['bearer   abc123', 'value looks like a bearer token'],
    ['Basic dGVzdDoxMjPCow==', 'value looks like basic-auth credentials'],
    // Test card numbers published by card networks' processors (Luhn-valid).
    ['4242424242424242', 'value looks like a payment card number'],
    ['4242 4242 4242 4242', 'value looks like a payment card number'],
    ['5555-5555-5555-4444', 'value looks like a payment card number'],
    ['378282246310005', 'value looks like a payment card number'],
    ['30569309025904', 'value looks like a payment card number'],
    ['6011111111111117', 'value looks like a payment card number'],
  ])('refuses the value %j', (value, reason) => {
    expect(defaultSensitiveDataGuard('note', value)).toBe(reason);
  });

  it.each([
    'acme',
    'gold',
    'user@host',
    '@example.com',
    'jdoe@',
    'a@b.c',
    'eyJhbGciOiJub25lIn0',
    'eyJ.eyJ.x',
    'Bearer',
    'Bearer ',
    'Bearers of news',
    '4242424242424241',
    '424242424242',
    '4242  4242 4242 4242',
    '-4242424242424242',
    '12345678901234567890123',
    '2024-05-01',
    '00000000-0000-4000-8000-000000000000',
  ])('lets the value %j go', (value) => {
    expect(defaultSensitiveDataGuard('note', value)).toBeUndefined();
  });

  it('lets ordinary keys go', () => {
    for (const key of ['tenant.id', 'customer.tier', 'region', 'feature.flags', 'synthetic']) {
      expect(defaultSensitiveDataGuard(key, 'value')).toBeUndefined();
    }
  });

  it('never throws and stays linear on long hostile values', () => {
    fc.assert(fc.property(fc.string(), fc.string({ maxLength: 500 }), (key, value) => {
      const reason = defaultSensitiveDataGuard(key, value);
      expect(reason === undefined || typeof reason === 'string').toBe(true);
    }));
    const hostile = ['a@'.repeat(50_000), 'eyJ' + 'a.'.repeat(50_000), '4 '.repeat(50_000), 'x'.repeat(100_000) + '@'];
    const started = process.hrtime.bigint();
    for (const value of hostile) defaultSensitiveDataGuard('note', value);
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(200);
  });
});

describe('createSensitiveDataGuard()', () => {
  it('never refuses keys listed in allowKeys, compared exactly', () => {
    const guard = createSensitiveDataGuard({ allowKeys: ['session.region'] });
    expect(guard('session.region', 'eu-west-1')).toBeUndefined();
    expect(guard('Session.Region', 'eu-west-1')).toBe('key looks like a credential: session');
  });

  it('adds keyPatterns (substrings without regard to case, and RegExps) to the built-in ones', () => {
    const guard = createSensitiveDataGuard({ keyPatterns: ['SSN', /^user\.(email|phone)$/] });
    expect(guard('customer.ssn', '1')).toBe('key matches keyPatterns: ssn');
    expect(guard('user.phone', '1')).toBe('key matches keyPatterns: /^user\\.(email|phone)$/');
    expect(guard('user.token', '1')).toBe('key looks like a credential: token');
    expect(guard('user.name', '1')).toBeUndefined();
  });

  it('adds a valueCheck after the built-in checks, and refuses when it throws', () => {
    const guard = createSensitiveDataGuard({
      valueCheck: (value) => (value.startsWith('sk_live_') ? 'value looks like a Stripe key' : undefined),
    });
    expect(guard('note', 'sk_live_123')).toBe('value looks like a Stripe key');
    expect(guard('note', 'jdoe@example.com')).toBe('value looks like an e-mail address');
    const throwing = createSensitiveDataGuard({ valueCheck: () => { throw new Error('boom'); } });
    expect(throwing('note', 'x')).toBe('valueCheck threw');
  });

  it('lets everything go when enabled is false', () => {
    const guard = createSensitiveDataGuard({ enabled: false });
    expect(guard('authorization', 'Bearer x')).toBeUndefined();
  });

  it.each([
    [{ enabled: 'yes' }, 'sensitiveData.enabled'],
    [{ allowKeys: 'a' }, 'sensitiveData.allowKeys'],
    [{ allowKeys: [''] }, 'sensitiveData.allowKeys'],
    [{ keyPatterns: [1] }, 'sensitiveData.keyPatterns'],
    [{ valueCheck: 'x' }, 'sensitiveData.valueCheck'],
  ])('throws InvalidOptionError for %j naming %s', (options, option) => {
    expect(() => createSensitiveDataGuard(options as never)).toThrow(InvalidOptionError);
    expect(() => createSensitiveDataGuard(options as never)).toThrow(`option "${option}"`);
  });

  it.each([
    [{ allowkeys: ['contact'] }, 'sensitiveData.allowkeys', 'Did you mean "allowKeys"?'],
    [{ enable: false }, 'sensitiveData.enable', 'Did you mean "enabled"?'],
    [{ keyPattern: ['ssn'] }, 'sensitiveData.keyPattern', 'Did you mean "keyPatterns"?'],
    [{ redact: true }, 'sensitiveData.redact', 'Remove it'],
    [['contact'], 'sensitiveData', 'allowKeys'],
  ])('refuses %j, naming %s and the fix', (options, option, fix) => {
    expect(() => createSensitiveDataGuard(options as never)).toThrow(InvalidOptionError);
    expect(() => createSensitiveDataGuard(options as never)).toThrow(`option "${option}"`);
    expect(() => createSensitiveDataGuard(options as never)).toThrow(fix);
  });

  it('names the options by the path it is given', () => {
    expect(() => createSensitiveDataGuard({ allowkeys: [] } as never, 'logging.sensitiveData')).toThrow(
      'option "logging.sensitiveData.allowkeys"',
    );
  });
});

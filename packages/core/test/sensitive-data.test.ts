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

  // Values reach the guard decoded (baggage, url.query), but an undecodable query value is
  // checked as received, so a percent-encoded `@` (`%40`) counts as one.
  it.each([
    ['Alice <alice@example.com>'],
    ['alice@example.com,bob@example.com'],
    ['user: alice@example.com'],
    ['mailto:alice@example.com'],
    ['contact alice@example.com today'],
    ['write to alice@example.com.'],
    ['(alice@example.com)'],
    ['"Alice" <alice.smith+news@mail.example.co.uk>'],
    ['tenant@v2 then jdoe@example.com'],
    ['@jdoe@social.example'],
    ['ana@163.com'],
    ['ana@例え.jp'],
    ['ana@example.xn--p1ai'],
    ['alice%40example.com'],
    ['Alice%20%3Calice%40example.com%3E'],
    ['alice%40example.com%2Cbob%40example.com%ZZ'],
  ])('refuses the value %j, which holds an e-mail address', (value) => {
    expect(defaultSensitiveDataGuard('note', value)).toBe('value looks like an e-mail address');
  });

  it.each([
    // An address needs a local part, then a domain of two or more labels ending in a top-level
    // domain of two or more characters that starts with a letter.
    'tenant@v2',
    'a@b',
    'user@localhost',
    'a @example.com',
    'alice@.example.com',
    'alice@example..com',
    'alice@example.c',
    'alice@example.2024',
    '%40example.com',
    // Package specifiers and versions: a domain that starts with two numeric labels is a version
    // (or an IPv4 address).
    '@scope/package',
    '@types/node@20.11.5',
    'react@18.2.0',
    'pkg@1.2.3-beta.rc',
    'npm:@scope/pkg@^1.2.0',
    'root@10.0.0.1',
    // CSS at-rules and image density suffixes.
    '@media (min-width: 600px)',
    '@import url(theme.css)',
    'logo@2x.png',
    'icon@1.5x.webp',
  ])('lets the value %j go (not an e-mail address)', (value) => {
    expect(defaultSensitiveDataGuard('note', value)).toBeUndefined();
  });

  it.each([
    // RFC 7516 §7.1 compact serialization: header.encryptedKey.iv.ciphertext.tag.
    'eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKo.48V1_ALb6US04U3b.5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6jiSdiwkIr3ajwQzaBtQD_A.XFBoMYUZodetZdvTiFvSkQ',
    // `alg: dir` (RFC 7518 §4.5): the encrypted key is empty.
    'eyJhbGciOiJkaXIiLCJlbmMiOiJBMTI4R0NNIn0..48V1_ALb6US04U3b.5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4.XFBoMYUZodetZdvTiFvSkQ',
  ])('refuses the encrypted JWT (JWE) %j', (value) => {
    expect(defaultSensitiveDataGuard('note', value)).toBe('value looks like a JSON Web Token');
  });

  it.each([
    'eyJhbGciOiJkaXIifQ.eyJzdWIiOiIxIn0.c2ln.ZXh0cmE',
    'eyJhbGciOiJkaXIifQ.eyJzdWIiOiIxIn0.c2ln.ZXh0cmE.YQ.Yg',
    'eyJ....',
    'eyJ.a.b.c.d',
    'abcdefgh.a.b.c.d',
    'eyJhbGciOiJkaXIifQ..a b.c.d',
  ])('lets the value %j go (not a JWS or JWE)', (value) => {
    expect(defaultSensitiveDataGuard('note', value)).toBeUndefined();
  });

  it('lets ordinary keys go', () => {
    for (const key of ['tenant.id', 'customer.tier', 'region', 'feature.flags', 'synthetic']) {
      expect(defaultSensitiveDataGuard(key, 'value')).toBeUndefined();
    }
  });

  it('never throws on any key or value', () => {
    fc.assert(fc.property(fc.string(), fc.string({ maxLength: 500 }), (key, value) => {
      const reason = defaultSensitiveDataGuard(key, value);
      expect(reason === undefined || typeof reason === 'string').toBe(true);
    }));
  });

  // The checks are single forward scans (no regular expressions, no backtracking), so these
  // values, larger than any baggage value may be, are judged in linear time; the test asserts
  // the verdicts only, never a duration.
  it.each([
    ['a@ repeated', 'a@'.repeat(50_000), undefined],
    ['a long run ending with @', 'x'.repeat(100_000) + '@', undefined],
    ['a long run of %40', 'a%40'.repeat(25_000), undefined],
    ['a long undotted domain', 'a@' + 'b'.repeat(100_000), undefined],
    ['a long dotted run without a TLD', 'a@' + 'b.1'.repeat(30_000), undefined],
    ['dots after eyJ', 'eyJ' + 'a.'.repeat(50_000), undefined],
    ['spaced digits', '4 '.repeat(50_000), undefined],
    ['a@ repeated, then an address', 'a@'.repeat(50_000) + ' jdoe@example.com', 'value looks like an e-mail address'],
    ['a long local part', 'x'.repeat(100_000) + '@example.com', 'value looks like an e-mail address'],
  ])('judges a hostile value (%s) by one scan', (_name, value, reason) => {
    expect(defaultSensitiveDataGuard('note', value)).toBe(reason);
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

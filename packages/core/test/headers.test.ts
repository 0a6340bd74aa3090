import { headerGetter, readHeader, writeHeader } from '@ctxprop/core';

describe('readHeader()', () => {
  it.each([
    ['Node IncomingHttpHeaders', { traceparent: 'x' }],
    ['a plain object in mixed case (opentelemetry-js #3150)', { TraceParent: 'x' }],
    ['fetch Headers', new Headers({ TRACEPARENT: 'x' })],
    ['a Map in upper case', new Map([['TRACEPARENT', 'x']])],
    ['a Buffer value (Kafka, AMQP)', { traceparent: Buffer.from('x') }],
    ['a Uint8Array value', { Traceparent: new TextEncoder().encode('x') }],
  ])('reads a header from %s without regard to case', (_name, carrier) => {
    expect(readHeader(carrier, 'traceparent')).toBe('x');
  });

  it('returns every value when the carrier holds an array', () => {
    expect(readHeader({ baggage: ['a=1', Buffer.from('b=2')] }, 'baggage')).toEqual(['a=1', 'b=2']);
  });

  it('returns undefined for a missing header and for carriers that are not objects', () => {
    expect(readHeader({ other: 'x' }, 'traceparent')).toBeUndefined();
    expect(readHeader(null, 'traceparent')).toBeUndefined();
    expect(readHeader('traceparent', 'traceparent')).toBeUndefined();
  });

  it('reads a hostile carrier whose getters throw as no header', () => {
    const carrier = new Proxy({}, { get: () => { throw new Error('boom'); }, ownKeys: () => { throw new Error('boom'); } });
    expect(readHeader(carrier, 'traceparent')).toBeUndefined();
    expect(headerGetter.keys(carrier)).toEqual([]);
  });
});

describe('writeHeader()', () => {
  it('replaces a header of the same name in another case instead of adding a second one', () => {
    const headers: Record<string, string> = { TraceParent: 'old', other: 'kept' };
    writeHeader(headers, 'traceparent', 'new');
    expect(headers).toEqual({ traceparent: 'new', other: 'kept' });
  });

  it('writes to fetch Headers and Maps', () => {
    const headers = new Headers({ Traceparent: 'old' });
    writeHeader(headers, 'traceparent', 'new');
    expect(headers.get('traceparent')).toBe('new');
    const map = new Map([['Traceparent', 'old']]);
    writeHeader(map, 'traceparent', 'new');
    expect([...map]).toEqual([['traceparent', 'new']]);
  });
});

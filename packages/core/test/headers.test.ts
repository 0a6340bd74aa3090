import { headerGetter, headerKeys, lowercaseHeaderGetter, readHeader, writeHeader } from '@ctxprop/core';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { Headers as UndiciHeaders } from 'undici';

describe('readHeader()', () => {
  it.each([
    ['Node IncomingHttpHeaders', { traceparent: 'x' }],
    ['a plain object in mixed case (opentelemetry-js #3150)', { TraceParent: 'x' }],
    ['fetch Headers', new Headers({ TRACEPARENT: 'x' })],
    ["npm undici's Headers (another class than the global one)", new UndiciHeaders({ TRACEPARENT: 'x' })],
    ['a Map in upper case', new Map([['TRACEPARENT', 'x']])],
    ['a Buffer value (Kafka, AMQP)', { traceparent: Buffer.from('x') }],
    ['a Uint8Array value', { Traceparent: new TextEncoder().encode('x') }],
  ])('reads a header from %s without regard to case', (_name, carrier) => {
    expect(readHeader(carrier, 'traceparent')).toBe('x');
  });

  it('returns every value when the carrier holds an array', () => {
    expect(readHeader({ baggage: ['a=1', Buffer.from('b=2')] }, 'baggage')).toEqual(['a=1', 'b=2']);
  });

  it('returns every line of a header held under several spellings of its name (plain objects and Maps)', () => {
    expect(readHeader({ baggage: 'a=1', Baggage: ['b=2', 'c=3'], BAGGAGE: Buffer.from('d=4') }, 'baggage')).toEqual(['a=1', 'b=2', 'c=3', 'd=4']);
    expect(readHeader({ Baggage: 'a=1', baggage: 'b=2' }, 'Baggage')).toEqual(['a=1', 'b=2']);
    expect(readHeader(new Map([['baggage', 'a=1'], ['Baggage', 'b=2']]), 'baggage')).toEqual(['a=1', 'b=2']);
    expect(headerGetter.get({ traceparent: 'x', TraceParent: 'y' }, 'traceparent')).toEqual(['x', 'y']);
  });

  it('reads headers it cannot list: a getter of a class, a non-enumerable property, a Proxy with only a get trap', () => {
    class Carrier {
      get traceparent(): string {
        return 'x';
      }
    }
    const hidden = Object.defineProperty({}, 'traceparent', { value: 'x', enumerable: false });
    const proxy = new Proxy({}, { get: (_target, key) => (key === 'traceparent' ? 'x' : undefined) });
    for (const carrier of [new Carrier(), hidden, proxy]) expect(readHeader(carrier, 'traceparent')).toBe('x');
  });

  it('returns undefined for a missing header and for carriers that are not objects', () => {
    expect(readHeader({ other: 'x' }, 'traceparent')).toBeUndefined();
    expect(readHeader(null, 'traceparent')).toBeUndefined();
    expect(readHeader('traceparent', 'traceparent')).toBeUndefined();
  });

  it("lists the names of npm undici's Headers", () => {
    expect(headerKeys(new UndiciHeaders({ Baggage: 'a=1', TraceParent: 'x' }))).toEqual(['baggage', 'traceparent']);
  });

  it("reads an object that only claims to be Headers (its tag, no get method) as a plain object", () => {
    expect(readHeader({ [Symbol.toStringTag]: 'Headers', traceparent: 'x' }, 'traceparent')).toBe('x');
  });

  it("does not make Node load its bundled undici (the global Headers) to read a plain carrier", () => {
    // Node 20 defines the global Headers as a lazy getter that loads undici (about 2 MB of heap)
    // on first read; a server that never calls fetch should not pay for it. A fresh process, so
    // that nothing else in this test run has read the global first. (Later Node versions define
    // it differently; there the descriptor must simply be left as it was.)
    // The module's own source, compiled here (it imports types only), run in a fresh process.
    const source = readFileSync(join(__dirname, '..', 'src', 'carrier', 'headers.ts'), 'utf8');
    const compiled = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
    const script = `
      const lazy = () => typeof Object.getOwnPropertyDescriptor(globalThis, 'Headers').get;
      const before = lazy();
      const module = { exports: {} }; const exports = module.exports;
      ${compiled}
      const carrier = { traceparent: 'x' };
      exports.readHeader(carrier, 'traceparent'); exports.headerKeys(carrier); exports.writeHeader(carrier, 'baggage', 'a=1');
      exports.readHeader(new Map([['traceparent', 'x']]), 'traceparent');
      process.stdout.write(JSON.stringify({ before, after: lazy() }));`;
    const { before, after } = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as { before: string; after: string };
    if (process.versions.node.startsWith('20.')) expect(before).toBe('function');
    expect(after).toBe(before);
  });

  it('reads a hostile carrier whose getters throw as no header', () => {
    const carrier = new Proxy({}, { get: () => { throw new Error('boom'); }, ownKeys: () => { throw new Error('boom'); } });
    expect(readHeader(carrier, 'traceparent')).toBeUndefined();
    expect(headerGetter.keys(carrier)).toEqual([]);
  });
});

describe('lowercaseHeaderGetter (Node IncomingHttpHeaders)', () => {
  /** A carrier that records whether anything listed or walked its keys. */
  function watched(headers: Record<string, unknown>): { carrier: object; enumerations: () => number } {
    let count = 0;
    const carrier = new Proxy(headers, {
      ownKeys(target) {
        count++;
        return Reflect.ownKeys(target);
      },
    });
    return { carrier, enumerations: () => count };
  }

  it('reads a present header as the case-insensitive getter does', () => {
    const headers = { traceparent: 'x', baggage: ['a=1', Buffer.from('b=2')] };
    expect(lowercaseHeaderGetter.get(headers, 'traceparent')).toBe('x');
    expect(lowercaseHeaderGetter.get(headers, 'baggage')).toEqual(headerGetter.get(headers, 'baggage'));
  });

  it('answers an absent header with one lookup, without walking the header names', () => {
    // The case-insensitive getter walks every name looking for another spelling: the cost of each
    // absent header (tracestate, and every format's header on a request with no trace context).
    const { carrier, enumerations } = watched({ host: 'a', 'user-agent': 'b', traceparent: 'x' });
    expect(lowercaseHeaderGetter.get(carrier, 'tracestate')).toBeUndefined();
    expect(enumerations()).toBe(0);
    expect(headerGetter.get(carrier, 'tracestate')).toBeUndefined();
    expect(enumerations()).toBeGreaterThan(0);
  });

  it('still finds the lowercase header of a name asked for in capitals (a custom propagator)', () => {
    expect(lowercaseHeaderGetter.get({ 'x-custom-trace': 'x' }, 'X-Custom-Trace')).toBe('x');
  });

  it('reads a header held under exactly the name asked for, and lowers the name only when that misses', () => {
    const reads: PropertyKey[] = [];
    const carrier = new Proxy({ 'X-Custom-Trace': 'exact', 'x-other': 'lowered' } as Record<string, string>, {
      get(target, key) {
        reads.push(key);
        return target[key as string];
      },
    });
    expect(lowercaseHeaderGetter.get(carrier, 'X-Custom-Trace')).toBe('exact');
    expect(reads).toEqual(['X-Custom-Trace']);
    reads.length = 0;
    expect(lowercaseHeaderGetter.get(carrier, 'X-Other')).toBe('lowered');
    expect(reads).toEqual(['X-Other', 'x-other']);
  });

  it('lists keys, and reads nothing from carriers that are not objects', () => {
    expect(lowercaseHeaderGetter.keys({ traceparent: 'x', baggage: 'a=1' })).toEqual(['traceparent', 'baggage']);
    expect(lowercaseHeaderGetter.get(null, 'traceparent')).toBeUndefined();
    expect(lowercaseHeaderGetter.get(undefined, 'traceparent')).toBeUndefined();
  });

  it('reads a hostile carrier whose getters throw as no header', () => {
    const carrier = new Proxy({}, { get: () => { throw new Error('boom'); } });
    expect(lowercaseHeaderGetter.get(carrier, 'traceparent')).toBeUndefined();
  });
});

describe('writeHeader()', () => {
  it('replaces a header of the same name in another case instead of adding a second one', () => {
    const headers: Record<string, string> = { TraceParent: 'old', other: 'kept' };
    writeHeader(headers, 'traceparent', 'new');
    expect(headers).toEqual({ traceparent: 'new', other: 'kept' });
  });

  it("writes to fetch Headers, npm undici's Headers and Maps", () => {
    const headers = new Headers({ Traceparent: 'old' });
    writeHeader(headers, 'traceparent', 'new');
    expect(headers.get('traceparent')).toBe('new');
    const undiciHeaders = new UndiciHeaders({ Traceparent: 'old' });
    writeHeader(undiciHeaders, 'traceparent', 'new');
    expect([...undiciHeaders]).toEqual([['traceparent', 'new']]);
    const map = new Map([['Traceparent', 'old']]);
    writeHeader(map, 'traceparent', 'new');
    expect([...map]).toEqual([['traceparent', 'new']]);
  });
});

/**
 * Two copies of ctxprop in one process (the ESM and the CJS build of @ctxprop/core and
 * @ctxprop/express, from dist: `node scripts/build.mjs`, which `npm test` runs first) share one
 * context: a request served by either copy's adapter is recognised by the other's process-wide
 * hooks, the setInterval wrapper and the wrapped Express Layer methods, whichever copy installed
 * them. Each case runs fixtures/two-copies.mjs in a child process, against real servers.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const packages = resolve(__dirname, '../..');
const built = ['core', 'express'].every((name) => existsSync(join(packages, name, 'dist/cjs/index.js')) && existsSync(join(packages, name, 'dist/esm/index.js')));
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

const EXPRESS_VERSIONS: [string, string][] = [
  ['Express 5', require.resolve('express')],
  ['Express 4', require.resolve('express4')],
];

async function twoCopies(scenario: 'intervals' | 'restore', first: 'esm' | 'cjs', expressModule: string): Promise<unknown> {
  const { stdout } = await run(process.execPath, [join(__dirname, 'fixtures/two-copies.mjs'), scenario, first], {
    env: { ...process.env, EXPRESS_MODULE: expressModule },
    timeout: 20_000,
  });
  return JSON.parse(stdout);
}

beforeAll(() => {
  if (!built) throw new Error('packages/core or packages/express dist is missing: run `node scripts/build.mjs` (npm test does it first)');
});

describe.each(EXPRESS_VERSIONS)('%s: the ESM and the CJS copy in one process', (_name, expressModule) => {
  it.each([
    ['the ESM core', 'the CJS adapter', 'esm'],
    ['the CJS core', 'the ESM adapter', 'cjs'],
  ] as const)('detaches an interval after the response when %s turned detachment on first and %s served the request', async (_core, _adapter, first) => {
    const { ticks, detached } = (await twoCopies('intervals', first, expressModule)) as { ticks: object[]; detached: number };
    expect(ticks).toEqual([
      { afterResponse: false, k: 'polled', traceId: TRACE_ID },
      { afterResponse: false, k: 'polled', traceId: TRACE_ID },
      { afterResponse: true, k: null, traceId: null },
      { afterResponse: true, k: null, traceId: null },
    ]);
    expect(detached).toBe(1);
  });

  it.each([
    ['the ESM', 'esm'],
    ['the CJS', 'cjs'],
  ] as const)(
    "puts each app's request context back after a middleware calls next() from the root context, when %s copy wrapped the Layer methods",
    async (_copy, first) => {
      const results = await twoCopies('restore', first, expressModule);
      const expected = (name: string) => ({
        reqBaggage: name,
        active: name,
        traceId: TRACE_ID,
        downstream: { traceparent: TRACEPARENT, baggage: `k=${name}` },
      });
      expect(results).toEqual({ esm: expected('esm'), cjs: expected('cjs') });
    },
  );
});

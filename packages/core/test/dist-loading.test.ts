/**
 * The built package (dist/esm and dist/cjs, made by `node scripts/build.mjs`, which `npm test`
 * runs first) loads from CommonJS, from ESM and type-checks in a TypeScript consumer; two copies
 * loaded in one process (the ESM and the CJS build) share one context runtime and one set of
 * diagnostics counters.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '../../..');
const corePackage = resolve(__dirname, '..');
const built = existsSync(join(corePackage, 'dist/cjs/index.js')) && existsSync(join(corePackage, 'dist/esm/index.js'));

let consumer: string;

beforeAll(() => {
  if (!built) throw new Error('packages/core/dist is missing: run `node scripts/build.mjs` (npm test does it first)');
  consumer = mkdtempSync(join(tmpdir(), 'ctxprop-consumer-'));
  mkdirSync(join(consumer, 'node_modules', '@ctxprop'), { recursive: true });
  mkdirSync(join(consumer, 'node_modules', '@opentelemetry'), { recursive: true });
  symlinkSync(corePackage, join(consumer, 'node_modules', '@ctxprop', 'core'));
  symlinkSync(join(root, 'node_modules', '@opentelemetry', 'api'), join(consumer, 'node_modules', '@opentelemetry', 'api'));
  // A TypeScript service on Node.js has @types/node; our declarations refer to node:events.
  mkdirSync(join(consumer, 'node_modules', '@types'), { recursive: true });
  symlinkSync(join(root, 'node_modules', '@types', 'node'), join(consumer, 'node_modules', '@types', 'node'));
});

afterAll(() => {
  if (consumer) rmSync(consumer, { recursive: true, force: true });
});

function node(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: consumer, encoding: 'utf8' }).trim();
}

describe('the built @ctxprop/core', () => {
  it('loads with require() from a CommonJS consumer', () => {
    writeFileSync(join(consumer, 'cjs.cjs'), "const core = require('@ctxprop/core'); console.log(typeof core.ensureContextManager, typeof core.readHeader);");
    expect(node(['cjs.cjs'])).toBe('function function');
  });

  it('loads with import from an ESM consumer', () => {
    writeFileSync(join(consumer, 'esm.mjs'), "import { ensureContextManager, readHeader } from '@ctxprop/core'; console.log(typeof ensureContextManager, typeof readHeader);");
    expect(node(['esm.mjs'])).toBe('function function');
  });

  it('shares one context runtime and one diagnostics state between its ESM and CJS copies', () => {
    writeFileSync(
      join(consumer, 'both.mjs'),
      [
        "import { createRequire } from 'node:module';",
        "import * as esm from '@ctxprop/core';",
        "import { context, createContextKey, ROOT_CONTEXT } from '@opentelemetry/api';",
        'const cjs = createRequire(import.meta.url)("@ctxprop/core");',
        'if (esm.ensureContextManager === cjs.ensureContextManager) throw new Error("expected two copies");',
        'esm.ensureContextManager();',
        "const key = createContextKey('k');",
        "const seen = context.with(ROOT_CONTEXT.setValue(key, 'v'), () => context.active().getValue(key));",
        'cjs.ensureContextManager();',
        "esm.countDiagnostic('test.shared', 2);",
        "cjs.countDiagnostic('test.shared', 3);",
        "console.log(seen, cjs.diagnosticsSnapshot()['test.shared'], esm.diagnosticsSnapshot()['test.shared']);",
      ].join('\n'),
    );
    expect(node(['both.mjs'])).toBe('v 5 5');
  });

  it("detaches intervals started with ESM's `import { setInterval } from 'node:timers'`; two copies wrap it once", () => {
    writeFileSync(
      join(consumer, 'intervals.mjs'),
      [
        "import { createRequire } from 'node:module';",
        "import { setInterval as timersSetInterval, clearInterval } from 'node:timers';",
        "import * as esm from '@ctxprop/core';",
        "import { context, createContextKey, ROOT_CONTEXT } from '@opentelemetry/api';",
        'const cjs = createRequire(import.meta.url)("@ctxprop/core");',
        'esm.ensureContextManager();',
        'const first = esm.enableIntervalDetachment();',
        'const wrapped = globalThis.setInterval;',
        'const second = cjs.enableIntervalDetachment();',
        'const once = globalThis.setInterval === wrapped && timersSetInterval === wrapped;',
        "const key = createContextKey('k');",
        'const work = { baggage: undefined, detachIntervals: true };',
        "const ctx = new esm.ScopedBaggageContext(work, ROOT_CONTEXT.setValue(key, 'request'));",
        'const seen = [];',
        'context.with(ctx, () => {',
        '  const timer = timersSetInterval(() => {',
        "    seen.push(context.active().getValue(key) ?? 'root');",
        '    clearInterval(timer);',
        '    first.disable();',
        '    second.disable();',
        '    const restored = timersSetInterval !== wrapped && timersSetInterval === globalThis.setInterval;',
        '    console.log(once, seen.join(), restored);',
        '  }, 1);',
        '});',
      ].join('\n'),
    );
    // The named import is the wrapper while a hold is on, and the original again after.
    expect(node(['intervals.mjs'])).toBe('true root true');
  });

  it('type-checks in a TypeScript consumer (NodeNext, both module kinds)', () => {
    writeFileSync(join(consumer, 'package.json'), '{ "type": "module" }');
    writeFileSync(
      join(consumer, 'consumer.ts'),
      "import { readHeader, type HeaderCarrier } from '@ctxprop/core';\nconst carrier: HeaderCarrier = { traceparent: 'x' };\nconst value: string | string[] | undefined = readHeader(carrier, 'traceparent');\nexport { value };\n",
    );
    writeFileSync(
      join(consumer, 'consumer.cts'),
      "import core = require('@ctxprop/core');\nexport const value: string | string[] | undefined = core.readHeader({}, 'traceparent');\n",
    );
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] }, files: ['consumer.ts', 'consumer.cts'] }),
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = spawnSync(process.execPath, [tsc, '-p', consumer], { encoding: 'utf8' });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});

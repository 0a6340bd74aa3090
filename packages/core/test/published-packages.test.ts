/**
 * What each published package ships besides its code: the licence its package.json names, the
 * sources its source maps and declaration maps point at (a stack trace under
 * `--enable-source-maps`, or go-to-definition, would otherwise name files that are not there), and
 * declarations that type-check without `@types/node` (TypeScript 6 includes no `@types` package
 * unless `types` names it; core and logging need no Node types of their consumers).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';

const root = resolve(__dirname, '../../..');
const PACKAGES = ['core', 'express', 'fastify', 'logging'] as const;

interface PackageJson {
  readonly license?: string;
  readonly files?: readonly string[];
}

function packageJsonOf(name: string): PackageJson {
  return JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8')) as PackageJson;
}

function filesUnder(directory: string, suffix: string): string[] {
  return readdirSync(directory, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith(suffix))
    .map((file) => join(directory, file));
}

describe.each(PACKAGES)('@ctxprop/%s as published', (name) => {
  const directory = join(root, 'packages', name);

  it('ships the Apache-2.0 licence text its package.json names', () => {
    expect(packageJsonOf(name).license).toBe('Apache-2.0');
    const licence = readFileSync(join(directory, 'LICENSE'), 'utf8');
    expect(licence).toContain('Apache License');
    expect(licence).toContain('Version 2.0, January 2004');
    expect(licence).toContain('END OF TERMS AND CONDITIONS');
  });

  it('ships every source its source maps and declaration maps point at', () => {
    if (!existsSync(join(directory, 'dist'))) throw new Error(`packages/${name}/dist is missing: run \`node scripts/build.mjs\` (npm test does it first)`);
    const shipped = packageJsonOf(name).files ?? [];
    const maps = filesUnder(join(directory, 'dist'), '.map');
    expect(maps.length).toBeGreaterThan(0);
    const missing: string[] = [];
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(map, 'utf8')) as { sources: string[] };
      for (const source of sources) {
        const path = relative(directory, resolve(dirname(map), source));
        const top = path.split(sep)[0]!;
        if (path.startsWith('..') || !shipped.includes(top) || !existsSync(join(directory, path))) missing.push(`${relative(directory, map)} -> ${path}`);
      }
    }
    expect(missing).toEqual([]);
  });
});

describe('the declarations of @ctxprop/core and @ctxprop/logging', () => {
  let consumer: string;

  beforeAll(() => {
    consumer = mkdtempSync(join(tmpdir(), 'ctxprop-no-node-types-'));
    mkdirSync(join(consumer, 'node_modules', '@ctxprop'), { recursive: true });
    mkdirSync(join(consumer, 'node_modules', '@opentelemetry'), { recursive: true });
    symlinkSync(join(root, 'packages', 'core'), join(consumer, 'node_modules', '@ctxprop', 'core'));
    symlinkSync(join(root, 'packages', 'logging'), join(consumer, 'node_modules', '@ctxprop', 'logging'));
    symlinkSync(join(root, 'node_modules', '@opentelemetry', 'api'), join(consumer, 'node_modules', '@opentelemetry', 'api'));
  });

  afterAll(() => {
    if (consumer) rmSync(consumer, { recursive: true, force: true });
  });

  it('type-check with skipLibCheck off and no @types/node', () => {
    writeFileSync(join(consumer, 'package.json'), '{ "type": "module" }');
    writeFileSync(
      join(consumer, 'consumer.ts'),
      [
        "import { bindEmitter, createPropagator, getTraceContext, type ListenerEmitter } from '@ctxprop/core';",
        "import { pinoMixin, traceFields, winstonFormat } from '@ctxprop/logging';",
        'declare const emitter: ListenerEmitter;',
        'export const bound: ListenerEmitter = bindEmitter(emitter);',
        'export const propagator = createPropagator();',
        'export const trace = getTraceContext();',
        "export const fields = traceFields({ preset: 'ecs' });",
        'export const mixin = pinoMixin();',
        'export const format = winstonFormat();',
      ].join('\n'),
    );
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: false, types: [] }, files: ['consumer.ts'] }),
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = spawnSync(process.execPath, [tsc, '-p', consumer], { encoding: 'utf8' });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});

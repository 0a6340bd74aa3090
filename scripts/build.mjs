#!/usr/bin/env node
// Builds every package twice from the same sources: ESM (dist/esm, NodeNext) and CJS (dist/cjs),
// each with .d.ts, so that `import` and `require` consumers both load it. Core is built first
// because the other packages type-check against its declarations.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const packagesDir = join(root, 'packages');

const names = readdirSync(packagesDir).filter((name) => existsSync(join(packagesDir, name, 'src', 'index.ts')));
names.sort((a, b) => (a === 'core' ? -1 : b === 'core' ? 1 : a.localeCompare(b)));
const only = process.argv.slice(2);

for (const name of names) {
  if (only.length > 0 && !only.includes(name)) continue;
  const dir = join(packagesDir, name);
  rmSync(join(dir, 'dist'), { recursive: true, force: true });
  for (const config of ['tsconfig.json', 'tsconfig.cjs.json']) {
    const result = spawnSync(process.execPath, [tsc, '-p', join(dir, config)], { cwd: dir, stdio: 'inherit' });
    if (result.status !== 0) {
      console.error(`build: ${name} (${config}) failed`);
      process.exit(1);
    }
  }
  mkdirSync(join(dir, 'dist', 'cjs'), { recursive: true });
  writeFileSync(join(dir, 'dist', 'cjs', 'package.json'), '{\n  "type": "commonjs"\n}\n');
  const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  console.log(`build: @ctxprop/${name}@${version} -> dist/esm, dist/cjs`);
}

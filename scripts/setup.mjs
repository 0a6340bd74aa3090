#!/usr/bin/env node
// One entry point for set-up on a machine that has only Node.js and npm: it finds pnpm (or runs a
// pinned pnpm through npx), installs the workspace when the lockfile changed, and builds the
// packages. `npm test`, `npm start` and `npm run bench` call it first, so no step is done by hand.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const PNPM_VERSION = '9.15.9';
const args = new Set(process.argv.slice(2));

function run(command, commandArgs) {
  const result = spawnSync(command, commandArgs, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.status !== 0) {
    console.error(`setup: \`${command} ${commandArgs.join(' ')}\` failed (exit ${result.status ?? result.signal})`);
    process.exit(result.status ?? 1);
  }
}

function pnpmCommand() {
  const probe = spawnSync('pnpm', ['--version'], { encoding: 'utf8' });
  if (probe.status === 0 && probe.stdout.trim().startsWith('9.')) return ['pnpm', []];
  return ['npx', ['--yes', `pnpm@${PNPM_VERSION}`]];
}

function mtime(path) {
  return existsSync(path) ? statSync(path).mtimeMs : 0;
}

const [pnpm, prefix] = pnpmCommand();
const marker = join(root, 'node_modules', '.modules.yaml');
const lockfile = join(root, 'pnpm-lock.yaml');
if (!existsSync(marker) || mtime(lockfile) > mtime(marker) || args.has('--install')) {
  const frozen = process.env.CI && existsSync(lockfile) ? ['--frozen-lockfile'] : [];
  run(pnpm, [...prefix, 'install', ...frozen]);
}
if (!args.has('--no-build')) {
  run(process.execPath, [join(root, 'scripts', 'build.mjs')]);
}

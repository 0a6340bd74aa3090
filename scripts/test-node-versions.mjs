#!/usr/bin/env node
// Runs the jest suite again on the other Node.js lines ctxprop supports (default: 22, 24 and 26), so
// that what changed between them (the `http.client.request.created` channel of 22.12+, the
// AsyncContextFrame that backs AsyncLocalStorage by default from 24, the global fetch's undici)
// is tested, not assumed. Each line's official binary comes from the npm registry as the package
// `node-<platform>-<arch>` (what the `node` package installs), cached under
// node_modules/.cache/ctxprop-node/, so nothing is installed by hand or system-wide.
//
// Environment: CTXPROP_NODE_VERSIONS (comma-separated majors, default "22,24,26"). Outside CI a
// binary that cannot be fetched (no registry, a platform without a package) is skipped with a
// message; under CI (CI set) it fails the run. Extra arguments are passed to jest.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const underCi = Boolean(process.env.CI);

const versions = (process.env.CTXPROP_NODE_VERSIONS ?? '22,24,26').split(',').map((version) => version.trim()).filter(Boolean);
for (const version of versions) {
  if (!/^\d+$/.test(version)) {
    console.error(`test-node-versions: CTXPROP_NODE_VERSIONS names "${version}"; give Node.js majors, such as "22,24"`);
    process.exit(2);
  }
}

/** The npm package that holds the official Node.js binary for this machine. */
function binaryPackage() {
  const platform = process.platform === 'win32' ? 'win' : process.platform;
  return `node-${platform}-${process.arch}`;
}

/** The path of the `node` binary of `major`, fetched into the cache when missing; or an error text. */
function nodeBinary(major) {
  const directory = join(root, 'node_modules', '.cache', 'ctxprop-node', major);
  const name = binaryPackage();
  const binary = join(directory, 'node_modules', name, 'bin', process.platform === 'win32' ? 'node.exe' : 'node');
  if (existsSync(binary)) return { binary };
  mkdirSync(directory, { recursive: true });
  console.log(`test-node-versions: fetching ${name}@${major} from the npm registry`);
  const install = spawnSync('npm', ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--prefix', directory, `${name}@${major}`], {
    stdio: ['ignore', 'inherit', 'inherit'],
    shell: process.platform === 'win32',
  });
  if (install.status !== 0 || !existsSync(binary)) return { error: `npm could not install ${name}@${major} (exit ${install.status ?? install.signal})` };
  return { binary };
}

const jest = require.resolve('jest/bin/jest');
const failed = [];
for (const major of versions) {
  const { binary, error } = nodeBinary(major);
  if (binary === undefined) {
    if (underCi) {
      console.error(`test-node-versions: Node.js ${major}: ${error}`);
      failed.push(major);
    } else {
      console.warn(`test-node-versions: Node.js ${major} skipped: ${error}. Set CTXPROP_NODE_VERSIONS to choose the lines to test.`);
    }
    continue;
  }
  const version = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.trim();
  console.log(`test-node-versions: jest on Node.js ${version}`);
  // The binary's directory first on the PATH: a test that starts `node` gets this version too.
  const env = { ...process.env, PATH: `${dirname(binary)}${delimiter}${process.env.PATH ?? ''}` };
  const run = spawnSync(binary, [jest, ...process.argv.slice(2)], { cwd: root, env, stdio: 'inherit' });
  if (run.status !== 0) failed.push(major);
}
if (failed.length > 0) {
  console.error(`test-node-versions: failed on Node.js ${failed.join(', ')}`);
  process.exit(1);
}

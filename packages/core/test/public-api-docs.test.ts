/**
 * Every export of every package's public entry point (`src/index.ts`) has TSDoc with an
 * `@example`, as the house style asks of a public API.
 */
import { resolve } from 'node:path';
import { exportDocs } from './api-docs-support';

const packages = resolve(__dirname, '../..');
const PACKAGES = ['core', 'express', 'fastify', 'logging'];
const entry = (name: string): string => resolve(packages, name, 'src/index.ts');

describe('public API documentation', () => {
  it('the check finds exports without an @example, through re-exports', () => {
    const fixture = resolve(__dirname, 'fixtures/api-docs/index.ts');
    const docs = exportDocs([fixture]).get(fixture) ?? [];
    expect(docs.filter((doc) => !doc.hasExample).map((doc) => doc.name).sort()).toEqual(['UndocumentedType', 'undocumentedFunction']);
    expect(docs.filter((doc) => doc.hasExample).map((doc) => doc.name).sort()).toEqual(['DocumentedType', 'documented']);
  });

  it('every export of each package has TSDoc with an @example', () => {
    const docs = exportDocs(PACKAGES.map(entry), { '@ctxprop/core': [entry('core')] });
    for (const name of PACKAGES) {
      const exported = docs.get(entry(name)) ?? [];
      // An entry point the compiler could not follow would pass vacuously.
      expect(exported.length).toBeGreaterThan(5);
      expect({ package: name, withoutExample: exported.filter((doc) => !doc.hasExample).map((doc) => doc.name) }).toEqual({ package: name, withoutExample: [] });
    }
  });
});

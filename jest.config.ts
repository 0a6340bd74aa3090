/** @jest-config-loader ts-node */
/** @jest-config-loader-options {"transpileOnly": true, "compilerOptions": {"module": "CommonJS", "moduleResolution": "Bundler"}} */
import type { Config } from 'jest';

// One jest run over every package. Sources and tests are transpiled by ts-jest, one file at a time
// (isolatedModules), which reports no type errors: `npm test` type-checks them first
// (`npm run typecheck`). `@ctxprop/*` resolves to each package's sources.
const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages'],
  testMatch: ['**/test/**/*.test.ts', '**/src/**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }],
  },
  moduleNameMapper: {
    '^@ctxprop/([a-z-]+)$': '<rootDir>/packages/$1/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testTimeout: 30_000,
};

export default config;

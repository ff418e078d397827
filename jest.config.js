/**
 * Tests run against the TypeScript sources (ts-jest); spawned CLI processes and the reader thread run dist/, which
 * globalSetup builds from the current sources first (test/helpers/build.ts): `npx jest` alone tests what the
 * sources say, everywhere.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testTimeout: 60000,
  maxWorkers: 2,
};

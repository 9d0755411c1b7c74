import { defineConfig } from 'vitest/config';

/**
 * The fast, pure tests of the certificate core, for mutation testing (`npm run test:mutation`):
 * no emulator, no subprocess, no network. Stryker runs them once per mutant.
 */
export default defineConfig({
  test: {
    include: [
      'test/unit/pki/**/*.test.ts',
      'test/unit/truststore/**/*.test.ts',
      'test/conformance/**/*.test.ts',
    ],
    testTimeout: 60_000,
    maxWorkers: 2,
    isolate: false,
    setupFiles: ['test/setup.ts'],
  },
});

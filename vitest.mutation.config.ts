import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * Quickest files first: Stryker stops a mutant's run at the first failing test, so a mutant a
 * quick unit test kills never waits for the x509-limbo suite (vitest's default runs the longest
 * first, which pays off only for parallel full runs).
 */
class QuickestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return (await super.sort(files)).reverse();
  }
}

/**
 * The fast, pure tests of the certificate core, for mutation testing (`npm run test:mutation`):
 * no emulator, no subprocess, no network. Stryker runs them once per mutant.
 */
export default defineConfig({
  test: {
    include: [
      'test/unit/pki/**/*.test.ts',
      'test/unit/truststore/**/*.test.ts',
      'test/unit/pipeline/**/*.test.ts',
      'test/conformance/**/*.test.ts',
    ],
    testTimeout: 60_000,
    maxWorkers: 2,
    // Modules stay loaded between mutants (Stryker switches mutants at run time; static mutants
    // are left out with `ignoreStatic`), so each run pays for the tests, not for re-imports.
    isolate: false,
    sequence: { sequencer: QuickestFirst },
    setupFiles: ['test/setup.ts'],
  },
});

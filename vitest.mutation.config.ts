import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

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
 * no emulator, no network, and none of the cross-checks that spawn openssl or read the OS bundle
 * (they run in `npm test`). Each scope is judged by its own unit tests, not by the pipeline's
 * (test/unit/pipeline runs ingest whole, 15 s, and made the truststore scope take hours): Stryker
 * runs the tests covering a mutant once per mutant, so every slow file here costs minutes.
 */
const scope = process.env.TRUSTROLL_MUTATION_SCOPE ?? 'truststore';
const include =
  scope === 'pki'
    ? ['test/unit/pki/**/*.test.ts', 'test/conformance/limbo-verdicts.test.ts']
    : ['test/unit/truststore/**/*.test.ts'];

export default defineConfig({
  test: {
    include,
    exclude: ['test/unit/truststore/os-bundle.test.ts', 'test/unit/truststore/tls-crosscheck.test.ts'],
    testTimeout: 60_000,
    maxWorkers: 2,
    // Each run imports the modules afresh (vitest's default): with modules kept between mutants
    // (isolate: false, twice as fast) a cache filled under one mutant (a state document let
    // through, a key of the wrong curve) would fail tests under the next and count as its kill.
    isolate: true,
    sequence: { sequencer: QuickestFirst },
    setupFiles: ['test/setup.ts'],
  },
});

// Mutation testing of the certificate core (`npm run test:mutation`): does a test fail when a rule
// is wrong? Not part of `npm test` or CI: it runs the fast unit tests once per mutant.
const scope = process.env.TRUSTROLL_MUTATION_SCOPE ?? 'truststore';
if (!['truststore', 'pki'].includes(scope))
  throw new Error(`TRUSTROLL_MUTATION_SCOPE must be truststore or pki, not ${scope}`);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  plugins: ['@stryker-mutator/vitest-runner'],
  // One scope per run (scripts/mutation.mjs runs both and prints the scores): the truststore
  // (rules, lint, admission, state) or the certificate parser and verifier under it.
  mutate: [`shared/${scope}/**/*.ts`],
  incremental: true,
  incrementalFile: `reports/mutation/${scope}-incremental.json`,
  coverageAnalysis: 'perTest',
  // Mutants in module-level constants (the OID tables, mostly) need every test re-run with the
  // module reloaded; they are left out of the score and counted apart.
  ignoreStatic: true,
  concurrency: 2,
  // Stryker would rewrite the project's tsconfig, which it cannot parse under TypeScript 7; vitest
  // transpiles with esbuild and never reads it, so Stryker is pointed at nothing.
  tsconfigFile: 'stryker-has-no-tsconfig.json',
  checkers: [],
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: `reports/mutation/${scope}.html` },
  jsonReporter: { fileName: `reports/mutation/${scope}.json` },
  thresholds: { high: 90, low: 80, break: null },
  // What the sandbox copy leaves out: the emulator's venv, build output, local runs.
  ignorePatterns: [
    '.venv',
    'dist',
    'cdk.out',
    'cdk.out.full',
    '.trustroll',
    'inbox',
    'requests',
    'reports',
    '.bench-cache',
    'coverage',
    'test-pki',
  ],
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  timeoutMS: 20_000,
};

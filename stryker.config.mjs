// Mutation testing of the certificate core (`npm run test:mutation`): does a test fail when a rule
// is wrong? Not part of `npm test` or CI: it runs the fast unit tests once per mutant.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  plugins: ['@stryker-mutator/vitest-runner'],
  mutate: [
    'shared/truststore/**/*.ts',
    'shared/pki/**/*.ts',
    // The test-PKI generator (pki init and the fixtures): a mutant there changes the fixtures every
    // test is built from, not a decision trustroll makes about a certificate.
    '!shared/pki/builder.ts',
  ],
  coverageAnalysis: 'perTest',
  concurrency: 2,
  // Stryker would rewrite the project's tsconfig, which it cannot parse under TypeScript 7; vitest
  // transpiles with esbuild and never reads it, so Stryker is pointed at nothing.
  tsconfigFile: 'stryker-has-no-tsconfig.json',
  checkers: [],
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
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

// Mutation testing of the certificate core (`npm run test:mutation`): does a test fail when a rule
// is wrong? Not part of `npm test` or CI: it runs the fast unit tests once per mutant.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  plugins: ['@stryker-mutator/vitest-runner'],
  // The rules that decide what reaches a truststore, and what they stand on. Wider runs name
  // their files: `npm run test:mutation -- --mutate 'shared/pki/**/*.ts'` (hours on two cores).
  mutate: [
    'shared/truststore/rules/**/*.ts',
    'shared/truststore/render.ts',
    'shared/truststore/issuer-index.ts',
    'shared/truststore/lint.ts',
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

import type { Command } from 'commander';
import { DEFAULT_EXPIRING_DAYS } from '../../shared/defaults.js';
import type { LintFlags } from '../actions/lint.js';
import { exitHelp, OUTPUT_STATUS } from '../exit-status.js';
import { type Io, parseAt, parseCount } from '../io.js';

export const registerLint = (program: Command, io: Io, exit: (code: number) => void): void => {
  program
    .command('lint')
    .description(
      "Lint certificates as one candidate API Gateway truststore: every input together, against API Gateway's rules.",
    )
    .argument('<inputs...>', 'PEM, DER or PKCS#7 files, folders (read recursively), or - for standard input')
    .option('--at <iso8601>', 'judge validity at this moment instead of now', parseAt)
    .option(
      '--expiring-days <n>',
      'warn about CAs expiring within n days',
      parseCount('--expiring-days', { max: 36_500 }),
      DEFAULT_EXPIRING_DAYS,
    )
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      exitHelp(
        'lint',
        {
          0: 'no error finding',
          1: 'at least one error (or critical) finding',
          2: 'usage error, or a path that cannot be read',
          ...OUTPUT_STATUS,
        },
        'Example: trustroll lint partner-bundle.pem truststore.pem',
      ),
    )
    .action(async (paths: string[], flags: LintFlags) =>
      (await import('../actions/lint.js')).lint(paths, flags, io, exit),
    );
};

import type { Command } from 'commander';
import { exitHelp, STORE_STATUSES } from '../exit-status.js';
import type { Io } from '../io.js';

/** `trustroll export`: the current (or a given) truststore version, byte for byte. */
export const registerExport = (program: Command, io: Io, exit: (code: number) => void): void => {
  program
    .command('export')
    .description(
      "Print (or write with -o) a truststore version as PEM: by default the store's current one, exactly the bytes " +
        'a domain rolled to it serves. For scripts, diagnose --truststore, openssl and curl.',
    )
    .option('--version <version>', 'version id or revision number (default: the latest published)')
    .option('-o, --output <file>', 'write the PEM to this file instead of standard output')
    .option(
      '--store <dir|s3://bucket[/prefix]>',
      'the store: a local data folder (default --data-dir) or an S3 bucket',
    )
    .option('--data-dir <dir>', 'local state folder', '.trustroll')
    .option('--region <region>', 'AWS region (S3 stores)')
    .option('--profile <name>', 'AWS profile (S3 stores)')
    .addHelpText(
      'after',
      exitHelp('export', {
        0: 'exported',
        2: 'usage error (no store there, an unknown version: the message lists the known ones, a file that cannot be written)',
        4: 'the version is not what was published, or the store is damaged: trustroll repair mends it',
        5: STORE_STATUSES[5],
      }),
    )
    .action(async (flags) => (await import('../actions/export.js')).exportVersion(flags, io, exit));
};

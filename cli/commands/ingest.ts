import type { Command } from 'commander';
import { exitHelp, STORE_STATUSES } from '../exit-status.js';
import { type Io, parseCount } from '../io.js';

export const registerIngest = (program: Command, io: Io, exit: (code: number) => void): void => {
  program
    .command('ingest')
    .description(
      'Process uploads in the local inbox once: judge, commit a new truststore version, archive or reject, notify. ' +
        'A running `trustroll up` picks the new version up and rolls its endpoint.',
    )
    .argument(
      '[files...]',
      'inbox files (paths or inbox/<partner>/<file> keys); default: everything in the inbox',
    )
    .option('--data-dir <dir>', 'local state folder', '.trustroll')
    .option('--inbox <dir>', 'inbox folder (partners drop files into <inbox>/<partner>/)', 'inbox')
    .option(
      '--expiring-days <n>',
      'warn about CAs expiring within n days',
      parseCount('--expiring-days', { max: 36_500 }),
      30,
    )
    .option('--json', 'print the ingest report as JSON')
    .option('--replace', 'the given files replace the CAs with the same subjects (intermediate rotation)')
    .addHelpText(
      'after',
      exitHelp('ingest', {
        0: 'every upload was accepted (or there was nothing to do)',
        1: 'at least one upload or request was rejected (it is in rejected/, with its report), or a step failed: the output says which',
        2: 'usage error (a file that does not exist or is not inside the inbox, overlapping folders)',
        ...STORE_STATUSES,
      }),
    )
    .action(async (files, flags) => (await import('../actions/ingest.js')).ingest(files, flags, io, exit));
};

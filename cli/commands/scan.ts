import type { Command } from 'commander';
import { DEFAULT_THRESHOLDS } from '../../shared/defaults.js';
import { exitHelp, STORE_STATUSES } from '../exit-status.js';
import { type Io, parseAt, UsageError } from '../io.js';

export const parseThresholds = (value: string): number[] => {
  const parts = value.split(',').map((t) => t.trim());
  const days = parts.map(Number);
  if (parts.some((t) => !/^\d{1,5}$/.test(t)) || days.some((d) => d < 1 || d > 36_500)) {
    throw new UsageError(
      `--thresholds wants whole numbers of days from 1 to 36500, comma-separated, such as 60,30,14; got "${value}"`,
    );
  }
  return days;
};

export const registerScan = (program: Command, io: Io, exit: (code: number) => void): void => {
  program
    .command('scan')
    .description(
      'Expiry scan: days until each CA expires and when its clients break. Only a scan of the local state at the ' +
        'real moment sends the threshold alerts (once per crossing) and records them; --at, --dry-run and --json ' +
        'are previews that say what would be alerted and write nothing; on a truststore file it only reports.',
    )
    .argument('[truststore]', 'a truststore file (PEM, DER, PKCS#7); default: the local state in --data-dir')
    .option('--at <iso8601>', 'preview as of this moment instead of now (sends and records nothing)', parseAt)
    .option('--dry-run', 'preview at the real moment: say what would be alerted, send and record nothing')
    .option('--json', 'print the report as JSON (a preview: sends and records nothing)')
    .option('--thresholds <days>', 'alert thresholds in days', parseThresholds, [...DEFAULT_THRESHOLDS])
    .option('--data-dir <dir>', 'local state folder', '.trustroll')
    .option(
      '--store <dir|s3://bucket[/prefix]>',
      'the store to scan (default --data-dir); an s3:// store is only previewed: its expiry-scan Lambda alerts',
    )
    .option('--region <region>', 'AWS region (S3 stores)')
    .option('--profile <name>', 'AWS profile (S3 stores)')
    .option('--inbox <dir>', 'inbox folder', 'inbox')
    .addHelpText(
      'after',
      '\nWhich scans alert: only `trustroll scan` of the local state at the real moment (and the scheduled scan of\n' +
        '`trustroll up` and the expiry-scan Lambda). A preview never notifies and never writes, so a look at the\n' +
        'future cannot silence the alerts still to come.\n' +
        exitHelp('scan', {
          0: 'no CA has expired',
          1: 'at least one CA has expired',
          2: 'usage error',
          ...STORE_STATUSES,
        }),
    )
    .action(async (file, flags) => (await import('../actions/scan.js')).scan(file, flags, io, exit));
};

import { type Command, Option } from 'commander';
import { DEFAULT_THRESHOLDS } from '../../shared/defaults.js';
import { exitHelp, STORE_STATUSES } from '../exit-status.js';
import { type Io, parseAt } from '../io.js';
import { parseThresholds } from './scan.js';

/** `trustroll report`: the truststore as one page, JSON or CSV. */
export const registerReport = (program: Command, io: Io, exit: (code: number) => void): void => {
  program
    .command('report')
    .description(
      'The truststore as people read it: partners and their CAs with provenance, an expiry timeline, size and ' +
        'chain-length headroom, version history, open warnings, drift and stale CRLs. One self-contained HTML ' +
        'page (no network needed to view it), or the same data as JSON, or CSV with one row per CA.',
    )
    .addOption(
      new Option('--format <format>', 'html, json or csv').choices(['html', 'json', 'csv']).default('html'),
    )
    .option(
      '--refusals <file>',
      "an access log (API Gateway, in TruststorePipeline.accessLogFormat) whose refused handshakes the report explains; a data folder's endpoint/refusals.log is read without it",
    )
    .option(
      '-o, --output <file>',
      'write the report to this file; without -o, or with -o -, it goes to standard output',
    )
    .option(
      '--at <iso8601>',
      'the moment the report speaks for (days and thresholds count from it); default now',
      parseAt,
    )
    .option('--thresholds <days>', "the expiry scan's thresholds to mark", parseThresholds, [
      ...DEFAULT_THRESHOLDS,
    ])
    .option(
      '--store <dir|s3://bucket[/prefix]>',
      'the store: a local data folder (default --data-dir) or an S3 bucket',
    )
    .option('--data-dir <dir>', 'local state folder', '.trustroll')
    .option('--region <region>', 'AWS region (S3 stores)')
    .option('--profile <name>', 'AWS profile (S3 stores)')
    .option(
      '--domain <domains...>',
      'S3 stores: the custom domains whose status and drift to show, as name or name:REST|name:HTTP (locally: the endpoint of a running trustroll up)',
    )
    .addHelpText(
      'after',
      '\nOn AWS the pipeline publishes the report with every new truststore version: reports/index.html and\n' +
        'reports/truststore.csv in the bucket (locally: .trustroll/reports/, and trustroll up serves it live).\n' +
        exitHelp('report', {
          0: 'written',
          2: 'usage error (no store there, a bad --format or --at, a file that cannot be written)',
          ...STORE_STATUSES,
        }),
    )
    .action(async (flags) => (await import('../actions/report.js')).report(flags, io, exit));
};

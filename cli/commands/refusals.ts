import type { Command } from 'commander';
import { exitHelp, STORE_STATUSES } from '../exit-status.js';
import type { Io } from '../io.js';

const load = () => import('../actions/refusals.js');

export const registerRefusals = (program: Command, io: Io, exit: (code: number) => void): void => {
  program
    .command('refusals')
    .description(
      'Explains the mutual TLS handshakes API Gateway refused, from an exported access log: for each client certificate, why the truststore version then served refused it and what to fix, grouped by partner and reason. The stage must log in the format of TruststorePipeline.accessLogFormat (API Gateway logs the client certificate only when mutual TLS fails); the local endpoint writes .trustroll/endpoint/refusals.log in it.',
    )
    .requiredOption(
      '--log-file <file>',
      'the access log: one JSON line per request as API Gateway writes it, a CloudWatch Logs export (`<timestamp> <line>`), or .trustroll/endpoint/refusals.log',
    )
    .option(
      '--store <dir|s3://bucket[/prefix]>',
      'the store whose truststore versions judge: a local data folder (default --data-dir) or an S3 bucket',
    )
    .option('--data-dir <dir>', 'local state folder', '.trustroll')
    .option('--region <region>', 'AWS region (S3 stores)')
    .option('--profile <name>', 'AWS profile (S3 stores)')
    .option('--json', 'print {refusals, groups, passed, otherLines} as JSON')
    .addHelpText(
      'after',
      exitHelp('refusals', {
        0: 'the log holds no refused handshake',
        1: 'refused handshakes, explained (grouped by partner and reason)',
        2: 'usage error (a log file that cannot be read or holds no line of the access-log format, no store there)',
        ...STORE_STATUSES,
      }),
    )
    .action(async (flags) => (await load()).refusals(flags, io, exit));
};

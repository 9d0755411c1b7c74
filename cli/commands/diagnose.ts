import type { Command } from 'commander';
import type { Purpose } from '../../shared/pki/verify.js';
import { exitHelp, STORE_STATUSES } from '../exit-status.js';
import { type Io, parseAt, UsageError } from '../io.js';

const parsePurpose = (value: string): Purpose => {
  if (value !== 'clientAuth' && value !== 'serverAuth' && value !== 'any') {
    throw new UsageError(`--purpose is clientAuth, serverAuth or any; got "${value}"`);
  }
  return value;
};

export const registerDiagnose = (program: Command, io: Io, exit: (code: number) => void): void => {
  program
    .command('diagnose')
    .description(
      'Would an API Gateway mTLS domain with this truststore accept this client certificate? Builds the path like the ' +
        'endpoint does, names the cause and the fix of a refusal, and warns about what a stricter validator would refuse.',
    )
    .option(
      '--truststore <file|dir>',
      "the truststore (PEM bundle, or a folder of CA files); default: the store's current truststore version",
    )
    .requiredOption(
      '--cert <file>',
      'the client certificate (PEM/DER); further certificates in the file count as sent by the client',
    )
    .option('--chain <file>', 'intermediates the client sends with its certificate')
    .option(
      '--key <file>',
      "the client's private key, to check that it belongs to the certificate (never printed)",
    )
    .option('--crl <file>', 'a CRL to check against (API Gateway checks none: a listing is a warning)')
    .option('--at <iso8601>', 'judge validity at this moment instead of now', parseAt)
    .option(
      '--purpose <purpose>',
      'clientAuth, serverAuth (to check a server chain the same way) or any',
      parsePurpose,
      'clientAuth',
    )
    .option(
      '--plain-tls',
      'judge as a plain OpenSSL TLS server, which also accepts intermediates only the client sends',
    )
    .option(
      '--route <route>',
      'the request, "METHOD /path", for a partner whose rules allow only some routes (the authorizer checks it)',
    )
    .option('--json', 'print {verdict, reasons, warnings, path, authorizer} as JSON')
    .option(
      '--store <dir|s3://bucket[/prefix]>',
      "the store whose current truststore is used without --truststore (default --data-dir); its revocation index, when published, adds the authorizer's decision (with --truststore too, when --store is given)",
    )
    .option('--data-dir <dir>', 'local state folder', '.trustroll')
    .option('--region <region>', 'AWS region (S3 stores)')
    .option('--profile <name>', 'AWS profile (S3 stores)')
    .addHelpText(
      'after',
      exitHelp('diagnose', {
        0: 'accepted',
        1: 'refused (also when a certificate, truststore or CRL file cannot be read: the reason says which)',
        2: 'usage error, or a file that does not exist',
        ...STORE_STATUSES,
      }),
    )
    .action(async (flags) => (await import('../actions/diagnose.js')).diagnose(flags, io, exit));
};

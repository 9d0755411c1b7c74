import type { Command } from 'commander';
import { exitHelp, STORE_STATUSES } from '../exit-status.js';
import { type Io, parseAt, parseCount, UsageError } from '../io.js';

/** The store options every revocation command takes (it changes or reads the store's state and index). */
const withStore = (cmd: Command): Command =>
  cmd
    .option(
      '--store <dir|s3://bucket[/prefix]>',
      'the store: a local data folder (default --data-dir) or an S3 bucket',
    )
    .option('--data-dir <dir>', 'local state folder', '.trustroll')
    .option('--region <region>', 'AWS region (S3 stores)')
    .option('--profile <name>', 'AWS profile (S3 stores)')
    .option('--json', 'print the result as JSON');

/** `--cert`, or `--serial` with `--issuer`: which certificate a revocation names. */
const withSelector = (cmd: Command, verb: string): Command =>
  cmd
    .option(
      '--cert <file>',
      `the client certificate to ${verb} (PEM/DER; the first certificate of the file); its issuer is found in the truststore`,
    )
    .option(
      '--serial <hex>',
      `the serial number to ${verb} (hex; 0x, colons and capitals are fine), with --issuer`,
    )
    .option(
      '--issuer <sha256>',
      'with --serial: the SHA-256 fingerprint (or a unique prefix of 12+ hex digits) of the truststore CA that issued it',
    );

const parseStaleCrl = (value: string): 'deny' | 'allow' => {
  if (value !== 'deny' && value !== 'allow')
    throw new UsageError(`--stale-crl is deny or allow; got "${value}"`);
  return value;
};

const load = () => import('../actions/revocation.js');

export const registerRevocation = (program: Command, io: Io, exit: (code: number) => void): void => {
  withStore(
    withSelector(
      program
        .command('revoke')
        .description(
          'Revoke a client certificate by hand (a partner without a CRL, an emergency): the authorizer and the local endpoint deny it from the next revocation index on, published at once.',
        ),
      'revoke',
    )
      .requiredOption('--reason <text>', 'why (kept with the revocation, shown in every denial)')
      // No commander default: it would be evaluated (and shown in --help) when the program is
      // declared, not when revoke runs; the help states the rule instead.
      .option('--by <who>', 'who asked (default: $USER, else cli)'),
  )
    .addHelpText(
      'after',
      exitHelp('revoke', {
        0: 'revoked (or it was revoked by hand already: said so)',
        2: 'usage error (no store there, a certificate file that cannot be read, an issuer that is not in the truststore)',
        ...STORE_STATUSES,
      }),
    )
    .action(async (flags) =>
      (await load()).revoke({ ...flags, by: flags.by ?? process.env.USER ?? 'cli' }, io, exit),
    );

  withStore(
    withSelector(
      program
        .command('unrevoke')
        .description(
          'Take back a revocation made by hand (trustroll revoke). A serial listed on a CRL stays revoked: only a new CRL from the partner takes it back.',
        ),
      'take back',
    ),
  )
    .addHelpText(
      'after',
      exitHelp('unrevoke', {
        0: 'taken back: the certificate is no longer revoked',
        1: 'nothing was revoked by hand for it, or a CRL still lists it (it stays revoked until a new CRL)',
        2: 'usage error (no store there, a certificate file that cannot be read, an issuer that is not in the truststore)',
        ...STORE_STATUSES,
      }),
    )
    .action(async (flags) => (await load()).unrevoke(flags, io, exit));

  withStore(
    program
      .command('rules')
      .description(
        "A partner's identity rules: which client certificates or keys it may use (pins) and which routes it may call. With only --partner, prints them. Each kind given replaces that kind; the other is kept unless --clear.",
      )
      .requiredOption('--partner <name>', 'the partner (the owner of an inbox prefix)')
      .option(
        '--pin-cert <files...>',
        'pin these client certificates (their SHA-256; the first certificate of each file)',
      )
      .option(
        '--pin-key <sha256...>',
        'pin these SHA-256 fingerprints of a client certificate or of its public key (SPKI)',
      )
      .option(
        '--route <routes...>',
        'allow only these routes: "METHOD /path", * one path segment, a final ** any rest ("GET /orders/*")',
      )
      .option(
        '--clear',
        'remove the rules not given here (alone: every rule of the partner; it may then call anything)',
      ),
  )
    .addHelpText(
      'after',
      exitHelp('rules', {
        0: 'set, or printed',
        2: 'usage error (no store there, a partner with no CA in the truststore, a pin or route that is not well formed, a certificate file that cannot be read)',
        ...STORE_STATUSES,
      }),
    )
    .action(async (flags) => (await load()).rules(flags, io, exit));

  program
    .command('authorize')
    .description(
      "The decision the authorizer gives a client certificate that passed the mTLS handshake: its partner, whether it (or a CA above it) is revoked, a stale CRL, the partner's pins and routes. Reads the revocation index of the store.",
    )
    .requiredOption(
      '--cert <file>',
      'the client certificate (PEM/DER); in a file of several certificates the first is the client',
    )
    .option('--route <route>', 'the request to decide for, "METHOD /path" ("GET /orders/1")')
    .option('--at <iso8601>', 'decide at this moment instead of now', parseAt)
    .option(
      '--stale-crl <deny|allow>',
      'what a CRL past its nextUpdate plus the grace means',
      parseStaleCrl,
      'deny',
    )
    .option(
      '--grace <seconds>',
      "how long after a CRL's nextUpdate it still counts as fresh",
      parseCount('--grace', { max: 31_536_000, why: 'at most a year' }),
      86_400,
    )
    .option(
      '--store <dir|s3://bucket[/prefix]>',
      'the store whose revocation index decides: a local data folder (default --data-dir) or an S3 bucket',
    )
    .option('--data-dir <dir>', 'local state folder', '.trustroll')
    .option('--region <region>', 'AWS region (S3 stores)')
    .option('--profile <name>', 'AWS profile (S3 stores)')
    .option('--json', 'print {decision, partner, reasons, context} as JSON')
    .addHelpText(
      'after',
      exitHelp('authorize', {
        0: 'allow',
        1: 'deny (the reasons say why)',
        2: 'usage error (a certificate file that cannot be read, no store there, no revocation index published yet)',
        ...STORE_STATUSES,
      }),
    )
    .action(async (flags) => (await load()).authorizeCommand(flags, io, exit));
};

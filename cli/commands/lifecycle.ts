import type { Command } from 'commander';
import { exitHelp, STORE_STATUSES } from '../exit-status.js';
import type { Io } from '../io.js';

/**
 * The options of a command that works on a store. Commands that only read its history (`history`,
 * `diff`) roll nothing and read no inbox, so they do not offer `--inbox` or `--domain`.
 */
const withStore = (cmd: Command, { readOnly = false }: { readonly readOnly?: boolean } = {}) => {
  if (!readOnly) cmd.option('--inbox <dir>', 'inbox folder', 'inbox');
  cmd
    .option(
      '--store <dir|s3://bucket[/prefix]>',
      'the store: a local data folder (default --data-dir) or an S3 bucket',
    )
    .option('--data-dir <dir>', 'local state folder', '.trustroll')
    .option('--region <region>', 'AWS region (S3 stores)')
    .option('--profile <name>', 'AWS profile (S3 stores)');
  if (!readOnly)
    cmd.option(
      '--domain <domains...>',
      'S3 stores: the custom domains to roll and report, as name or name:REST|name:HTTP',
    );
  return cmd.option('--json', 'print the result as JSON');
};

export const registerLifecycle = (program: Command, io: Io, exit: (code: number) => void): void => {
  withStore(
    program
      .command('remove')
      .description(
        'Remove CAs (offboard a partner, withdraw a CA) and the CAs left without a root, in one new version.',
      )
      .option('--fingerprint <sha256...>', 'fingerprints (or unique prefixes of 12+ hex digits) to remove')
      .option('--subject <dn>', 'the RFC 4514 subject to remove')
      .option('--partner <name>', "remove this partner's CAs (or restrict the match to them)")
      .option('--reason <text>', 'why (kept in the history and the alert)')
      .option('--requested-by <who>', 'who asked', process.env.USER ?? 'cli')
      .option(
        '--request <file>',
        'a removal request JSON file {fingerprints|subject|partner, reason, requestedBy} (reason and requestedBy required)',
      ),
  )
    .addHelpText(
      'after',
      exitHelp('remove', {
        0: 'removed',
        1: 'refused: the request named nothing in the truststore, or would leave it empty',
        2: 'usage error (no store there, a request file that cannot be read)',
        ...STORE_STATUSES,
      }),
    )
    .action(async (flags, cmd) => (await import('../actions/lifecycle.js')).remove(flags, cmd, io, exit));

  withStore(
    program
      .command('rollback')
      .description(
        'Restore the CA set of an earlier truststore version as a new version (history is never rewritten), and roll.',
      )
      .option('--to <version>', 'version id or revision number (default: the version before the latest)'),
  )
    .addHelpText(
      'after',
      exitHelp('rollback', {
        0: 'restored as a new version',
        1: 'refused: nothing to restore, or the restored set fails lint',
        2: 'usage error (no store there, an unknown version)',
        ...STORE_STATUSES,
      }),
    )
    .action(async (flags) => (await import('../actions/lifecycle.js')).rollback(flags, io, exit));

  withStore(
    program
      .command('history')
      .description('Truststore versions with what changed, why and when, newest first.'),
    { readOnly: true },
  )
    .addHelpText(
      'after',
      exitHelp('history', { 0: 'listed', 2: 'usage error (no store there)', ...STORE_STATUSES }),
    )
    .action(async (flags) => (await import('../actions/lifecycle.js')).history(flags, io, exit));

  withStore(
    program
      .command('diff')
      .description('CAs added and removed between two truststore versions, with partner and expiry.')
      .argument('<a>', 'version id or revision number')
      .argument('<b>', 'version id or revision number'),
    { readOnly: true },
  )
    .addHelpText(
      'after',
      exitHelp('diff', {
        0: 'compared',
        2: 'usage error (no store there, an unknown version)',
        ...STORE_STATUSES,
      }),
    )
    .action(async (a, b, flags) => (await import('../actions/lifecycle.js')).diff(a, b, flags, io, exit));

  withStore(
    program
      .command('status')
      .description(
        "The store's latest truststore version, and the local endpoint's (or, with --domain, each domain's) truststore version, status and warnings, whether it is the latest, and drift.",
      )
      .option(
        '--local-domain <name>',
        'the domain the local endpoint plays (default: the one it says it plays)',
      ),
  )
    .addHelpText(
      'after',
      exitHelp('status', {
        0: 'every domain serves the latest version',
        1: 'a domain is not on the latest version or has drifted, the last rollout to the targets ended failed or rolled-back (until a later one succeeds), the targets serve different versions, an ELB trust store lacks CRLs accepted since its last rollout (REVOCATIONS BEHIND), no local endpoint has run with this data folder yet or it is not running (start trustroll up), or the store is damaged (status explains the damage; trustroll repair mends it)',
        2: 'usage error (no store there, an unknown domain)',
        // Not 4: explaining a damaged store is what status is for, so damage is its finding (1).
        5: STORE_STATUSES[5],
      }),
    )
    .action(async (flags) => (await import('../actions/lifecycle.js')).status(flags, io, exit));
};

/** `trustroll repair`: the explicit repair of a damaged store. */
export const registerRepair = (program: Command, io: Io, exit: (code: number) => void): void => {
  withStore(
    program
      .command('repair')
      .description(
        'Repair a damaged store (see trustroll status): restore the newest state that reads and checks out, rebuild the revisions a state that went back lost from the truststore versions, mark truststore versions that went missing or changed as lost, and publish the latest revision again as a new version.',
      ),
  )
    .addHelpText(
      'after',
      exitHelp('repair', {
        0: 'repaired, or nothing to repair',
        2: 'usage error (no store there)',
        4: "damage repair cannot mend is left (a CRL's revoked serials changed or deleted by hand: the message says which CRL to upload again)",
        5: STORE_STATUSES[5],
      }),
    )
    .action(async (flags) => (await import('../actions/lifecycle.js')).repair(flags, io, exit));
};

/** `trustroll promote`: the exact CA set of one environment's version into another, diff first. */
export const registerPromote = (program: Command, io: Io, exit: (code: number) => void): void => {
  program
    .command('promote')
    .description(
      "Copy the exact CA set of one environment's truststore version into another (dev → prod): shows the diff, asks for confirmation unless --yes; the target runs its own lint and roll.",
    )
    .requiredOption('--from <store>', 'source: a local data folder or s3://bucket[/prefix]')
    .requiredOption('--to <store>', 'target: a local data folder or s3://bucket[/prefix]')
    .option('--version <version>', 'source version id or revision (default: its latest)')
    .option('--yes', 'do not ask for confirmation')
    .option('--create', 'the target holds no store yet: start one with the promoted CA set')
    .option('--region <region>', 'AWS region (S3 stores)')
    .option('--profile <name>', 'AWS profile (S3 stores)')
    .option('--domain <domains...>', 'S3 target: the custom domains to roll, as name or name:REST|name:HTTP')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      exitHelp('promote', {
        0: 'promoted, or nothing to do',
        1: "refused (the CA set fails the target's lint, or would move a CA to another partner) or declined at the prompt",
        2: 'usage error (a store that does not exist: --from, or --to without --create; a --to that is a file)',
        ...STORE_STATUSES,
      }),
    )
    .action(async (flags) => (await import('../actions/lifecycle.js')).promote(flags, io, exit));
};

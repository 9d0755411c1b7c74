import type { Command } from 'commander';
import { consoleLog } from '../../shared/adapters/local/log.js';
import {
  DEFAULT_THRESHOLDS,
  type ExpiryLine,
  expiryLines,
  previewScan,
  scanExpiry,
} from '../../shared/pipeline/scan.js';
import { readInput } from '../../shared/pki/read.js';
import { systemClock } from '../../shared/ports.js';
import { shown } from '../../shared/text.js';
import { entryOf } from '../../shared/truststore/state.js';
import { exitHelp, STORE_STATUSES } from '../exit-status.js';
import { fileOnly, type Io, jsonOut, loadInputs, parseAt, UsageError } from '../io.js';
import { type LocalPaths, localNotifier, localStore } from '../local.js';
import { holdsLocalStore, noStoreMessage, openStore } from '../stores.js';

interface ScanFlags {
  readonly at?: Date;
  readonly json?: boolean;
  readonly dryRun?: boolean;
  readonly thresholds: readonly number[];
  readonly dataDir: string;
  readonly inbox: string;
  readonly store?: string;
  readonly region?: string;
  readonly profile?: string;
}

const parseThresholds = (value: string): number[] => {
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
    .action(async (file: string | undefined, flags: ScanFlags) => {
      const now = flags.at ?? new Date();
      // On S3 the expiry-scan Lambda is the real scan: one from here would record levels whose
      // alerts only reached this console, and the subscribers would never get them.
      const s3 = flags.store?.startsWith('s3://') === true;
      const preview = s3 || flags.at !== undefined || flags.dryRun === true || flags.json === true;
      const dataDir = flags.store ?? flags.dataDir;
      let lines: ExpiryLine[];
      let alerts: string[] = [];
      if (file) {
        await fileOnly('scan', file, ' of the truststore (a PEM bundle), or omit it to scan the store');
        const [input] = await loadInputs([file], io);
        const read = readInput(input!);
        if (read.certificates.length === 0) throw new UsageError(`${file} holds no readable certificate`);
        const entries = read.certificates.map(({ cert, source }) =>
          entryOf(cert, {
            partner: '-',
            upload: { key: source, version: '-' },
            addedAt: now.toISOString(),
            findings: [],
          }),
        );
        lines = expiryLines(entries, now);
      } else if (!s3 && !(await holdsLocalStore(dataDir))) {
        throw new UsageError(noStoreMessage(dataDir, 'folder'));
      } else if (preview) {
        const report = await previewScan({
          store: s3
            ? (await openStore(flags.store, flags, io)).store
            : localStore({ dataDir, inboxDir: flags.inbox }),
          clock: { now: () => now },
          config: { thresholds: flags.thresholds },
        });
        lines = [...report.entries];
        alerts = report.wouldAlert.map((a) => a.subject);
      } else {
        const paths: LocalPaths = { dataDir, inboxDir: flags.inbox };
        const report = await scanExpiry({
          store: localStore(paths),
          clock: systemClock,
          log: consoleLog(io.err),
          notifier: localNotifier(paths, { ...io, out: io.err }),
          config: { thresholds: flags.thresholds },
        });
        // The alerts it sent went to the console and the outbox.
        lines = [...report.entries];
      }
      if (flags.json)
        io.out(jsonOut({ at: now.toISOString(), preview: true, entries: lines, wouldAlert: alerts }));
      else {
        io.out(table(lines, now));
        if (preview && !file) io.out(previewNote(alerts));
      }
      exit(lines.some((l) => l.days < 0) ? 1 : 0);
    });
};

/** What a preview would have alerted, and that it did not. */
const previewNote = (alerts: readonly string[]): string =>
  alerts.length === 0
    ? 'Preview: a scan at this moment would send no alert. Nothing was sent or recorded.\n'
    : `Preview: a scan at this moment would send ${alerts.length} alert${alerts.length === 1 ? '' : 's'} ` +
      `(nothing was sent or recorded):\n${alerts.map((a) => shown`  ${a}`).join('\n')}\n`;

const table = (lines: readonly ExpiryLine[], now: Date): string => {
  if (lines.length === 0) return 'The truststore is empty.\n';
  const rows = lines.map((l) => {
    const days = l.days < 0 ? 'EXPIRED' : String(l.days);
    const breaks =
      l.chainBreaksBecause === l.subject
        ? ''
        : shown`   clients break ${l.chainBreaksAt.slice(0, 10)}: ${l.chainBreaksBecause} expires first`;
    return (
      shown`${days.padStart(7)}  ${l.notAfter.slice(0, 10)}  ${l.partner.padEnd(10)} ${l.subject}` + breaks
    );
  });
  return `As of ${now.toISOString()}: days left, expiry, partner, CA\n${rows.join('\n')}\n`;
};

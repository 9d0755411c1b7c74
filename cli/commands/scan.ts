import type { Command } from 'commander';
import { consoleLog } from '../../shared/adapters/local/log.js';
import { DEFAULT_THRESHOLDS, type ExpiryLine, expiryLines, scanExpiry } from '../../shared/pipeline/scan.js';
import { readInput } from '../../shared/pki/read.js';
import { type Clock, systemClock } from '../../shared/ports.js';
import { shown } from '../../shared/text.js';
import { entryOf } from '../../shared/truststore/state.js';
import { type Io, jsonOut, loadInputs, parseAt, UsageError } from '../io.js';
import { type LocalPaths, localNotifier, localStore } from '../local.js';

interface ScanFlags {
  readonly at?: Date;
  readonly json?: boolean;
  readonly thresholds: readonly number[];
  readonly dataDir: string;
  readonly inbox: string;
}

const parseThresholds = (value: string): number[] => {
  const days = value.split(',').map((t) => Number(t.trim()));
  if (days.length === 0 || days.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new UsageError(
      `--thresholds wants whole numbers of days, comma-separated, such as 60,30,14; got "${value}"`,
    );
  }
  return days;
};

export const registerScan = (program: Command, io: Io, exit: (code: number) => void): void => {
  program
    .command('scan')
    .description(
      'Expiry scan: days until each CA expires and when its clients break. On the local state it also sends the ' +
        'threshold alerts (once per crossing); on a truststore file it only reports.',
    )
    .argument('[truststore]', 'a truststore file (PEM, DER, PKCS#7); default: the local state in --data-dir')
    .option('--at <iso8601>', 'scan as of this moment instead of now', parseAt)
    .option('--json', 'print the report as JSON')
    .option('--thresholds <days>', 'alert thresholds in days', parseThresholds, [...DEFAULT_THRESHOLDS])
    .option('--data-dir <dir>', 'local state folder', '.trustroll')
    .option('--inbox <dir>', 'inbox folder', 'inbox')
    .addHelpText('after', '\nExit status: 0 no CA expired, 1 at least one CA has expired, 2 usage error.')
    .action(async (file: string | undefined, flags: ScanFlags) => {
      const now = flags.at ?? new Date();
      let lines: ExpiryLine[];
      let alerts: string[] = [];
      if (file) {
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
      } else {
        const paths: LocalPaths = { dataDir: flags.dataDir, inboxDir: flags.inbox };
        const clock: Clock = flags.at ? { now: () => now, sleep: systemClock.sleep } : systemClock;
        const report = await scanExpiry({
          store: localStore(paths),
          clock,
          log: consoleLog(io.err),
          notifier: localNotifier(paths, { ...io, out: io.err }),
          config: { thresholds: flags.thresholds },
        });
        lines = [...report.entries];
        alerts = report.alerts.map((a) => a.subject);
      }
      io.out(flags.json ? jsonOut({ at: now.toISOString(), entries: lines, alerts }) : table(lines, now));
      exit(lines.some((l) => l.days < 0) ? 1 : 0);
    });
};

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

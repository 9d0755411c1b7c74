import { consoleLog } from '../../shared/adapters/local/log.js';
import { type ExpiryLine, expiryLines, previewScan, scanExpiry } from '../../shared/pipeline/scan.js';
import { readInput } from '../../shared/pki/read.js';
import { systemClock } from '../../shared/ports.js';
import { shown } from '../../shared/text.js';
import { entryOf } from '../../shared/truststore/state.js';
import { fileOnly, type Io, jsonOut, loadInputs, UsageError } from '../io.js';
import { type LocalPaths, localNotifier, localStore } from '../local.js';
import { holdsLocalStore, noStoreMessage, openStore } from '../stores.js';

export interface ScanFlags {
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

/** `trustroll scan`: the expiry scan, or its preview (declared in commands/scan.ts). */
export const scan = async (
  file: string | undefined,
  flags: ScanFlags,
  io: Io,
  exit: (code: number) => void,
): Promise<void> => {
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
};

import { consoleLog } from '../../shared/adapters/local/log.js';
import { type IngestReport, ingestUploads } from '../../shared/pipeline/ingest.js';
import { systemClock } from '../../shared/ports.js';
import { shown } from '../../shared/text.js';
import { KEYS } from '../../shared/truststore/state.js';
import { folderOrAbsent, type Io, jsonOut } from '../io.js';
import { type LocalPaths, localNotifier, localStore, uploadKey } from '../local.js';

export interface IngestFlags {
  readonly dataDir: string;
  readonly inbox: string;
  readonly expiringDays: number;
  readonly json?: boolean;
  readonly replace?: boolean;
}

/** A gateway for runs with no endpoint attached: nothing to roll (a running `up` rolls itself). */
const noDomains = {
  describe: async () => {
    throw new Error('no domain configured');
  },
  roll: async () => {},
};

export const summarize = (report: IngestReport): string => {
  const lines = report.uploads.map(
    (u) => shown`${u.outcome.padEnd(11)} ${u.key}` + (u.movedTo ? shown` -> ${u.movedTo}` : ''),
  );
  lines.push(
    report.changed
      ? `truststore revision ${report.revision} published as version ${report.version ?? '(superseded)'}`
      : `truststore unchanged (revision ${report.revision})`,
  );
  for (const e of report.errors) lines.push(shown`error: ${e}`);
  return `${lines.join('\n')}\n`;
};

/** `trustroll ingest`: the local inbox processed once (declared in commands/ingest.ts). */
export const ingest = async (
  files: string[],
  flags: IngestFlags,
  io: Io,
  exit: (code: number) => void,
): Promise<void> => {
  await folderOrAbsent('--inbox', flags.inbox);
  await folderOrAbsent('--data-dir', flags.dataDir);
  const paths: LocalPaths = { dataDir: flags.dataDir, inboxDir: flags.inbox };
  const store = localStore(paths);
  const keys =
    files.length > 0
      ? await Promise.all(files.map((f) => uploadKey(paths, f)))
      : (await store.list(KEYS.inbox)).map((o) => o.key);
  const report = await ingestUploads(
    keys.map((key) => ({ key, ...(flags.replace ? { replace: true } : {}) })),
    {
      store,
      gateway: noDomains,
      // With --json, stdout carries the report alone: the notifications go to stderr.
      notifier: localNotifier(paths, flags.json ? { ...io, out: io.err } : io),
      clock: systemClock,
      log: consoleLog(io.err),
      config: { expiringDays: flags.expiringDays, roll: { domains: [] } },
    },
  );
  io.out(flags.json ? jsonOut(report) : summarize(report));
  // A rejected upload is a refusal a script must see (the partner has to fix and upload again).
  const refused = report.uploads.some((u) => u.outcome === 'rejected' || u.outcome === 'private-key');
  exit(report.errors.length > 0 || refused ? 1 : 0);
};

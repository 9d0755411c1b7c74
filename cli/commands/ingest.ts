import type { Command } from 'commander';
import { consoleLog } from '../../shared/adapters/local/log.js';
import { type IngestReport, ingestUploads } from '../../shared/pipeline/ingest.js';
import { systemClock } from '../../shared/ports.js';
import { shown } from '../../shared/text.js';
import { KEYS } from '../../shared/truststore/state.js';
import { exitHelp, STORE_STATUSES } from '../exit-status.js';
import { folderOrAbsent, type Io, jsonOut, parseCount } from '../io.js';
import { type LocalPaths, localNotifier, localStore, uploadKey } from '../local.js';

interface IngestFlags {
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

export const registerIngest = (program: Command, io: Io, exit: (code: number) => void): void => {
  program
    .command('ingest')
    .description(
      'Process uploads in the local inbox once: judge, commit a new truststore version, archive or reject, notify. ' +
        'A running `trustroll up` picks the new version up and rolls its endpoint.',
    )
    .argument(
      '[files...]',
      'inbox files (paths or inbox/<partner>/<file> keys); default: everything in the inbox',
    )
    .option('--data-dir <dir>', 'local state folder', '.trustroll')
    .option('--inbox <dir>', 'inbox folder (partners drop files into <inbox>/<partner>/)', 'inbox')
    .option(
      '--expiring-days <n>',
      'warn about CAs expiring within n days',
      parseCount('--expiring-days', { max: 36_500 }),
      30,
    )
    .option('--json', 'print the ingest report as JSON')
    .option('--replace', 'the given files replace the CAs with the same subjects (intermediate rotation)')
    .addHelpText(
      'after',
      exitHelp('ingest', {
        0: 'every upload was accepted (or there was nothing to do)',
        1: 'at least one upload or request was rejected (it is in rejected/, with its report), or a step failed: the output says which',
        2: 'usage error (a file that does not exist or is not inside the inbox, overlapping folders)',
        ...STORE_STATUSES,
      }),
    )
    .action(async (files: string[], flags: IngestFlags) => {
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
    });
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

import { loadState } from '../../shared/pipeline/state-store.js';
import { parseAccessLog } from '../../shared/refusals/access-log.js';
import { explainRefusals, groupRefusals, ServedTruststores } from '../../shared/refusals/explain.js';
import { clipped, shown } from '../../shared/text.js';
import { fileOnly, type Io, jsonOut, readBounded, UsageError } from '../io.js';
import { openStore, type StoreFlags } from '../stores.js';

/** An exported access log may be large; what is read stays bounded. */
const MAX_LOG_BYTES = 256 * 1024 * 1024;

/** `trustroll refusals` (declared in commands/refusals.ts). */
export const refusals = async (
  flags: StoreFlags & { logFile: string; json?: boolean },
  io: Io,
  exit: (code: number) => void,
): Promise<void> => {
  await fileOnly('--log-file', flags.logFile);
  const text = new TextDecoder().decode(await readBounded(flags.logFile, MAX_LOG_BYTES));
  const log = parseAccessLog(text);
  // An empty file is a valid export (a filter that kept the refusals, and there were none); a
  // file of other lines only is the wrong file or the wrong format.
  if (log.refusals.length === 0 && log.passed === 0 && log.other > 0)
    throw new UsageError(
      shown`${flags.logFile} holds no access-log line of the format trustroll reads (JSON with requestId and clientCertPem; first lines: ${log.otherExamples.map((l) => JSON.stringify(l)).join(', ')}): configure the stage's access log with TruststorePipeline.accessLogFormat (README "The handshakes API Gateway refused"), then export it again`,
    );
  const deps = await openStore(flags.store, flags, io);
  const { state } = await loadState(deps.store);
  const explained = await explainRefusals(log.refusals, new ServedTruststores(deps.store, state));
  const groups = groupRefusals(explained);
  if (flags.json) {
    io.out(jsonOut({ refusals: explained, groups, passed: log.passed, otherLines: log.other }));
    return exit(explained.length > 0 ? 1 : 0);
  }
  const heading =
    `${explained.length} refused handshake${explained.length === 1 ? '' : 's'} in ${flags.logFile}` +
    ` (${log.passed} request${log.passed === 1 ? '' : 's'} passed mutual TLS` +
    (log.other > 0 ? `, ${log.other} other line${log.other === 1 ? '' : 's'} skipped` : '') +
    `), judged against the truststore versions of ${deps.label}`;
  const out = [shown`${heading}${explained.length > 0 ? ':' : '.'}`];
  for (const g of groups) {
    out.push(
      '',
      shown`partner ${g.partner}: ${g.code}, ${String(g.count)} refusal${g.count === 1 ? '' : 's'} of ${String(g.certificates.length)} certificate${g.certificates.length === 1 ? '' : 's'}` +
        (g.first ? shown` (${g.first}${g.last !== g.first ? ` to ${g.last}` : ''})` : ''),
      shown`  ${g.message}`,
    );
    const versions = [
      ...new Set(
        explained.filter((r) => r.partner === g.partner && r.code === g.code).map((r) => r.version ?? 'none'),
      ),
    ];
    out.push(`  judged against truststore version${versions.length === 1 ? '' : 's'} ${versions.join(', ')}`);
    for (const c of g.certificates.slice(0, 10))
      out.push(
        shown`  - ${clipped(c.subject)}${c.serial ? ` (serial ${c.serial})` : ''}${/^[0-9a-f]{64}$/.test(c.key) ? `, SHA-256 ${c.key.slice(0, 16)}…` : ''}`,
      );
    if (g.certificates.length > 10)
      out.push(`  … and ${g.certificates.length - 10} more (--json lists them all)`);
  }
  io.out(`${out.join('\n')}\n`);
  exit(explained.length > 0 ? 1 : 0);
};

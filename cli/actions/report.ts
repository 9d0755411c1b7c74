import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { EndpointStatusFile } from '../../shared/adapters/local/endpoint-status.js';
import { NotFoundError } from '../../shared/errors.js';
import { storeReport } from '../../shared/pipeline/report.js';
import { loadState } from '../../shared/pipeline/state-store.js';
import { type DomainStatusLine, domainStatus } from '../../shared/pipeline/status.js';
import { refusalGroupsOf } from '../../shared/refusals/explain.js';
import { type Report, type ReportFormat, renderReport } from '../../shared/report/index.js';
import { storeRolloutSources } from '../../shared/rollout/records.js';
import { shown } from '../../shared/text.js';
import type { TruststoreState } from '../../shared/truststore/state.js';
import { type Io, readBounded, UsageError } from '../io.js';
import { openStore, type StoreDeps, type StoreFlags } from '../stores.js';
import { localRolloutSources, targetStatusFilesIn } from './up-targets.js';

export interface ReportFlags extends Pick<StoreFlags, 'dataDir' | 'store' | 'region' | 'profile' | 'domain'> {
  readonly format: ReportFormat;
  readonly output?: string;
  readonly at?: Date;
  readonly thresholds: number[];
  /** An exported access log whose refused handshakes the report shows. */
  readonly refusals?: string;
}

/**
 * The domains' status and drift, as `trustroll status` reads them: the `--domain`s of an S3
 * store, or the endpoint of a running `trustroll up`. Undefined when there is none to ask.
 */
export const domainsOf = async (deps: StoreDeps): Promise<DomainStatusLine[] | undefined> => {
  let domains = deps.roll.domains;
  if (deps.gateway instanceof EndpointStatusFile) {
    const served = await deps.gateway.read();
    if (!served) {
      // `trustroll up --targets`: one endpoint per target, each with its own status file.
      const lines: DomainStatusLine[] = [];
      for (const { file } of await targetStatusFilesIn(dirname(deps.gateway.path))) {
        const s = await file.read();
        if (!s || EndpointStatusFile.gone(s)) continue;
        lines.push(...(await domainStatus({ ...deps, gateway: file, roll: { domains: [s.name] } })));
      }
      return lines.length > 0 ? lines : undefined;
    }
    if (EndpointStatusFile.gone(served)) return undefined;
    domains = [served.name];
  }
  if (domains.length === 0) return undefined;
  try {
    return await domainStatus({ ...deps, roll: { domains } });
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    throw new UsageError(
      `API Gateway has no custom domain ${domains.join(', ')} here (${error.message}): check --domain, --region and --profile`,
    );
  }
};

/**
 * The refused handshakes the report shows: `--refusals <file>` (an exported access log), else the
 * local endpoint's `refusals.log` of a data folder when there is one. Undefined when neither.
 */
const refusalsOf = async (deps: StoreDeps, file: string | undefined) => {
  const path = file ?? (deps.kind === 'folder' ? join(deps.label, 'endpoint', 'refusals.log') : undefined);
  if (!path) return undefined;
  // The endpoint's log is optional (no refusal yet); a file named on the command line is not.
  return reportRefusals(path, deps.store, (await loadState(deps.store)).state, file === undefined);
};

/**
 * The refused handshakes of an access log as the report shows them (also the page `up` serves).
 * `optional`: a file that cannot be read means no section, not an error.
 */
export const reportRefusals = async (
  path: string,
  store: StoreDeps['store'],
  state: TruststoreState,
  optional: boolean,
): Promise<Report['refusals']> => {
  let text: string;
  try {
    text = new TextDecoder().decode(await readBounded(path, 256 * 1024 * 1024));
  } catch (error) {
    if (optional) return undefined;
    throw error;
  }
  return { source: path, groups: await refusalGroupsOf(text, store, state) };
};

/** `trustroll report` (declared in commands/report.ts). */
export const report = async (flags: ReportFlags, io: Io, exit: (code: number) => void): Promise<void> => {
  if (flags.output === '')
    throw new UsageError('-o names no file: give a file name, or leave -o out (or -o -) to print');
  // A store that cannot be read is an error (2, 4 or 5), never an empty report.
  const deps = await openStore(flags.store, { ...flags, inbox: 'inbox' }, io);
  const domains = await domainsOf(deps);
  const refusals = await refusalsOf(deps, flags.refusals);
  // With targets: a data folder's target endpoints and last rollout (not when its one endpoint
  // serves: `up` without --targets, whose folder may keep an earlier rollout's record); a
  // bucket's rollout records.
  const rollouts =
    deps.gateway instanceof EndpointStatusFile
      ? (await deps.gateway.read().catch(() => undefined))
        ? undefined
        : await localRolloutSources(dirname(deps.gateway.path))
      : await storeRolloutSources(deps.store, deps.label);
  const text = renderReport(
    await storeReport(deps.store, {
      now: flags.at ?? new Date(),
      label: deps.label,
      thresholds: flags.thresholds,
      ...(domains ? { domains } : {}),
      ...(refusals ? { refusals } : {}),
      ...(rollouts ? { rollouts } : {}),
    }),
    flags.format,
  );
  if (flags.output === undefined || flags.output === '-') io.out(text);
  else {
    try {
      await writeFile(flags.output, text);
    } catch (error) {
      throw new UsageError(`cannot write ${flags.output}: ${(error as Error).message}`);
    }
    io.err(shown`wrote the ${flags.format} report of ${deps.label} to ${flags.output}\n`);
  }
  exit(0);
};

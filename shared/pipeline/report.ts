import type { Log, ObjectStore } from '../ports.js';
import { recentRefusalGroups } from '../refusals/recent.js';
import { buildReport, CONTENT_TYPES, type Report, renderReport } from '../report/index.js';
import type { RolloutSources } from '../report/rollouts.js';
import { storeRolloutSources } from '../rollout/records.js';
import type { TruststoreState } from '../truststore/state.js';
import { revokedCas } from './revocation.js';
import { loadState } from './state-store.js';
import type { DomainStatusLine } from './status.js';

/** Where the pipeline publishes the report in the store (the bucket on AWS). */
export const REPORTS_PREFIX = 'reports/';

export const REPORT_KEYS = {
  html: 'reports/index.html',
  csv: 'reports/truststore.csv',
} as const;

/**
 * The report of a store at `now`: its state read (checked: a damaged state is DamagedStoreError,
 * a missing one NotFoundError), then {@link buildReport}.
 */
export const storeReport = async (
  store: Pick<ObjectStore, 'get'>,
  options: {
    readonly now: Date;
    readonly label: string;
    readonly thresholds?: readonly number[];
    readonly domains?: readonly DomainStatusLine[];
    readonly refusals?: Report['refusals'];
    readonly rollouts?: RolloutSources;
  },
): Promise<Report> => {
  const { state } = await loadState(store);
  return buildReport(state, {
    now: options.now,
    store: options.label,
    revoked: await revokedCas(store, state),
    ...(options.thresholds ? { thresholds: options.thresholds } : {}),
    ...(options.domains ? { domains: options.domains } : {}),
    ...(options.refusals ? { refusals: options.refusals } : {}),
    ...(options.rollouts ? { rollouts: options.rollouts } : {}),
  });
};

/**
 * Publishes the report of `state`: `reports/index.html` and `reports/truststore.csv`. Called after
 * each new version is published, and by every expiry scan (so that its days left stay current and
 * it shows the domains' drift). The refused handshakes of the last days (`refusals/recent.json`,
 * written by the refusals function) are shown when there are any, and with targets the rollouts
 * (the records `rollouts/<id>.json` of the durable rollout). A report is a view: a failure
 * to write it is logged and returned, never thrown, so it can fail neither the publish nor the roll.
 */
export const publishReport = async (
  store: Pick<ObjectStore, 'put' | 'get' | 'list'>,
  state: TruststoreState,
  now: Date,
  log: Log,
  label = 'the trustroll store',
  thresholds?: readonly number[],
  domains?: readonly DomainStatusLine[],
): Promise<string | undefined> => {
  try {
    const refusals = await recentRefusalGroups(store, log, now);
    // With targets, the records the durable rollout writes: what each target serves, how the
    // last rollout went (none: no section).
    const rollouts = await storeRolloutSources(store, label);
    if (rollouts.unreadable)
      log.warn('rollout records not read for the report', { error: rollouts.unreadable });
    const report = buildReport(state, {
      now,
      store: label,
      revoked: await revokedCas(store, state),
      ...(thresholds ? { thresholds } : {}),
      ...(domains ? { domains } : {}),
      ...(refusals ? { refusals } : {}),
      rollouts,
    });
    for (const format of ['html', 'csv'] as const)
      await store.put(REPORT_KEYS[format], Buffer.from(renderReport(report, format)), {
        contentType: CONTENT_TYPES[format],
        metadata: { revision: String(state.revision) },
      });
    log.info('report published', { revision: state.revision, certificates: report.cas.length });
    return undefined;
  } catch (error) {
    const message = (error as Error).message;
    log.error('report not published', { revision: state.revision, error: message });
    return message;
  }
};

import { DEFAULT_THRESHOLDS } from '../defaults.js';
import { ConflictError, LintRefusedError } from '../errors.js';
import type { Severity } from '../finding.js';
import type { Clock, DomainGateway, Log, Notification, Notifier, ObjectStore } from '../ports.js';
import type { RevocationState } from '../revocation/state.js';
import { assertLintClean } from '../truststore/change-lint.js';
import { withOrphans } from '../truststore/orphans.js';
import { renderedOf } from '../truststore/render.js';
import { type Entry, entriesBySubject, latestPublished, type TruststoreState } from '../truststore/state.js';
import { notification } from './notifications.js';
import { durableNotifier, flushOutbox } from './outbox.js';
import { publishReport } from './report.js';
import { nextRevision } from './revision.js';
import { publishIndex } from './revocation.js';
import { type RollConfig, type RollReport, rollDomains } from './roll.js';
import {
  assertIntact,
  loadState,
  publishTruststore,
  recordVersion,
  saveState,
  sha256,
} from './state-store.js';
import { type DomainStatusLine, domainStatus } from './status.js';

export {
  CRL_THRESHOLDS,
  type CrlLine,
  crlLinesOf,
  type ExpiryLine,
  expiryLines,
  levelOf,
  pathToRoot,
} from './expiry.js';
export { DEFAULT_THRESHOLDS };

import {
  CRL_THRESHOLDS,
  type CrlLine,
  crlLinesOf,
  type ExpiryLine,
  expiryLines,
  levelOf,
  pathToRoot,
} from './expiry.js';

export interface ScanConfig {
  /** Days before expiry at which a CA is reported, once per crossing. Default 60, 30, 14, 7, 3, 1. */
  readonly thresholds?: readonly number[];
  /** Remove expired CAs and the CAs left without a path to a root. Default false. */
  readonly prune?: boolean;
  /** Domains to roll after a prune, and to check for drift. */
  readonly roll?: RollConfig;
  /**
   * Roll the domains after a prune here. Default true; the Lambda scan says false and asks the
   * ingest function for a run instead (its timeout is shorter than one roll's worst case).
   */
  readonly rollAfterPrune?: boolean;
  /** trustroll's truststore URI: a domain pointing elsewhere has drifted. */
  readonly truststoreUri?: string;
}

export interface ScanDeps {
  readonly store: ObjectStore;
  readonly clock: Clock;
  readonly log: Log;
  readonly notifier?: Notifier;
  /** Needed only when pruning rolls domains. */
  readonly gateway?: DomainGateway;
  readonly config?: ScanConfig;
  /** What the report names the store (`s3://bucket/`, a data folder); default `the trustroll store`. */
  readonly label?: string;
}

export interface ScanReport {
  readonly certificates: number;
  /** Size of the truststore the scan leaves (the PEM bundle API Gateway reads), in bytes. */
  readonly truststoreBytes: number;
  /** Days until the first CA of the truststore expires; undefined for an empty truststore. */
  readonly nearestExpiryDays?: number;
  /** Every entry, soonest expiry first. */
  readonly entries: readonly ExpiryLine[];
  /** Alerts sent by this scan (new threshold crossings only). */
  readonly alerts: readonly Notification[];
  /** Fingerprints removed by pruning. */
  readonly pruned: readonly string[];
  readonly version?: string;
  readonly roll?: RollReport;
  readonly errors: readonly string[];
  /** Domains found pointing at a version or object trustroll did not roll (needs the gateway). */
  readonly drift: readonly DomainStatusLine[];
  /** Uploads waiting for their issuer whose window has ended: an ingest run rejects them. */
  readonly pendingDue: number;
  /** Every CRL held, soonest nextUpdate first. */
  readonly crls: readonly CrlLine[];
  /** The last change of the CRLs held (`revocation.crlChange`): what a CRL sync is named after. */
  readonly crlChange?: { readonly revision: number; readonly generation: number };
  /** The latest published version and its revision: what its rollout is named after. */
  readonly release?: { readonly revision: number; readonly version: string };
}

const severityOf = (level: number): Severity => (level === 0 ? 'error' : level <= 30 ? 'warning' : 'info');

/** What a scan of `state` at `now` finds, before anything is sent or written. */
interface Assessment {
  readonly lines: ExpiryLine[];
  readonly bySubject: Map<string, Entry[]>;
  /** The alert levels to remember after this scan. */
  readonly alerted: NonNullable<TruststoreState['expiryAlerts']>;
  /** The CAs that crossed a threshold they were not alerted for. */
  readonly due: { entry: Entry; line: ExpiryLine; level: number }[];
  readonly pruned: Entry[];
  readonly crlLines: CrlLine[];
  /** The CRL staleness levels to remember after this scan. */
  readonly crlAlerted: NonNullable<RevocationState['staleAlerts']>;
  readonly crlDue: { line: CrlLine; level: number }[];
}

/** The pure part of a scan, shared by the scan and its preview. */
const assess = (
  state: TruststoreState,
  now: Date,
  thresholds: readonly number[],
  prune: boolean,
): Assessment => {
  const lines = expiryLines(state.entries, now);
  const bySubject = entriesBySubject(state.entries);
  const alerted = { ...(state.expiryAlerts ?? {}) };
  const due: Assessment['due'] = [];
  const live = new Set(state.entries.map((e) => e.fingerprint));
  for (const fp of Object.keys(alerted)) if (!live.has(fp)) delete alerted[fp];
  const byFingerprint = new Map(state.entries.map((e) => [e.fingerprint, e]));
  for (const line of lines) {
    const entry = byFingerprint.get(line.fingerprint)!;
    const level = levelOf(line.days, thresholds);
    const renewed = (bySubject.get(entry.subjectKey) ?? []).some(
      (o) => o !== entry && o.notAfter > entry.notAfter,
    );
    if (level === undefined || renewed) {
      delete alerted[entry.fingerprint];
      continue;
    }
    const previous = alerted[entry.fingerprint]?.level;
    if (previous !== undefined && previous <= level) continue;
    alerted[entry.fingerprint] = { level, at: now.toISOString() };
    due.push({ entry, line, level });
  }
  const crl = assessCrls(state, now);
  return { lines, bySubject, alerted, due, pruned: prune ? prunable(state.entries, now) : [], ...crl };
};

/** Each CRL held: how long until its nextUpdate, and whether that crossed a level not yet alerted. */
const assessCrls = (state: TruststoreState, now: Date) => {
  const rev = state.revocation;
  const crlAlerted = { ...(rev?.staleAlerts ?? {}) };
  const crlDue: Assessment['crlDue'] = [];
  const crlLines = crlLinesOf(state, now);
  const live = new Set(crlLines.map((l) => l.key));
  for (const key of Object.keys(crlAlerted)) if (!live.has(key)) delete crlAlerted[key];
  for (const line of crlLines) {
    const level = line.days === undefined ? undefined : levelOf(line.days, CRL_THRESHOLDS);
    if (level === undefined) {
      delete crlAlerted[line.key];
      continue;
    }
    // A newer CRL far from its nextUpdate clears the level (above): its own crossings alert again.
    const previous = crlAlerted[line.key];
    if (previous && previous.level <= level) continue;
    crlAlerted[line.key] = { level, at: now.toISOString() };
    crlDue.push({ line, level });
  }
  return { crlLines, crlAlerted, crlDue };
};

/** How long until `at`, as people say it: hours under three days (a floor of days said "in 0 days" 20 hours ahead). */
const timeUntil = (at: string, now: Date): string => {
  const hours = Math.round((Date.parse(at) - now.getTime()) / 3_600_000);
  if (hours < 1) return 'in less than an hour';
  if (hours < 72) return `in ${hours} hour${hours === 1 ? '' : 's'}`;
  const days = Math.floor(hours / 24);
  return `in ${days} days`;
};

const crlNotification = (line: CrlLine, level: number, now: Date): Notification => {
  const past = level === 0;
  const when = line.nextUpdate!.slice(0, 10);
  const left = timeUntil(line.nextUpdate!, now);
  return notification(
    'crl.stale',
    past ? 'error' : 'warning',
    `${line.key}:${line.nextUpdate}:${level}`,
    past
      ? `CRL overdue: ${line.issuer} (${line.partner})`
      : `CRL due ${left}: ${line.issuer} (${line.partner})`,
    [
      past
        ? `The CRL of ${line.issuer} (partner ${line.partner}${line.number ? `, CRL number ${line.number}` : ''}) was due to be replaced on ${when}, and no newer one has arrived.`
        : `The CRL of ${line.issuer} (partner ${line.partner}${line.number ? `, CRL number ${line.number}` : ''}) is due to be replaced on ${line.nextUpdate!.slice(0, 16).replace('T', ' ')} UTC, ${left}.`,
      '',
      'What happens:',
      '- The authorizer checks revocation against the latest CRL it holds; once that CRL is past its nextUpdate and the grace (default one day), it denies the clients the CRL covers (or, configured with staleCrl allow, lets them through unchecked).',
      '',
      'What to do:',
      `- Upload the CA's current CRL (PEM or DER) to inbox/${line.partner}/crl/: most CAs publish one at their CRL distribution point.`,
    ],
    line.partner,
  );
};

const alertsOf = (
  state: TruststoreState,
  due: Assessment['due'],
  crlDue: Assessment['crlDue'],
  pruned: readonly Entry[],
  bySubject: Map<string, Entry[]>,
  now: Date,
): Notification[] => {
  const alerts = due.map((d) => expiryNotification(d.entry, d.line, d.level, state.entries, bySubject));
  alerts.push(...crlDue.map((d) => crlNotification(d.line, d.level, now)));
  if (pruned.length > 0) alerts.push(pruneNotification(pruned, state.entries, now));
  return alerts;
};

/** What a preview may touch of the store: it reads objects, and has no way to write one. */
export type ReadOnlyStore = Pick<ObjectStore, 'get'>;

export interface PreviewDeps {
  readonly store: ReadOnlyStore;
  readonly clock: Pick<Clock, 'now'>;
  readonly config?: Pick<ScanConfig, 'thresholds' | 'prune'>;
}

export interface ScanPreview {
  readonly certificates: number;
  readonly nearestExpiryDays?: number;
  /** Every entry, soonest expiry first. */
  readonly entries: readonly ExpiryLine[];
  /** The alerts a real scan at this moment would send (none was sent). */
  readonly wouldAlert: readonly Notification[];
  /** The fingerprints a real scan with pruning on would remove (none was removed). */
  readonly wouldPrune: readonly string[];
}

/**
 * The expiry scan as a preview, at any moment (`trustroll scan --at`, `--dry-run`, `--json`):
 * the same findings as {@link scanExpiry}, but it takes no notifier and a store it cannot write
 * to, so it never alerts and never records a level. Only the real scan, at the real moment,
 * remembers which thresholds were alerted: a preview of the future would otherwise silence the
 * alerts that are still to come.
 */
export const previewScan = async (deps: PreviewDeps): Promise<ScanPreview> => {
  const thresholds = [...(deps.config?.thresholds ?? DEFAULT_THRESHOLDS)].sort((a, b) => b - a);
  const { state } = await loadState(deps.store);
  const now = deps.clock.now();
  const { lines, bySubject, due, pruned, crlDue } = assess(
    state,
    now,
    thresholds,
    deps.config?.prune === true,
  );
  return {
    certificates: lines.length,
    ...(lines[0] === undefined ? {} : { nearestExpiryDays: lines[0].days }),
    entries: lines,
    wouldAlert: alertsOf(state, due, crlDue, pruned, bySubject, now),
    wouldPrune: pruned.map((e) => e.fingerprint),
  };
};

/**
 * The expiry scan.
 * 1. For every CA: days until notAfter, and when its clients break (the first expiry on its
 *    path to the root — an intermediate can outlive its root).
 * 2. A CA that crossed a threshold it was not alerted for gets one alert (severity rising as
 *    expiry nears, error once expired), addressed to its partner. A CA with a same-subject
 *    successor that expires later (renewed) is not alerted.
 * 3. The thresholds alerted are remembered in the state (compare-and-set), so re-runs, retried
 *    Lambdas and two scans on one day send nothing new. This is the scan at the real moment (the
 *    schedule, `trustroll scan`): any other moment is a {@link previewScan}.
 * 4. With pruning on: expired CAs, and the CAs whose path to a root then breaks, are removed in
 *    one new version that is published and rolled like any other; the alert lists them.
 */
export const scanExpiry = async (deps: ScanDeps): Promise<ScanReport> => {
  const thresholds = [...(deps.config?.thresholds ?? DEFAULT_THRESHOLDS)].sort((a, b) => b - a);
  const errors: string[] = [];
  let pruneRefused: string | undefined;
  // New alerts are parked in the state if delivery fails; parked ones are delivered below.
  const notifier = deps.notifier ? durableNotifier(deps.store, deps.notifier) : undefined;
  for (let attempt = 1; ; attempt++) {
    const { state, etag } = await loadState(deps.store);
    const now = deps.clock.now();
    const assessed = assess(state, now, thresholds, deps.config?.prune === true);
    const { bySubject, alerted, due, crlDue, crlAlerted } = assessed;
    let pruned = assessed.pruned;
    if (pruned.length > 0) {
      // A prune is a change like any other: one that would leave the truststore failing lint
      // (every CA expired: an empty truststore, which API Gateway refuses) is not made.
      const gone = new Set(pruned.map((e) => e.fingerprint));
      try {
        assertLintClean(
          state.entries,
          state.entries.filter((e) => !gone.has(e.fingerprint)),
          now,
        );
        pruneRefused = undefined;
      } catch (error) {
        if (!(error instanceof LintRefusedError)) throw error;
        pruneRefused = `pruning ${pruned.length} expired or orphaned CA(s) was not done: ${error.message}`;
        pruned = [];
      }
    }
    const withCrls = (s: TruststoreState): TruststoreState =>
      s.revocation ? { ...s, revocation: { ...s.revocation, staleAlerts: crlAlerted } } : s;
    const next = withCrls(
      pruned.length > 0 ? pruneState(state, pruned, alerted, now) : { ...state, expiryAlerts: alerted },
    );
    const unchanged =
      due.length === 0 &&
      crlDue.length === 0 &&
      pruned.length === 0 &&
      sameAlerts(state.expiryAlerts ?? {}, alerted) &&
      sameAlerts(state.revocation?.staleAlerts ?? {}, crlAlerted);
    if (!unchanged) {
      await assertIntact(deps.store, state);
      try {
        await saveState(deps.store, next, etag);
      } catch (error) {
        if (error instanceof ConflictError && attempt < 20) continue;
        throw error;
      }
    }

    const alerts = alertsOf(state, due, crlDue, pruned, bySubject, now);
    for (const n of alerts) {
      try {
        if (notifier) await notifier.publish(n);
      } catch (error) {
        errors.push(`notification ${n.id}: ${(error as Error).message}`);
        deps.log.error('notification failed', { id: n.id, error: (error as Error).message });
      }
    }

    let version: string | undefined;
    let roll: RollReport | undefined;
    if (pruned.length > 0) {
      version = await publishTruststore(deps.store, next, deps.log);
      if (version) {
        await recordVersion(deps.store, next.revision, version);
        // The index follows the pruned set (a pruned CA's clients are denied as unknown).
        await publishIndex(deps.store, next, deps.log).catch((error: Error) =>
          errors.push(`publishing the revocation index: ${error.message}`),
        );
        if (
          deps.gateway &&
          deps.notifier &&
          deps.config?.roll &&
          deps.config.roll.domains.length > 0 &&
          deps.config.rollAfterPrune !== false
        ) {
          roll = await rollDomains(
            version,
            {
              gateway: deps.gateway,
              notifier: deps.notifier,
              clock: deps.clock,
              log: deps.log,
              config: deps.config.roll,
            },
            {
              revision: next.revision,
              ...(state.lastRollAt ? { lastUpdateAt: new Date(state.lastRollAt) } : {}),
            },
          );
          errors.push(...roll.notifyErrors);
        }
      }
    }
    // Alerts a previous run could not deliver (read only when the state holds some).
    if (deps.notifier && (state.outbox ?? []).length > 0) {
      errors.push(...(await flushOutbox(deps.store, deps.notifier, deps.log)));
    }
    // Drift: a domain changed by hand is reported with every scan until it is fixed.
    const drift: DomainStatusLine[] = [];
    let domainLines: DomainStatusLine[] | undefined;
    if (deps.gateway && deps.config?.roll && deps.config.roll.domains.length > 0) {
      try {
        domainLines = await domainStatus(
          { store: deps.store, gateway: deps.gateway, roll: deps.config.roll },
          deps.config.truststoreUri,
        );
        drift.push(...domainLines.filter((d) => d.drift));
      } catch (error) {
        errors.push(`reading domain status: ${(error as Error).message}`);
      }
      for (const d of drift) {
        const n = notification(
          'truststore.drift',
          'warning',
          `${d.name}:${d.truststoreVersion ?? d.truststoreUri}:${now.toISOString().slice(0, 10)}`,
          `${d.name} drifted: ${d.drift}`,
          [
            `The custom domain ${d.name} ${d.drift}.`,
            'trustroll did not make this change, and its next roll will replace it with the latest version.',
            'If the change was intended, put the CAs through the inbox instead; if not, run trustroll status and roll back the domain.',
          ],
        );
        try {
          if (notifier) await notifier.publish(n);
          alerts.push(n);
        } catch (error) {
          errors.push(`notification ${n.id}: ${(error as Error).message}`);
        }
      }
    }
    // The index of the latest state, when a writer stopped between its commit and the index's
    // publish (`trustroll revoke` killed, say): the authorizer would go on deciding from the older
    // one until the next change. One HEAD when it is current.
    if (pruned.length === 0 && latestPublished(next)?.version)
      await publishIndex(deps.store, next, deps.log).catch((error: Error) =>
        errors.push(`publishing the revocation index: ${error.message}`),
      );
    // The report, made afresh each scan: its days left stay current between versions, and it shows
    // the domains as read now (drift included). A pruned version's report too. Only logged on failure.
    if (latestPublished(next)?.version)
      await publishReport(deps.store, next, now, deps.log, deps.label, thresholds, domainLines);
    const remaining = expiryLines(next.entries, now);
    const nearest = remaining[0]?.days;
    deps.log.info('expiry scanned', {
      certificates: remaining.length,
      nearestExpiryDays: nearest ?? null,
      alerts: alerts.length,
      pruned: pruned.length,
    });
    const pendingDue = Object.values(state.pending ?? {}).filter(
      (p) => Date.parse(p.until) < now.getTime(),
    ).length;
    const crlChange = next.revocation?.crlChange;
    const published = latestPublished(next);
    return {
      ...(published?.version
        ? { release: { revision: published.revision, version: published.version } }
        : {}),
      pendingDue,
      crls: assessed.crlLines,
      ...(crlChange ? { crlChange } : {}),
      certificates: remaining.length,
      truststoreBytes: renderedOf(next.entries).body.length,
      ...(nearest === undefined ? {} : { nearestExpiryDays: nearest }),
      entries: remaining,
      alerts,
      pruned: pruned.map((e) => e.fingerprint),
      ...(version
        ? { version }
        : latestPublished(next)?.version
          ? { version: latestPublished(next)!.version! }
          : {}),
      ...(roll ? { roll } : {}),
      errors: pruneRefused ? [pruneRefused, ...errors] : errors,
      drift,
    };
  }
};

const sameAlerts = (a: Record<string, { level: number }>, b: Record<string, { level: number }>): boolean => {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => b[k]?.level === a[k]?.level);
};

/**
 * Expired CAs, then every CA whose path to a self-signed root runs through a removed one. A CA
 * that has not expired and still reaches a root is never removed.
 */
export const prunable = (entries: readonly Entry[], now: Date): Entry[] =>
  withOrphans(
    entries,
    new Set(entries.filter((e) => Date.parse(e.notAfter) < now.getTime()).map((e) => e.fingerprint)),
  );

const pruneState = (
  state: TruststoreState,
  pruned: readonly Entry[],
  alerted: NonNullable<TruststoreState['expiryAlerts']>,
  now: Date,
): TruststoreState => {
  const gone = new Set(pruned.map((e) => e.fingerprint));
  return nextRevision(
    { ...state, expiryAlerts: alerted },
    {
      entries: state.entries.filter((e) => !gone.has(e.fingerprint)),
      removed: pruned,
      added: [],
      reason: `expiry scan pruned ${pruned.length} CA${pruned.length === 1 ? '' : 's'}`,
      at: now,
    },
  );
};

const day = (iso: string) => iso.slice(0, 10);

/** The CAs whose clients break when `entry` expires: itself and every CA issued under it. */
const dependents = (entry: Entry, entries: readonly Entry[], bySubject: Map<string, Entry[]>): Entry[] =>
  entries.filter((e) => pathToRoot(e, bySubject).some((p) => p.fingerprint === entry.fingerprint));

const expiryNotification = (
  entry: Entry,
  line: ExpiryLine,
  level: number,
  entries: readonly Entry[],
  bySubject: Map<string, Entry[]>,
): Notification => {
  const expired = level === 0;
  const affected = dependents(entry, entries, bySubject);
  const partners = [...new Set(affected.map((e) => e.partner))];
  const earlier = line.chainBreaksAt < entry.notAfter;
  const lines = [
    expired
      ? `The CA ${entry.subject} (partner ${entry.partner}) expired on ${day(entry.notAfter)}.`
      : `The CA ${entry.subject} (partner ${entry.partner}) expires on ${day(entry.notAfter)}, in ${line.days} day${line.days === 1 ? '' : 's'}.`,
    `  sha256 ${entry.fingerprint}`,
    '',
    'Which clients break:',
    ...affected.map(
      (e) =>
        `- client certificates issued by ${e.subject} (partner ${e.partner})` +
        (e.fingerprint === entry.fingerprint
          ? ''
          : `, although that CA itself is valid until ${day(e.notAfter)}`),
    ),
    ...(earlier
      ? [
          '',
          `Note: ${line.chainBreaksBecause}, higher up its chain, expires earlier, on ${day(line.chainBreaksAt)}: its clients break then already.`,
        ]
      : []),
    '',
    'What to do:',
    `- Ask ${partners.join(', ')} for the renewed CA certificate (same subject, new validity) and its chain, and upload it to inbox/${entry.partner}/.`,
    '- Clients need certificates issued under a CA that is valid; API Gateway does not warn when a CA in the truststore expires.',
  ];
  return notification(
    expired ? 'ca.expired' : 'ca.expiring',
    severityOf(level),
    `${entry.fingerprint}:${level}`,
    expired
      ? `CA expired: ${entry.subject} (${entry.partner})`
      : `CA expires in ${line.days} day${line.days === 1 ? '' : 's'}: ${entry.subject} (${entry.partner})`,
    lines,
    entry.partner,
  );
};

const pruneNotification = (pruned: readonly Entry[], entries: readonly Entry[], now: Date): Notification => {
  const expired = new Set(
    pruned.filter((e) => Date.parse(e.notAfter) < now.getTime()).map((e) => e.fingerprint),
  );
  const partners = [...new Set(pruned.map((e) => e.partner))];
  return notification(
    'truststore.pruned',
    'warning',
    `${sha256(pruned.map((e) => e.fingerprint).join())}`,
    `pruned ${pruned.length} expired or orphaned CA${pruned.length === 1 ? '' : 's'} (${partners.join(', ')})`,
    [
      `The expiry scan removed ${pruned.length} of ${entries.length} CAs from the truststore:`,
      ...pruned.map(
        (e) =>
          `- ${e.subject} (partner ${e.partner}, sha256 ${e.fingerprint.slice(0, 16)}…): ` +
          (expired.has(e.fingerprint)
            ? `expired on ${day(e.notAfter)}`
            : 'no path to a root left after the removal'),
      ),
      '',
      'Clients under these CAs were already failing. To restore them, upload renewed CA certificates.',
    ],
    partners.length === 1 ? partners[0] : undefined,
  );
};

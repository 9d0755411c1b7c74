import type { Rollout, RolloutStatus, TargetKind, TargetPhase, TargetRun } from '../rollout/model.js';

/**
 * The rollouts section of the report: which truststore version each target serves, and how the
 * last rollout went. A pure function of what the mode holds: the rollout records (on AWS
 * `rollouts/<id>.json`, newest first; locally `endpoint/rollout.json`) and, locally, what each
 * target endpoint says it serves (its status file).
 */

/** What one target endpoint says it serves (local mode: `endpoint/targets/<id>/status.json`). */
export interface ServedTarget {
  readonly id: string;
  /** The custom domain it plays. */
  readonly name: string;
  readonly status: string;
  readonly version?: string;
  /** False once its `trustroll up` is gone (it serves nothing now); undefined when not known. */
  readonly running?: boolean;
}

/** What the report is given: where the records were read, the records, and what targets serve. */
export interface RolloutSources {
  /** Where the records were read (`s3://bucket/rollouts/`, a data folder's `endpoint/rollout.json`). */
  readonly source: string;
  /** The rollout records, newest first (the first is the last rollout). */
  readonly records: readonly Rollout[];
  /** Local mode: what each target endpoint serves, which is the truth the records only infer. */
  readonly served?: readonly ServedTarget[];
  /** The records could not be read (the report says why, and shows no guess). */
  readonly unreadable?: string;
}

/**
 * A target's state in the last rollout: `rolled` (rolled and verified), `unchanged` (it served the
 * version already), `rolled-back`, `failed`, `in-progress`, `not-reached` (the rollout stopped or
 * was superseded before it was updated), `unverified` (updated, then superseded before its
 * verification), `not-in-rollout` (not a target of the last rollout: added since).
 */
export type ReportTargetState =
  | 'rolled'
  | 'unchanged'
  | 'rolled-back'
  | 'failed'
  | 'in-progress'
  | 'not-reached'
  | 'unverified'
  | 'not-in-rollout';

export interface ReportTarget {
  readonly id: string;
  /** Absent for a target only its endpoint knows (not in the last rollout). */
  readonly wave?: string;
  readonly kind?: TargetKind;
  /** The custom domain name, or the trust store's ARN. */
  readonly resource?: string;
  /** Absent: the pipeline's own region / account. */
  readonly region?: string;
  readonly account?: string;
  /** The truststore version it serves; absent when it serves none, or when that is not known. */
  readonly version?: string;
  /**
   * How `version` is known: `endpoint` (what the target says, local mode), `records` (the last
   * rollout that settled it: rolled, unchanged or rolled back), `unknown` (a failure left it
   * unconfirmed, or no record says).
   */
  readonly versionKnownFrom: 'endpoint' | 'records' | 'unknown';
  /** It serves the latest published version. */
  readonly latest: boolean;
  readonly state: ReportTargetState;
  /** Its phase in the last rollout's record (absent when it is not in it). */
  readonly phase?: TargetPhase;
  /** The state in words, with the reason when it did not roll. */
  readonly stateText: string;
  /** Local mode: its endpoint runs (false: its `trustroll up` stopped). */
  readonly running?: boolean;
}

export interface ReportRollout {
  readonly id: string;
  readonly revision: number;
  readonly version: string;
  readonly status: RolloutStatus;
  /** The outcome in words. */
  readonly outcome: string;
  readonly startedAt: string;
  /** The record's last step. */
  readonly updatedAt: string;
  /** When it ended (its last step), absent while it runs. */
  readonly finishedAt?: string;
  readonly waves: readonly string[];
  /** The wave it stopped in (rolled back, failed, superseded) or is rolling (running). */
  readonly wave?: string;
  readonly reason?: string;
  /** It is the rollout of the latest published version. */
  readonly ofLatest: boolean;
  /**
   * Locally: it took the targets to the newest verified version after this rollout of a newer
   * version stopped (that version refused): `Rollout.after`.
   */
  readonly after?: NonNullable<Rollout['after']>;
}

export interface ReportRollouts {
  readonly source: string;
  /** The last rollout (absent: none has written a record yet, or the records are unreadable). */
  readonly last?: ReportRollout;
  /** Every target: of the last rollout in wave order, then any only an endpoint knows. */
  readonly targets: readonly ReportTarget[];
  /** The versions served, each with its targets (`version` `''`: they serve none; absent: not known). */
  readonly versions: readonly { readonly version?: string; readonly targets: readonly string[] }[];
  /** The targets whose version is known do not all serve the same one. */
  readonly mixed: boolean;
  /** What a person must know first, in plain sentences. */
  readonly statements: readonly string[];
  /** Why the records could not be read. */
  readonly unreadable?: string;
}

const OUTCOME: Record<RolloutStatus, string> = {
  running: 'in progress',
  succeeded: 'completed: every target rolled and verified, or already on the version',
  'rolled-back': 'stopped and rolled back',
  failed: 'FAILED: a person must look',
  superseded: 'superseded by a newer version (nothing rolled back)',
};

const IN_PROGRESS: Readonly<Partial<Record<TargetPhase, string>>> = {
  pending: 'waiting for its wave',
  waiting: 'waiting for the target to be available',
  updating: 'updating',
  verifying: 'verifying',
  'rolling-back': 'rolling back',
};

/** The version a record settles for a target, or undefined when it settles none (look further back). */
const settled = (rollout: Rollout, run: TargetRun): { version?: string; known: boolean } | undefined => {
  switch (run.phase) {
    case 'rolled':
    case 'unchanged':
      return { version: rollout.version, known: true };
    case 'rolled-back':
      return run.from === undefined ? { known: false } : { version: run.from, known: true };
    case 'pending':
    case 'skipped':
      // Not touched by this rollout: what it served before, if this rollout read it.
      return run.from === undefined || run.carried ? undefined : { version: run.from, known: true };
    case 'waiting':
      return run.from === undefined ? undefined : { version: run.from, known: true };
    case 'verifying':
      // AVAILABLE on the version, its verification not finished.
      return { version: rollout.version, known: true };
    case 'updating':
      // Paced or backing off: its update not requested yet, it still serves what it served.
      return run.requestedAt === undefined && run.from !== undefined && !run.carried
        ? { version: run.from, known: true }
        : { known: false };
    default:
      // Updating, verifying, rolling back, failed: between two versions, or unconfirmed.
      return { known: false };
  }
};

const stateOf = (rollout: Rollout, run: TargetRun): { state: ReportTargetState; text: string } => {
  const error = run.error ? `: ${run.error}` : '';
  switch (run.phase) {
    case 'rolled':
      return {
        state: 'rolled',
        text: run.probe
          ? 'rolled and verified (no new warning, its probe passed)'
          : 'rolled and verified (no new warning)',
      };
    case 'unchanged':
      return { state: 'unchanged', text: 'already on the version: nothing to do' };
    case 'rolled-back':
      return {
        state: 'rolled-back',
        text: `rolled back${run.from ? ` to ${run.from}` : ''}${error}`,
      };
    case 'failed':
      return {
        state: 'failed',
        text: `FAILED${error}${run.unconfirmed ? ' (what it serves is unconfirmed)' : ''}`,
      };
    case 'skipped':
      return {
        state: 'not-reached',
        text:
          rollout.status === 'superseded'
            ? 'not reached: a newer version superseded the rollout first'
            : 'not reached: the rollout stopped before updating it',
      };
    default:
      if (
        rollout.status === 'superseded' &&
        (run.phase === 'verifying' || (run.phase === 'updating' && run.requestedAt !== undefined))
      )
        return {
          state: 'unverified',
          text: `updated to ${rollout.version}, never verified: a newer version superseded the rollout first`,
        };
      if (rollout.status === 'superseded')
        return { state: 'not-reached', text: 'not reached: a newer version superseded the rollout first' };
      if (rollout.status !== 'running')
        return { state: 'not-reached', text: `not reached: the rollout ended ${rollout.status}` };
      return { state: 'in-progress', text: `in progress: ${IN_PROGRESS[run.phase] ?? run.phase}` };
  }
};

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const list = (items: readonly string[]): string =>
  items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;

/**
 * The rollouts section, or undefined when there are no targets (no record and no target endpoint).
 * `latestVersion`: the latest published truststore version.
 */
export const reportRollouts = (
  sources: RolloutSources,
  latestVersion: string | undefined,
): ReportRollouts | undefined => {
  const [last] = sources.records;
  const served = new Map((sources.served ?? []).map((s) => [s.id, s]));
  if (sources.unreadable === undefined && !last && served.size === 0) return undefined;
  const targets: ReportTarget[] = [];
  for (const run of last?.targets ?? []) {
    const endpoint = served.get(run.id);
    let version: string | undefined;
    let knownFrom: ReportTarget['versionKnownFrom'] = 'unknown';
    if (endpoint) {
      version = endpoint.version;
      knownFrom = 'endpoint';
    } else {
      for (const record of sources.records) {
        const r = record.targets.find((t) => t.id === run.id);
        const s = r && settled(record, r);
        if (!s) continue;
        if (s.known) {
          version = s.version;
          knownFrom = 'records';
        }
        break;
      }
    }
    const { state, text } = stateOf(last!, run);
    targets.push({
      id: run.id,
      wave: run.wave,
      ...(run.kind ? { kind: run.kind } : {}),
      ...((run.resource ?? endpoint?.name) ? { resource: (run.resource ?? endpoint?.name)! } : {}),
      ...(run.region ? { region: run.region } : {}),
      ...(run.account ? { account: run.account } : {}),
      ...(version === undefined ? {} : { version }),
      versionKnownFrom: knownFrom,
      latest: version !== undefined && version === latestVersion,
      state,
      phase: run.phase,
      stateText: text,
      ...(endpoint?.running === undefined ? {} : { running: endpoint.running }),
    });
  }
  for (const endpoint of sources.served ?? []) {
    if (targets.some((t) => t.id === endpoint.id)) continue;
    targets.push({
      id: endpoint.id,
      resource: endpoint.name,
      ...(endpoint.version === undefined ? {} : { version: endpoint.version }),
      versionKnownFrom: 'endpoint',
      latest: endpoint.version !== undefined && endpoint.version === latestVersion,
      state: 'not-in-rollout',
      stateText: last
        ? 'not in the last rollout (a target added since)'
        : 'no rollout has run with the targets yet',
      ...(endpoint.running === undefined ? {} : { running: endpoint.running }),
    });
  }

  // A target whose endpoint stopped serves nothing now: it does not count among the versions.
  const counted = targets.filter((t) => t.running !== false);
  const versions: { version?: string; targets: string[] }[] = [];
  for (const t of counted) {
    const key = t.versionKnownFrom === 'unknown' ? undefined : (t.version ?? '');
    let group = versions.find((v) => (v.version ?? undefined) === key);
    if (!group) {
      group = key === undefined ? { targets: [] } : { version: key, targets: [] };
      versions.push(group);
    }
    group.targets.push(t.id);
  }
  const known = versions.filter((v) => v.version !== undefined);
  const mixed = known.length > 1;
  const name = (v: string | undefined) =>
    v === undefined ? 'not known' : v === '' ? 'none' : `truststore version ${v}`;

  const statements: string[] = [];
  if (sources.unreadable !== undefined)
    statements.push(
      `The rollout records could not be read (${sources.unreadable}): the targets' versions are not shown.`,
    );
  if (counted.length > 0) {
    if (mixed)
      statements.push(
        `The targets serve DIFFERENT truststore versions: ${versions
          .map(
            (v) =>
              `${v.version === undefined ? 'not known on' : `${name(v.version)}${v.version === latestVersion ? ' (the latest)' : ''} on`} ${list(v.targets)}`,
          )
          .join('; ')}.`,
      );
    else if (known.length === 1) {
      const v = known[0]!.version!;
      const all = known[0]!.targets.length === counted.length;
      statements.push(
        `${all ? `Every target (${counted.length})` : list(known[0]!.targets)} serves ${
          v === '' ? 'no truststore version' : name(v)
        }${v === latestVersion ? ', the latest' : latestVersion ? `, NOT the latest (${latestVersion})` : ''}.`,
      );
    }
    const unknown = versions.find((v) => v.version === undefined);
    if (unknown)
      statements.push(
        `What ${list(unknown.targets)} ${unknown.targets.length === 1 ? 'serves' : 'serve'} is not known: look at ${unknown.targets.length === 1 ? 'it' : 'them'} (the state below says why).`,
      );
  }
  const stopped = targets.filter((t) => t.running === false).map((t) => t.id);
  if (stopped.length > 0)
    statements.push(
      `The endpoint${stopped.length === 1 ? '' : 's'} of ${list(stopped)} ${stopped.length === 1 ? 'is' : 'are'} not running (trustroll up stopped): ${stopped.length === 1 ? 'it serves' : 'they serve'} nothing now.`,
    );

  let lastOut: ReportRollout | undefined;
  if (last) {
    const wave =
      last.status === 'succeeded' ? undefined : last.waves[Math.min(last.wave, last.waves.length - 1)];
    lastOut = {
      id: last.id,
      revision: last.revision,
      version: last.version,
      status: last.status,
      outcome: OUTCOME[last.status] ?? last.status,
      startedAt: last.startedAt,
      updatedAt: last.updatedAt,
      ...(last.status === 'running' ? {} : { finishedAt: last.updatedAt }),
      waves: last.waves,
      ...(wave === undefined ? {} : { wave }),
      ...(last.reason ? { reason: last.reason } : {}),
      ofLatest: last.version === latestVersion,
      ...(last.after ? { after: last.after } : {}),
    };
    const where = wave ? ` in wave ${wave} (${last.waves.indexOf(wave) + 1} of ${last.waves.length})` : '';
    const said: Record<RolloutStatus, string> = {
      running: `is in progress${where}`,
      succeeded: 'completed: every target rolled and verified, or already on it',
      'rolled-back': `stopped${where} and rolled back the targets it had rolled`,
      failed: `FAILED${where}: some target was not rolled, not rolled back, or is unconfirmed`,
      superseded: `was superseded${where} by a newer version, nothing rolled back`,
    };
    statements.push(
      `The last rollout, of truststore version ${last.version} (revision ${last.revision}), ${said[last.status] ?? last.status}${last.reason ? `: ${last.reason}` : ''}.`,
    );
    const rolledBack = targets.filter((t) => t.state === 'rolled-back').map((t) => t.id);
    const failed = targets.filter((t) => t.state === 'failed').map((t) => t.id);
    if (rolledBack.length > 0) statements.push(`Rolled back: ${list(rolledBack)}.`);
    if (failed.length > 0) statements.push(`FAILED: ${list(failed)}.`);
    const after = last.after;
    if (after)
      statements.push(
        `It took the targets to ${last.version}, the newest version verified on them, after the rollout of truststore version ${after.version} (revision ${after.revision}) ${after.status === 'failed' ? 'FAILED' : after.status === 'rolled-back' ? 'was ROLLED BACK' : `ended ${after.status}`}${after.wave ? ` in wave ${after.wave}` : ''}${after.reason ? `: ${after.reason}` : ''}; ${after.version} was refused${after.version === latestVersion ? ' (it is the latest published version)' : ''}.`,
      );
    else if (latestVersion !== undefined && last.version !== latestVersion)
      statements.push(
        `The latest published version, ${latestVersion}, has no rollout record here yet: its rollout has not started (or not finished its first step), or it was refused before any target was touched.`,
      );
  } else if (sources.unreadable === undefined)
    statements.push(`No rollout has written a record yet (${plural(targets.length, 'target')} known).`);

  return {
    source: sources.source,
    ...(lastOut ? { last: lastOut } : {}),
    targets,
    versions,
    mixed,
    statements,
    ...(sources.unreadable === undefined ? {} : { unreadable: sources.unreadable }),
  };
};

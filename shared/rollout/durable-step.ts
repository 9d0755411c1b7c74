import { ConflictError, InputError, NotFoundError } from '../errors.js';
import { publishReport } from '../pipeline/report.js';
import { loadState } from '../pipeline/state-store.js';
import type { Clock, Log, Notifier, ObjectStore } from '../ports.js';
import { KEYS, latestPublished } from '../truststore/state.js';
import { type RevocationChange, type RevocationSyncGateway, startCrlSync, stepCrlSync } from './crl-sync.js';
import type { ElbRevocationPlan } from './elb-revocations.js';
import type { Rollout, RolloutConfig, TargetGateway } from './model.js';
import { ROLLOUTS_PREFIX, rolloutKey } from './records.js';
import { startRollout, stepRollout } from './step.js';
import { checkLimits, limitsRefusedNotification } from './targets.js';

/**
 * What a durable runner (the Step Functions state machine) gives a step: the record the previous
 * step returned, or, for the first step, the release whose rollout it starts.
 */
export interface DurableStepEvent {
  /** The record, or (a record too large for the execution's payload) a reference to it. */
  readonly rollout?: Rollout | RolloutRef;
  readonly release?: { readonly revision: number; readonly version: string };
  /** A CRL sync (instead of a release): the state's revocation change it gives the ELB trust stores. */
  readonly revocations?: RevocationChange;
}

/** What a step returns: the Choice state reads `done`, the Wait state `waitSeconds`. */
export interface DurableStepOutput {
  readonly rollout: Rollout | RolloutRef;
  readonly waitSeconds: number;
  readonly done: boolean;
}

/**
 * What the execution carries instead of a record larger than {@link MAX_INLINE_BYTES}: Step
 * Functions refuses a state's input or output over 256 KB (States.DataLimitExceeded, which no
 * Retry mends), and a record grows with the targets and the truststore warnings API Gateway
 * reports for each. The record itself is in `rollouts/<id>.json`, written before every return.
 */
export interface RolloutRef {
  readonly id: string;
  readonly revision: number;
  readonly version: string;
  readonly status: Rollout['status'];
  readonly ref: string;
}

/** Records up to this size travel in the execution; larger ones as a reference. */
export const MAX_INLINE_BYTES = 64 * 1024;

/**
 * Which rollout may touch the targets: `rollouts/active.json`, `{ "id": … }`. Ingest starts one
 * execution per version, and two running at once undid each other (an older roll back over a
 * newer roll) and broke the account's 30 s pace between them.
 */
export const ACTIVE_KEY = `${ROLLOUTS_PREFIX}active.json`;
/** A holder whose record has not moved for this long is taken over (its execution died, unre-driven). */
export const ACTIVE_STALE_MS = 30 * 60_000;
/** How long a rollout waits for the one holding the targets before it looks again. */
export const ACTIVE_WAIT_SECONDS = 15;

export interface DurableStepDeps {
  /** The pipeline's store: the state (the latest published version), the truststore, the records. */
  readonly store: Pick<ObjectStore, 'get' | 'put' | 'list'>;
  readonly gateway: TargetGateway;
  readonly notifier: Notifier;
  readonly clock: Clock;
  readonly log: Log;
  readonly config: RolloutConfig;
  /**
   * Publish the report (`reports/`) again when a rollout ends, so that its rollouts section says
   * how it ended: what the report names the store, and the expiry scan's thresholds. Absent: not.
   */
  readonly report?: { readonly label: string; readonly thresholds?: readonly number[] };
  /** The CRLs ELB trust stores get with a version (elbRevocationPlan): checked against ELB's quotas. */
  readonly revocations?: (version: string) => Promise<ElbRevocationPlan>;
  /** ELB trust stores' revocation files without their bundle: what a CRL sync calls. */
  readonly revocationSync?: RevocationSyncGateway;
}

/**
 * One step of a durable rollout, for a runner that waits between steps itself (Step Functions:
 * each step one task, each wait a Wait state). Steps:
 * 1. The first step (a `release`) starts the rollout; if the release is still the latest
 *    published version, it checks the version against every target's limits first (checkLimits):
 *    a version some target cannot take is rolled to none, alerted, and the rollout ends `failed`.
 * 2. Reads the latest published version (a newer one supersedes the rollout) and advances the
 *    rollout as far as it can without waiting (`stepRollout`).
 * 3. Writes the record to `rollouts/<id>.json` (what `trustroll status` reads) and returns it,
 *    with the whole seconds to wait (at least one while it runs) and whether it is done.
 * 4. Once it is done, publishes the report again (`deps.report`): the page published with the
 *    version came before its rollout, and would say so until the next scan.
 * A step run again from the same input (a retried task) repeats only harmless actions.
 */
export const durableStep = async (
  event: DurableStepEvent,
  deps: DurableStepDeps,
): Promise<DurableStepOutput> => {
  const now = deps.clock.now();
  const given = event.rollout;
  let rollout = given
    ? isRecord(given)
      ? given
      : await recordOf(given, deps)
    : event.release
      ? startRollout(deps.config, event.release, now)
      : undefined;
  if (!rollout && event.revocations) {
    const change = event.revocations;
    if (!Number.isInteger(change.revision) || !Number.isInteger(change.generation))
      throw new InputError(
        'a CRL sync needs { "revocations": { "revision": <integer>, "generation": <integer> } }',
      );
    const latest = latestPublished((await loadState(deps.store)).state)?.version;
    rollout = startCrlSync(deps.config, change, latest ?? '(none published)', now);
  }
  if (!rollout)
    throw new InputError(
      'a rollout step needs { "rollout": … }, { "release": { revision, version } } or { "revocations": { revision, generation } }',
    );
  if (rollout.kind === 'crl-sync') return crlSyncStep(rollout, deps, now);
  const latest = latestPublished((await loadState(deps.store)).state)?.version;
  // Before the first target is touched (also while waiting for the targets), the version must be
  // one every target can take: a version some target refuses is rolled to none, and alerted.
  const fresh = rollout.status === 'running' && untouched(rollout) && latest === rollout.version;
  const refused = fresh ? await limitsRefusal(rollout, deps) : undefined;
  // One rollout at a time: one that has touched nothing waits while another holds the targets
  // (unless a newer version supersedes it, which touches nothing either).
  if (fresh && !refused) {
    const taken = await takeTargets(rollout, deps, now);
    if (taken.holder !== undefined) {
      deps.log.info('rollout waits for the one holding the targets', {
        rolloutId: rollout.id,
        holder: taken.holder,
      });
      await save(rollout, deps);
      return { rollout: carried(rollout), waitSeconds: ACTIVE_WAIT_SECONDS, done: false };
    }
    // Taken over from the rollout before: its last update call per account paces this one's
    // first; from one a newer version superseded, what it did to each target but did not verify
    // (the version before it, the warnings before it) carries over too.
    if (taken.previous)
      rollout = startRollout(deps.config, rollout, new Date(rollout.startedAt), taken.previous);
  }
  // A rollout that touched targets and then stood still (over ACTIVE_STALE_MS) may have been taken
  // over by a newer one; re-driven after that, it must not touch the targets the holder rolls.
  if (!fresh && rollout.status === 'running') {
    const holder = (await readJson<{ id?: string }>(ACTIVE_KEY, deps))?.value.id;
    if (holder !== undefined && holder !== rollout.id) {
      const stopped: Rollout = {
        ...rollout,
        status: 'superseded',
        updatedAt: now.toISOString(),
        reason: `rollout ${holder} took the targets over while this one stood still; this one touches nothing more (that rollout takes every target to its version)`,
      };
      await save(stopped, deps);
      deps.log.warn('rollout stopped: another holds the targets', { rolloutId: rollout.id, holder });
      return { rollout: carried(stopped), waitSeconds: 0, done: true };
    }
  }
  const { rollout: next, waitMs } = refused
    ? { rollout: refused, waitMs: undefined }
    : await stepRollout(rollout, deps, latest === undefined ? {} : { latestVersion: latest });
  await save(next, deps);
  const done = waitMs === undefined;
  deps.log.info(done ? 'rollout ended' : 'rollout step done', {
    rolloutId: next.id,
    status: next.status,
    wave: next.waves[next.wave],
    phases: Object.fromEntries(next.targets.map((t) => [t.id, t.phase])),
    ...(done ? {} : { waitMs }),
  });
  if (done && deps.report) await republish(deps, deps.report);
  // The Wait state counts whole seconds; a running rollout never asks for none (it would spin).
  return { rollout: carried(next), waitSeconds: done ? 0 : Math.max(1, Math.ceil(waitMs / 1000)), done };
};

/**
 * A step of a CRL sync (see crl-sync.ts): it waits while a rollout (or another sync) holds the
 * targets, so that it never gives a trust store CRLs while a rollout changes its version; then it
 * takes them, syncs every ELB trust store in this one step (ELB answers at once), and is done.
 */
const crlSyncStep = async (given: Rollout, deps: DurableStepDeps, now: Date): Promise<DurableStepOutput> => {
  let sync = given;
  if (sync.status === 'running') {
    const taken = await takeTargets(sync, deps, now);
    if (taken.holder !== undefined) {
      deps.log.info('crl sync waits for the one holding the targets', {
        sync: sync.id,
        holder: taken.holder,
      });
      await save(sync, deps);
      return { rollout: carried(sync), waitSeconds: ACTIVE_WAIT_SECONDS, done: false };
    }
    // A sync calls no API Gateway, but holds the targets between two rollouts: it hands the pace
    // of the rollout before it on to the one after.
    if (taken.previous) sync = { ...sync, lastUpdateByAccount: { ...taken.previous.lastUpdateByAccount } };
  }
  if (!deps.revocationSync || !deps.revocations)
    throw new InputError(
      `CRL sync ${sync.id}: this runner has no ELB revocation gateway; it cannot sync CRLs`,
    );
  const next = await stepCrlSync(sync, {
    store: deps.store,
    gateway: deps.revocationSync,
    revocations: deps.revocations,
    notifier: deps.notifier,
    clock: deps.clock,
    log: deps.log,
    config: deps.config,
  });
  await save(next, deps);
  return { rollout: carried(next), waitSeconds: 0, done: true };
};

/**
 * The report of the state as it is now (read again: a version published during the rollout is
 * the one the page must name), with the record just written. A report is a view: nothing here
 * fails the step (publishReport logs its own failure).
 */
const republish = async (deps: DurableStepDeps, report: NonNullable<DurableStepDeps['report']>) => {
  let state: Awaited<ReturnType<typeof loadState>>['state'];
  try {
    state = (await loadState(deps.store)).state;
  } catch (error) {
    deps.log.error('report not published', { error: (error as Error).message });
    return;
  }
  // No published version: no report to replace (the first version's publish makes it).
  if (!latestPublished(state)?.version) return;
  await publishReport(deps.store, state, deps.clock.now(), deps.log, report.label, report.thresholds);
};

const save = (rollout: Rollout, deps: DurableStepDeps) =>
  deps.store.put(rolloutKey(rollout.id), new TextEncoder().encode(`${JSON.stringify(rollout, null, 2)}\n`), {
    contentType: 'application/json',
  });

const isRecord = (r: Rollout | RolloutRef): r is Rollout => Array.isArray((r as Rollout).targets);

/** The record as the execution carries it: itself, or a reference when it is large. */
const carried = (rollout: Rollout): Rollout | RolloutRef =>
  Buffer.byteLength(JSON.stringify(rollout)) <= MAX_INLINE_BYTES
    ? rollout
    : {
        id: rollout.id,
        revision: rollout.revision,
        version: rollout.version,
        status: rollout.status,
        ref: rolloutKey(rollout.id),
      };

const readJson = async <T>(
  key: string,
  deps: DurableStepDeps,
): Promise<{ value: T; etag: string } | undefined> => {
  try {
    const o = await deps.store.get(key);
    return { value: JSON.parse(new TextDecoder().decode(o.body)) as T, etag: o.etag };
  } catch (error) {
    if (error instanceof NotFoundError || error instanceof SyntaxError) return undefined;
    throw error;
  }
};

/** The record a reference names, as the last step wrote it. */
const recordOf = async (ref: RolloutRef, deps: DurableStepDeps): Promise<Rollout> => {
  const found = await readJson<Rollout>(rolloutKey(ref.id), deps);
  if (!found || !isRecord(found.value))
    throw new InputError(
      `the record of rollout ${ref.id} (${rolloutKey(ref.id)}) is missing or unreadable: it was deleted or changed by hand; start the rollout again with { "release": { "revision": ${ref.revision}, "version": ${JSON.stringify(ref.version)} } }`,
    );
  return found.value;
};

/** Whether a rollout has touched no target yet (it may still wait, or be superseded, harmlessly). */
const untouched = (rollout: Rollout): boolean => rollout.targets.every((t) => t.phase === 'pending');

/**
 * Takes the targets for `rollout`, or says who holds them (`holder`). The holder keeps them until
 * its record says it ended (or stopped moving for {@link ACTIVE_STALE_MS}); a newer rollout then
 * takes them over, by a compare-and-set on the pointer, and gets the previous holder's record.
 */
const takeTargets = async (
  rollout: Rollout,
  deps: DurableStepDeps,
  now: Date,
): Promise<{ holder?: string; previous?: Rollout }> => {
  const active = await readJson<{ id?: string; previous?: string }>(ACTIVE_KEY, deps);
  const id = active?.value.id;
  if (id === rollout.id) {
    // Taken already (this first step retried): the holder before is named beside it.
    const before = active?.value.previous;
    const record = before ? await readJson<Rollout>(rolloutKey(before), deps) : undefined;
    return record && isRecord(record.value) ? { previous: record.value } : {};
  }
  const record = id ? await readJson<Rollout>(rolloutKey(id), deps) : undefined;
  if (record) {
    const running = record.value.status === 'running';
    const stale = now.getTime() - Date.parse(record.value.updatedAt) > ACTIVE_STALE_MS;
    if (running && !stale) return { holder: id! };
    if (running) deps.log.warn('taking the targets over from a rollout that stopped moving', { holder: id });
  }
  try {
    const taken = { id: rollout.id, ...(id ? { previous: id } : {}) };
    await deps.store.put(ACTIVE_KEY, new TextEncoder().encode(`${JSON.stringify(taken)}\n`), {
      ...(active ? { ifMatch: active.etag } : { ifNoneMatch: '*' as const }),
      contentType: 'application/json',
    });
  } catch (error) {
    // Another rollout took them in between: wait, and look again.
    if (error instanceof ConflictError) return { holder: 'another rollout' };
    throw error;
  }
  return record && isRecord(record.value) ? { previous: record.value } : {};
};

/**
 * The rollout ended `failed` before it started, every target `skipped`, when the targets' limits
 * refuse the version (API Gateway's size and chain, ELB's quotas), alerted as `up --targets`
 * alerts it. Undefined when every target can take it.
 */
const limitsRefusal = async (rollout: Rollout, deps: DurableStepDeps): Promise<Rollout | undefined> => {
  const truststore = (await deps.store.get(KEYS.truststore, { version: rollout.version })).body;
  // ELB trust stores take the version's CRLs too: their count, sizes and entries have quotas.
  const elb = deps.config.targets.some((t) => t.kind === 'elb-trust-store');
  const crls = elb && deps.revocations ? (await deps.revocations(rollout.version)).crls : undefined;
  const refusals = checkLimits(deps.config, {
    version: rollout.version,
    truststore,
    ...(crls ? { crls } : {}),
  });
  if (refusals.length === 0) return undefined;
  deps.log.error('truststore version refused by the targets', {
    version: rollout.version,
    refusals: refusals.map((r) => `${r.target}: ${r.finding.code}`),
  });
  await deps.notifier.publish(
    limitsRefusedNotification({ revision: rollout.revision, version: rollout.version }, refusals),
  );
  const targets = [...new Set(refusals.map((r) => r.target))];
  const codes = [...new Set(refusals.map((r) => r.finding.code))];
  return {
    ...rollout,
    status: 'failed',
    updatedAt: deps.clock.now().toISOString(),
    reason: `refused by the limits of ${targets.join(', ')}: ${codes.join(', ')}`,
    targets: rollout.targets.map((t) => ({ ...t, phase: 'skipped' as const })),
  };
};

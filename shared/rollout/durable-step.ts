import { InputError } from '../errors.js';
import { loadState } from '../pipeline/state-store.js';
import type { Clock, Log, Notifier, ObjectStore } from '../ports.js';
import { KEYS, latestPublished } from '../truststore/state.js';
import type { Rollout, RolloutConfig, TargetGateway } from './model.js';
import { rolloutKey } from './records.js';
import { startRollout, stepRollout } from './step.js';
import { checkLimits, limitsRefusedNotification } from './targets.js';

/**
 * What a durable runner (the Step Functions state machine) gives a step: the record the previous
 * step returned, or, for the first step, the release whose rollout it starts.
 */
export interface DurableStepEvent {
  readonly rollout?: Rollout;
  readonly release?: { readonly revision: number; readonly version: string };
}

/** What a step returns: the Choice state reads `done`, the Wait state `waitSeconds`. */
export interface DurableStepOutput {
  readonly rollout: Rollout;
  readonly waitSeconds: number;
  readonly done: boolean;
}

export interface DurableStepDeps {
  /** The pipeline's store: the state (the latest published version), the truststore, the records. */
  readonly store: Pick<ObjectStore, 'get' | 'put'>;
  readonly gateway: TargetGateway;
  readonly notifier: Notifier;
  readonly clock: Clock;
  readonly log: Log;
  readonly config: RolloutConfig;
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
 * A step run again from the same input (a retried task) repeats only harmless actions.
 */
export const durableStep = async (
  event: DurableStepEvent,
  deps: DurableStepDeps,
): Promise<DurableStepOutput> => {
  const now = deps.clock.now();
  const rollout =
    event.rollout ?? (event.release ? startRollout(deps.config, event.release, now) : undefined);
  if (!rollout)
    throw new InputError('a rollout step needs { "rollout": … } or { "release": { revision, version } }');
  const latest = latestPublished((await loadState(deps.store)).state)?.version;
  const refused =
    event.rollout === undefined && latest === rollout.version
      ? await limitsRefusal(rollout, deps)
      : undefined;
  const { rollout: next, waitMs } = refused
    ? { rollout: refused, waitMs: undefined }
    : await stepRollout(rollout, deps, latest === undefined ? {} : { latestVersion: latest });
  await deps.store.put(rolloutKey(next.id), new TextEncoder().encode(`${JSON.stringify(next, null, 2)}\n`), {
    contentType: 'application/json',
  });
  const done = waitMs === undefined;
  deps.log.info(done ? 'rollout ended' : 'rollout step done', {
    rolloutId: next.id,
    status: next.status,
    wave: next.waves[next.wave],
    phases: Object.fromEntries(next.targets.map((t) => [t.id, t.phase])),
    ...(done ? {} : { waitMs }),
  });
  // The Wait state counts whole seconds; a running rollout never asks for none (it would spin).
  return { rollout: next, waitSeconds: done ? 0 : Math.max(1, Math.ceil(waitMs / 1000)), done };
};

/**
 * The rollout ended `failed` before it started, every target `skipped`, when the targets' limits
 * refuse the version (API Gateway's size and chain, ELB's quotas), alerted as `up --targets`
 * alerts it. Undefined when every target can take it.
 */
const limitsRefusal = async (rollout: Rollout, deps: DurableStepDeps): Promise<Rollout | undefined> => {
  const truststore = (await deps.store.get(KEYS.truststore, { version: rollout.version })).body;
  const refusals = checkLimits(deps.config, { version: rollout.version, truststore });
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

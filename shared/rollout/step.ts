import { ConflictError, RevocationRefusedError, ThrottledError, UpstreamError } from '../errors.js';
import { notification } from '../pipeline/notifications.js';
import { backoffMs } from '../pipeline/roll.js';
import type { Clock, Log, Notification, Notifier } from '../ports.js';
import type {
  Rollout,
  RolloutConfig,
  RolloutStatus,
  Target,
  TargetGateway,
  TargetPhase,
  TargetRun,
  TargetState,
  UpdateOutcome,
} from './model.js';

export type { Clock, Log, Notifier } from '../ports.js';
export type { TargetGateway } from './model.js';

/** What a step needs: the configuration the rollout was started with, and the effects. */
export interface StepDeps {
  readonly config: RolloutConfig;
  readonly gateway: TargetGateway;
  readonly clock: Clock;
  readonly log: Log;
  readonly notifier: Notifier;
}

export interface StepOptions {
  /** The latest published version: when it is not the rollout's, the rollout ends `superseded`. */
  readonly latestVersion?: string;
}

export interface StepResult {
  readonly rollout: Rollout;
  /**
   * How long to wait before the next step (0: step again at once, the record saved first);
   * undefined once the rollout has ended.
   */
  readonly waitMs?: number;
}

/** Phases in which a target still has something to do. */
const ACTIVE: readonly TargetPhase[] = ['pending', 'waiting', 'updating', 'verifying', 'rolling-back'];
/** How many transitions one step may make before it returns (a guard, far above any real need). */
const MAX_TRANSITIONS = 1_000;
/** API Gateway's pace is per account; other kinds are not paced (only backed off when throttled). */
const PACED = new Set(['apigateway-rest', 'apigateway-http']);
/** lastUpdateByAccount's key for targets in the pipeline's own account (no `account` given). */
export const OWN_ACCOUNT = 'default';

/** Phases of a superseded rollout's target that was updated but not verified. */
const UNVERIFIED: readonly TargetPhase[] = ['updating', 'verifying'];

/**
 * A new rollout of `version` to every target of `config`, nothing done yet. `previous`: the
 * rollout this one takes over from (the one before it): its last update call per account paces
 * this one's first ones (one call per 30 s per account, whichever rollout made it). When it was superseded, a target it had updated but not
 * verified keeps that rollout's `from` and `warningsBefore`: the version it serves (or is still
 * UPDATING to) was never checked, so its warnings are not "before" — a warning both versions
 * bring would otherwise never count as new — and a roll back goes to the version verified before.
 */
export const startRollout = (
  config: RolloutConfig,
  release: { readonly revision: number; readonly version: string },
  now: Date,
  previous?: Rollout,
): Rollout => {
  const at = now.toISOString();
  const carried = new Map(
    (previous?.status === 'superseded' ? previous.targets : [])
      .filter((r) => UNVERIFIED.includes(r.phase) && (r.phase === 'verifying' || r.requestedAt !== undefined))
      .map((r) => [r.id, r]),
  );
  // Targets in wave order (and file order within a wave): the record reads as the rollout runs.
  const targets = config.waves.flatMap((wave) =>
    config.targets
      .filter((t) => t.wave === wave)
      .map((t): TargetRun => {
        const before = carried.get(t.id);
        return {
          id: t.id,
          wave,
          kind: t.kind,
          resource: t.resource,
          ...(t.region === undefined ? {} : { region: t.region }),
          ...(t.account === undefined ? {} : { account: t.account }),
          ...(t.probe ? { probe: true as const } : {}),
          phase: 'pending',
          ...(before?.from === undefined ? {} : { from: before.from }),
          warningsBefore: before ? [...before.warningsBefore] : [],
          newWarnings: [],
          attempts: 0,
          ...(before ? { carried: true as const } : {}),
        };
      }),
  );
  return {
    schema: 1,
    id: `${release.revision}-${release.version}`,
    revision: release.revision,
    version: release.version,
    startedAt: at,
    updatedAt: at,
    status: 'running',
    wave: 0,
    waves: [...config.waves],
    targets,
    // API Gateway's pace is per account, not per rollout: the calls the rollout before made count.
    lastUpdateByAccount: { ...(previous?.lastUpdateByAccount ?? {}) },
  };
};

type Run = { -readonly [K in keyof TargetRun]: TargetRun[K] };

/** The outcome of advancing one target: it moved on (look again), or wait this long. */
type Advance = 'moved' | number;

/**
 * Advances a rollout as far as it can without sleeping, and says how long to wait before the
 * next step (undefined once it has ended). Never sleeps: on AWS each step is one Step Functions
 * task, and a Wait state waits `waitMs`; locally `runRollout` sleeps.
 * 1. A newer published version (`latestVersion`) ends the rollout `superseded`, nothing rolled back
 *    (unless it is rolling back already: that is finished first).
 * 2. The targets of the current wave are started together. Each: read; wait while UPDATING;
 *    `unchanged` if already on the version; else request the update, paced to one call per
 *    `minUpdateIntervalMs` per account (API Gateway), retried with back-off when throttled or in
 *    conflict up to `maxAttempts`; wait for AVAILABLE on the version (at most `updateTimeoutMs`
 *    from the request); verify: no truststore warning the previous version did not have, then the
 *    probe if one is configured.
 * 3. A wave whose targets are all rolled or unchanged lets the next wave start; after the last,
 *    `succeeded`.
 * 4. A failure stops the rollout: targets not yet updated are `skipped`, and every target of this
 *    and earlier waves that was updated is rolled back to its `from` (paced alike); one without a
 *    `from` cannot be, and is `failed`. The rollout ends `rolled-back`, or `failed` when some
 *    target failed (not rolled, not rolled back, or unconfirmed).
 * 5. At the end, `truststore.rolled` (targets rolled) and one `truststore.roll-failed` per target
 *    rolled back or failed.
 * Every action can be repeated: a step run again from the same record (a retried state) at most
 * repeats an update to the same version, and reaches the same end.
 */
export const stepRollout = async (
  rollout: Rollout,
  deps: StepDeps,
  options: StepOptions = {},
): Promise<StepResult> => {
  if (rollout.status !== 'running') return { rollout };
  const s = new Stepper(rollout, deps);
  // A rollout rolling back finishes that first: the next one must find every target on its `from`.
  if (
    options.latestVersion !== undefined &&
    options.latestVersion !== rollout.version &&
    rollout.reason === undefined
  )
    return { rollout: await s.supersede(options.latestVersion) };
  return s.run();
};

/**
 * Runs a rollout to its end: step, sleep what the step says, step again. `latestVersion` is asked
 * before every step (a newer version supersedes this rollout); `save` gets every record (local
 * mode writes it for `trustroll status`).
 */
export const runRollout = async (
  rollout: Rollout,
  deps: StepDeps,
  options: {
    readonly latestVersion?: () => Promise<string | undefined>;
    readonly save?: (rollout: Rollout) => Promise<void>;
  } = {},
): Promise<Rollout> => {
  let current = rollout;
  for (;;) {
    const latestVersion = await options.latestVersion?.();
    const { rollout: next, waitMs } = await stepRollout(
      current,
      deps,
      latestVersion === undefined ? {} : { latestVersion },
    );
    current = next;
    await options.save?.(current);
    if (waitMs === undefined) return current;
    await deps.clock.sleep(waitMs);
  }
};

class Stepper {
  private readonly runs: Run[];
  private readonly last: Record<string, string>;
  private wave: number;
  private reason: string | undefined;
  private readonly targets: Map<string, Target>;
  private readonly settings: RolloutConfig['settings'];
  /** Each target's phase in the record this step started from. */
  private readonly startedAs: ReadonlyMap<string, TargetPhase>;

  constructor(
    private readonly rollout: Rollout,
    private readonly deps: StepDeps,
  ) {
    // A working copy: the record given is never changed (a retried step starts from it again).
    this.runs = structuredClone(rollout.targets) as Run[];
    this.last = { ...rollout.lastUpdateByAccount };
    this.wave = rollout.wave;
    this.reason = rollout.reason;
    this.targets = new Map(deps.config.targets.map((t) => [t.id, t]));
    this.settings = deps.config.settings;
    this.startedAs = new Map(rollout.targets.map((t) => [t.id, t.phase]));
  }

  private get now(): Date {
    return this.deps.clock.now();
  }

  private get version(): string {
    return this.rollout.version;
  }

  async run(): Promise<StepResult> {
    for (let transitions = 0; transitions < MAX_TRANSITIONS; ) {
      if (this.reason === undefined) {
        const wave = this.rollout.waves[this.wave];
        const current = this.runs.filter((r) => r.wave === wave);
        if (current.every((r) => r.phase === 'rolled' || r.phase === 'unchanged')) {
          this.wave++;
          transitions++;
          if (this.wave >= this.rollout.waves.length) return { rollout: await this.finish('succeeded') };
          this.deps.log.info('rollout wave started', {
            rollout: this.rollout.id,
            wave: this.rollout.waves[this.wave],
          });
          continue;
        }
      }
      const active = this.runs.filter((r) =>
        this.reason === undefined
          ? r.wave === this.rollout.waves[this.wave] && ACTIVE.includes(r.phase)
          : r.phase === 'rolling-back',
      );
      if (this.reason !== undefined && active.length === 0) {
        const failed = this.runs.some((r) => r.phase === 'failed');
        return { rollout: await this.finish(failed ? 'failed' : 'rolled-back') };
      }
      const waits: number[] = [];
      let moved = false;
      for (const run of active) {
        // A failure earlier in this loop may have changed what this target has left to do.
        if (!ACTIVE.includes(run.phase)) continue;
        if (this.reason !== undefined && run.phase !== 'rolling-back') continue;
        const result = await this.advanceOrFail(run);
        if (result === 'moved') {
          moved = true;
          transitions++;
        } else waits.push(result);
      }
      if (!moved) return { rollout: this.record('running'), waitMs: Math.max(0, Math.min(...waits)) };
    }
    // Unreachable in practice: every transition moves a target towards an end.
    return { rollout: this.record('running'), waitMs: this.settings.pollIntervalMs };
  }

  async supersede(latest: string): Promise<Rollout> {
    for (const run of this.runs)
      if (
        run.phase === 'pending' ||
        run.phase === 'waiting' ||
        (run.phase === 'updating' && run.requestedAt === undefined)
      )
        this.set(run, { phase: 'skipped' });
    this.reason = `truststore version ${latest} was published since: its rollout takes over from here (nothing rolled back)`;
    this.deps.log.warn('rollout superseded', {
      rollout: this.rollout.id,
      version: this.version,
      latest,
    });
    const rollout = this.record('superseded');
    // Said, not silent: the targets it never reached wait for the newer rollout, and if that one
    // stops, they are on an older version than the targets this one did reach.
    try {
      await this.deps.notifier.publish(supersededNotification(rollout, latest, this.deps.config));
    } catch (error) {
      this.deps.log.error('notification failed', { rollout: rollout.id, error: (error as Error).message });
    }
    return rollout;
  }

  private target(run: Run): Target | undefined {
    return this.targets.get(run.id);
  }

  /**
   * A target whose gateway fails unexpectedly (not a throttle, not an upstream hiccup: a domain
   * gone, access denied) fails, and the rollout stops and rolls back, instead of the step
   * throwing: a step that threw would be retried from a record that may not know the update
   * it made.
   */
  private async advanceOrFail(run: Run): Promise<Advance> {
    try {
      return await this.advance(run);
    } catch (error) {
      const message = (error as Error).message;
      this.deps.log.error('rollout target failed', { target: run.id, phase: run.phase, error: message });
      const unconfirmed = run.requestedAt !== undefined ? { unconfirmed: true as const } : {};
      if (run.phase === 'rolling-back')
        this.set(run, { phase: 'failed', ...unconfirmed, error: `roll back failed: ${message}` });
      else this.stop(run, { phase: 'failed', ...unconfirmed, error: message });
      return 'moved';
    }
  }

  private async advance(run: Run): Promise<Advance> {
    const target = this.target(run);
    if (!target) {
      this.fail(run, `target ${run.id} is not in the targets configuration any more`);
      return 'moved';
    }
    switch (run.phase) {
      case 'pending':
        this.set(run, { phase: 'waiting', since: this.now.toISOString(), attempts: 0 });
        return 'moved';
      case 'waiting':
        return this.waiting(run, target);
      case 'updating':
        return run.requestedAt === undefined
          ? this.request(run, target, this.version)
          : this.updating(run, target);
      case 'verifying':
        return this.verifying(run, target);
      case 'rolling-back':
        return this.rollingBack(run, target);
      default:
        return 'moved';
    }
  }

  /** Before the update: the target must be AVAILABLE; what it serves then is `from`. */
  private async waiting(run: Run, target: Target): Promise<Advance> {
    const state = await this.read(run, target);
    if (typeof state === 'string') return this.waitOrTimeout(run, target, state, false);
    if (state.status === 'AVAILABLE') {
      const serving = state.truststoreVersion;
      // Carried over from a superseded rollout: what it serves was never verified.
      const from = run.carried ? run.from : serving;
      this.set(run, {
        from,
        warningsBefore: run.carried ? run.warningsBefore : [...state.warnings],
        phase: serving === this.version ? 'unchanged' : 'updating',
        since: this.now.toISOString(),
        attempts: 0,
      });
      if (serving === this.version)
        this.deps.log.info('target already on the version', { target: run.id, version: this.version });
      return 'moved';
    }
    if (state.status === 'UPDATING' || state.status === 'PENDING')
      return this.waitOrTimeout(run, target, state.status, false);
    this.stop(run, { phase: 'failed', error: `${target.resource} is ${state.status}, not AVAILABLE` });
    return 'moved';
  }

  /**
   * Makes the update call of the current phase (to `version`), when the account's pace and the
   * back-off allow it; the call counts for the pace whether it is accepted or throttled.
   */
  private async request(run: Run, target: Target, version: string): Promise<Advance> {
    // An update call is made only from a record that already holds its phase (and `from`): a step
    // retried from the record before would otherwise find the target on the new version, take it
    // for `unchanged`, and lose the version to roll back to. The record is saved first.
    if (this.startedAs.get(run.id) !== run.phase) return 0;
    const now = this.now.getTime();
    // The pipeline's own account, named or not, is one pace.
    const account =
      target.account === undefined || target.account === this.deps.config.ownAccount
        ? OWN_ACCOUNT
        : target.account;
    const key = PACED.has(target.kind) ? account : undefined;
    const last = key === undefined ? undefined : this.last[key];
    const paceAt = last === undefined ? 0 : Date.parse(last) + this.settings.minUpdateIntervalMs;
    const retryAt = run.retryAt === undefined ? 0 : Date.parse(run.retryAt);
    const wait = Math.max(paceAt, retryAt) - now;
    if (wait > 0) return wait;
    if (key !== undefined) this.last[key] = new Date(now).toISOString();
    const attempt = run.attempts + 1;
    this.set(run, { attempts: attempt, retryAt: undefined });
    const rollingBack = run.phase === 'rolling-back';
    let outcome: UpdateOutcome | undefined;
    try {
      outcome =
        (await this.deps.gateway.update(target, version, rollingBack ? { restore: true } : {})) ?? undefined;
    } catch (error) {
      if (error instanceof RevocationRefusedError && !rollingBack) {
        // The target took the version but refused its revocation files: a failed verification.
        const at = this.now.toISOString();
        this.set(run, { requestedAt: at, since: at });
        this.deps.log.warn('target refused its revocation files', {
          target: run.id,
          version,
          error: error.message,
        });
        this.verificationFailed(
          run,
          `${run.id} refused the revocation files of truststore version ${version}: ${error.message}`,
          `revocation files refused: ${error.message}`,
        );
        return 'moved';
      }
      const retryable = error instanceof ThrottledError || error instanceof ConflictError;
      const message = (error as Error).message;
      if (!retryable || attempt >= this.settings.maxAttempts) {
        const error = `${rollingBack ? `could not be rolled back to version ${version}` : `could not be rolled to version ${version}`} (${attempt} attempt${attempt === 1 ? '' : 's'}): ${message}`;
        this.deps.log.error(rollingBack ? 'truststore roll back failed' : 'truststore roll failed', {
          target: run.id,
          to: version,
          error: message,
        });
        if (rollingBack) this.set(run, { phase: 'failed', error });
        else this.stop(run, { phase: 'failed', error });
        return 'moved';
      }
      const backoff = backoffMs(attempt, error instanceof ThrottledError ? error.retryAfterMs : 0);
      this.deps.log.warn('domain update throttled, backing off', {
        target: run.id,
        attempt,
        backoffMs: backoff,
      });
      this.set(run, { retryAt: new Date(now + backoff).toISOString() });
      return backoff;
    }
    const at = this.now.toISOString();
    const notEnforced = outcome?.notEnforced ?? [];
    this.set(run, {
      requestedAt: at,
      since: at,
      ...(rollingBack ? {} : { notEnforced: notEnforced.length > 0 ? [...notEnforced] : undefined }),
    });
    if (!rollingBack && notEnforced.length > 0)
      this.deps.log.warn('target cannot enforce some revocations', {
        target: run.id,
        version,
        notEnforced,
      });
    return 'moved';
  }

  /** After the update call: wait for AVAILABLE on the version, then note the new warnings. */
  private async updating(run: Run, target: Target): Promise<Advance> {
    const state = await this.read(run, target);
    if (typeof state === 'string') return this.waitOrTimeout(run, target, state, true);
    if (state.status === 'AVAILABLE') {
      if (state.truststoreVersion !== this.version) {
        this.stop(run, {
          phase: 'failed',
          error: `${target.resource} is AVAILABLE on truststore version ${state.truststoreVersion ?? '(none)'}, not ${this.version}: was it changed by someone else?`,
        });
        return 'moved';
      }
      // What the version before would bring now is not new (a CA both hold that expired since).
      const before =
        run.from !== undefined && this.deps.gateway.warningsNow
          ? await this.deps.gateway.warningsNow(target, run.from).catch(() => [])
          : [];
      this.set(run, {
        phase: 'verifying',
        newWarnings: state.warnings.filter((w) => !run.warningsBefore.includes(w) && !before.includes(w)),
      });
      return 'moved';
    }
    if (state.status === 'UPDATING' || state.status === 'PENDING')
      return this.waitOrTimeout(run, target, state.status, true);
    this.stop(run, {
      phase: 'failed',
      unconfirmed: true,
      error: `${target.resource} is ${state.status}, not AVAILABLE`,
    });
    return 'moved';
  }

  /** New warnings, then the probe: either failure stops the rollout and rolls this target back. */
  private async verifying(run: Run, target: Target): Promise<Advance> {
    if (run.newWarnings.length > 0) {
      this.deps.log.warn('truststore rolled back', {
        target: run.id,
        refused: this.version,
        restored: run.from ?? 'none',
        newWarnings: run.newWarnings,
      });
      this.verificationFailed(
        run,
        `truststore version ${this.version} brought new warnings on ${run.id}`,
        `new truststore warnings: ${run.newWarnings.join('; ')}`,
      );
      return 'moved';
    }
    if (target.probe) {
      let result: { readonly ok: boolean; readonly detail: string };
      try {
        result = await this.deps.gateway.probe(target);
      } catch (error) {
        result = { ok: false, detail: `the probe could not run: ${(error as Error).message}` };
      }
      if (!result.ok) {
        this.deps.log.warn('target probe failed', {
          target: run.id,
          version: this.version,
          detail: result.detail,
        });
        this.verificationFailed(
          run,
          `the probe of ${run.id} failed on truststore version ${this.version}: ${result.detail}`,
          `probe failed: ${result.detail}`,
        );
        return 'moved';
      }
    }
    this.deps.log.info('truststore rolled', { target: run.id, from: run.from ?? 'none', to: this.version });
    this.set(run, { phase: 'rolled' });
    return 'moved';
  }

  private verificationFailed(run: Run, reason: string, error: string): void {
    this.stop(
      run,
      run.from === undefined
        ? {
            phase: 'failed',
            error: `${error}; it cannot be rolled back: it served no truststore version before`,
          }
        : { phase: 'rolling-back', error, since: this.now.toISOString(), attempts: 0 },
      reason,
    );
  }

  /** Back to `from`: wait until AVAILABLE, update (paced), wait until AVAILABLE on `from`. */
  private async rollingBack(run: Run, target: Target): Promise<Advance> {
    const from = run.from as string;
    const state = await this.read(run, target);
    if (typeof state === 'string') return this.waitOrTimeout(run, target, state, true);
    if (state.status === 'UPDATING' || state.status === 'PENDING')
      return this.waitOrTimeout(run, target, state.status, true);
    if (state.status !== 'AVAILABLE') {
      this.set(run, {
        phase: 'failed',
        unconfirmed: true,
        error: `${target.resource} is ${state.status}, not AVAILABLE: not rolled back to version ${from}`,
      });
      return 'moved';
    }
    if (state.truststoreVersion === from) {
      this.deps.log.info('truststore restored', { target: run.id, restored: from });
      this.set(run, { phase: 'rolled-back', unconfirmed: undefined });
      return 'moved';
    }
    if (run.requestedAt !== undefined) {
      this.set(run, {
        phase: 'failed',
        unconfirmed: true,
        error: `${target.resource} is AVAILABLE on truststore version ${state.truststoreVersion ?? '(none)'}, not ${from}, after its roll back`,
      });
      return 'moved';
    }
    return this.request(run, target, from);
  }

  /** A read; an upstream failure (throttled, 5xx, network) is a status to wait on, not an end. */
  private async read(run: Run, target: Target): Promise<TargetState | string> {
    try {
      return await this.deps.gateway.describe(target);
    } catch (error) {
      if (!(error instanceof UpstreamError)) throw error;
      this.deps.log.warn('domain status read failed, reading again', {
        target: run.id,
        error: error.message,
      });
      return `unreadable (${error.message})`;
    }
  }

  /** Wait a poll interval, unless that ends past the phase's timeout (counted from `since`). */
  private waitOrTimeout(run: Run, target: Target, status: string, requested: boolean): Advance {
    const timeout = this.settings.updateTimeoutMs;
    const since = Date.parse(run.since ?? this.now.toISOString());
    const interval = this.settings.pollIntervalMs;
    if (this.now.getTime() + interval <= since + timeout) return interval;
    const error = `${target.resource} still ${status} after ${Math.round(timeout / 1000)} s`;
    this.deps.log.error('truststore roll unconfirmed', { target: run.id, to: this.version, error });
    if (run.phase === 'rolling-back')
      this.set(run, { phase: 'failed', unconfirmed: true, error: `roll back unconfirmed: ${error}` });
    else if (requested || run.phase === 'updating')
      this.stop(run, { phase: 'failed', ...(run.requestedAt ? { unconfirmed: true as const } : {}), error });
    else this.stop(run, { phase: 'failed', error });
    return 'moved';
  }

  private fail(run: Run, error: string): void {
    if (run.phase === 'rolling-back') this.set(run, { phase: 'failed', error });
    else this.stop(run, { phase: 'failed', error });
  }

  /**
   * Stops the rollout at `run` (given its end): nothing more starts, targets not updated yet are
   * skipped, and every target updated (this wave and the ones before) goes back to its `from`.
   */
  private stop(run: Run, patch: Partial<Run>, reason?: string): void {
    this.set(run, patch);
    if (this.reason !== undefined) return;
    this.reason = reason ?? `${run.id}: ${run.error ?? 'failed'}`;
    this.deps.log.warn('rollout stopped', { rollout: this.rollout.id, at: run.id, reason: this.reason });
    const at = this.now.toISOString();
    for (const other of this.runs) {
      if (other === run) continue;
      const updated =
        other.phase === 'rolled' ||
        other.phase === 'verifying' ||
        (other.phase === 'updating' && other.requestedAt !== undefined) ||
        // Updated by the superseded rollout this one took over, never verified: back to its `from`
        // too, not left on a version no one checked (its wave may never come).
        (other.phase === 'pending' && other.carried === true && other.from !== undefined);
      if (other.phase === 'pending' || other.phase === 'waiting' || other.phase === 'updating') {
        if (!updated) {
          this.set(other, { phase: 'skipped', retryAt: undefined });
          continue;
        }
      }
      if (!updated) continue;
      if (other.from === undefined)
        this.set(other, {
          phase: 'failed',
          error: `it cannot be rolled back: it served no truststore version before (the rollout stopped: ${this.reason})`,
        });
      else
        this.set(other, {
          phase: 'rolling-back',
          since: at,
          attempts: 0,
          requestedAt: undefined,
          retryAt: undefined,
        });
    }
  }

  /** Sets fields of a run; `undefined` removes one (the record stays plain JSON). */
  private set(run: Run, patch: Partial<Run>): void {
    for (const [key, value] of Object.entries(patch) as [keyof Run, unknown][]) {
      if (value === undefined) delete run[key];
      else (run as Record<string, unknown>)[key] = value;
    }
    // A new phase starts with its own update call to make.
    if (patch.phase !== undefined && patch.requestedAt === undefined) delete run.requestedAt;
  }

  private record(status: RolloutStatus): Rollout {
    return {
      ...this.rollout,
      updatedAt: this.now.toISOString(),
      status,
      wave: Math.min(this.wave, this.rollout.waves.length),
      targets: this.runs,
      lastUpdateByAccount: this.last,
      ...(this.reason === undefined ? {} : { reason: this.reason }),
    };
  }

  private async finish(status: RolloutStatus): Promise<Rollout> {
    const rollout = this.record(status);
    this.deps.log[status === 'succeeded' ? 'info' : 'warn']('rollout ended', {
      rollout: rollout.id,
      status,
      ...(rollout.reason ? { reason: rollout.reason } : {}),
    });
    for (const n of rolloutNotifications(rollout, this.deps.config)) {
      try {
        await this.deps.notifier.publish(n);
      } catch (error) {
        // The rollout stands: a lost notification is logged, not a reason to run the step again.
        this.deps.log.error('notification failed', { id: n.id, error: (error as Error).message });
      }
    }
    return rollout;
  }
}

/**
 * The alert for a rollout a newer version took over (`truststore.roll-superseded`, warning): the
 * targets it rolled (they serve its version) and those it never reached (they stay on theirs).
 */
export const supersededNotification = (
  rollout: Rollout,
  latest: string,
  config: RolloutConfig,
): Notification => {
  const resource = (id: string) => config.targets.find((t) => t.id === id)?.resource ?? id;
  const reached = rollout.targets.filter((r) => r.phase !== 'skipped' && r.phase !== 'pending');
  const skipped = rollout.targets.filter((r) => r.phase === 'skipped');
  return notification(
    'truststore.roll-superseded',
    'warning',
    `${rollout.id}`,
    `rollout of truststore version ${rollout.version} superseded by version ${latest}`,
    [
      `The rollout of truststore revision ${rollout.revision} (version ${rollout.version}) stopped in wave ${rollout.waves[rollout.wave] ?? rollout.waves.at(-1)}: version ${latest} was published since, and its rollout takes over (nothing was rolled back).`,
      ...(reached.length > 0
        ? [
            `Reached by version ${rollout.version}:`,
            ...reached.map(
              (r) => `- ${r.id} (${resource(r.id)}): ${r.phase}${r.from ? ` (from ${r.from})` : ''}`,
            ),
          ]
        : []),
      ...(skipped.length > 0
        ? [
            `Never reached (they stay on their version until version ${latest}'s rollout reaches them): ${skipped.map((r) => r.id).join(', ')}.`,
          ]
        : []),
      `If the rollout of version ${latest} stops too, trustroll status names the targets on different versions.`,
    ],
  );
};

/**
 * What an ended rollout tells people, in roll.ts's words: one `truststore.rolled` naming every
 * target rolled, and one `truststore.roll-failed` per target rolled back or failed.
 */
export const rolloutNotifications = (rollout: Rollout, config: RolloutConfig): Notification[] => {
  const { version, revision } = rollout;
  const resource = (id: string) => config.targets.find((t) => t.id === id)?.resource ?? id;
  const name = (r: TargetRun) => `${r.id} (${resource(r.id)})`;
  const out: Notification[] = [];
  const rolled = rollout.targets.filter((r) => r.phase === 'rolled');
  if (rolled.length > 0 && rollout.status === 'succeeded')
    out.push(
      notification(
        'truststore.rolled',
        'info',
        // One per rollout, not per version: a convergence or a retry may roll a version again.
        `${version}@${rollout.startedAt}`,
        `truststore revision ${revision} rolled to ${rolled.map((r) => r.id).join(', ')}`,
        [
          `Truststore revision ${revision} (version ${version}) is now active:`,
          ...rolled.map((r) => `- ${name(r)}: ${r.from ?? '(none)'} -> ${version}`),
          ...rollout.targets
            .filter((r) => r.phase === 'unchanged')
            .map((r) => `- ${name(r)}: already on ${version}`),
        ],
      ),
    );
  const skipped = rollout.targets.filter((r) => r.phase === 'skipped').map((r) => r.id);
  const stopped = [
    `The rollout of version ${version} stopped: ${rollout.reason ?? 'a target failed'}.`,
    ...(skipped.length > 0 ? [`Not touched (the rollout stopped before them): ${skipped.join(', ')}.`] : []),
  ];
  // Said for every target that may serve the version (not one rolled back): never claimed enforced.
  for (const r of rollout.targets) {
    if (!r.notEnforced || r.notEnforced.length === 0 || r.phase === 'rolled-back') continue;
    out.push(
      notification(
        'truststore.revocations-not-enforced',
        'warning',
        `${r.id}:${version}`,
        `${r.id} cannot enforce ${r.notEnforced.length} revocation(s) of truststore version ${version}`,
        [
          `${name(r)} (an ELB trust store) was given truststore version ${version} with the CRLs of its CAs, but an ELB trust store takes only CRLs the CA signed. It does not enforce:`,
          ...r.notEnforced.map((n) => `- ${n}`),
          'Clients under these revocations are let in by the load balancer unless the application behind it checks them (trustroll authorize, or the revocation index).',
        ],
      ),
    );
  }
  for (const r of rollout.targets) {
    if (r.phase === 'rolled-back') {
      const refused = r.error?.startsWith('revocation files refused') === true;
      const own = r.newWarnings.length > 0 || r.error !== undefined;
      out.push(
        notification(
          'truststore.roll-failed',
          'error',
          `${r.id}:${version}`,
          r.newWarnings.length > 0
            ? `${r.id} rolled back: truststore version ${version} brought new warnings`
            : refused
              ? `${r.id} rolled back: it refused the revocation files of truststore version ${version}`
              : own
                ? `${r.id} rolled back: its probe failed on truststore version ${version}`
                : `${r.id} rolled back: the rollout of truststore version ${version} stopped`,
          r.newWarnings.length > 0
            ? [
                `${name(r)} was rolled to truststore version ${version} and API Gateway reported warnings the previous version ${r.from} did not have:`,
                ...r.newWarnings.map((w) => `- ${w}`),
                `It was rolled back to version ${r.from}. Clients under the CAs named above would have failed.`,
                'Fix or remove those CAs; the next accepted upload rolls again.',
                ...stopped,
              ]
            : refused
              ? [
                  `${name(r)} was rolled to truststore version ${version} and refused its revocation files: ${r.error}.`,
                  `It was rolled back to version ${r.from}, with the revocation files it had then. Fix the CRL named (upload a new one to the partner's crl/ folder) or the trust store's quota; the next version rolls again.`,
                  ...stopped,
                ]
              : own
                ? [
                    `${name(r)} was rolled to truststore version ${version} and its probe failed: ${r.error}.`,
                    `It was rolled back to version ${r.from}. The probe's client would have been refused; so would partners under the same CA.`,
                    ...stopped,
                  ]
                : [
                    `${name(r)} was rolled to truststore version ${version}, and rolled back to version ${r.from}.`,
                    ...stopped,
                  ],
        ),
      );
    } else if (r.phase === 'failed') {
      out.push(
        notification(
          'truststore.roll-failed',
          'error',
          `${r.id}:${version}`,
          r.error?.includes('cannot be rolled back')
            ? `${r.id} not rolled back: it serves truststore version ${version}`
            : `${r.id} not rolled to truststore version ${version}`,
          r.unconfirmed
            ? [
                `${name(r)} was asked to serve truststore version ${version}, but its status could not be confirmed: ${r.error}.`,
                `It may serve version ${version} without its warnings checked: look at it with trustroll status (or aws apigateway get-domain-name), and roll it back to ${r.from ?? 'the previous version'} if API Gateway reports new truststore warnings.`,
                ...stopped,
              ]
            : [
                `${name(r)} could not be rolled to truststore version ${version}: ${r.error}.`,
                r.error?.includes('cannot be rolled back')
                  ? `It serves version ${version}: a person must decide whether to keep it.`
                  : `It stays on version ${r.from ?? '(unknown)'}. The next upload or a retry rolls again.`,
                ...stopped,
              ],
        ),
      );
    }
  }
  return out;
};

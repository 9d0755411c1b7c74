import { ConflictError, ThrottledError, UpstreamError } from '../errors.js';
import type { Clock, DomainGateway, DomainState, Log, Notifier } from '../ports.js';
import { notification } from './notifications.js';

export interface RollConfig {
  /** The custom domains to keep on the latest truststore version. */
  readonly domains: readonly string[];
  /** Pause between status reads while a domain is UPDATING. Default 5 s. */
  readonly pollIntervalMs?: number;
  /** Give up waiting for AVAILABLE after this long. Default 5 min (60–90 s is usual). */
  readonly updateTimeoutMs?: number;
  /** Minimum pause between two update calls: API Gateway allows one per 30 s per account. Default 30 s. */
  readonly minUpdateIntervalMs?: number;
  /** Attempts per update call when throttled. Default 6. */
  readonly maxAttempts?: number;
  /**
   * When the caller must be done (a Lambda invocation's end). A domain's roll starts only if its
   * worst case (`rollWorstCaseMs`: the update, the wait, and a roll-back with its own wait) still
   * ends before it; the domains left are reported `deferred`, for a follow-up run to roll.
   * Default: none (local mode and the CLI wait as long as it takes).
   */
  readonly deadline?: Date;
}

const DEFAULTS = {
  pollIntervalMs: 5_000,
  updateTimeoutMs: 300_000,
  minUpdateIntervalMs: 30_000,
  maxAttempts: 6,
} as const;

/** The longest pause between two attempts of one update call (retry-after included). */
const MAX_BACKOFF_MS = 60_000;

export const backoffMs = (attempt: number, retryAfterMs = 0): number =>
  Math.min(MAX_BACKOFF_MS, Math.max(retryAfterMs, 2_000 * 2 ** (attempt - 1)));

/**
 * The longest one domain's roll can take once its update call is made, and which therefore must
 * never be cut short: wait for AVAILABLE, then (new warnings) pace, retry and roll back, and wait
 * for AVAILABLE again. A caller with a time limit starts a domain only with this much time left,
 * and keeps a reserve of its own for API calls slower than usual (functions/lib/config.ts).
 */
export const rollWorstCaseMs = (config: Omit<RollConfig, 'domains'>): number => {
  const poll = config.pollIntervalMs ?? DEFAULTS.pollIntervalMs;
  const wait = (config.updateTimeoutMs ?? DEFAULTS.updateTimeoutMs) + poll;
  const attempts = config.maxAttempts ?? DEFAULTS.maxAttempts;
  const pace = config.minUpdateIntervalMs ?? DEFAULTS.minUpdateIntervalMs;
  // Each retry waits its back-off, and then whatever is left of the pace since the failed call.
  let retries = 0;
  for (let attempt = 1; attempt < attempts; attempt++) retries += Math.max(backoffMs(attempt), pace);
  return wait + pace + retries + wait;
};

/** A domain roll that was not started because it might not end before the deadline. */
class DeferredError extends Error {
  override readonly name = 'DeferredError';
}

export interface RollDeps {
  readonly gateway: DomainGateway;
  readonly notifier: Notifier;
  readonly clock: Clock;
  readonly log: Log;
  readonly config: RollConfig;
}

export type RollOutcome = 'rolled' | 'unchanged' | 'rolled-back' | 'failed' | 'deferred';

export interface DomainRoll {
  readonly domain: string;
  readonly from?: string;
  readonly to: string;
  readonly outcome: RollOutcome;
  /** Warnings API Gateway reported for the new version that the previous one did not have. */
  readonly newWarnings: readonly string[];
  readonly error?: string;
  /** A failure after the update call: the domain may serve the new version, unchecked. */
  readonly unconfirmed?: true;
}

export interface RollReport {
  readonly domains: readonly DomainRoll[];
  /** When the last update call was made (to be remembered for the next run's pacing). */
  readonly lastUpdateAt?: Date;
  /** Domains not started before the deadline: a follow-up run rolls them (every run converges). */
  readonly deferred: readonly string[];
  /** Notifications that could not be sent (the roll itself stands). */
  readonly notifyErrors: readonly string[];
}

/**
 * Rolls every configured domain to `version`.
 * For each domain: wait while it is UPDATING; skip it if already on `version`; request the update
 * (paced to one call per `minUpdateIntervalMs`, retried with backoff when throttled); wait for
 * AVAILABLE; compare truststore warnings with the previous version's; if new warnings appeared,
 * roll back to the previous version. Then one `truststore.rolled` notification, and one
 * `truststore.roll-failed` per domain rolled back or failed. With a `deadline`, a domain whose
 * worst case no longer fits is not started, and neither are the ones after it (`deferred`).
 */
export const rollDomains = async (
  version: string,
  deps: RollDeps,
  context: { readonly revision: number; readonly lastUpdateAt?: Date },
): Promise<RollReport> => {
  const pacer = new Pacer(deps, context.lastUpdateAt);
  const results: DomainRoll[] = [];
  for (const domain of deps.config.domains) {
    const deferred = results.at(-1)?.outcome === 'deferred';
    results.push(
      deferred
        ? { domain, to: version, outcome: 'deferred', newWarnings: [] }
        : await rollOne(domain, version, deps, pacer),
    );
  }
  const notifyErrors: string[] = [];
  const send = async (n: ReturnType<typeof notification>) => {
    try {
      await deps.notifier.publish(n);
    } catch (error) {
      deps.log.error('notification failed', { id: n.id, error: (error as Error).message });
      notifyErrors.push(`${n.id}: ${(error as Error).message}`);
    }
  };
  const rolled = results.filter((r) => r.outcome === 'rolled');
  if (rolled.length > 0) {
    await send(
      notification(
        'truststore.rolled',
        'info',
        `${version}`,
        `truststore revision ${context.revision} rolled to ${rolled.map((r) => r.domain).join(', ')}`,
        [
          `Truststore revision ${context.revision} (version ${version}) is now active:`,
          ...rolled.map((r) => `- ${r.domain}: ${r.from ?? '(none)'} -> ${r.to}`),
        ],
      ),
    );
  }
  for (const r of results.filter((x) => x.outcome === 'rolled-back' || x.outcome === 'failed')) {
    await send(
      notification(
        'truststore.roll-failed',
        'error',
        `${r.domain}:${version}`,
        r.outcome === 'rolled-back'
          ? `${r.domain} rolled back: truststore version ${version} brought new warnings`
          : `${r.domain} not rolled to truststore version ${version}`,
        r.outcome === 'rolled-back'
          ? [
              `${r.domain} was rolled to truststore version ${version} and API Gateway reported warnings the previous version ${r.from} did not have:`,
              ...r.newWarnings.map((w) => `- ${w}`),
              `It was rolled back to version ${r.from}. Clients under the CAs named above would have failed.`,
              'Fix or remove those CAs; the next accepted upload rolls again.',
            ]
          : r.unconfirmed
            ? [
                `${r.domain} was asked to serve truststore version ${version}, but its status could not be confirmed: ${r.error}.`,
                `It may serve version ${version} without its warnings checked: look at it with trustroll status (or aws apigateway get-domain-name), and roll it back to ${r.from ?? 'the previous version'} if API Gateway reports new truststore warnings.`,
              ]
            : [
                `${r.domain} could not be rolled to truststore version ${version}: ${r.error}.`,
                `It stays on version ${r.from ?? '(unknown)'}. The next upload or a retry rolls again.`,
              ],
      ),
    );
  }
  const deferred = results.filter((r) => r.outcome === 'deferred').map((r) => r.domain);
  if (deferred.length > 0) deps.log.info('domain rolls deferred to a follow-up run', { version, deferred });
  return {
    domains: results,
    ...(pacer.last ? { lastUpdateAt: pacer.last } : {}),
    deferred,
    notifyErrors,
  };
};

const rollOne = async (
  domain: string,
  version: string,
  deps: RollDeps,
  pacer: Pacer,
): Promise<DomainRoll> => {
  // The last moment an update may be requested: its worst case must end before the deadline.
  const startBy = deps.config.deadline && deps.config.deadline.getTime() - rollWorstCaseMs(deps.config);
  const deferred = (error: unknown) =>
    error instanceof DeferredError
      ? ({ domain, to: version, outcome: 'deferred', newWarnings: [] } as const)
      : undefined;
  let before: DomainState;
  try {
    before = await waitAvailable(domain, deps, startBy);
  } catch (error) {
    return (
      deferred(error) ?? {
        domain,
        to: version,
        outcome: 'failed',
        newWarnings: [],
        error: (error as Error).message,
      }
    );
  }
  const from = before.truststoreVersion;
  const base = { domain, to: version, ...(from === undefined ? {} : { from }) };
  if (from === version) return { ...base, outcome: 'unchanged', newWarnings: [] };
  try {
    await pacer.update(domain, version, startBy);
  } catch (error) {
    const later = deferred(error);
    if (later) return later;
    deps.log.error('truststore roll failed', { domain, to: version, error: (error as Error).message });
    return { ...base, outcome: 'failed', newWarnings: [], error: (error as Error).message };
  }
  // From here on the roll is never cut short: its worst case was reserved before the update call.
  // A read that fails now is retried until the timeout: giving up would leave the domain on the
  // new version unchecked, and the next run would find it "unchanged" and never roll it back.
  try {
    const after = await waitAvailable(domain, deps, undefined, true);
    const newWarnings = after.warnings.filter((w) => !before.warnings.includes(w));
    if (newWarnings.length === 0) {
      deps.log.info('truststore rolled', { domain, from: from ?? 'none', to: version });
      return { ...base, outcome: 'rolled', newWarnings };
    }
    if (from === undefined) {
      deps.log.warn('truststore rolled with new warnings and nothing to roll back to', {
        domain,
        newWarnings,
      });
      return { ...base, outcome: 'rolled', newWarnings };
    }
    // Named for what happens: the version that brought warnings is taken back, the previous restored.
    deps.log.warn('truststore rolled back', { domain, refused: version, restored: from, newWarnings });
    await pacer.update(domain, from);
    await waitAvailable(domain, deps, undefined, true);
    return { ...base, outcome: 'rolled-back', newWarnings };
  } catch (error) {
    deps.log.error('truststore roll unconfirmed', { domain, to: version, error: (error as Error).message });
    return {
      ...base,
      outcome: 'failed',
      newWarnings: [],
      error: (error as Error).message,
      unconfirmed: true,
    };
  }
};

/**
 * Reads the domain until it is AVAILABLE, at most `updateTimeoutMs`. With `startBy`, gives up
 * (deferred) rather than wait past the moment the roll must have started; with `retryReads`, a
 * read that fails upstream (throttled, 5xx, network) is tried again at the next poll.
 */
const waitAvailable = async (
  domain: string,
  deps: RollDeps,
  startBy?: number,
  retryReads = false,
): Promise<DomainState> => {
  const interval = deps.config.pollIntervalMs ?? DEFAULTS.pollIntervalMs;
  const timeout = deps.config.updateTimeoutMs ?? DEFAULTS.updateTimeoutMs;
  const deadline = deps.clock.now().getTime() + timeout;
  for (;;) {
    let status: string;
    try {
      const state = await deps.gateway.describe(domain);
      if (state.status === 'AVAILABLE') return state;
      if (state.status !== 'UPDATING' && state.status !== 'PENDING') {
        throw new Error(`${domain} is ${state.status}, not AVAILABLE`);
      }
      status = state.status;
    } catch (error) {
      if (!retryReads || !(error instanceof UpstreamError)) throw error;
      deps.log.warn('domain status read failed, reading again', { domain, error: error.message });
      status = `unreadable (${error.message})`;
    }
    if (startBy !== undefined && deps.clock.now().getTime() + interval > startBy) {
      throw new DeferredError(`no time left to wait for ${domain}`);
    }
    if (deps.clock.now().getTime() + interval > deadline) {
      throw new Error(`${domain} still ${status} after ${Math.round(timeout / 1000)} s`);
    }
    await deps.clock.sleep(interval);
  }
};

/** Spaces update calls and retries them with exponential backoff when API Gateway throttles. */
class Pacer {
  constructor(
    private readonly deps: RollDeps,
    public last: Date | undefined,
  ) {}

  /** With `startBy`, an attempt that could not be made by then is not made (DeferredError). */
  async update(domain: string, version: string, startBy?: number): Promise<void> {
    const minInterval = this.deps.config.minUpdateIntervalMs ?? DEFAULTS.minUpdateIntervalMs;
    const attempts = this.deps.config.maxAttempts ?? DEFAULTS.maxAttempts;
    const pause = async (ms: number) => {
      if (startBy !== undefined && this.deps.clock.now().getTime() + ms > startBy) {
        throw new DeferredError(`no time left to roll ${domain}`);
      }
      if (ms > 0) await this.deps.clock.sleep(ms);
    };
    for (let attempt = 1; ; attempt++) {
      await pause(this.last ? this.last.getTime() + minInterval - this.deps.clock.now().getTime() : 0);
      this.last = this.deps.clock.now();
      try {
        await this.deps.gateway.roll(domain, version);
        return;
      } catch (error) {
        const retryable = error instanceof ThrottledError || error instanceof ConflictError;
        if (!retryable || attempt >= attempts) throw error;
        const backoff = backoffMs(attempt, error instanceof ThrottledError ? error.retryAfterMs : 0);
        this.deps.log.warn('domain update throttled, backing off', { domain, attempt, backoffMs: backoff });
        await pause(backoff);
      }
    }
  }
}

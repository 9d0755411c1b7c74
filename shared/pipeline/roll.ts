import { ConflictError, ThrottledError } from '../errors.js';
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
}

export interface RollDeps {
  readonly gateway: DomainGateway;
  readonly notifier: Notifier;
  readonly clock: Clock;
  readonly log: Log;
  readonly config: RollConfig;
}

export type RollOutcome = 'rolled' | 'unchanged' | 'rolled-back' | 'failed';

export interface DomainRoll {
  readonly domain: string;
  readonly from?: string;
  readonly to: string;
  readonly outcome: RollOutcome;
  /** Warnings API Gateway reported for the new version that the previous one did not have. */
  readonly newWarnings: readonly string[];
  readonly error?: string;
}

export interface RollReport {
  readonly domains: readonly DomainRoll[];
  /** When the last update call was made (to be remembered for the next run's pacing). */
  readonly lastUpdateAt?: Date;
  /** Notifications that could not be sent (the roll itself stands). */
  readonly notifyErrors: readonly string[];
}

/**
 * Rolls every configured domain to `version`.
 * For each domain: wait while it is UPDATING; skip it if already on `version`; request the update
 * (paced to one call per `minUpdateIntervalMs`, retried with backoff when throttled); wait for
 * AVAILABLE; compare truststore warnings with the previous version's; if new warnings appeared,
 * roll back to the previous version. Then one `truststore.rolled` notification, and one
 * `truststore.roll-failed` per domain rolled back or failed.
 */
export const rollDomains = async (
  version: string,
  deps: RollDeps,
  context: { readonly revision: number; readonly lastUpdateAt?: Date },
): Promise<RollReport> => {
  const pacer = new Pacer(deps, context.lastUpdateAt);
  const results: DomainRoll[] = [];
  for (const domain of deps.config.domains) {
    results.push(await rollOne(domain, version, deps, pacer));
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
          : [
              `${r.domain} could not be rolled to truststore version ${version}: ${r.error}.`,
              `It stays on version ${r.from ?? '(unknown)'}. The next upload or a retry rolls again.`,
            ],
      ),
    );
  }
  return { domains: results, ...(pacer.last ? { lastUpdateAt: pacer.last } : {}), notifyErrors };
};

const rollOne = async (
  domain: string,
  version: string,
  deps: RollDeps,
  pacer: Pacer,
): Promise<DomainRoll> => {
  let before: DomainState;
  try {
    before = await waitAvailable(domain, deps);
  } catch (error) {
    return { domain, to: version, outcome: 'failed', newWarnings: [], error: (error as Error).message };
  }
  const from = before.truststoreVersion;
  const base = { domain, to: version, ...(from === undefined ? {} : { from }) };
  if (from === version) return { ...base, outcome: 'unchanged', newWarnings: [] };
  try {
    await pacer.update(domain, version);
    const after = await waitAvailable(domain, deps);
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
    deps.log.warn('truststore rolled back', { domain, from, to: version, newWarnings });
    await pacer.update(domain, from);
    await waitAvailable(domain, deps);
    return { ...base, outcome: 'rolled-back', newWarnings };
  } catch (error) {
    deps.log.error('truststore roll failed', { domain, to: version, error: (error as Error).message });
    return { ...base, outcome: 'failed', newWarnings: [], error: (error as Error).message };
  }
};

const waitAvailable = async (domain: string, deps: RollDeps): Promise<DomainState> => {
  const interval = deps.config.pollIntervalMs ?? 5_000;
  const deadline = deps.clock.now().getTime() + (deps.config.updateTimeoutMs ?? 300_000);
  for (;;) {
    const state = await deps.gateway.describe(domain);
    if (state.status === 'AVAILABLE') return state;
    if (state.status !== 'UPDATING' && state.status !== 'PENDING') {
      throw new Error(`${domain} is ${state.status}, not AVAILABLE`);
    }
    if (deps.clock.now().getTime() + interval > deadline) {
      throw new Error(
        `${domain} still ${state.status} after ${Math.round((deps.config.updateTimeoutMs ?? 300_000) / 1000)} s`,
      );
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

  async update(domain: string, version: string): Promise<void> {
    const minInterval = this.deps.config.minUpdateIntervalMs ?? 30_000;
    const attempts = this.deps.config.maxAttempts ?? 6;
    for (let attempt = 1; ; attempt++) {
      if (this.last) {
        const wait = this.last.getTime() + minInterval - this.deps.clock.now().getTime();
        if (wait > 0) await this.deps.clock.sleep(wait);
      }
      this.last = this.deps.clock.now();
      try {
        await this.deps.gateway.roll(domain, version);
        return;
      } catch (error) {
        const retryable = error instanceof ThrottledError || error instanceof ConflictError;
        if (!retryable || attempt >= attempts) throw error;
        const backoff = Math.max(
          error instanceof ThrottledError ? (error.retryAfterMs ?? 0) : 0,
          Math.min(60_000, 2_000 * 2 ** (attempt - 1)),
        );
        this.deps.log.warn('domain update throttled, backing off', { domain, attempt, backoffMs: backoff });
        await this.deps.clock.sleep(backoff);
      }
    }
  }
}

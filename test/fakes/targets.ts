import { ThrottledError, UpstreamError } from '../../shared/errors.js';
import type { Target, TargetGateway, TargetState } from '../../shared/rollout/model.js';
import type { FakeClock } from './fakes.js';

interface FakeTarget {
  version?: string;
  status: string;
  /** Reads left before an UPDATING target is AVAILABLE (Infinity: stuck). */
  updatingReads: number;
  /** Update calls still to throttle. */
  throttle: number;
}

export type GatewayEvent = {
  readonly at: number;
  readonly op: 'describe' | 'update' | 'probe';
  readonly target: string;
  readonly version?: string;
  readonly outcome?: 'ok' | 'throttled' | 'refused';
};

/**
 * Many targets behind one gateway, each like API Gateway: an update makes it UPDATING for
 * `updatingReads` reads, then AVAILABLE with `warningsFor(id, version)`. Every call is recorded
 * with the fake clock's time.
 */
export class FakeTargetGateway implements TargetGateway {
  readonly targets = new Map<string, FakeTarget>();
  readonly events: GatewayEvent[] = [];
  updatingReads = 2;
  warningsFor: (id: string, version: string) => string[] = () => [];
  probeResult: (id: string, version: string | undefined) => { ok: boolean; detail: string } = () => ({
    ok: true,
    detail: '200',
  });
  /** Update calls refused for good (not throttled), by target id. */
  refuse = new Set<string>();
  /** Reads that fail upstream, by target id (count). */
  unreadable = new Map<string, number>();

  constructor(
    private readonly clock: FakeClock,
    initial: Record<string, string | undefined>,
  ) {
    for (const [id, version] of Object.entries(initial))
      this.targets.set(id, {
        ...(version ? { version } : {}),
        status: 'AVAILABLE',
        updatingReads: 0,
        throttle: 0,
      });
  }

  of(id: string): FakeTarget {
    const t = this.targets.get(id);
    if (!t) throw new Error(`no fake target ${id}`);
    return t;
  }

  async describe(target: Target): Promise<TargetState> {
    this.events.push({ at: this.clock.now().getTime(), op: 'describe', target: target.id });
    const left = this.unreadable.get(target.id) ?? 0;
    if (left > 0) {
      this.unreadable.set(target.id, left - 1);
      throw new UpstreamError('503 Service Unavailable');
    }
    const t = this.of(target.id);
    if (t.status === 'UPDATING' && t.updatingReads-- <= 0) t.status = 'AVAILABLE';
    return {
      name: target.resource,
      status: t.status,
      ...(t.version ? { truststoreVersion: t.version } : {}),
      warnings: t.version && t.status === 'AVAILABLE' ? this.warningsFor(target.id, t.version) : [],
    };
  }

  async update(target: Target, version: string): Promise<void> {
    const t = this.of(target.id);
    const at = this.clock.now().getTime();
    if (t.throttle > 0) {
      t.throttle--;
      this.events.push({ at, op: 'update', target: target.id, version, outcome: 'throttled' });
      throw new ThrottledError('Too Many Requests');
    }
    if (this.refuse.has(target.id)) {
      this.events.push({ at, op: 'update', target: target.id, version, outcome: 'refused' });
      throw new Error('AccessDenied: not authorized to perform apigateway:UpdateDomainName');
    }
    this.events.push({ at, op: 'update', target: target.id, version, outcome: 'ok' });
    t.version = version;
    t.status = 'UPDATING';
    t.updatingReads = this.updatingReads;
  }

  async probe(target: Target): Promise<{ readonly ok: boolean; readonly detail: string }> {
    this.events.push({ at: this.clock.now().getTime(), op: 'probe', target: target.id });
    return this.probeResult(target.id, this.of(target.id).version);
  }

  /** Successful update calls, in order: `id@version`. */
  updates(): string[] {
    return this.events
      .filter((e) => e.op === 'update' && e.outcome === 'ok')
      .map((e) => `${e.target}@${e.version}`);
  }
}

import { ThrottledError } from '../../shared/errors.js';
import type { Clock, DomainGateway, DomainState, Log, Notification, Notifier } from '../../shared/ports.js';

/** A clock whose sleep advances time instantly; records every sleep. */
export class FakeClock implements Clock {
  readonly sleeps: number[] = [];
  constructor(private t: number = Date.parse('2026-06-01T00:00:00Z')) {}
  now = () => new Date(this.t);
  sleep = async (ms: number) => {
    this.sleeps.push(ms);
    this.t += ms;
  };
  advance(ms: number) {
    this.t += ms;
  }
}

export class MemoryNotifier implements Notifier {
  readonly sent: Notification[] = [];
  fail = 0;
  async publish(n: Notification) {
    if (this.fail > 0) {
      this.fail--;
      throw new Error('SNS unavailable');
    }
    this.sent.push(n);
  }
  types() {
    return this.sent.map((n) => n.eventType);
  }
}

interface FakeDomain {
  version?: string;
  status: string;
  updatingReads: number;
}

/**
 * An API Gateway stand-in: a roll makes the domain UPDATING for `updatingReads` describes, then
 * AVAILABLE with the warnings `warningsFor(version)` gives. `throttle` rolls fail first.
 */
export class FakeGateway implements DomainGateway {
  readonly domains = new Map<string, FakeDomain>();
  readonly calls: { domain: string; version: string }[] = [];
  throttle = 0;
  updatingReads = 2;
  warningsFor: (version: string) => string[] = () => [];

  constructor(...names: string[]) {
    for (const n of names) this.domains.set(n, { status: 'AVAILABLE', updatingReads: 0 });
  }

  async describe(name: string): Promise<DomainState> {
    const d = this.domains.get(name);
    if (!d) throw new Error(`no domain ${name}`);
    if (d.status === 'UPDATING' && d.updatingReads-- <= 0) d.status = 'AVAILABLE';
    return {
      name,
      status: d.status,
      ...(d.version ? { truststoreVersion: d.version } : {}),
      warnings: d.version && d.status === 'AVAILABLE' ? this.warningsFor(d.version) : [],
    };
  }

  async roll(name: string, version: string): Promise<void> {
    if (this.throttle > 0) {
      this.throttle--;
      throw new ThrottledError('Too Many Requests');
    }
    const d = this.domains.get(name)!;
    this.calls.push({ domain: name, version });
    d.version = version;
    d.status = 'UPDATING';
    d.updatingReads = this.updatingReads;
  }
}

export const memoryLog = (): Log & { lines: { level: string; message: string; data?: unknown }[] } => {
  const lines: { level: string; message: string; data?: unknown }[] = [];
  const at = (level: string) => (message: string, data?: Record<string, unknown>) => {
    lines.push({ level, message, data });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
};

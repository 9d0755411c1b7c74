import { describe, expect, it } from 'vitest';
import { UpstreamError } from '../../../shared/errors.js';
import { type RollConfig, rollDomains, rollWorstCaseMs } from '../../../shared/pipeline/roll.js';
import type { DomainGateway } from '../../../shared/ports.js';
import { FakeClock, FakeGateway, MemoryNotifier, memoryLog } from '../../fakes/fakes.js';

const names = (n: number) =>
  Array.from({ length: n }, (_, i) => `d${String(i + 1).padStart(2, '0')}.example.com`);
const timing = {
  pollIntervalMs: 5_000,
  updateTimeoutMs: 60_000,
  minUpdateIntervalMs: 30_000,
  maxAttempts: 3,
};

/** Records, at every update call, how much time was left before the deadline. */
const watched = (gateway: FakeGateway, clock: FakeClock, deadline: Date) => {
  const margins: number[] = [];
  const wrapped: DomainGateway = {
    describe: (d) => gateway.describe(d),
    roll: async (d, v) => {
      margins.push(deadline.getTime() - clock.now().getTime());
      await gateway.roll(d, v);
    },
  };
  return { wrapped, margins };
};

describe('rollDomains with a deadline (a Lambda invocation)', () => {
  it('starts a domain only with its worst case left, defers the rest, and never cuts a roll short', async () => {
    const domains = names(12);
    const gateway = new FakeGateway(...domains);
    const clock = new FakeClock();
    const worst = rollWorstCaseMs(timing);
    // Room for the worst case of one domain and a few typical rolls (≈ 40 s each with pacing).
    const deadline = new Date(clock.now().getTime() + worst + 150_000);
    const { wrapped, margins } = watched(gateway, clock, deadline);
    const notifier = new MemoryNotifier();
    const config: RollConfig = { domains, ...timing, deadline };
    const report = await rollDomains(
      'v2',
      { gateway: wrapped, notifier, clock, log: memoryLog(), config },
      {
        revision: 2,
      },
    );
    const rolled = report.domains.filter((d) => d.outcome === 'rolled').map((d) => d.domain);
    expect(rolled.length).toBeGreaterThanOrEqual(3);
    expect(rolled.length).toBeLessThan(12);
    expect(report.deferred).toEqual(domains.slice(rolled.length));
    // Every update call was made with at least the worst case of its roll still ahead.
    expect(Math.min(...margins)).toBeGreaterThanOrEqual(worst);
    expect(clock.now().getTime()).toBeLessThanOrEqual(deadline.getTime());
    for (const d of report.deferred) expect(gateway.domains.get(d)!.version).toBeUndefined();
    // Deferred domains are not failures: no roll-failed alert, only the one for what was rolled.
    expect(notifier.types()).toEqual(['truststore.rolled']);
  });

  it('converges: follow-up runs, each with its own deadline, leave every domain on the version', async () => {
    const domains = names(12);
    const gateway = new FakeGateway(...domains);
    const clock = new FakeClock();
    let runs = 0;
    let lastUpdateAt: Date | undefined;
    for (let deferred = domains; deferred.length > 0; runs++) {
      expect(runs).toBeLessThan(12);
      const deadline = new Date(clock.now().getTime() + rollWorstCaseMs(timing) + 100_000);
      const report = await rollDomains(
        'v2',
        {
          gateway,
          notifier: new MemoryNotifier(),
          clock,
          log: memoryLog(),
          config: { domains, ...timing, deadline },
        },
        { revision: 2, ...(lastUpdateAt ? { lastUpdateAt } : {}) },
      );
      lastUpdateAt = report.lastUpdateAt;
      expect(report.deferred.length).toBeLessThan(deferred.length);
      deferred = [...report.deferred];
    }
    expect(runs).toBeGreaterThan(1);
    expect([...gateway.domains.values()].every((d) => d.version === 'v2')).toBe(true);
  });

  it('defers rather than fails a domain whose throttling back-off would run past the deadline', async () => {
    const gateway = new FakeGateway('api.example.com');
    gateway.throttle = 5;
    const clock = new FakeClock();
    const deadline = new Date(clock.now().getTime() + rollWorstCaseMs(timing) + 3_000);
    const notifier = new MemoryNotifier();
    const report = await rollDomains(
      'v2',
      {
        gateway,
        notifier,
        clock,
        log: memoryLog(),
        config: { domains: ['api.example.com'], ...timing, deadline },
      },
      { revision: 2 },
    );
    expect(report.domains.map((d) => d.outcome)).toEqual(['deferred']);
    expect(report.deferred).toEqual(['api.example.com']);
    expect(gateway.calls).toEqual([]);
    expect(notifier.sent).toEqual([]);
  });

  it('finishes a roll-back it started even when the deadline is near', async () => {
    const gateway = new FakeGateway('api.example.com');
    gateway.domains.get('api.example.com')!.version = 'v1';
    gateway.warningsFor = (v) => (v === 'v2' ? ['Certificate CN=Old expired'] : []);
    const clock = new FakeClock();
    const deadline = new Date(clock.now().getTime() + rollWorstCaseMs(timing) + 1_000);
    const report = await rollDomains(
      'v2',
      {
        gateway,
        notifier: new MemoryNotifier(),
        clock,
        log: memoryLog(),
        config: { domains: ['api.example.com'], ...timing, deadline },
      },
      { revision: 2 },
    );
    expect(report.domains[0]).toMatchObject({ outcome: 'rolled-back', from: 'v1' });
    expect(gateway.calls.map((c) => c.version)).toEqual(['v2', 'v1']);
    expect(gateway.domains.get('api.example.com')).toMatchObject({ version: 'v1', status: 'AVAILABLE' });
    expect(clock.now().getTime()).toBeLessThanOrEqual(deadline.getTime());
  });

  it('without a deadline rolls every domain, however long it takes (local mode, the CLI)', async () => {
    const domains = names(12);
    const gateway = new FakeGateway(...domains);
    const report = await rollDomains(
      'v2',
      {
        gateway,
        notifier: new MemoryNotifier(),
        clock: new FakeClock(),
        log: memoryLog(),
        config: { domains, ...timing },
      },
      { revision: 2 },
    );
    expect(report.deferred).toEqual([]);
    expect(report.domains.every((d) => d.outcome === 'rolled')).toBe(true);
  });
});

describe('rollDomains when reading the domain fails after its update', () => {
  const flaky = (failures: number) => {
    const gateway = new FakeGateway('api.example.com');
    gateway.domains.get('api.example.com')!.version = 'v1';
    gateway.warningsFor = (v) => (v === 'v2' ? ['Certificate CN=Old expired'] : []);
    let rolled = false;
    let left = failures;
    const wrapped: DomainGateway = {
      describe: async (d) => {
        if (rolled && left > 0) {
          left--;
          throw new UpstreamError('reading domain api.example.com: InternalFailure');
        }
        return gateway.describe(d);
      },
      roll: async (d, v) => {
        rolled = true;
        await gateway.roll(d, v);
      },
    };
    return { gateway, wrapped };
  };

  it('reads again until the timeout, so the warnings are still checked and the roll-back still happens', async () => {
    const { gateway, wrapped } = flaky(3);
    const report = await rollDomains(
      'v2',
      {
        gateway: wrapped,
        notifier: new MemoryNotifier(),
        clock: new FakeClock(),
        log: memoryLog(),
        config: { domains: ['api.example.com'], ...timing },
      },
      { revision: 2 },
    );
    expect(report.domains[0]).toMatchObject({ outcome: 'rolled-back', from: 'v1' });
    expect(gateway.domains.get('api.example.com')!.version).toBe('v1');
  });

  it('says the new version is unconfirmed, not that the domain stayed, when reads fail until the timeout', async () => {
    const { wrapped } = flaky(1_000);
    const notifier = new MemoryNotifier();
    const report = await rollDomains(
      'v2',
      {
        gateway: wrapped,
        notifier,
        clock: new FakeClock(),
        log: memoryLog(),
        config: { domains: ['api.example.com'], ...timing },
      },
      { revision: 2 },
    );
    expect(report.domains[0]).toMatchObject({ outcome: 'failed', unconfirmed: true });
    expect(notifier.sent[0]!.body).toMatch(
      /was asked to serve truststore version v2, but its status could not be confirmed/,
    );
    expect(notifier.sent[0]!.body).not.toMatch(/It stays on version/);
  });
});

import { invocationDeadline } from '../functions/lib/config.js';
import { rollDomains, rollWorstCaseMs } from '../shared/pipeline/roll.js';
import { FakeClock, FakeGateway, MemoryNotifier, memoryLog } from '../test/fakes/fakes.js';
import { note, report } from './report.js';

/** The Lambda defaults (functions/lib/config.ts) and API Gateway's observed 60–90 s per update. */
const DEFAULTS = {
  pollIntervalMs: 5_000,
  updateTimeoutMs: 240_000,
  minUpdateIntervalMs: 30_000,
  maxAttempts: 6,
};
const LAMBDA_MS = 900_000;

/**
 * How long a roll of N domains takes on AWS with the default settings, simulated on a fake clock:
 * each domain is UPDATING for `updatingS` after its update call (API Gateway: 60–90 s), rolls go
 * one after the other, paced 30 s apart, and each 15-minute ingest invocation starts a domain only
 * with the worst case of its roll still ahead, handing the rest to a follow-up invocation.
 * The floor: updates pipelined at API Gateway's pace (one call per 30 s), waiting only for the last.
 */
export const rollBench = async (): Promise<void> => {
  note(
    `# roll of N domains on AWS (simulated clock, defaults; one domain's worst case ${rollWorstCaseMs(DEFAULTS) / 1000} s), vs. updates pipelined at 1 per 30 s`,
  );
  for (const updatingS of [60, 90]) {
    for (const n of [1, 3, 12, 50]) {
      const domains = Array.from({ length: n }, (_, i) => `d${i}.example.com`);
      const gateway = new FakeGateway(...domains);
      gateway.updatingReads = updatingS / 5;
      const clock = new FakeClock();
      const start = clock.now().getTime();
      let invocations = 0;
      let lastUpdateAt: Date | undefined;
      for (let left = n; left > 0; invocations++) {
        if (invocations > n) throw new Error('the roll does not converge');
        const deadline = invocationDeadline(LAMBDA_MS, clock.now());
        const r = await rollDomains(
          'v2',
          {
            gateway,
            notifier: new MemoryNotifier(),
            clock,
            log: memoryLog(),
            config: { domains, ...DEFAULTS, deadline },
          },
          { revision: 2, ...(lastUpdateAt ? { lastUpdateAt } : {}) },
        );
        if (clock.now().getTime() > deadline.getTime())
          throw new Error('an invocation ran past its deadline');
        lastUpdateAt = r.lastUpdateAt;
        left = r.deferred.length;
      }
      const minutes = (clock.now().getTime() - start) / 60_000;
      const floor = ((n - 1) * DEFAULTS.minUpdateIntervalMs + updatingS * 1000) / 60_000;
      report({
        name: `roll.${n}-domains.${updatingS}s-updates`,
        value: minutes,
        unit: 'min',
        floor,
        ratio: minutes / floor,
      });
      report({
        name: `roll.${n}-domains.${updatingS}s-updates.invocations`,
        value: invocations,
        unit: 'invocations',
      });
    }
  }
};

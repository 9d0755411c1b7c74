import type { RolloutConfig, Target } from '../shared/rollout/model.js';
import { runRollout, startRollout } from '../shared/rollout/step.js';
import { FakeClock, MemoryNotifier, memoryLog } from '../test/fakes/fakes.js';
import { FakeTargetGateway } from '../test/fakes/targets.js';
import { note, report } from './report.js';

/**
 * How long a rollout of N API Gateway targets takes (issue 21), simulated on a fake clock with the
 * AWS defaults: a canary wave of one target, then the rest; each target UPDATING for `updatingS`
 * after its update (API Gateway: 60–90 s); update calls paced 30 s apart per account. Targets in
 * one account, and spread over accounts (pacing is per account). The steps are the ones the Step
 * Functions state machine runs; its Wait states are the clock's sleeps. Floor: the canary's
 * update and wait, then the rest's updates at the pace of their busiest account and the last wait.
 */
export const rolloutBench = async (): Promise<void> => {
  note('# rollout of N targets in two waves (simulated clock, AWS defaults), vs. the pace floor');
  const settings = {
    pollIntervalMs: 5_000,
    updateTimeoutMs: 300_000,
    minUpdateIntervalMs: 30_000,
    maxAttempts: 6,
  };
  for (const updatingS of [60, 90]) {
    for (const [n, accounts] of [
      [3, 1],
      [12, 1],
      [50, 1],
      [50, 5],
    ] as const) {
      const targets: Target[] = Array.from({ length: n }, (_, i) => ({
        id: `t${i}`,
        kind: 'apigateway-rest',
        resource: `t${i}.example.com`,
        wave: i === 0 ? 'canary' : 'rest',
        ...(accounts > 1 ? { account: String(100000000000 + (i % accounts)) } : {}),
      }));
      const config: RolloutConfig = { waves: ['canary', 'rest'], targets, settings };
      const clock = new FakeClock();
      const gateway = new FakeTargetGateway(clock, Object.fromEntries(targets.map((t) => [t.id, 'v1'])));
      gateway.updatingReads = updatingS / 5;
      const start = clock.now().getTime();
      const end = await runRollout(startRollout(config, { revision: 2, version: 'v2' }, clock.now()), {
        config,
        gateway,
        clock,
        log: memoryLog(),
        notifier: new MemoryNotifier(),
      });
      if (end.status !== 'succeeded') throw new Error(`bench rollout ended ${end.status}`);
      const minutes = (clock.now().getTime() - start) / 60_000;
      const rest = n - 1;
      const busiest = Math.ceil(rest / accounts);
      const floor = (updatingS * 2 + Math.max(0, busiest - 1) * 30) / 60;
      report({
        name: `rollout.${n}-targets.${accounts}-account${accounts === 1 ? '' : 's'}.${updatingS}s-updates`,
        value: minutes,
        unit: 'min',
        floor,
        ratio: minutes / floor,
      });
    }
  }
};

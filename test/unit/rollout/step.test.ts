import { describe, expect, it } from 'vitest';
import type { Rollout, RolloutConfig, Target, TargetGateway } from '../../../shared/rollout/model.js';
import { runRollout, type StepDeps, startRollout, stepRollout } from '../../../shared/rollout/step.js';
import { FakeClock, MemoryNotifier, memoryLog } from '../../fakes/fakes.js';
import { FakeTargetGateway } from '../../fakes/targets.js';

const ACCOUNT_A = '111111111111';
const ACCOUNT_B = '222222222222';
const probe = { url: 'https://canary.example.com/', clientCert: 'c.pem', clientKey: 'c.key' };

const target = (id: string, wave: string, extra: Partial<Target> = {}): Target => ({
  id,
  kind: 'apigateway-rest',
  resource: `${id}.example.com`,
  wave,
  account: ACCOUNT_A,
  ...extra,
});

const settings = {
  pollIntervalMs: 5_000,
  updateTimeoutMs: 300_000,
  minUpdateIntervalMs: 30_000,
  maxAttempts: 3,
};

/** canary (account A, probed), then rest: r1 (A), r2 (A, probed), r3 (B). */
const config: RolloutConfig = {
  waves: ['canary', 'rest'],
  targets: [
    target('canary', 'canary', { probe }),
    target('r1', 'rest'),
    target('r2', 'rest', { probe }),
    target('r3', 'rest', { account: ACCOUNT_B }),
  ],
  settings,
};

const setup = (initial: Record<string, string | undefined> = { canary: '1', r1: '1', r2: '1', r3: '1' }) => {
  const clock = new FakeClock();
  const gateway = new FakeTargetGateway(clock, initial);
  const notifier = new MemoryNotifier();
  const log = memoryLog();
  const deps: StepDeps = { config, gateway, clock, log, notifier };
  return { clock, gateway, notifier, log, deps };
};

/** The record as Step Functions passes it: through JSON between every step. */
const viaJson = (r: Rollout): Rollout => JSON.parse(JSON.stringify(r)) as Rollout;

/** Steps to the end, the record serialized between steps; returns the end and every record. */
const drive = async (
  rollout: Rollout,
  { deps, clock }: { deps: StepDeps; clock: FakeClock },
  latest?: (step: number) => string | undefined,
) => {
  const records: Rollout[] = [];
  let current = rollout;
  for (let step = 0; step < 500; step++) {
    const latestVersion = latest?.(step);
    const result = await stepRollout(viaJson(current), deps, latestVersion ? { latestVersion } : {});
    // Plain JSON: nothing lost or changed by a round trip.
    expect(viaJson(result.rollout)).toEqual(result.rollout);
    records.push(result.rollout);
    current = result.rollout;
    if (result.waitMs === undefined) return { end: current, records };
    expect(result.waitMs).toBeGreaterThanOrEqual(0);
    await clock.sleep(result.waitMs);
  }
  throw new Error('the rollout did not end in 500 steps');
};

const phases = (r: Rollout) => Object.fromEntries(r.targets.map((t) => [t.id, t.phase]));
const serving = (g: FakeTargetGateway) =>
  Object.fromEntries([...g.targets].map(([id, t]) => [id, t.version]));

describe('stepRollout', () => {
  it('rolls the waves in order: wave 2 is not touched before the canary is verified (probe included)', async () => {
    const f = setup();
    const { end } = await drive(startRollout(config, { revision: 7, version: '2' }, f.clock.now()), f);
    expect(end.status).toBe('succeeded');
    expect(phases(end)).toEqual({ canary: 'rolled', r1: 'rolled', r2: 'rolled', r3: 'rolled' });
    expect(serving(f.gateway)).toEqual({ canary: '2', r1: '2', r2: '2', r3: '2' });
    const canaryProbe = f.gateway.events.findIndex((e) => e.op === 'probe' && e.target === 'canary');
    const firstRest = f.gateway.events.findIndex((e) => e.target !== 'canary');
    expect(canaryProbe).toBeGreaterThanOrEqual(0);
    expect(firstRest).toBeGreaterThan(canaryProbe);
    expect(f.gateway.events.filter((e) => e.op === 'probe').map((e) => e.target)).toEqual(['canary', 'r2']);
    const rolled = f.notifier.sent.filter((n) => n.eventType === 'truststore.rolled');
    expect(rolled).toHaveLength(1);
    expect(rolled[0]!.subject).toBe('[trustroll] truststore revision 7 rolled to canary, r1, r2, r3');
    expect(rolled[0]!.body).toContain('- r3 (r3.example.com): 1 -> 2');
    expect(f.notifier.types()).not.toContain('truststore.roll-failed');
  });

  it('paces update calls per account: two in one account 30 s apart, another account not held back', async () => {
    const f = setup();
    await drive(startRollout(config, { revision: 1, version: '2' }, f.clock.now()), f);
    const at = Object.fromEntries(
      f.gateway.events.filter((e) => e.op === 'update').map((e) => [e.target, e.at]),
    );
    // Same account A: canary, r1, r2 each at least 30 s after the one before.
    expect(at.r1! - at.canary!).toBeGreaterThanOrEqual(30_000);
    expect(at.r2! - at.r1!).toBeGreaterThanOrEqual(30_000);
    // Account B's first call is not paced by account A's.
    expect(at.r3!).toBeLessThan(at.r1!);
    expect(at.r1! - at.r3!).toBeLessThan(30_000);
  });

  it('paces the next rollout by the calls the one before made in the same account (one call per 30 s per account, not per rollout)', async () => {
    const f = setup();
    const { end: first } = await drive(startRollout(config, { revision: 1, version: '2' }, f.clock.now()), f);
    const lastOfFirst = Math.max(...f.gateway.events.filter((e) => e.op === 'update').map((e) => e.at));
    const seen = f.gateway.events.length;
    await drive(startRollout(config, { revision: 2, version: '3' }, f.clock.now(), first), f);
    const next = f.gateway.events.slice(seen).filter((e) => e.op === 'update');
    // Account A's first call of the next rollout waits for the pace of the last one of the first.
    const firstA = next.find((e) => e.target === 'canary')!;
    expect(firstA.at - lastOfFirst).toBeGreaterThanOrEqual(30_000);
    expect(
      startRollout(config, { revision: 2, version: '3' }, f.clock.now(), first).lastUpdateByAccount,
    ).toEqual(first.lastUpdateByAccount);
    expect(Object.keys(first.lastUpdateByAccount).length).toBeGreaterThan(0);
  });

  it("paces a target naming the pipeline's own account with those naming none (one account, one pace)", async () => {
    const own: RolloutConfig = {
      waves: ['w'],
      targets: [
        { id: 'a', kind: 'apigateway-rest', resource: 'a.example.com', wave: 'w' },
        { id: 'b', kind: 'apigateway-http', resource: 'b.example.com', wave: 'w', account: '123456789012' },
      ],
      settings: config.settings,
      ownAccount: '123456789012',
    };
    const f = setup();
    const gateway = new FakeTargetGateway(f.clock, { a: '1', b: '1' });
    await runRollout(startRollout(own, { revision: 1, version: '2' }, f.clock.now()), {
      config: own,
      gateway,
      clock: f.clock,
      log: f.log,
      notifier: f.notifier,
    });
    const at = gateway.events.filter((e) => e.op === 'update').map((e) => e.at);
    expect(at).toHaveLength(2);
    expect(Math.abs(at[1]! - at[0]!)).toBeGreaterThanOrEqual(30_000);
  });

  it('backs off when throttled, then rolls; gives up after maxAttempts and rolls back what was rolled', async () => {
    const f = setup();
    f.gateway.of('canary').throttle = 2;
    const { end } = await drive(startRollout(config, { revision: 1, version: '2' }, f.clock.now()), f);
    expect(end.status).toBe('succeeded');
    expect(end.targets.find((t) => t.id === 'canary')!.attempts).toBe(3);
    expect(f.clock.sleeps).toContain(2_000);
    expect(f.clock.sleeps).toContain(4_000);
    expect(f.log.lines.filter((l) => l.message === 'domain update throttled, backing off')).toHaveLength(2);

    const g = setup();
    g.gateway.of('r1').throttle = 10;
    const { end: failed } = await drive(
      startRollout(config, { revision: 1, version: '2' }, g.clock.now()),
      g,
    );
    const r1 = failed.targets.find((t) => t.id === 'r1')!;
    expect(r1.phase).toBe('failed');
    expect(r1.error).toMatch(/could not be rolled to version 2 \(3 attempts\): Too Many Requests/);
    expect(g.gateway.events.filter((e) => e.op === 'update' && e.target === 'r1')).toHaveLength(3);
    expect(failed.status).toBe('failed');
    // The canary and the other targets of the wave that were rolled went back to 1.
    expect(serving(g.gateway).canary).toBe('1');
    expect(serving(g.gateway).r1).toBe('1');
    expect(phases(failed).canary).toBe('rolled-back');
  });

  it('fails a target still UPDATING after the timeout (unconfirmed), and never starts wave 2', async () => {
    const f = setup();
    f.gateway.updatingReads = Number.POSITIVE_INFINITY;
    const { end } = await drive(startRollout(config, { revision: 1, version: '2' }, f.clock.now()), f);
    const canary = end.targets.find((t) => t.id === 'canary')!;
    expect(canary).toMatchObject({ phase: 'failed', unconfirmed: true });
    expect(canary.error).toBe('canary.example.com still UPDATING after 300 s');
    expect(end.status).toBe('failed');
    expect(phases(end)).toMatchObject({ r1: 'skipped', r2: 'skipped', r3: 'skipped' });
    expect(f.gateway.events.some((e) => e.target !== 'canary')).toBe(false);
    const failed = f.notifier.sent.filter((n) => n.eventType === 'truststore.roll-failed');
    expect(failed.map((n) => n.id)).toEqual(['truststore.roll-failed:canary:2']);
    expect(failed[0]!.body).toContain('its status could not be confirmed');
  });

  it('waits while a target is UPDATING before its update, then rolls it', async () => {
    const f = setup();
    f.gateway.of('canary').status = 'UPDATING';
    f.gateway.of('canary').updatingReads = 3;
    const { end } = await drive(startRollout(config, { revision: 1, version: '2' }, f.clock.now()), f);
    expect(end.status).toBe('succeeded');
    const firstUpdate = f.gateway.events.findIndex((e) => e.op === 'update');
    expect(f.gateway.events.slice(0, firstUpdate).filter((e) => e.op === 'describe')).toHaveLength(4);
  });

  it('stops at a canary with new truststore warnings, rolls it back, and leaves wave 2 alone', async () => {
    const f = setup();
    f.gateway.warningsFor = (_id, v) => (v === '2' ? ['Certificate CN=Old CA expired'] : []);
    const { end } = await drive(startRollout(config, { revision: 3, version: '2' }, f.clock.now()), f);
    expect(end.status).toBe('rolled-back');
    expect(phases(end)).toEqual({ canary: 'rolled-back', r1: 'skipped', r2: 'skipped', r3: 'skipped' });
    expect(end.targets[0]!.newWarnings).toEqual(['Certificate CN=Old CA expired']);
    expect(f.gateway.updates()).toEqual(['canary@2', 'canary@1']);
    expect(serving(f.gateway)).toEqual({ canary: '1', r1: '1', r2: '1', r3: '1' });
    expect(end.reason).toBe('truststore version 2 brought new warnings on canary');
    // The canary's probe is not run once its warnings failed it.
    expect(f.gateway.events.some((e) => e.op === 'probe')).toBe(false);
    const sent = f.notifier.sent;
    expect(sent.map((n) => n.eventType)).toEqual(['truststore.roll-failed']);
    expect(sent[0]!.subject).toBe(
      '[trustroll] canary rolled back: truststore version 2 brought new warnings',
    );
    expect(sent[0]!.body).toContain('- Certificate CN=Old CA expired');
    expect(sent[0]!.body).toContain('Not touched (the rollout stopped before them): r1, r2, r3.');
  });

  it('does not blame a new version for a warning the version before would bring now (a CA both hold expired since), where the target can judge it', async () => {
    const f = setup();
    // The CA expired while version 1 was served: judged now, 1 brings the warning too.
    f.gateway.warningsFor = (_id, v) => (v === '2' ? ['cert.expired: CN=Old CA'] : []);
    const judged: string[] = [];
    (f.gateway as unknown as TargetGateway).warningsNow = async (target, version) => {
      judged.push(`${target.id}@${version}`);
      return version === '1' ? ['cert.expired: CN=Old CA'] : [];
    };
    const { end } = await drive(startRollout(config, { revision: 3, version: '2' }, f.clock.now()), f);
    expect(end.status).toBe('succeeded');
    expect(end.targets.every((t) => t.newWarnings.length === 0)).toBe(true);
    expect(judged).toContain('canary@1');
    // A warning the version before would not bring is still new.
    const g = setup();
    g.gateway.warningsFor = (_id, v) => (v === '2' ? ['cert.expired: CN=Old CA', 'W2'] : []);
    (g.gateway as unknown as TargetGateway).warningsNow = async (_t, version) =>
      version === '1' ? ['cert.expired: CN=Old CA'] : [];
    const { end: stopped } = await drive(
      startRollout(config, { revision: 3, version: '2' }, g.clock.now()),
      g,
    );
    expect(stopped.status).toBe('rolled-back');
    expect(stopped.targets[0]!.newWarnings).toEqual(['W2']);
  });

  it('rolls back wave 2 and wave 1 when a probe fails in wave 2', async () => {
    const f = setup();
    f.gateway.probeResult = (id, v) =>
      id === 'r2' && v === '2'
        ? { ok: false, detail: 'HTTP 403, expected 200' }
        : { ok: true, detail: '200' };
    const { end } = await drive(startRollout(config, { revision: 3, version: '2' }, f.clock.now()), f);
    expect(end.status).toBe('rolled-back');
    expect(phases(end)).toEqual({
      canary: 'rolled-back',
      r1: 'rolled-back',
      r2: 'rolled-back',
      r3: 'rolled-back',
    });
    expect(serving(f.gateway)).toEqual({ canary: '1', r1: '1', r2: '1', r3: '1' });
    expect(end.reason).toBe('the probe of r2 failed on truststore version 2: HTTP 403, expected 200');
    // Roll-back calls are paced per account too.
    const backs = f.gateway.events.filter(
      (e) => e.op === 'update' && e.version === '1' && e.outcome === 'ok',
    );
    const inA = backs.filter((e) => e.target !== 'r3').map((e) => e.at);
    for (let i = 1; i < inA.length; i++) expect(inA[i]! - inA[i - 1]!).toBeGreaterThanOrEqual(30_000);
    const failed = f.notifier.sent.filter((n) => n.eventType === 'truststore.roll-failed');
    expect(failed.map((n) => n.id).sort()).toEqual(
      ['canary', 'r1', 'r2', 'r3'].map((id) => `truststore.roll-failed:${id}:2`),
    );
    expect(failed.find((n) => n.id.includes(':r2:'))!.subject).toContain('r2 rolled back: its probe failed');
    expect(f.notifier.types()).not.toContain('truststore.rolled');
  });

  it('cannot roll back a target that served no version before: failed, with the reason', async () => {
    const f = setup({ canary: '1', r1: undefined, r2: '1', r3: '1' });
    f.gateway.probeResult = (id) =>
      id === 'r2' ? { ok: false, detail: 'HTTP 403' } : { ok: true, detail: '200' };
    const { end } = await drive(startRollout(config, { revision: 3, version: '2' }, f.clock.now()), f);
    expect(end.status).toBe('failed');
    const r1 = end.targets.find((t) => t.id === 'r1')!;
    expect(r1.phase).toBe('failed');
    expect(r1.error).toContain('it cannot be rolled back: it served no truststore version before');
    expect(f.notifier.sent.map((n) => n.subject)).toContain(
      '[trustroll] r1 not rolled back: it serves truststore version 2',
    );
    expect(serving(f.gateway)).toMatchObject({ canary: '1', r1: '2', r2: '1' });
  });

  it('an update refused for good fails the target without retries, the rollout rolls back the rest', async () => {
    const f = setup();
    f.gateway.refuse.add('canary');
    const { end } = await drive(startRollout(config, { revision: 3, version: '2' }, f.clock.now()), f);
    expect(end.status).toBe('failed');
    expect(end.targets[0]!.error).toMatch(/^could not be rolled to version 2 \(1 attempt\): AccessDenied/);
    expect(f.gateway.events.filter((e) => e.op === 'update')).toHaveLength(1);
    expect(serving(f.gateway).canary).toBe('1');
  });

  it('marks targets already on the version unchanged, without an update call', async () => {
    const f = setup({ canary: '2', r1: '1', r2: '2', r3: '1' });
    const { end } = await drive(startRollout(config, { revision: 3, version: '2' }, f.clock.now()), f);
    expect(phases(end)).toEqual({ canary: 'unchanged', r1: 'rolled', r2: 'unchanged', r3: 'rolled' });
    expect(f.gateway.updates()).toEqual(['r1@2', 'r3@2']);
  });

  it('ends superseded when a newer version is published, without rolling anything back', async () => {
    const f = setup();
    // The newer version appears once the canary is verified and wave 2 has begun.
    let seen = false;
    const { end } = await drive(startRollout(config, { revision: 3, version: '2' }, f.clock.now()), f, () => {
      seen ||= f.gateway.events.some((e) => e.op === 'update' && e.target === 'r1');
      return seen ? '3' : '2';
    });
    expect(end.status).toBe('superseded');
    expect(phases(end).canary).toBe('rolled');
    expect(phases(end).r2).toBe('skipped');
    expect(serving(f.gateway).canary).toBe('2');
    expect(f.gateway.events.filter((e) => e.op === 'update' && e.version === '1')).toEqual([]);
    // Said: which targets the superseded version reached, and which it never did.
    expect(f.notifier.types()).toEqual(['truststore.roll-superseded']);
    const sent = f.notifier.sent[0]!;
    expect(sent.severity).toBe('warning');
    expect(sent.subject).toBe('[trustroll] rollout of truststore version 2 superseded by version 3');
    expect(sent.body).toContain('- canary (canary.example.com): rolled (from 1)');
    expect(sent.body).toContain('Never reached (they stay on their version until version 3');
    expect(sent.body).toContain('r2');
    expect(end.reason).toContain('truststore version 3 was published since');
  });

  it('fails a target whose gateway fails unexpectedly, rolls back the rest, and never throws', async () => {
    const f = setup();
    const describe = f.gateway.describe.bind(f.gateway);
    f.gateway.describe = async (t) => {
      if (t.id === 'r2' && f.gateway.updates().includes('r2@2'))
        throw new Error('NotFoundException: domain gone');
      return describe(t);
    };
    const { end } = await drive(startRollout(config, { revision: 3, version: '2' }, f.clock.now()), f);
    const r2 = end.targets.find((t) => t.id === 'r2')!;
    expect(r2).toMatchObject({ phase: 'failed', unconfirmed: true, error: 'NotFoundException: domain gone' });
    expect(end.status).toBe('failed');
    expect(phases(end)).toMatchObject({ canary: 'rolled-back', r1: 'rolled-back', r3: 'rolled-back' });
    expect(serving(f.gateway)).toMatchObject({ canary: '1', r1: '1', r3: '1' });
  });

  it('takes over a superseded rollout’s "before" for a target it updated but never verified: a warning both versions bring is new', async () => {
    const f = setup();
    // API Gateway can stay UPDATING for minutes; versions 2 and 3 both bring r1 the warning W.
    f.gateway.updatingReads = 30;
    f.gateway.warningsFor = (id, v) => (id === 'r1' && (v === '2' || v === '3') ? ['W'] : []);
    const { end: superseded } = await drive(
      startRollout(config, { revision: 2, version: '2' }, f.clock.now()),
      f,
      () => (f.gateway.updates().includes('r1@2') ? '3' : '2'),
    );
    expect(superseded.status).toBe('superseded');
    expect(superseded.targets.find((t) => t.id === 'r1')).toMatchObject({ phase: 'updating', from: '1' });
    const next = startRollout(config, { revision: 3, version: '3' }, f.clock.now(), viaJson(superseded));
    expect(next.targets.find((t) => t.id === 'r1')).toMatchObject({
      phase: 'pending',
      from: '1',
      warningsBefore: [],
      carried: true,
    });
    // The canary was verified on 2: its own reading stands.
    expect(next.targets.find((t) => t.id === 'canary')).not.toHaveProperty('carried');
    const { end } = await drive(next, f);
    expect(end.status).toBe('rolled-back');
    expect(end.targets.find((t) => t.id === 'r1')).toMatchObject({ newWarnings: ['W'], from: '1' });
    // Back to the version verified before (1), not to the unverified 2.
    expect(serving(f.gateway)).toMatchObject({ canary: '2', r1: '1' });
  });

  it('rolls back a target a superseded rollout updated but never verified when the rollout that took over stops before its wave', async () => {
    const f = setup();
    f.gateway.updatingReads = 30;
    const { end: superseded } = await drive(
      startRollout(config, { revision: 2, version: '2' }, f.clock.now()),
      f,
      () => (f.gateway.updates().includes('r1@2') ? '3' : '2'),
    );
    expect(superseded.targets.find((t) => t.id === 'r1')).toMatchObject({ phase: 'updating', from: '1' });
    // Version 3 fails at the canary: r1's wave never comes.
    f.gateway.warningsFor = (id, v) => (id === 'canary' && v === '3' ? ['W3'] : []);
    const { end } = await drive(
      startRollout(config, { revision: 3, version: '3' }, f.clock.now(), viaJson(superseded)),
      f,
    );
    expect(end.status).toBe('rolled-back');
    expect(end.targets.find((t) => t.id === 'r1')).toMatchObject({ phase: 'rolled-back', from: '1' });
    // Not left on 2, which no one verified: back on 1, as the targets that 2 never reached.
    expect(serving(f.gateway)).toMatchObject({ r1: '1', r2: '1', r3: '1' });
    // r3 (another account, not paced behind r1) had been updated to 2 as well; r2 never was.
    expect(phases(end)).toMatchObject({ r2: 'skipped', r3: 'rolled-back' });
  });

  it("names each rollout's truststore.rolled apart, so a second rollout of a version (a convergence, a retry) is not taken for a re-sent alert", async () => {
    const f = setup({ canary: '1', r1: '1', r2: '1', r3: '1' });
    await drive(startRollout(config, { revision: 2, version: '2' }, f.clock.now()), f);
    f.gateway.of('r3').version = '1';
    f.clock.advance(60_000);
    await drive(startRollout(config, { revision: 2, version: '2' }, f.clock.now()), f);
    const ids = f.notifier.sent.filter((n) => n.eventType === 'truststore.rolled').map((n) => n.id);
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
    expect(ids[0]).toMatch(/^truststore\.rolled:2@/);
  });

  it('finishes a roll back before a newer version can supersede the rollout', async () => {
    const f = setup();
    f.gateway.warningsFor = (_id, v) => (v === '2' ? ['new warning'] : []);
    // The newer version is there from the moment the canary failed (the roll back is under way).
    const { end } = await drive(startRollout(config, { revision: 3, version: '2' }, f.clock.now()), f, () =>
      f.log.lines.some((l) => l.message === 'rollout stopped') ? '3' : undefined,
    );
    expect(end.status).toBe('rolled-back');
    expect(serving(f.gateway).canary).toBe('1');
  });

  it('is idempotent: the same step run twice from one record updates at most once more and ends alike', async () => {
    const reference = setup();
    const { end: expected } = await drive(
      startRollout(config, { revision: 3, version: '2' }, reference.clock.now()),
      reference,
    );
    const f = setup();
    let record = viaJson(startRollout(config, { revision: 3, version: '2' }, f.clock.now()));
    let repeats = 0;
    for (let step = 0; step < 500; step++) {
      const before = f.gateway.updates().length;
      // A retried state: the first run's result is lost, the same record is stepped again.
      await stepRollout(viaJson(record), f.deps);
      const firstRun = f.gateway.updates().length - before;
      const again = await stepRollout(viaJson(record), f.deps);
      const secondRun = f.gateway.updates().length - before - firstRun;
      expect(secondRun).toBeLessThanOrEqual(firstRun);
      if (firstRun > 0) repeats++;
      record = viaJson(again.rollout);
      if (again.waitMs === undefined) break;
      await f.clock.sleep(again.waitMs);
    }
    expect(record.status).toBe(expected.status);
    expect(phases(record)).toEqual(phases(expected));
    expect(serving(f.gateway)).toEqual(serving(reference.gateway));
    // Each target got its update again at most once (from the retried step), for the same version.
    for (const id of ['canary', 'r1', 'r2', 'r3'])
      expect(f.gateway.updates().filter((u) => u === `${id}@2`).length).toBeLessThanOrEqual(2);
    expect(repeats).toBeGreaterThan(0);
  });

  it('steps an ended rollout to itself, with nothing to wait for', async () => {
    const f = setup();
    const { end } = await drive(startRollout(config, { revision: 3, version: '2' }, f.clock.now()), f);
    const calls = f.gateway.events.length;
    const again = await stepRollout(end, f.deps);
    expect(again).toEqual({ rollout: end });
    expect(f.gateway.events.length).toBe(calls);
  });

  it('reads again after an upstream read failure instead of failing the target', async () => {
    const f = setup();
    f.gateway.unreadable.set('canary', 2);
    const { end } = await drive(startRollout(config, { revision: 3, version: '2' }, f.clock.now()), f);
    expect(end.status).toBe('succeeded');
    expect(f.log.lines.filter((l) => l.message === 'domain status read failed, reading again')).toHaveLength(
      2,
    );
  });
});

describe('runRollout', () => {
  it('loops step and sleep to the end, saving every record', async () => {
    const f = setup();
    const saved: Rollout[] = [];
    const end = await runRollout(startRollout(config, { revision: 1, version: '2' }, f.clock.now()), f.deps, {
      save: async (r) => {
        saved.push(r);
      },
    });
    expect(end.status).toBe('succeeded');
    expect(saved.at(-1)).toBe(end);
    expect(saved.length).toBeGreaterThan(3);
    // It slept what the steps asked: at least the pace of account A's three calls (2 × 30 s).
    expect(f.clock.sleeps.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(60_000);
  });
});

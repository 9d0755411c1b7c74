import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { refusedBy, rolloutRunner } from '../../../cli/actions/up.js';
import { reportRollouts } from '../../../shared/report/rollouts.js';
import type { RolloutConfig } from '../../../shared/rollout/model.js';
import { startRollout } from '../../../shared/rollout/step.js';
import { FakeClock, MemoryNotifier, memoryLog } from '../../fakes/fakes.js';
import { FakeTargetGateway } from '../../fakes/targets.js';

/**
 * `up --targets` after a rollout that stopped: targets a superseded rollout never reached are
 * taken to the newest version verified on a target (canary first), not left on an older one.
 */
const probe = { url: 'https://localhost:47100/', clientCert: 'c.pem', clientKey: 'c.key' };
const config: RolloutConfig = {
  waves: ['canary', 'rest'],
  targets: [
    { id: 'canary', kind: 'apigateway-rest', resource: 'canary.example.com', wave: 'canary', probe },
    { id: 'eu', kind: 'apigateway-rest', resource: 'eu.example.com', wave: 'rest' },
    { id: 'us', kind: 'apigateway-http', resource: 'us.example.com', wave: 'rest' },
  ],
  settings: { pollIntervalMs: 100, updateTimeoutMs: 60_000, minUpdateIntervalMs: 0, maxAttempts: 3 },
};

describe('up --targets: convergence after a stopped rollout', () => {
  it('takes the targets a superseded rollout never reached to the last verified version when the next one fails its canary', async () => {
    const clock = new FakeClock();
    const gateway = new FakeTargetGateway(clock, { canary: '1', eu: '1', us: '1' });
    const notifier = new MemoryNotifier();
    const dir = mkdtempSync(join(tmpdir(), 'rc-converge-'));
    // Version 3 is published once the canary has been probed on 2: 2's rollout is superseded
    // before wave 2; 3 then fails the canary's probe.
    let latest = '2';
    gateway.probeResult = (id, version) => {
      if (id === 'canary' && version === '2') latest = '3';
      return version === '3' ? { ok: false, detail: 'HTTP 403, expected 200' } : { ok: true, detail: '200' };
    };
    const out: string[] = [];
    const run = rolloutRunner(config, {
      gateway,
      deps: { clock, log: memoryLog(), notifier },
      io: { out: (t) => out.push(t) },
      paths: { dataDir: join(dir, '.trustroll'), inboxDir: join(dir, 'inbox') },
      refused: new Set(),
      latest: async () => latest,
      revisionOf: async (v) => Number(v),
      truststore: async () => new Uint8Array(),
    });
    await run({ revision: 2, version: '2' });
    expect(out.join('')).toContain('rollout of truststore version 2 (revision 2): superseded');
    expect(notifier.types()).toContain('truststore.roll-superseded');
    await run({ revision: 3, version: '3' });
    expect(out.join('')).toContain('rollout of truststore version 3 (revision 3): rolled-back');
    // Not canary on 2 and wave 2 on 1 for good: every target on 2, the version the canary verified.
    expect(Object.fromEntries([...gateway.targets].map(([id, t]) => [id, t.version]))).toEqual({
      canary: '2',
      eu: '2',
      us: '2',
    });
    expect(out.join('')).toContain('rollout of truststore version 2 (revision 2): succeeded');
    const record = JSON.parse(readFileSync(join(dir, '.trustroll', 'endpoint', 'rollout.json'), 'utf8'));
    expect(record).toMatchObject({ version: '2', status: 'succeeded' });
    // The record says why the targets are on 2 while 3 is the latest: 3 was refused at the canary.
    expect(record.after).toEqual({
      version: '3',
      revision: 3,
      status: 'rolled-back',
      wave: 'canary',
      reason: expect.stringContaining('HTTP 403'),
    });
    const said = reportRollouts({ source: 'endpoint/rollout.json', records: [record] }, '3')!.statements.join(
      ' ',
    );
    expect(said).toContain(
      'It took the targets to 2, the newest version verified on them, after the rollout of truststore version 3 (revision 3) was ROLLED BACK in wave canary',
    );
    expect(said).toContain('3 was refused (it is the latest published version)');
    expect(said).not.toContain('has no rollout record');
    // Nor after a restart of up: the record it reads names 3 as refused, though its own 2 succeeded.
    expect([...refusedBy(record)]).toEqual(['3']);
    // Version 3 is not tried again.
    const updates = gateway.updates().length;
    await run({ revision: 3, version: '3' });
    expect(gateway.updates().length).toBe(updates);
  });

  it('takes every target back to the version verified before when the convergence fails too, leaving no target on a refused version', async () => {
    const clock = new FakeClock();
    const probed: RolloutConfig = {
      ...config,
      targets: config.targets.map((t) => (t.id === 'eu' ? { ...t, probe } : t)),
    };
    const gateway = new FakeTargetGateway(clock, { canary: '1', eu: '1', us: '1' });
    const dir = mkdtempSync(join(tmpdir(), 'rc-converge-'));
    // 2 is verified on the canary, then superseded by 3; eu's probe fails on 2 and on 3.
    let latest = '2';
    gateway.probeResult = (id, version) => {
      if (id === 'canary' && version === '2') latest = '3';
      return id === 'eu' && version !== '1'
        ? { ok: false, detail: 'HTTP 403, expected 200' }
        : { ok: true, detail: '200' };
    };
    const out: string[] = [];
    const run = rolloutRunner(probed, {
      gateway,
      deps: { clock, log: memoryLog(), notifier: new MemoryNotifier() },
      io: { out: (t) => out.push(t) },
      paths: { dataDir: join(dir, '.trustroll'), inboxDir: join(dir, 'inbox') },
      refused: new Set(),
      latest: async () => latest,
      revisionOf: async (v) => Number(v),
      truststore: async () => new Uint8Array(),
    });
    await run({ revision: 2, version: '2' });
    await run({ revision: 3, version: '3' });
    const said = out.join('');
    expect(said).toContain('rollout of truststore version 3 (revision 3): rolled-back');
    // The convergence to 2 fails at eu (the canary had 2 already, so it is not rolled back)...
    expect(said).toContain('rollout of truststore version 2 (revision 2): rolled-back');
    // ...and the next round takes the canary off 2, refused now, to 1, verified on both.
    expect(said).toContain('rollout of truststore version 1 (revision 1): succeeded');
    expect(Object.fromEntries([...gateway.targets].map(([id, t]) => [id, t.version]))).toEqual({
      canary: '1',
      eu: '1',
      us: '1',
    });
    const record = JSON.parse(readFileSync(join(dir, '.trustroll', 'endpoint', 'rollout.json'), 'utf8'));
    expect(record.after).toMatchObject({ version: '2', status: 'rolled-back', wave: 'rest' });
    expect([...refusedBy(record)]).toEqual(['2']);
  });

  it('takes a target new in the file (serving nothing) to the last verified version when the latest was refused', async () => {
    const clock = new FakeClock();
    // The file gained "us" since the last run, whose rollout of 2 was rolled back at the canary.
    const gateway = new FakeTargetGateway(clock, { canary: '1', eu: '1', us: undefined });
    const dir = mkdtempSync(join(tmpdir(), 'rc-converge-'));
    const last = {
      ...startRollout(config, { revision: 2, version: '2' }, clock.now()),
      status: 'rolled-back' as const,
    };
    const lastRecord = {
      ...last,
      targets: last.targets.map((t) =>
        t.id === 'canary'
          ? { ...t, phase: 'rolled-back' as const, from: '1' }
          : { ...t, phase: 'skipped' as const },
      ),
    };
    const out: string[] = [];
    const run = rolloutRunner(config, {
      gateway,
      deps: { clock, log: memoryLog(), notifier: new MemoryNotifier() },
      io: { out: (t) => out.push(t) },
      paths: { dataDir: join(dir, '.trustroll'), inboxDir: join(dir, 'inbox') },
      refused: new Set(['2']),
      latest: async () => '2',
      revisionOf: async (v) => Number(v),
      truststore: async () => new Uint8Array(),
      last: lastRecord,
    });
    await run({ revision: 2, version: '2' });
    expect(Object.fromEntries([...gateway.targets].map(([id, t]) => [id, t.version]))).toEqual({
      canary: '1',
      eu: '1',
      us: '1',
    });
    expect(gateway.updates()).toEqual(['us@1']);
    // The convergence's record names 2 as refused; a second convergence after a restart (another
    // target new in the file) keeps naming it, so a third restart does not roll 2 again.
    const first = JSON.parse(readFileSync(join(dir, '.trustroll', 'endpoint', 'rollout.json'), 'utf8'));
    expect(first.after).toMatchObject({ version: '2', status: 'rolled-back' });
    const wider: RolloutConfig = {
      ...config,
      targets: [
        ...config.targets,
        { id: 'ap', kind: 'apigateway-rest', resource: 'ap.example.com', wave: 'rest' },
      ],
    };
    gateway.targets.set('ap', { ...gateway.targets.get('us')!, version: undefined });
    const again = rolloutRunner(wider, {
      gateway,
      deps: { clock, log: memoryLog(), notifier: new MemoryNotifier() },
      io: { out: () => {} },
      paths: { dataDir: join(dir, '.trustroll'), inboxDir: join(dir, 'inbox') },
      refused: refusedBy(first),
      latest: async () => '2',
      revisionOf: async (v) => Number(v),
      truststore: async () => new Uint8Array(),
      last: first,
    });
    await again({ revision: 2, version: '2' });
    expect(gateway.targets.get('ap')!.version).toBe('1');
    const second = JSON.parse(readFileSync(join(dir, '.trustroll', 'endpoint', 'rollout.json'), 'utf8'));
    expect(second.after).toMatchObject({ version: '2', status: 'rolled-back' });
    expect([...refusedBy(second)]).toEqual(['2']);
  });

  it('resumes a rollout without the targets taken out of the file since, and with --retry-refused tries again what the resumed one refused', async () => {
    const clock = new FakeClock();
    const gateway = new FakeTargetGateway(clock, { canary: '2', eu: '1', us: '1' });
    const dir = mkdtempSync(join(tmpdir(), 'rc-converge-'));
    // up was killed while verifying 2 on the canary (its probe's client was revoked by mistake);
    // the file lost "gone" since.
    const started = startRollout(
      {
        ...config,
        targets: [
          ...config.targets,
          { id: 'gone', kind: 'apigateway-rest', resource: 'gone.example.com', wave: 'rest' },
        ],
      },
      { revision: 2, version: '2' },
      clock.now(),
    );
    const resume = {
      ...started,
      targets: started.targets.map((t) =>
        t.id === 'canary'
          ? { ...t, phase: 'verifying' as const, from: '1' }
          : { ...t, phase: 'skipped' as const },
      ),
    };
    // The resumed verification still sees the revoked probe client; after it, the cause is fixed.
    let probes = 0;
    gateway.probeResult = () =>
      probes++ === 0 ? { ok: false, detail: 'HTTP 403, expected 200' } : { ok: true, detail: '200' };
    const out: string[] = [];
    const run = rolloutRunner(config, {
      gateway,
      deps: { clock, log: memoryLog(), notifier: new MemoryNotifier() },
      io: { out: (t) => out.push(t) },
      paths: { dataDir: join(dir, '.trustroll'), inboxDir: join(dir, 'inbox') },
      refused: new Set(),
      latest: async () => '2',
      revisionOf: async (v) => Number(v),
      truststore: async () => new Uint8Array(),
      resume,
      retryRefused: true,
    });
    await run({ revision: 2, version: '2' });
    const said = out.join('');
    // The resumed rollback ends as it was going (the removed target is not in it, not failed)...
    expect(said).toContain('rollout of truststore version 2 (revision 2): rolled-back');
    expect(said).not.toContain('gone');
    // ...then 2 is rolled again, as --retry-refused asked, and passes.
    expect(said).toContain('rollout of truststore version 2 (revision 2): succeeded');
    expect(Object.fromEntries([...gateway.targets].map(([id, t]) => [id, t.version]))).toEqual({
      canary: '2',
      eu: '2',
      us: '2',
    });
  });
});

import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { EndpointStatusFile } from '../../../shared/adapters/local/endpoint-status.js';
import type { RolloutConfig } from '../../../shared/rollout/model.js';
import { startRollout } from '../../../shared/rollout/step.js';
import { runCli } from '../../fixtures/cli.js';
import { partnerChain, pemOf } from '../../fixtures/pki.js';

let dir: string;
let local: string[];
const endpoint = () => join(dir, '.trustroll', 'endpoint');
const target = (id: string) => new EndpointStatusFile(join(endpoint(), 'targets', id, 'status.json'));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rc-status-targets-'));
  local = ['--data-dir', join(dir, '.trustroll'), '--inbox', join(dir, 'inbox')];
  const chain = await partnerChain('Waves');
  mkdirSync(join(dir, 'inbox', 'waves'), { recursive: true });
  writeFileSync(join(dir, 'inbox', 'waves', 'ca.pem'), pemOf(chain.root, chain.intermediate));
  expect((await runCli(['ingest', ...local])).code).toBe(0);
});

const config: RolloutConfig = {
  waves: ['canary', 'rest'],
  targets: [
    { id: 'canary', kind: 'apigateway-rest', resource: 'canary.example.com', wave: 'canary' },
    { id: 'eu', kind: 'apigateway-rest', resource: 'eu.example.com', wave: 'rest' },
  ],
  settings: { pollIntervalMs: 100, updateTimeoutMs: 1000, minUpdateIntervalMs: 0, maxAttempts: 1 },
};

describe('trustroll status with target endpoints (up --targets)', () => {
  it('lists every target endpoint and the last rollout; 0 when all are on the latest version', async () => {
    await target('canary').write({
      name: 'canary.example.com',
      status: 'AVAILABLE',
      truststoreVersion: '000001',
      warnings: [],
    });
    await target('eu').write({
      name: 'eu.example.com',
      status: 'AVAILABLE',
      truststoreVersion: '000001',
      warnings: [],
    });
    const rollout = {
      ...startRollout(config, { revision: 1, version: '000001' }, new Date()),
      status: 'succeeded',
    };
    writeFileSync(join(endpoint(), 'rollout.json'), JSON.stringify(rollout));
    const r = await runCli(['status', ...local]);
    expect(r.out).toContain('canary (canary.example.com): AVAILABLE, truststore version 000001 (latest)');
    expect(r.out).toContain('eu (eu.example.com): AVAILABLE, truststore version 000001 (latest)');
    expect(r.out).toContain('last rollout: truststore version 000001 (revision 1), succeeded');
    expect(r.code).toBe(0);
    const json = await runCli(['status', '--json', ...local]);
    expect(JSON.parse(json.out)).toMatchObject({
      latestVersion: '000001',
      targets: [
        { target: 'canary', truststoreVersion: '000001', latest: true, running: true },
        { target: 'eu', truststoreVersion: '000001', latest: true, running: true },
      ],
      rollout: { version: '000001', status: 'succeeded' },
    });
  });

  it('says a target is not on the latest version, or not running, and exits 1', async () => {
    await target('eu').write({ name: 'eu.example.com', status: 'AVAILABLE', warnings: [] });
    const behind = await runCli(['status', ...local]);
    expect(behind.out).toContain('eu (eu.example.com): AVAILABLE, truststore version none (NOT the latest)');
    expect(behind.code).toBe(1);
    // A status left by a process that is gone (pid 2^22 + 1 exceeds Linux's pid_max).
    for (const id of ['canary', 'eu']) {
      const path = join(endpoint(), 'targets', id, 'status.json');
      writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), pid: 4_194_305 }));
    }
    const stopped = await runCli(['status', ...local]);
    expect(stopped.out).toContain('canary (canary.example.com): NOT_RUNNING, truststore version 000001');
    expect(stopped.out).toContain('the target endpoints are not running: start trustroll up --targets');
    expect(stopped.code).toBe(1);
  });

  it('exits 1 while the last rollout ended failed or rolled-back, even with every target on the latest; 0 once a later one succeeded', async () => {
    for (const [id, name] of [
      ['canary', 'canary.example.com'],
      ['eu', 'eu.example.com'],
    ] as const)
      await target(id).write({ name, status: 'AVAILABLE', truststoreVersion: '000001', warnings: [] });
    const started = startRollout(config, { revision: 1, version: '000001' }, new Date());
    for (const status of ['failed', 'rolled-back'] as const) {
      writeFileSync(
        join(endpoint(), 'rollout.json'),
        JSON.stringify({ ...started, status, reason: 'canary: probe failed: HTTP 403, expected 200' }),
      );
      const r = await runCli(['status', ...local]);
      expect(r.out).toContain('canary (canary.example.com): AVAILABLE, truststore version 000001 (latest)');
      expect(r.out).toContain(
        `LAST ROLLOUT ${status.toUpperCase()}: the last rollout (truststore version 000001) ended ${status}`,
      );
      expect(r.code).toBe(1);
      const json = await runCli(['status', '--json', ...local]);
      expect(JSON.parse(json.out).lastRolloutStopped).toMatch(/ended/);
      expect(json.code).toBe(1);
    }
    writeFileSync(join(endpoint(), 'rollout.json'), JSON.stringify({ ...started, status: 'succeeded' }));
    const later = await runCli(['status', ...local]);
    expect(later.out).not.toContain('LAST ROLLOUT');
    expect(later.code).toBe(0);
  });

  it('says a rollout record changed by hand does not read as one, in status (exit 1) and in the report (no stack trace)', async () => {
    for (const [id, name] of [
      ['canary', 'canary.example.com'],
      ['eu', 'eu.example.com'],
    ] as const)
      await target(id).write({ name, status: 'AVAILABLE', truststoreVersion: '000001', warnings: [] });
    // An 'after' without its status, and a target in a phase no rollout has, do not read either.
    const started = startRollout(config, { revision: 1, version: '000001' }, new Date());
    for (const bad of [
      { ...started, status: 'succeeded', after: { version: '000002', revision: 2 } },
      { ...started, targets: started.targets.map((t) => ({ ...t, phase: 'dancing' })) },
    ]) {
      writeFileSync(join(endpoint(), 'rollout.json'), JSON.stringify(bad));
      const shown = await runCli(['status', ...local]);
      expect([shown.code, shown.out]).toEqual([1, expect.stringContaining('ROLLOUT RECORD UNREADABLE: ')]);
      expect(shown.err).not.toMatch(/at .*\.[jt]s:\d+/);
    }
    writeFileSync(join(endpoint(), 'rollout.json'), JSON.stringify({ version: '000001', targets: 'nope' }));
    const r = await runCli(['status', ...local]);
    expect(r.out).toContain('ROLLOUT RECORD UNREADABLE: ');
    expect(r.out).toContain('does not read as a rollout record (changed by hand?)');
    expect(r.out).not.toContain('undefined');
    expect(r.code).toBe(1);
    const report = await runCli(['report', '--format', 'json', '--data-dir', join(dir, '.trustroll')]);
    expect(report.code).toBe(0);
    expect(JSON.parse(report.out).rollouts.unreadable).toContain('does not read as a rollout record');
  });

  it('says which version was refused when the last rollout took the targets back to the version verified before it', async () => {
    for (const [id, name] of [
      ['canary', 'canary.example.com'],
      ['eu', 'eu.example.com'],
    ] as const)
      await target(id).write({ name, status: 'AVAILABLE', truststoreVersion: '000001', warnings: [] });
    const back = {
      ...startRollout(config, { revision: 1, version: '000001' }, new Date()),
      status: 'succeeded',
      after: {
        version: '000002',
        revision: 2,
        status: 'rolled-back',
        wave: 'canary',
        reason: 'canary: probe failed: HTTP 403, expected 200',
      },
    };
    writeFileSync(join(endpoint(), 'rollout.json'), JSON.stringify(back));
    const r = await runCli(['status', ...local]);
    expect(r.out).toContain('last rollout: truststore version 000001 (revision 1), succeeded');
    expect(r.out).toContain(
      'ROLLOUT ROLLED-BACK: the rollout of truststore version 000002 (revision 2) ended rolled-back in wave canary: canary: probe failed: HTTP 403, expected 200; the version was refused, and the last rollout took the targets to truststore version 000001, the newest verified',
    );
    expect(r.code).toBe(1);
    const json = JSON.parse((await runCli(['status', '--json', ...local])).out);
    expect(json.lastRolloutStopped).toContain('truststore version 000002');
    expect(json.rollout.after.version).toBe('000002');
  });

  it('names the versions when the targets serve different ones', async () => {
    await target('eu').write({ name: 'eu.example.com', status: 'AVAILABLE', warnings: [] });
    const r = await runCli(['status', ...local]);
    expect(r.out).toContain(
      'MIXED VERSIONS: the targets serve different truststore versions: canary 000001, eu none',
    );
    expect(r.code).toBe(1);
  });
});

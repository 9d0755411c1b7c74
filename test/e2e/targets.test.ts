import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partnerChain, pemOf, privateKeyPem } from '../fixtures/pki.js';
import { BIN, build, curl, outbox, type Running, startUp, waitFor } from './helpers.js';

/**
 * `trustroll up --targets`: three local endpoints in two waves (canary, then rest), with the real
 * curl. A good version reaches all three; a version that drops the CA of the canary's probe
 * client stops at the canary, which is rolled back, and never touches the rest.
 */
let dir: string;
let up: Running;
let ports: number[];
const data = () => join(dir, '.trustroll');
const ca = () => join(data(), 'endpoint', 'ca.pem');
const file = (name: string) => join(dir, 'pki', name);

/** Three free ports in the range this project's tests may use (47000-47499). */
const freePorts = async (count: number): Promise<number[]> => {
  const found: number[] = [];
  const start = 47_000 + Math.floor(Math.random() * 400);
  for (let port = start; found.length < count && port < 47_500; port++) {
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) found.push(port);
  }
  if (found.length < count) throw new Error('no free ports in 47000-47499');
  return found;
};

const status = () => {
  const r = spawnSync('node', [BIN, 'status', '--json'], { cwd: dir, encoding: 'utf8' });
  return { code: r.status, json: r.stdout ? JSON.parse(r.stdout) : undefined, out: r.stdout + r.stderr };
};

/** What an endpoint serves, asked with a client certificate of partner `who`. */
const serve = (port: number, who: 'acme' | 'beta') => {
  const r = curl(port, ca(), file(`${who}-client.pem`), file(`${who}-client.key`));
  return { ...r, json: r.status === 0 && r.body ? JSON.parse(r.body) : undefined };
};

beforeAll(async () => {
  build();
  dir = mkdtempSync(join(tmpdir(), 'trustroll-e2e-targets-'));
  mkdirSync(join(dir, 'pki'));
  const acme = await partnerChain('Acme');
  const beta = await partnerChain('Beta');
  for (const [who, chain] of [
    ['acme', acme],
    ['beta', beta],
  ] as const) {
    writeFileSync(file(`${who}-ca.pem`), pemOf(chain.root, chain.intermediate));
    writeFileSync(file(`${who}-client.pem`), pemOf(chain.client, chain.intermediate));
    writeFileSync(file(`${who}-client.key`), privateKeyPem(chain.client));
  }
  ports = await freePorts(3);
  const [canary, eu, us] = ports;
  writeFileSync(
    join(dir, 'targets.json'),
    JSON.stringify({
      waves: ['canary', 'rest'],
      targets: [
        {
          id: 'canary',
          kind: 'apigateway-rest',
          resource: 'canary.example.com',
          wave: 'canary',
          port: canary,
          // The probe's client is Acme's: a version without Acme's CAs fails it.
          probe: {
            url: `https://localhost:${canary}/`,
            clientCert: 'pki/acme-client.pem',
            clientKey: 'pki/acme-client.key',
          },
        },
        { id: 'eu', kind: 'apigateway-rest', resource: 'eu.example.com', wave: 'rest', port: eu },
        { id: 'us', kind: 'apigateway-http', resource: 'us.example.com', wave: 'rest', port: us },
      ],
    }),
  );
  up = await startUp(dir, ['--no-demo', '--targets', 'targets.json']);
}, 120_000);

afterAll(async () => {
  await up?.stop();
});

describe('trustroll up --targets (three endpoints, two waves)', () => {
  it('prints the address of every target endpoint', () => {
    for (const [id, port] of [
      ['canary', ports[0]],
      ['eu', ports[1]],
      ['us', ports[2]],
    ])
      expect(up.output()).toContain(`endpoint   https://localhost:${port}/   target ${id} (wave `);
  });

  let good: string;
  it('rolls a good version to all three: curl with a client certificate gets 200 on each', async () => {
    mkdirSync(join(dir, 'inbox', 'acme'), { recursive: true });
    mkdirSync(join(dir, 'inbox', 'beta'), { recursive: true });
    writeFileSync(join(dir, 'inbox', 'acme', 'ca.pem'), readPem('acme'));
    writeFileSync(join(dir, 'inbox', 'beta', 'ca.pem'), readPem('beta'));
    // Both partners in, and every target on the latest version (status exits 0).
    const s = await waitFor(
      () => {
        const r = status();
        return r.code === 0 && r.json?.targets?.length === 3 ? r : undefined;
      },
      90_000,
      up.output,
    );
    good = s.json.latestVersion;
    expect(s.json.rollout).toMatchObject({ version: good, status: 'succeeded' });
    for (const port of ports)
      for (const who of ['acme', 'beta'] as const) {
        const r = serve(port, who);
        expect(r.status, `${who} on ${port}: ${r.error}`).toBe(0);
        expect(r.json).toMatchObject({ ok: true, truststoreVersion: good });
      }
    expect(
      outbox(data()).some((n) => n.eventType === 'truststore.rolled' && n.subject.includes('canary, eu, us')),
    ).toBe(true);
    // The report of the data folder shows every target endpoint as a domain, each on the version.
    const report = spawnSync('node', [BIN, 'report', '--format', 'json'], { cwd: dir, encoding: 'utf8' });
    expect(report.status, report.stderr).toBe(0);
    const domains = JSON.parse(report.stdout).domains as { name: string; truststoreVersion?: string }[];
    expect(domains.map((d) => d.name).sort()).toEqual([
      'canary.example.com',
      'eu.example.com',
      'us.example.com',
    ]);
    expect(domains.every((d) => d.truststoreVersion === good)).toBe(true);
    // Its rollouts: every target rolled and verified, on the version its endpoint serves.
    const rollouts = JSON.parse(report.stdout).rollouts;
    expect(rollouts.last).toMatchObject({ version: good, status: 'succeeded', ofLatest: true });
    expect(rollouts.last.id).toBe(s.json.rollout.id);
    expect(
      rollouts.targets.map((t: Record<string, unknown>) => [t.id, t.kind, t.wave, t.version, t.state]),
    ).toEqual([
      ['canary', 'apigateway-rest', 'canary', good, 'rolled'],
      ['eu', 'apigateway-rest', 'rest', good, 'rolled'],
      ['us', 'apigateway-http', 'rest', good, 'rolled'],
    ]);
    expect(rollouts.targets[0].stateText).toBe('rolled and verified (no new warning, its probe passed)');
    expect(rollouts.mixed).toBe(false);
    expect(rollouts.statements[0]).toBe(`Every target (3) serves truststore version ${good}, the latest.`);
  }, 120_000);

  it('stops a bad version at the canary, rolls the canary back, and never touches wave 2', async () => {
    // Offboarding Acme drops the CAs the canary's probe client needs.
    mkdirSync(join(dir, 'requests'), { recursive: true });
    writeFileSync(
      join(dir, 'requests', 'offboard-acme.json'),
      JSON.stringify({ partner: 'acme', reason: 'offboarded', requestedBy: 'e2e' }),
    );
    const failed = await waitFor(
      () => outbox(data()).find((n) => n.eventType === 'truststore.roll-failed'),
      90_000,
      up.output,
    );
    expect(failed.subject).toMatch(/canary rolled back: its probe failed on truststore version/);
    const s = await waitFor(
      () => {
        const r = status();
        return r.json?.rollout?.status === 'rolled-back' ? r : undefined;
      },
      30_000,
      up.output,
    );
    const bad = s.json.latestVersion;
    expect(bad).not.toBe(good);
    expect(s.code).toBe(1);
    expect(s.json.rollout.version).toBe(bad);
    expect(
      Object.fromEntries(s.json.rollout.targets.map((t: { id: string; phase: string }) => [t.id, t.phase])),
    ).toEqual({ canary: 'rolled-back', eu: 'skipped', us: 'skipped' });
    expect(
      Object.fromEntries(
        s.json.targets.map((t: { target: string; truststoreVersion: string }) => [
          t.target,
          t.truststoreVersion,
        ]),
      ),
    ).toEqual({ canary: good, eu: good, us: good });
    // Every endpoint serves the good version again, to Beta's client (whose CA both versions
    // hold) and to Acme's, whose CAs the bad version removed: the revocation index keeps them
    // (retired) while targets still trust them, so the canary's roll back really restores it.
    for (const port of ports) {
      for (const who of ['beta', 'acme'] as const) {
        const r = serve(port, who);
        expect(r.status, `${port} ${who}: ${r.error}`).toBe(0);
        expect(r.json.truststoreVersion).toBe(good);
      }
    }
    // Wave 2 was never rolled to the bad version.
    expect(up.output()).not.toMatch(
      new RegExp(`endpoint reloaded {2}domain=(eu|us)\\.example\\.com version=${bad}`),
    );
    expect(up.output()).toMatch(
      new RegExp(`endpoint reloaded {2}domain=canary\\.example\\.com version=${bad}`),
    );
    expect(outbox(data()).filter((n) => n.eventType === 'truststore.rolled' && n.id.includes(bad))).toEqual(
      [],
    );
    // Human status says it too.
    const human = spawnSync('node', [BIN, 'status'], { cwd: dir, encoding: 'utf8' }).stdout;
    expect(human).toContain(
      `canary (canary.example.com): AVAILABLE, truststore version ${good} (NOT the latest)`,
    );
    expect(human).toMatch(
      /last rollout: truststore version \d+ \(revision \d+\), rolled-back: the probe of canary failed/,
    );
    // The report says the same: the rollout stopped at the canary, rolled back, and why; every
    // target on the good version (what its endpoint serves), not the latest; the JSON is the record.
    const json = spawnSync('node', [BIN, 'report', '--format', 'json'], { cwd: dir, encoding: 'utf8' });
    expect(json.status, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout);
    const record = JSON.parse(readFileSync(join(data(), 'endpoint', 'rollout.json'), 'utf8'));
    expect(report.rollouts.last).toMatchObject({
      id: record.id,
      version: bad,
      revision: record.revision,
      status: 'rolled-back',
      wave: 'canary',
      startedAt: record.startedAt,
      finishedAt: record.updatedAt,
      reason: record.reason,
    });
    expect(report.rollouts.targets.map((t: { id: string; phase: string }) => [t.id, t.phase])).toEqual(
      record.targets.map((t: { id: string; phase: string }) => [t.id, t.phase]),
    );
    expect(
      report.rollouts.targets.map((t: Record<string, unknown>) => [
        t.id,
        t.version,
        t.versionKnownFrom,
        t.state,
      ]),
    ).toEqual([
      ['canary', good, 'endpoint', 'rolled-back'],
      ['eu', good, 'endpoint', 'not-reached'],
      ['us', good, 'endpoint', 'not-reached'],
    ]);
    expect(report.rollouts.targets[0].stateText).toMatch(
      new RegExp(`^rolled back to ${good}: probe failed: .+`),
    );
    expect(report.rollouts.statements[0]).toBe(
      `Every target (3) serves truststore version ${good}, NOT the latest (${bad}).`,
    );
    expect(report.warnings.map((w: { code: string }) => w.code)).toContain('rollout.stopped');
    // The live page of up shows the same (its /report.json, made afresh for the request).
    const url = /report {5}(http:\/\/127\.0\.0\.1:\d+\/)/.exec(up.output())?.[1];
    expect(url, up.output()).toBeDefined();
    const live = (await (await fetch(`${url}report.json`)).json()) as typeof report;
    expect(live.rollouts.last).toEqual(report.rollouts.last);
    expect(live.rollouts.targets).toEqual(report.rollouts.targets);
    const html = spawnSync('node', [BIN, 'report'], { cwd: dir, encoding: 'utf8' }).stdout;
    expect(html).toContain('<h2 id="rollouts-h">Rollouts and targets (3)</h2>');
    expect(html).toContain('<span class="st soon">ROLLED BACK</span>');
    expect(html).toMatch(
      /stopped in wave canary \(1 of 2\) and rolled back the targets it had rolled: the probe of canary failed/,
    );
  }, 120_000);

  it('stops cleanly on Ctrl-C', async () => {
    expect(await up.stop()).toBe(0);
  });
});

const readPem = (who: string) => readFileSync(file(`${who}-ca.pem`), 'utf8');

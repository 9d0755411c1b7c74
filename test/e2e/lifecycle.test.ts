import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partnerChain, pemOf, privateKeyPem } from '../../shared/pki/builder.js';
import { BIN, build, curl, outbox, type Running, startUp, waitFor } from './helpers.js';

/** The truststore's life in local mode, with curl: onboard two partners, remove one, roll back. */
let dir: string;
let up: Running;
const data = () => join(dir, '.trustroll');
const ca = () => join(data(), 'endpoint', 'ca.pem');
const cli = (...args: string[]) => spawnSync('node', [BIN, ...args], { encoding: 'utf8', cwd: dir });
const clients: Record<string, { cert: string; key: string }> = {};
const chains: Record<string, Awaited<ReturnType<typeof partnerChain>>> = {};
const ok = (who: string) => curl(up.port, ca(), clients[who]!.cert, clients[who]!.key).status === 0;
const endpointVersion = () =>
  JSON.parse(cli('status', '--json').stdout)[0]?.truststoreVersion as string | undefined;
const latestVersion = () => JSON.parse(cli('history', '--json').stdout)[0]?.version as string | undefined;

beforeAll(async () => {
  build();
  dir = mkdtempSync(join(tmpdir(), 'trustroll-life-'));
  up = await startUp(dir, ['--no-demo']);
  for (const name of ['Alpha', 'Beta']) {
    const chain = await partnerChain(name);
    chains[name] = chain;
    mkdirSync(join(dir, 'inbox', name.toLowerCase()), { recursive: true });
    writeFileSync(join(dir, `${name}.pem`), chain.client.pem);
    writeFileSync(join(dir, `${name}.key`), privateKeyPem(chain.client));
    clients[name] = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
    writeFileSync(join(dir, 'inbox', name.toLowerCase(), 'ca.pem'), pemOf(chain.root, chain.intermediate));
  }
  await waitFor(
    () => outbox(data()).filter((n) => n.eventType === 'upload.accepted').length === 2 || undefined,
    30_000,
    up.output,
  );
  await waitFor(
    () => (endpointVersion() && endpointVersion() === latestVersion()) || undefined,
    20_000,
    up.output,
  );
});

afterAll(async () => {
  await up?.stop();
});

describe('the truststore over its life, locally', () => {
  it('onboards two partners: both clients pass', () => {
    expect(ok('Alpha')).toBe(true);
    expect(ok('Beta')).toBe(true);
  });

  it('removes a partner: its client fails from the roll on, the other still passes', async () => {
    const r = cli('remove', '--partner', 'beta', '--reason', 'contract ended', '--requested-by', 'ops');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Removed 2 CA\(s\)/);
    await waitFor(() => (endpointVersion() === latestVersion() ? true : undefined), 20_000, up.output);
    expect(ok('Beta')).toBe(false);
    expect(ok('Alpha')).toBe(true);
    expect(cli('remove', '--partner', 'nobody', '--reason', 'x').status).toBe(1);
  });

  it('rolls back: the removed partner passes again, as a new version', async () => {
    const before = latestVersion();
    const r = cli('rollback');
    expect(r.status, r.stderr).toBe(0);
    await waitFor(
      () => (endpointVersion() === latestVersion() && latestVersion() !== before ? true : undefined),
      20_000,
      up.output,
    );
    expect(ok('Beta')).toBe(true);
  });

  it("rotates a partner's intermediate: clients under the old one fail, under the new one pass", async () => {
    const { intermediate, leaf } = await import('../../shared/pki/builder.js');
    const rekeyed = await intermediate('CN=Alpha Issuing CA,O=Alpha', chains.Alpha!.root, {
      keySlot: 'alpha-rotated',
    });
    const newClient = await leaf('CN=new client,O=Alpha', rekeyed);
    writeFileSync(join(dir, 'new.pem'), newClient.pem);
    writeFileSync(join(dir, 'new.key'), privateKeyPem(newClient));
    clients.New = { cert: join(dir, 'new.pem'), key: join(dir, 'new.key') };
    const before = latestVersion();
    mkdirSync(join(dir, 'inbox', 'alpha', 'replace'), { recursive: true });
    writeFileSync(join(dir, 'inbox', 'alpha', 'replace', 'issuing.pem'), rekeyed.pem);
    await waitFor(
      () => (latestVersion() !== before && endpointVersion() === latestVersion() ? true : undefined),
      30_000,
      up.output,
    );
    expect(ok('New')).toBe(true);
    expect(ok('Alpha')).toBe(false);
  });

  it('shows each step in history and diff, and no drift in status', () => {
    const history = JSON.parse(cli('history', '--json').stdout) as { revision: number; reason: string }[];
    const reasons = history.map((h) => h.reason);
    expect(reasons.slice(0, 3)).toEqual([
      'uploads inbox/alpha/replace/issuing.pem',
      expect.stringMatching(/^rollback to version/),
      'removal requested by ops: contract ended',
    ]);
    // The two uploads land in one or two revisions, depending on how `up` batched them.
    expect(reasons.slice(3).every((r) => /^uploads inbox\//.test(r))).toBe(true);
    expect(reasons.slice(3).join(' ')).toContain('inbox/alpha/ca.pem');
    expect(reasons.slice(3).join(' ')).toContain('inbox/beta/ca.pem');
    const diff = cli('diff', String(history[3]!.revision), String(history[2]!.revision));
    expect(diff.stdout).toMatch(/- CN=Beta Root CA,O=Beta \(partner beta, expires \d{4}-\d{2}-\d{2}\)/);
    const status = cli('status');
    expect(status.status).toBe(0);
    expect(status.stdout).toMatch(/localhost: AVAILABLE, truststore version \d+ \(latest\)/);
  });
});

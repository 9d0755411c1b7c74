import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaf, partnerChain, pemOf, privateKeyPem, root } from '../../shared/pki/builder.js';
import { readInput } from '../../shared/pki/read.js';
import { BIN, build, curl, outbox, type Running, sClient, startUp, waitFor } from './helpers.js';

/**
 * `trustroll up` end to end, with the real curl and openssl binaries: what a newcomer does after
 * `npm start`.
 */
let dir: string;
let up: Running;
const data = () => join(dir, '.trustroll');
const demo = (f: string) => join(data(), 'demo', f);
const ca = () => join(data(), 'endpoint', 'ca.pem');
/** What is kept of an upload `name` under `<folder>/<partner>/` (each upload has its own `@tag`). */
const kept = (folder: string, partner: string, name: string): string[] => {
  try {
    return readdirSync(join(data(), folder, partner))
      .filter((f) => f.startsWith(`${name}@`))
      .map((f) => join(data(), folder, partner, f));
  } catch {
    return [];
  }
};

beforeAll(async () => {
  build();
  dir = mkdtempSync(join(tmpdir(), 'trustroll-e2e-'));
  up = await startUp(dir);
});

afterAll(async () => {
  await up?.stop();
});

describe('trustroll up (local pipeline)', () => {
  it('starts with a demo PKI, the endpoint material and an empty inbox, and says what to try', () => {
    for (const f of ['acme-ca-bundle.pem', 'acme-client.pem', 'acme-client.key', 'stranger-client.pem']) {
      expect(existsSync(demo(f)), f).toBe(true);
    }
    expect(up.output()).toContain(`cp ${join('.trustroll', 'demo', 'acme-ca-bundle.pem')} inbox/acme/`);
    expect(up.output()).toMatch(/curl --cacert .*acme-client\.pem/);
  });

  it('refuses every client before any truststore exists', () => {
    expect(curl(up.port, ca(), demo('acme-client.pem'), demo('acme-client.key')).status).not.toBe(0);
  });

  it('ingests a dropped CA bundle, rolls the endpoint, and then serves the partner client (curl 200)', async () => {
    mkdirSync(join(dir, 'inbox', 'acme'), { recursive: true });
    writeFileSync(join(dir, 'inbox', 'acme', 'acme-ca-bundle.pem'), readFileSync(demo('acme-ca-bundle.pem')));
    await waitFor(() => outbox(data()).some((n) => n.eventType === 'truststore.rolled'), 20_000, up.output);
    const ok = curl(up.port, ca(), demo('acme-client.pem'), demo('acme-client.key'));
    expect(ok.status).toBe(0);
    const body = JSON.parse(ok.body);
    expect(body).toMatchObject({ ok: true, client: { subject: { CN: 'client.acme.example' } } });
    expect(body.truststoreVersion).toMatch(/^\d+$/);
    expect(
      kept('archive', 'acme', 'acme-ca-bundle.pem').map((f) => f.replace(/.*@[0-9a-f]{10}/, '@tag')),
    ).toEqual(['@tag.pem', '@tag.report.json']);
    expect(readdirSync(join(dir, 'inbox', 'acme'))).toEqual([]);
  });

  it('refuses the handshake of a client from an unknown CA, and logs why', async () => {
    const r = curl(up.port, ca(), demo('stranger-client.pem'), demo('stranger-client.key'));
    expect(r.status).not.toBe(0);
    expect(r.body).toBe('');
    await waitFor(() => /handshake refused {2}reason=unknown issuer/.test(up.output()), 5_000, up.output);
  });

  it('refuses openssl s_client without a client certificate', async () => {
    const r = sClient(up.port, ['-CAfile', ca()]);
    expect(r.output).not.toMatch(/HTTP\/1\.1 200/);
    expect(r.output).toMatch(/alert certificate required|handshake failure|alert/i);
    await waitFor(
      () => /handshake refused {2}reason=no client certificate/.test(up.output()),
      5_000,
      up.output,
    );
  });

  it('accepts the partner client through openssl s_client with -cert/-key', () => {
    const r = sClient(up.port, [
      '-CAfile',
      ca(),
      '-cert',
      demo('acme-client.pem'),
      '-key',
      demo('acme-client.key'),
    ]);
    expect(r.output).toMatch(/HTTP\/1\.1 200 OK/);
  });

  it('rejects a leaf-only upload to rejected/ with a report and an alert', async () => {
    writeFileSync(
      join(dir, 'inbox', 'acme', 'client-as-ca.pem'),
      readFileSync(demo('acme-client-as-ca.pem')),
    );
    await waitFor(() => outbox(data()).some((n) => n.eventType === 'upload.rejected'), 20_000, up.output);
    const files = kept('rejected', 'acme', 'client-as-ca.pem');
    const report = JSON.parse(readFileSync(files.find((f) => f.endsWith('.report.json'))!, 'utf8'));
    expect(report.outcome).toBe('rejected');
    expect(report.certificates[0].findings.map((f: { code: string }) => f.code)).toContain('cert.not-ca');
    // The certificate it held is kept (canonical PEM) beside the report.
    expect(files.some((f) => f.endsWith('.pem'))).toBe(true);
  });

  it('deletes a private-key upload from the inbox, keeps only its certificate and report, and alerts', async () => {
    const key = readFileSync(demo('acme-client.key'), 'utf8');
    writeFileSync(
      join(dir, 'inbox', 'acme', 'with-key.pem'),
      `${readFileSync(demo('acme-client.pem'), 'utf8')}${key}`,
    );
    await waitFor(() => outbox(data()).some((n) => n.eventType === 'upload.private-key'), 20_000, up.output);
    expect(existsSync(join(dir, 'inbox', 'acme', 'with-key.pem'))).toBe(false);
    expect(kept('archive', 'acme', 'with-key.pem')).toEqual([]);
    const secret = key.split('\n')[1]!;
    for (const f of kept('rejected', 'acme', 'with-key.pem'))
      expect(readFileSync(f, 'utf8')).not.toContain(secret);
    expect(JSON.stringify(outbox(data()))).not.toContain(secret);
    expect(up.output()).not.toContain(secret);
  });

  it('stops cleanly on Ctrl-C', async () => {
    expect(await up.stop()).toBe(0);
    expect(up.output()).toContain('stopped.');
  });
});

describe('two concurrent ingest runs over the same folder store', () => {
  it("both land: the final truststore holds both partners' CAs", async () => {
    const root = mkdtempSync(join(tmpdir(), 'trustroll-concurrent-'));
    const one = await partnerChain('One');
    const two = await partnerChain('Two', { key: 'p384' });
    for (const [p, c] of [
      ['one', one],
      ['two', two],
    ] as const) {
      mkdirSync(join(root, 'inbox', p), { recursive: true });
      writeFileSync(join(root, 'inbox', p, 'ca.pem'), pemOf(c.root, c.intermediate));
    }
    const run = (file: string) =>
      new Promise<{ code: number | null; out: string }>((resolveRun) => {
        const child = spawn('node', [BIN, 'ingest', file], { cwd: root });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        child.on('exit', (code) => resolveRun({ code, out }));
      });
    const results = await Promise.all([run('inbox/one/ca.pem'), run('inbox/two/ca.pem')]);
    for (const r of results) expect(r.code, r.out).toBe(0);
    const storeDir = join(root, '.trustroll', 'store', 'truststore', 'truststore.pem.v');
    const latest = readdirSync(storeDir)
      .filter((f) => /^\d+$/.test(f))
      .sort()
      .at(-1)!;
    const certs = readInput({ name: 'truststore', bytes: readFileSync(join(storeDir, latest)) }).certificates;
    expect(certs.map((c) => c.cert.subject.text).sort()).toEqual([
      'CN=One Issuing CA,O=One',
      'CN=One Root CA,O=One',
      'CN=Two Issuing CA,O=Two',
      'CN=Two Root CA,O=Two',
    ]);
  });
});

describe('a version the endpoint rolls back', () => {
  it('is tried once, not again at every poll: the endpoint stays on the previous version and serves', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'trustroll-rollback-'));
    const good = await partnerChain('Good');
    mkdirSync(join(cwd, 'inbox', 'good'), { recursive: true });
    writeFileSync(join(cwd, 'inbox', 'good', 'ca.pem'), pemOf(good.root, good.intermediate));
    const ingest = (file: string) => spawnSync('node', [BIN, 'ingest', file], { cwd, encoding: 'utf8' });
    const first = ingest('inbox/good/ca.pem');
    expect(first.status, first.stdout + first.stderr).toBe(0);
    const running = await startUp(cwd);
    try {
      // A CA valid when it is published and expired when the endpoint loads it: the endpoint then
      // reports a new warning, as API Gateway would, and the roll is taken back.
      running.child.kill('SIGSTOP');
      const brief = await root('CN=Brief Root CA,O=Brief', { notAfter: new Date(Date.now() + 10_000) });
      mkdirSync(join(cwd, 'inbox', 'brief'), { recursive: true });
      writeFileSync(join(cwd, 'inbox', 'brief', 'ca.pem'), brief.pem);
      const second = ingest('inbox/brief/ca.pem');
      expect(second.status, second.stdout + second.stderr).toBe(0);
      await new Promise((r) =>
        setTimeout(r, Math.max(0, brief.cert.notAfter.getTime() - Date.now()) + 1_000),
      );
      running.child.kill('SIGCONT');
      await waitFor(() => /truststore rolled back/.test(running.output()), 20_000, running.output);
      // Twenty more polls at least: none of them rolls again.
      await new Promise((r) => setTimeout(r, 3_000));
      expect(running.output().match(/truststore rolled back/g)).toHaveLength(1);
      expect(running.output()).toMatch(
        /stays on its previous truststore version until a newer one is published/,
      );
      const client = await leaf('CN=client.good.example', good.intermediate);
      writeFileSync(join(cwd, 'client.pem'), client.pem);
      writeFileSync(join(cwd, 'client.key'), privateKeyPem(client));
      const ca = join(cwd, '.trustroll', 'endpoint', 'ca.pem');
      const ok = curl(running.port, ca, join(cwd, 'client.pem'), join(cwd, 'client.key'));
      expect(ok.status, ok.error).toBe(0);
      expect(JSON.parse(ok.body).truststoreVersion).toBe('000001');
    } finally {
      running.child.kill('SIGCONT');
      await running.stop();
    }
  }, 150_000);
});

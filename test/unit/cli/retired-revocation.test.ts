import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Issued, intermediate, leaf, partnerChain, pemOf } from '../../../shared/pki/builder.js';
import { parseCertificate } from '../../../shared/pki/certificate.js';
import { runCli } from '../../fixtures/cli.js';
import { crl, pemBlock } from '../../fixtures/pki.js';

/**
 * A CA removed lately stays in the revocation index as `retired` for some days (targets may still
 * serve a version that trusts it), so the door still lets its clients in: one of them must still
 * be revocable meanwhile. It was not (a breaker pass): revoke said the handshake refuses it, and
 * the CA's CRL was refused as from an unknown issuer, while authorize answered ALLOW.
 */
let dir: string;
let store: string[];
let acme: { root: Issued; intermediate: Issued; client: Issued };
const file = (name: string, text: string | Uint8Array) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trustroll-retired-'));
  store = ['--data-dir', join(dir, '.trustroll')];
  acme = await partnerChain('Acme');
  mkdirSync(join(dir, 'inbox', 'acme'), { recursive: true });
  writeFileSync(join(dir, 'inbox', 'acme', 'ca.pem'), pemOf(acme.root, acme.intermediate));
  expect((await runCli(['ingest', ...store, '--inbox', join(dir, 'inbox')])).code).toBe(0);
  const fp = parseCertificate(acme.intermediate.der).fingerprint;
  const removed = await runCli([
    'remove',
    '--fingerprint',
    fp,
    '--reason',
    'withdrawn',
    '--inbox',
    join(dir, 'inbox'),
    ...store,
  ]);
  expect(removed.code, removed.err).toBe(0);
}, 60_000);

describe('a client of a CA removed lately (ca.retired)', () => {
  it('counts only until its retirement ends, even when no index is published after it', async () => {
    const client = file('client.pem', acme.client.pem);
    const at = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();
    const within = JSON.parse(
      (await runCli(['authorize', '--cert', client, '--at', at(6), '--json', ...store])).out,
    );
    expect(within.decision).toBe('allow');
    const after = await runCli(['authorize', '--cert', client, '--at', at(8), '--json', ...store]);
    expect(after.code).toBe(1);
    expect(JSON.parse(after.out).reasons).toEqual([
      {
        code: 'issuer.unknown',
        message: expect.stringMatching(
          /which was removed from the truststore; it was still counted \(ca\.retired\) until \d{4}-\d\d-\d\dT.*, and no longer is\.$/,
        ),
      },
    ]);
  });

  it('is named by status, with until when and how to cut a client off', async () => {
    const text = await runCli(['status', ...store]);
    expect(text.out).toMatch(
      /\nretired: CN=Acme Issuing CA,O=Acme \(partner acme\) removed; until \d{4}-\d\d-\d\d \d\d:\d\d UTC the door still lets its clients in \(ca\.retired\) for targets on the version before, and no other partner may take it; trustroll revoke cuts a client off now/,
    );
    const json = JSON.parse((await runCli(['status', '--json', ...store])).out);
    const entry = Array.isArray(json) ? json[0] : json;
    expect(entry.retired).toEqual([
      {
        subject: 'CN=Acme Issuing CA,O=Acme',
        sha256: parseCertificate(acme.intermediate.der).fingerprint,
        partner: 'acme',
        until: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      },
    ]);
  });

  it('is let in by the index, and can be revoked by hand meanwhile (by certificate and by serial)', async () => {
    const client = file('client.pem', acme.client.pem);
    const before = JSON.parse((await runCli(['authorize', '--cert', client, '--json', ...store])).out);
    expect(before.decision).toBe('allow');
    expect(before.reasons.map((r: { code: string }) => r.code)).toEqual(['ca.retired']);

    const revoked = await runCli(['revoke', '--cert', client, '--reason', 'laptop lost', ...store]);
    expect(revoked.code, revoked.err).toBe(0);
    expect(revoked.out).toMatch(/^revoked: CN=.* of CN=Acme Issuing CA,O=Acme, partner acme: laptop lost/);
    const after = await runCli(['authorize', '--cert', client, '--json', ...store]);
    expect(after.code).toBe(1);
    expect(JSON.parse(after.out).reasons.map((r: { code: string }) => r.code)).toContain('cert.revoked');

    expect((await runCli(['unrevoke', '--cert', client, ...store])).code).toBe(0);
    const serial = parseCertificate(acme.client.der).serial;
    const issuer = parseCertificate(acme.intermediate.der).fingerprint.slice(0, 16);
    const bySerial = await runCli([
      'revoke',
      '--serial',
      serial,
      '--issuer',
      issuer,
      '--reason',
      'x',
      ...store,
    ]);
    expect(bySerial.code, bySerial.err).toBe(0);
    expect((await runCli(['authorize', '--cert', client, ...store])).code).toBe(1);
  });

  it('does not let in the clients of a CA its root revoked once the partner is removed (the root, with its CRL, leaves the index)', async () => {
    const gamma = await partnerChain('Gamma');
    mkdirSync(join(dir, 'inbox', 'gamma', 'crl'), { recursive: true });
    writeFileSync(join(dir, 'inbox', 'gamma', 'ca.pem'), pemOf(gamma.root, gamma.intermediate));
    expect((await runCli(['ingest', ...store, '--inbox', join(dir, 'inbox')])).code).toBe(0);
    writeFileSync(
      join(dir, 'inbox', 'gamma', 'crl', 'root.crl'),
      pemBlock('X509 CRL', await crl(gamma.root, [gamma.intermediate], { crlNumber: 1 })),
    );
    expect((await runCli(['ingest', ...store, '--inbox', join(dir, 'inbox')])).code).toBe(0);
    const client = file('gamma-client.pem', gamma.client.pem);
    const revoked = JSON.parse((await runCli(['authorize', '--cert', client, '--json', ...store])).out);
    expect(revoked.reasons.map((r: { code: string }) => r.code)).toContain('ca.revoked');
    const removed = await runCli([
      'remove',
      '--partner',
      'gamma',
      '--reason',
      'offboarded',
      '--inbox',
      join(dir, 'inbox'),
      ...store,
    ]);
    expect(removed.code, removed.err).toBe(0);
    const after = await runCli(['authorize', '--cert', client, '--json', ...store]);
    expect(after.code).toBe(1);
    expect(JSON.parse(after.out).reasons.map((r: { code: string }) => r.code)).toEqual(['issuer.unknown']);
    // Its CAs are retired, not gone: rules for gamma are still taken (and shown).
    const rules = await runCli(['rules', '--partner', 'gamma', '--route', 'GET /status', ...store]);
    expect(rules.code, rules.err).toBe(0);
    expect((await runCli(['rules', '--partner', 'gamma', ...store])).out).toMatch(/GET \/status/);
    const none = await runCli(['rules', '--partner', 'nobody', '--route', 'GET /status', ...store]);
    expect([none.code, none.err]).toEqual([
      2,
      expect.stringMatching(/belongs to partner nobody: the partners are .*gamma/),
    ]);
  });

  it('keeps a CA revoked by hand revoked: a renewal of the same key is refused at the inbox', async () => {
    const delta = await partnerChain('Delta');
    mkdirSync(join(dir, 'inbox', 'delta', 'replace'), { recursive: true });
    writeFileSync(join(dir, 'inbox', 'delta', 'ca.pem'), pemOf(delta.root, delta.intermediate));
    expect((await runCli(['ingest', ...store, '--inbox', join(dir, 'inbox')])).code).toBe(0);
    const ca = file('delta-ca.pem', delta.intermediate.pem);
    const revoked = await runCli(['revoke', '--cert', ca, '--reason', 'key compromised', ...store]);
    expect(revoked.code, revoked.err).toBe(0);
    const client = file('delta-client.pem', delta.client.pem);
    const codes = async (...extra: string[]) =>
      JSON.parse(
        (await runCli(['authorize', '--cert', client, '--json', ...extra, ...store])).out,
      ).reasons.map((r: { code: string }) => r.code);
    expect(await codes()).toContain('ca.revoked');
    // The same name and key, a new certificate (new serial), dropped into replace/.
    const renewed = await intermediate('CN=Delta Issuing CA,O=Delta', delta.root);
    expect(parseCertificate(renewed.der).subjectKeyId).toBe(
      parseCertificate(delta.intermediate.der).subjectKeyId,
    );
    expect(parseCertificate(renewed.der).serial).not.toBe(parseCertificate(delta.intermediate.der).serial);
    writeFileSync(join(dir, 'inbox', 'delta', 'replace', 'renewed.pem'), renewed.pem);
    // Refused at the inbox (its clients could never get in), and the revoked CA stays revoked.
    const ingest = await runCli(['ingest', ...store, '--inbox', join(dir, 'inbox')]);
    expect(ingest.code, ingest.out + ingest.err).toBe(1);
    expect(ingest.out + ingest.err).toMatch(/ca\.key-revoked/);
    expect(await codes()).toContain('ca.revoked');
    expect(await codes('--at', new Date(Date.now() + 10 * 86_400_000).toISOString())).toContain('ca.revoked');
  });

  it("refuses the removed CA's CRL saying how to revoke its clients until the index drops it", async () => {
    mkdirSync(join(dir, 'inbox', 'acme', 'crl'), { recursive: true });
    writeFileSync(
      join(dir, 'inbox', 'acme', 'crl', 'issuing.crl'),
      pemBlock('X509 CRL', await crl(acme.intermediate, [acme.client], { crlNumber: 1 })),
    );
    const run = await runCli(['ingest', ...store, '--inbox', join(dir, 'inbox'), '--json']);
    const report = JSON.stringify(JSON.parse(run.out));
    expect(report).toContain('crl.issuer-unknown');
    expect(report).toMatch(
      /CN=Acme Issuing CA,O=Acme was removed from the truststore on \d{4}-\d\d-\d\d, so its CRL is not taken; but until \d{4}-\d\d-\d\d the index still lets its clients in \(ca\.retired/,
    );
    expect(report).toContain('trustroll revoke --cert <client.pem> --reason <why>');
  });

  it('still lets its clients in as before when the partner re-keys the CA under the same name meanwhile', async () => {
    // Acme's own new CA (a new key) under the name of its removed one.
    const rekeyed = await intermediate('CN=Acme Issuing CA,O=Acme', acme.root, { keySlot: 'acme-rekeyed' });
    writeFileSync(join(dir, 'inbox', 'acme', 'rekeyed.pem'), rekeyed.pem);
    const ingest = await runCli(['ingest', ...store, '--inbox', join(dir, 'inbox'), '--json']);
    const mine = JSON.parse(ingest.out).uploads.find(
      (u: { key: string }) => u.key === 'inbox/acme/rekeyed.pem',
    );
    expect(mine?.outcome, ingest.out).toBe('accepted');
    // A client of acme's removed CA that no earlier test revoked.
    const client = file('fresh.pem', (await leaf('CN=fresh.acme.example,O=Acme', acme.intermediate)).pem);
    const decided = await runCli(['authorize', '--cert', client, '--json', ...store]);
    expect(JSON.parse(decided.out), decided.out).toMatchObject({ decision: 'allow', partner: 'acme' });
    expect(JSON.parse(decided.out).reasons.map((r: { code: string }) => r.code)).toEqual(['ca.retired']);
  });
});

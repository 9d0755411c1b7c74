import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { crl, partnerChain, pemBlock, pemOf, root } from '../fixtures/pki.js';
import { BIN, build } from './helpers.js';

/** `--json` always answers JSON: a verdict for bad certificates and CRLs, `{error}` for usage errors. */
let dir: string;
const f = (name: string) => join(dir, name);
const cli = (...args: string[]) => spawnSync('node', [BIN, ...args], { encoding: 'utf8', cwd: dir });
const diagnose = (...args: string[]) => {
  const r = cli(
    'diagnose',
    '--truststore',
    f('truststore.pem'),
    '--cert',
    f('client.pem'),
    '--json',
    ...args,
  );
  return { status: r.status, json: JSON.parse(r.stdout), stderr: r.stderr };
};
const codes = (list: { code: string }[]) => list.map((x) => x.code);

beforeAll(async () => {
  build();
  dir = mkdtempSync(join(tmpdir(), 'trustroll-diagnose-json-'));
  const now = new Date();
  const acme = await partnerChain('Acme', { now });
  const other = await root('CN=Other Root,O=Other', { now });
  writeFileSync(f('truststore.pem'), pemOf(acme.root, acme.intermediate));
  writeFileSync(f('client.pem'), acme.client.pem);
  writeFileSync(f('revoked.crl'), pemBlock('X509 CRL', await crl(acme.intermediate, [acme.client], { now })));
  writeFileSync(f('other.crl'), await crl(other, [acme.client], { now }));
  // Acme's issuing CA's name, another key's signature (no key identifier to tell them apart).
  writeFileSync(
    f('forged.crl'),
    pemBlock('X509 CRL', await crl(acme.intermediate, [acme.client], { now, signedBy: other, aki: false })),
  );
  writeFileSync(
    f('removal.crl'),
    pemBlock(
      'X509 CRL',
      await crl(acme.intermediate, [{ cert: acme.client, reason: 'removeFromCRL' }], { now }),
    ),
  );
  writeFileSync(f('garbage.crl'), 'not a CRL at all\n');
  writeFileSync(f('garbage.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  mkdirSync(f('truststore-dir'));
  writeFileSync(f('truststore-dir/acme.pem'), pemOf(acme.root, acme.intermediate));
  writeFileSync(f('truststore-dir/README.md'), '# What each file is\n');
}, 120_000);

describe('diagnose --json prints a verdict whatever the input', () => {
  it('refuses an unparseable client certificate with a reason code (exit 1), not a usage error', () => {
    const r = cli('diagnose', '--truststore', f('truststore.pem'), '--cert', f('garbage.pem'), '--json');
    expect(r.status).toBe(1);
    const json = JSON.parse(r.stdout);
    expect(json.verdict).toBe('reject');
    expect(codes(json.reasons)).toEqual(['cert.unparseable']);
  }, 60_000);

  it('refuses an unparseable CRL with a reason code (exit 1)', () => {
    const r = diagnose('--crl', f('garbage.crl'));
    expect(r.status).toBe(1);
    expect(codes(r.json.reasons)).toEqual(['crl.unparseable']);
  }, 60_000);

  it('reads an entry with reason removeFromCRL in a full CRL as a server does (not revoked), and warns that ingest refuses such a CRL', () => {
    for (const mode of [[], ['--plain-tls']]) {
      const r = diagnose('--crl', f('removal.crl'), ...mode);
      expect(r.status).toBe(mode.length === 0 ? 0 : 1);
      expect(codes(r.json.warnings)).toContain('crl.remove-from-crl');
      expect(r.json.warnings.find((w: { code: string }) => w.code === 'crl.remove-from-crl').message).toMatch(
        /with reason removeFromCRL, which RFC 5280 allows only in delta CRLs: a server reads such an entry as not revoked/,
      );
      expect(codes(r.json.reasons)).not.toContain('revoked');
    }
  }, 60_000);

  it('ignores, with a note, a CRL issued by a CA outside the path', () => {
    const r = diagnose('--crl', f('other.crl'));
    expect(r.status).toBe(0);
    expect(r.json.verdict).toBe('accept');
    expect(codes(r.json.warnings)).toContain('crl.ignored');
  }, 60_000);

  it('warns about a revoked client in API Gateway mode, and refuses it with --plain-tls like a CRL-checking server', () => {
    const apiGateway = diagnose('--crl', f('revoked.crl'));
    expect(apiGateway.status).toBe(0);
    expect(codes(apiGateway.json.warnings)).toContain('revoked');
    const plain = diagnose('--plain-tls', '--crl', f('revoked.crl'));
    expect(plain.status).toBe(1);
    expect(plain.json.verdict).toBe('reject');
    expect(codes(plain.json.reasons)).toEqual(['revoked']);
  }, 60_000);

  it("ignores, with a warning, a CRL in the CA's name that another key signed: never a listing; a CRL-checking server refuses the client", () => {
    const apiGateway = diagnose('--crl', f('forged.crl'));
    expect(apiGateway.status).toBe(0);
    expect(codes(apiGateway.json.warnings)).toContain('crl.signature-invalid');
    expect(codes(apiGateway.json.warnings)).not.toContain('revoked');
    // openssl verify -crl_check_all: "CRL signature failure" (the CRL names no key identifier).
    const plain = diagnose('--plain-tls', '--crl', f('forged.crl'));
    expect([plain.status, plain.json.verdict, codes(plain.json.reasons)]).toEqual([
      1,
      'reject',
      ['crl-signature'],
    ]);
  }, 60_000);

  it('skips the files of a truststore folder that are not certificates (a README)', () => {
    const r = cli('diagnose', '--truststore', f('truststore-dir'), '--cert', f('client.pem'), '--json');
    // Nothing about the README; only the note that a bundle has no revocation index.
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^note: judged against the --truststore bundle alone: no revocation index/),
    ]);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).verdict).toBe('accept');
  }, 60_000);
});

describe('usage errors under --json are JSON too (exit 2)', () => {
  it.each([
    ['diagnose without --truststore', ['diagnose', '--cert', 'client.pem', '--json'], /--truststore/],
    [
      'diagnose with a missing file',
      ['diagnose', '--truststore', 'truststore.pem', '--cert', 'nope.pem', '--json'],
      /nope\.pem/,
    ],
    ['lint of a missing file', ['lint', '--json', 'nope.pem'], /nope\.pem/],
  ])(
    '%s',
    (_, args, message) => {
      const r = cli(...args);
      expect(r.status).toBe(2);
      const json = JSON.parse(r.stdout);
      expect(json.error).toMatch(message);
    },
    60_000,
  );
});

import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { days, intermediate, leaf, NOW, partnerChain, pemOf, root } from '../fixtures/pki.js';
import { BIN, build } from './helpers.js';

/** lint says where each certificate came from, and words each finding for what the certificate is. */
let dir: string;
const lint = (...args: string[]) =>
  spawnSync('node', [BIN, 'lint', '--at', NOW.toISOString(), ...args], { encoding: 'utf8', cwd: dir });
interface JsonFinding {
  code: string;
  message: string;
  fingerprint?: string;
  sources?: string[];
}

beforeAll(async () => {
  build();
  dir = mkdtempSync(join(tmpdir(), 'trustroll-lint-sources-'));
  const acme = await partnerChain('Acme');
  const zero = await root('CN=Zero Root,O=Zero', { pathLen: 0 });
  const below = await intermediate('CN=Below Zero CA,O=Zero', zero);
  const oldClient = await leaf('CN=old-client,O=Acme', acme.intermediate, {
    notBefore: days(-400),
    notAfter: days(-10),
  });
  writeFileSync(join(dir, 'acme.pem'), pemOf(acme.root, acme.intermediate));
  writeFileSync(join(dir, 'zero.pem'), pemOf(zero, below));
  writeFileSync(join(dir, 'old-client.pem'), oldClient.pem);
}, 120_000);

describe('trustroll lint names the input of every certificate', () => {
  it('in text: the file and block of certificates with findings and without', () => {
    const r = lint('acme.pem', 'old-client.pem');
    expect(r.stdout).toMatch(/CN=old-client,O=Acme .*\n {2}in old-client\.pem, block 1 \(line 1\)/);
    expect(r.stdout).toMatch(/CN=Acme Root CA,O=Acme .* in acme\.pem, block 1 \(line 1\)/);
    expect(r.stdout).toMatch(/CN=Acme Issuing CA,O=Acme .* in acme\.pem, block 2 \(line \d+\)/);
  }, 60_000);

  it('in JSON: sources on every certificate and on every finding about one', () => {
    const json = JSON.parse(lint('--json', 'acme.pem', 'old-client.pem').stdout);
    const sources = Object.fromEntries(
      json.certificates.map((c: { subject: string; sources: string[] }) => [c.subject, c.sources]),
    );
    expect(sources).toEqual({
      'CN=Acme Root CA,O=Acme': ['acme.pem, block 1 (line 1)'],
      'CN=Acme Issuing CA,O=Acme': [expect.stringMatching(/^acme\.pem, block 2 \(line \d+\)$/)],
      'CN=old-client,O=Acme': ['old-client.pem, block 1 (line 1)'],
    });
    for (const f of json.findings as JsonFinding[])
      expect(f.sources, f.code).toEqual(['old-client.pem, block 1 (line 1)']);
  }, 60_000);
});

describe('trustroll lint words findings for what the certificate is', () => {
  it('an expired leaf gets leaf wording, not "every client certificate under it is refused"', () => {
    const r = lint('--json', 'acme.pem', 'old-client.pem');
    expect(r.status).toBe(1);
    const expired = (JSON.parse(r.stdout).findings as JsonFinding[]).find((f) => f.code === 'cert.expired')!;
    expect(expired.message).toMatch(/end-entity/);
    expect(expired.message).not.toMatch(/client certificate under it/);
  }, 60_000);

  it('a root with pathLenConstraint 0 above an intermediate is an error: every client under it is refused', () => {
    const r = lint('--json', 'zero.pem');
    expect(r.status).toBe(1);
    const json = JSON.parse(r.stdout);
    const found = (json.findings as JsonFinding[]).filter((f) => f.code === 'chain.path-length');
    expect(found).toHaveLength(1);
    expect(found[0]!.message).toMatch(/Every client certificate this CA issues is refused/);
    expect(found[0]!.message).toContain('"CN=Zero Root,O=Zero" has pathLenConstraint 0');
    expect(found[0]!.sources).toEqual([expect.stringMatching(/^zero\.pem, block 2 /)]);
  }, 60_000);
});

import { beforeAll, describe, expect, it } from 'vitest';
import type { Finding, Severity } from '../../../shared/finding.js';
import { parseCertificate } from '../../../shared/pki/certificate.js';
import type { SourcedCertificate } from '../../../shared/pki/read.js';
import { IssuerIndex } from '../../../shared/truststore/issuer-index.js';
import { lintCertificates, lintInputs } from '../../../shared/truststore/lint.js';
import { RULES } from '../../../shared/truststore/rules/index.js';
import type { CertificateRule, RuleContext } from '../../../shared/truststore/rules/rule.js';
import { truststoreTooLarge } from '../../../shared/truststore/rules/truststore.too-large.js';
import {
  days,
  type Issued,
  intermediate,
  issue,
  leaf,
  NOW,
  partnerChain,
  pemOf,
  root,
  secp256k1Spki,
  toBytes,
} from '../../fixtures/pki.js';

const sourced = (...issued: Issued[]): SourcedCertificate[] =>
  issued.map((i, n) => ({ cert: parseCertificate(i.der), source: `input ${n + 1}` }));
const lint = (...issued: Issued[]) => lintCertificates(sourced(...issued), { at: NOW });
const withCode = (findings: readonly Finding[], code: string) => findings.filter((f) => f.code === code);
const fpOf = (i: Issued) => parseCertificate(i.der).fingerprint;

let good: Awaited<ReturnType<typeof partnerChain>>;
beforeAll(async () => {
  good = await partnerChain('Good');
});

describe('a complete, healthy partner chain', () => {
  it('passes with no finding at all', () => {
    const result = lint(good.root, good.intermediate);
    expect(result.findings).toEqual([]);
    expect(result.ok).toBe(true);
  });
});

describe('cert.not-ca', () => {
  it('rejects a client (leaf) certificate uploaded as a CA', () => {
    const [f] = withCode(lint(good.root, good.intermediate, good.client).findings, 'cert.not-ca');
    expect(f).toMatchObject({ severity: 'error', cert: { fingerprint: fpOf(good.client) } });
    expect(f!.message).toMatch(/not a CA.*Upload the CA certificates/);
  });

  it('rejects a v3 certificate without basicConstraints', async () => {
    const bare = await intermediate('CN=No BC', good.root, { ca: null });
    expect(withCode(lint(good.root, bare).findings, 'cert.not-ca')).toHaveLength(1);
  });
});

describe('cert.no-keycertsign', () => {
  it('rejects a CA whose keyUsage lacks keyCertSign', async () => {
    const ca = await intermediate('CN=CRL only', good.root, { keyUsage: 64 /* cRLSign */ });
    const [f] = withCode(lint(good.root, ca).findings, 'cert.no-keycertsign');
    expect(f).toMatchObject({ severity: 'error', cert: { fingerprint: fpOf(ca) } });
  });

  it('accepts a CA with no keyUsage extension at all', async () => {
    const ca = await intermediate('CN=No KU', good.root, { keyUsage: null });
    expect(withCode(lint(good.root, ca).findings, 'cert.no-keycertsign')).toEqual([]);
  });
});

describe('validity', () => {
  it('cert.expired: rejects a CA past its notAfter', async () => {
    const old = await intermediate('CN=Old CA', good.root, { notBefore: days(-400), notAfter: days(-1) });
    const [f] = withCode(lint(good.root, old).findings, 'cert.expired');
    expect(f).toMatchObject({ severity: 'error', cert: { fingerprint: fpOf(old) } });
    expect(f!.message).toContain(days(-1).toISOString().slice(0, 10));
  });

  it('cert.not-yet-valid: rejects a CA before its notBefore', async () => {
    const future = await intermediate('CN=Future CA', good.root, { notBefore: days(2) });
    expect(withCode(lint(good.root, future).findings, 'cert.not-yet-valid')).toMatchObject([
      { severity: 'error' },
    ]);
  });

  it('cert.expiring: warns within the threshold and not outside it', async () => {
    const soon = await intermediate('CN=Soon CA', good.root, { notAfter: days(20) });
    const result = lint(good.root, soon);
    expect(withCode(result.findings, 'cert.expiring')).toMatchObject([
      { severity: 'warning', message: expect.stringMatching(/in 20 days/) },
    ]);
    expect(result.ok).toBe(true);
    const quiet = lintCertificates(sourced(good.root, soon), { at: NOW, expiringDays: 10 });
    expect(withCode(quiet.findings, 'cert.expiring')).toEqual([]);
  });
});

describe('key.too-weak', () => {
  it('rejects RSA-1024', async () => {
    const weak = await root('CN=Weak RSA Root', { key: 'rsa1024' });
    expect(withCode(lint(weak).findings, 'key.too-weak')).toMatchObject([
      { severity: 'error', message: expect.stringMatching(/1024 bits/) },
    ]);
  });

  it('accepts RSA-2048, P-256 and P-384', async () => {
    for (const key of ['rsa2048', 'p256', 'p384'] as const) {
      const r = await root(`CN=Strong ${key}`, { key });
      expect(withCode(lint(r).findings, 'key.too-weak'), key).toEqual([]);
    }
  });

  it('rejects an EC key on a curve API Gateway does not support', async () => {
    const odd = await issue({ subject: 'CN=secp256k1 CA', issuer: good.root, spki: secp256k1Spki() });
    expect(withCode(lint(good.root, odd).findings, 'key.too-weak')).toMatchObject([
      { message: expect.stringMatching(/secp256k1/) },
    ]);
  });

  it('rejects a key type API Gateway does not take (Ed25519)', async () => {
    const ed = await root('CN=Ed Root', { key: 'ed25519' });
    expect(withCode(lint(ed).findings, 'key.too-weak')).toMatchObject([
      { message: expect.stringMatching(/ed25519/) },
    ]);
  });
});

describe('signature.weak-hash', () => {
  it('rejects a SHA-1 signed CA, root or intermediate', async () => {
    const sha1Root = await root('CN=SHA1 Root', { key: 'rsa2048', hash: 'SHA-1' });
    const r2 = await root('CN=RSA Root', { key: 'rsa2048' });
    const sha1Int = await intermediate('CN=SHA1 Int', r2, { hash: 'SHA-1' });
    const findings = withCode(lint(sha1Root, r2, sha1Int).findings, 'signature.weak-hash');
    expect(findings.map((f) => f.cert?.fingerprint).sort()).toEqual([fpOf(sha1Root), fpOf(sha1Int)].sort());
    expect(findings.map((f) => f.severity)).toEqual(['error', 'error']);
  });
});

describe('signature.invalid', () => {
  it('rejects a certificate signed by a different key than the CA of that name in the truststore', async () => {
    const impostor = await root('CN=Good Root CA,O=Good', { keySlot: 'impostor' });
    const child = await intermediate('CN=Child of impostor', impostor);
    const result = lint(good.root, child);
    expect(withCode(result.findings, 'signature.invalid')).toMatchObject([
      { cert: { fingerprint: fpOf(child) } },
    ]);
    expect(withCode(result.findings, 'chain.issuer-missing')).toEqual([]);
  });

  it('rejects a self-issued root whose self-signature does not verify', async () => {
    const der = Buffer.from(good.root.der);
    der[der.length - 5]! ^= 0x01;
    const result = lintInputs([{ name: 'tampered.der', bytes: new Uint8Array(der) }], { at: NOW });
    expect(withCode(result.findings, 'signature.invalid')).toHaveLength(1);
  });
});

describe('chain.issuer-missing', () => {
  it('rejects an intermediate whose root is not in the truststore', () => {
    const result = lint(good.intermediate);
    expect(withCode(result.findings, 'chain.issuer-missing')).toMatchObject([
      { severity: 'error', message: expect.stringContaining('CN=Good Root CA,O=Good') },
    ]);
  });
});

describe('chain.too-long', () => {
  it('accepts root + 3 intermediates and rejects a fourth intermediate', async () => {
    const r = await root('CN=Deep Root');
    const i1 = await intermediate('CN=Deep 1', r, { pathLen: undefined });
    const i2 = await intermediate('CN=Deep 2', i1, { pathLen: undefined });
    const i3 = await intermediate('CN=Deep 3', i2, { pathLen: undefined });
    const i4 = await intermediate('CN=Deep 4', i3, { pathLen: undefined });
    expect(withCode(lint(r, i1, i2, i3).findings, 'chain.too-long')).toEqual([]);
    expect(withCode(lint(r, i1, i2, i3, i4).findings, 'chain.too-long')).toMatchObject([
      {
        severity: 'error',
        cert: { fingerprint: fpOf(i4) },
        message: expect.stringMatching(/holds 5 certificates/),
      },
    ]);
  });
});

describe('chain.path-length', () => {
  const pathLength = (...issued: Issued[]) => withCode(lint(...issued).findings, 'chain.path-length');

  it('rejects a CA below an intermediate whose pathLenConstraint 0 allows no CA below it, naming that intermediate', async () => {
    const r = await root('CN=PL Root');
    const capped = await intermediate('CN=PL Capped', r, { pathLen: 0 });
    const sub = await intermediate('CN=PL Sub', capped, { pathLen: undefined });
    const result = lint(r, capped, sub);
    expect(result.ok).toBe(false);
    expect(withCode(result.findings, 'chain.path-length')).toMatchObject([
      {
        severity: 'error',
        cert: { fingerprint: fpOf(sub) },
        message: expect.stringMatching(
          /path length constraint exceeded.*"CN=PL Capped" has pathLenConstraint 0, yet this CA is 1 CA below it.*reissue "CN=PL Capped" with a pathLenConstraint of at least 1/,
        ),
      },
    ]);
  });

  it('accepts CAs exactly at the limit and rejects the first one past it', async () => {
    const r = await root('CN=PL1 Root');
    const policy = await intermediate('CN=PL1 Policy', r, { pathLen: 1 });
    const issuing = await intermediate('CN=PL1 Issuing', policy, { pathLen: undefined });
    const deeper = await intermediate('CN=PL1 Deeper', issuing, { pathLen: undefined });
    expect(pathLength(r, policy, issuing)).toEqual([]);
    expect(pathLength(r, policy, issuing, deeper)).toMatchObject([
      {
        cert: { fingerprint: fpOf(deeper) },
        message: expect.stringMatching(/"CN=PL1 Policy".*2 CAs below it/),
      },
    ]);
  });

  it("counts a self-signed root's own pathLenConstraint", async () => {
    const r = await root('CN=PL Capped Root', { pathLen: 0 });
    const int = await intermediate('CN=PL Under Capped Root', r);
    expect(pathLength(r)).toEqual([]);
    expect(pathLength(r, int)).toMatchObject([
      {
        cert: { fingerprint: fpOf(int) },
        message: expect.stringMatching(/"CN=PL Capped Root" has pathLenConstraint 0/),
      },
    ]);
  });

  it('does not count a self-issued CA (a key rollover certificate) against the limit', async () => {
    const r = await root('CN=PL SI Root');
    const old = await intermediate('CN=PL SI Int', r, { pathLen: 1 });
    // Same name as its issuer, a new key: self-issued, not self-signed.
    const rollover = await intermediate('CN=PL SI Int', old, { keySlot: 'rollover', pathLen: undefined });
    const sub = await intermediate('CN=PL SI Sub', rollover, { pathLen: undefined });
    const index = new IssuerIndex(sourced(r, old, rollover, sub).map((s) => s.cert));
    // The path runs through the rollover certificate: sub <- rollover <- old <- root.
    expect(index.pathOf(parseCertificate(sub.der)).map((c) => c.fingerprint)).toEqual(
      [sub, rollover, old, r].map(fpOf),
    );
    expect(pathLength(r, old, rollover, sub)).toEqual([]);
    // Counted, the rollover would have made sub the second CA below a pathLenConstraint of 1.
    const subSub = await intermediate('CN=PL SI SubSub', sub, { pathLen: undefined });
    expect(pathLength(r, old, rollover, sub, subSub)).toMatchObject([
      {
        cert: { fingerprint: fpOf(subSub) },
        message: expect.stringMatching(/"CN=PL SI Int".*2 CAs below it/),
      },
    ]);
  });

  it('names every ancestor whose limit a CA exceeds, and leaves end-entity certificates to cert.not-ca', async () => {
    const r = await root('CN=PL2 Root', { pathLen: 1 });
    const a = await intermediate('CN=PL2 A', r, { pathLen: 0 });
    const b = await intermediate('CN=PL2 B', a, { pathLen: undefined });
    const client = await leaf('CN=PL2 client', a);
    const [f, ...rest] = pathLength(r, a, b, client);
    expect(rest).toEqual([]);
    expect(f).toMatchObject({ cert: { fingerprint: fpOf(b) } });
    expect(f!.message).toMatch(
      /"CN=PL2 A" has pathLenConstraint 0, yet this CA is 1 CA below it; "CN=PL2 Root" has pathLenConstraint 1, yet this CA is 2 CAs below it/,
    );
    // Both ancestors must be reissued (or the CA left out): the fix names each.
    expect(f!.message).toMatch(
      /, or reissue "CN=PL2 A" with a pathLenConstraint of at least 1 and reissue "CN=PL2 Root" with a pathLenConstraint of at least 2\.$/,
    );
  });

  it('sets no limit for an ancestor without basicConstraints (as a version 1 root has none)', async () => {
    const v1 = await root('CN=PL V1 Root', { ca: null, keyUsage: null, ski: false, aki: false });
    expect(parseCertificate(v1.der).basicConstraints).toBeUndefined();
    const a = await intermediate('CN=PL V1 A', v1, { pathLen: undefined });
    const b = await intermediate('CN=PL V1 B', a, { pathLen: undefined });
    const findings = lint(v1, a, b).findings;
    expect(withCode(findings, 'rule.failed')).toEqual([]);
    expect(withCode(findings, 'chain.path-length')).toEqual([]);
  });
});

describe('truststore.duplicate-subject', () => {
  it('rejects two different certificates with the same subject DN, naming both', async () => {
    const renewed = await root('CN=Good Root CA,O=Good', { serial: '7777' });
    const findings = withCode(lint(good.root, renewed).findings, 'truststore.duplicate-subject');
    expect(findings.map((f) => f.cert?.fingerprint).sort()).toEqual([fpOf(good.root), fpOf(renewed)].sort());
  });
});

describe('truststore.too-large', () => {
  const judge = (renderedBytes: number) => {
    const ctx = { at: NOW, expiringDays: 30, certificates: [], occurrences: [], index: new IssuerIndex([]) };
    return truststoreTooLarge.check({ ...ctx, renderedBytes });
  };

  it('rejects above 1000 KB, warns above 80% of it, and is quiet below', () => {
    expect(judge(1_000_001)).toMatchObject([
      { severity: 'error', message: expect.stringMatching(/1000001 bytes/) },
    ]);
    expect(judge(1_000_000)).toMatchObject([{ code: 'truststore.too-large', severity: 'warning' }]);
    expect(judge(800_001)).toMatchObject([{ severity: 'warning' }]);
    expect(judge(800_000)).toEqual([]);
  });

  it('is fed the size of the rendered truststore by lint', () => {
    const result = lint(good.root, good.intermediate);
    const size = Buffer.byteLength(result.rendered);
    const spy = {
      ...truststoreTooLarge,
      check: (ctx: RuleContext) => [
        { code: 'size', severity: 'info' as const, message: String(ctx.renderedBytes) },
      ],
    };
    const seen = lintCertificates(sourced(good.root, good.intermediate), { at: NOW, rules: [spy] });
    expect(seen.findings[0]!.message).toBe(String(size));
  });
});

describe('truststore.empty', () => {
  it('refuses a set with no CA (API Gateway refuses an empty truststore), and is quiet otherwise', () => {
    const empty = lintCertificates([], { at: NOW });
    expect(empty.ok).toBe(false);
    expect(empty.findings).toMatchObject([
      { code: 'truststore.empty', severity: 'error', message: expect.stringMatching(/at least one CA/) },
    ]);
    expect(withCode(lint(good.root).findings, 'truststore.empty')).toEqual([]);
  });
});

describe('cert.duplicate', () => {
  it('reports the same certificate twice as info and keeps it once', () => {
    const result = lintInputs(
      [
        { name: 'a.pem', bytes: toBytes(pemOf(good.root, good.intermediate)) },
        { name: 'b.pem', bytes: toBytes(pemOf(good.root)) },
      ],
      { at: NOW },
    );
    expect(result.certificates).toHaveLength(2);
    expect(withCode(result.findings, 'cert.duplicate')).toMatchObject([
      {
        severity: 'info',
        message: expect.stringMatching(/Appears 2 times \(a\.pem, block 1.*b\.pem, block 1/),
      },
    ]);
    expect(result.ok).toBe(true);
    // Where each certificate came from, every occurrence in input order (what `lint` prints).
    expect(Object.fromEntries(result.sources)).toEqual({
      [fpOf(good.root)]: ['a.pem, block 1 (line 1)', 'b.pem, block 1 (line 1)'],
      [fpOf(good.intermediate)]: [expect.stringMatching(/^a\.pem, block 2 \(line \d+\)$/)],
    });
  });
});

describe('rules are data', () => {
  it('turns a rule that throws into a finding instead of crashing the run', () => {
    const broken: CertificateRule = {
      id: 'test.broken',
      scope: 'certificate',
      check: () => {
        throw new Error('boom');
      },
    };
    const result = lintCertificates(sourced(good.root), { at: NOW, rules: [broken, ...RULES] });
    expect(result.findings).toMatchObject([
      { code: 'rule.failed', severity: 'error', message: expect.stringMatching(/test\.broken.*boom/) },
    ]);
    expect(result.findings[0]!.cert).toEqual({
      subject: 'CN=Good Root CA,O=Good',
      fingerprint: fpOf(good.root),
    });
    expect(result.ok).toBe(false);
  });

  it('lists the findings most severe first, whatever order the rules report them in', () => {
    const report = (code: string, severity: Severity): CertificateRule => ({
      id: code,
      scope: 'certificate',
      check: () => [{ code, severity, message: code }],
    });
    const result = lintCertificates(sourced(good.root), {
      at: NOW,
      rules: [report('test.info', 'info'), report('test.warning', 'warning'), report('test.error', 'error')],
    });
    expect(result.findings.map((f) => f.code)).toEqual(['test.error', 'test.warning', 'test.info']);
  });

  it('has unique rule ids', () => {
    expect(new Set(RULES.map((r) => r.id)).size).toBe(RULES.length);
  });

  it('gives every finding a certificate reference where it concerns one certificate', async () => {
    const client = await leaf('CN=stray client', good.intermediate);
    for (const f of lint(client).findings) {
      expect(f.cert?.subject).toBe('CN=stray client');
      expect(f.message.length).toBeGreaterThan(20);
    }
  });
});

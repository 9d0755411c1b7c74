import { beforeAll, describe, expect, it } from 'vitest';
import type { Finding } from '../../../shared/finding.js';
import { parseCertificate } from '../../../shared/pki/certificate.js';
import { lintCertificates } from '../../../shared/truststore/lint.js';
import { RULES } from '../../../shared/truststore/rules/index.js';
import { DAY_MS } from '../../../shared/truststore/rules/rule.js';
import { v1Certificate } from '../../fixtures/der.js';
import { days, type Issued, intermediate, NOW, partnerChain, root } from '../../fixtures/pki.js';

/**
 * Each validity rule sits exactly on its boundary instant: a CA is valid from notBefore through
 * notAfter inclusive (RFC 5280 §4.1.2.5), and "expiring" starts exactly `expiringDays` days out.
 */
const at = (issued: readonly Issued[], when: Date, expiringDays?: number) =>
  lintCertificates(
    issued.map((i, n) => ({ cert: parseCertificate(i.der), source: `input ${n + 1}` })),
    { at: when, ...(expiringDays === undefined ? {} : { expiringDays }) },
  ).findings;
const codes = (findings: readonly Finding[], code: string) => findings.filter((f) => f.code === code);
const ms = (date: Date, delta: number) => new Date(date.getTime() + delta);

let chain: Awaited<ReturnType<typeof partnerChain>>;
let ca: Issued;
const notBefore = days(-10);
const notAfter = days(30);

beforeAll(async () => {
  chain = await partnerChain('Edge');
  ca = await intermediate('CN=Edge Boundary CA', chain.root, { notBefore, notAfter });
});

describe('cert.expired on its boundary', () => {
  it('is valid at exactly notAfter and expired one millisecond later', () => {
    expect(codes(at([chain.root, ca], notAfter), 'cert.expired')).toEqual([]);
    expect(codes(at([chain.root, ca], ms(notAfter, 1)), 'cert.expired')).toMatchObject([
      { severity: 'error', message: expect.stringContaining(notAfter.toISOString().slice(0, 10)) },
    ]);
  });
});

describe('cert.not-yet-valid on its boundary', () => {
  it('is valid at exactly notBefore and refused one millisecond before', () => {
    expect(codes(at([chain.root, ca], notBefore), 'cert.not-yet-valid')).toEqual([]);
    expect(codes(at([chain.root, ca], ms(notBefore, -1)), 'cert.not-yet-valid')).toMatchObject([
      { severity: 'error', message: expect.stringContaining(notBefore.toISOString()) },
    ]);
  });
});

describe('cert.expiring on its boundaries', () => {
  it('fires at exactly expiringDays before notAfter, not one millisecond earlier', () => {
    const edge = ms(notAfter, -14 * DAY_MS);
    expect(codes(at([chain.root, ca], edge, 14), 'cert.expiring')).toMatchObject([
      { severity: 'warning', message: expect.stringMatching(/\(in 14 days\)/) },
    ]);
    expect(codes(at([chain.root, ca], ms(edge, -1), 14), 'cert.expiring')).toEqual([]);
  });

  it('says "in 0 days" at notAfter itself, and nothing once expired (no "in -1 days")', () => {
    expect(codes(at([chain.root, ca], notAfter), 'cert.expiring')).toMatchObject([
      { message: expect.stringMatching(/\(in 0 days\)/) },
    ]);
    const after = at([chain.root, ca], ms(notAfter, 1));
    expect(codes(after, 'cert.expiring')).toEqual([]);
    expect(after.some((f) => /in -\d/.test(f.message))).toBe(false);
  });

  it('counts whole days down and says "1 day" in the singular', () => {
    expect(codes(at([chain.root, ca], ms(notAfter, -DAY_MS - 1)), 'cert.expiring')).toMatchObject([
      { message: expect.stringMatching(/\(in 1 day\)/) },
    ]);
    expect(codes(at([chain.root, ca], ms(notAfter, -2 * DAY_MS + 1)), 'cert.expiring')).toMatchObject([
      { message: expect.stringMatching(/\(in 1 day\)/) },
    ]);
    expect(codes(at([chain.root, ca], ms(notAfter, -2 * DAY_MS)), 'cert.expiring')).toMatchObject([
      { message: expect.stringMatching(/\(in 2 days\)/) },
    ]);
  });
});

describe('version 1 certificates', () => {
  const v1 = v1Certificate({ subject: 'Legacy V1 Root', notBefore: days(-100), notAfter: days(1000) });

  it('a self-signed v1 root is a CA (old roots predate extensions)', () => {
    const findings = lintCertificates([{ cert: parseCertificate(v1.der), source: 'v1' }], {
      at: NOW,
    }).findings;
    expect(parseCertificate(v1.der).version).toBe(1);
    expect(codes(findings, 'cert.not-ca')).toEqual([]);
    expect(findings.filter((f) => f.severity === 'error')).toEqual([]);
  });

  it('a v1 certificate issued by another is not a CA', () => {
    const child = v1Certificate({
      subject: 'V1 Child',
      notBefore: days(-100),
      notAfter: days(900),
      issuer: { name: 'Legacy V1 Root', privateKey: v1.privateKey },
    });
    const findings = lintCertificates(
      [
        { cert: parseCertificate(v1.der), source: 'root' },
        { cert: parseCertificate(child.der), source: 'child' },
      ],
      { at: NOW },
    ).findings;
    expect(codes(findings, 'cert.not-ca')).toMatchObject([
      { message: expect.stringMatching(/no basicConstraints extension/) },
    ]);
  });

  it('a self-signed v3 certificate without basicConstraints is not a CA', async () => {
    const bare = await root('CN=Bare V3 Self-signed', { ca: null });
    expect(codes(at([bare], NOW), 'cert.not-ca')).toMatchObject([
      { message: expect.stringMatching(/no basicConstraints extension/) },
    ]);
  });

  it('a certificate whose basicConstraints say cA=FALSE is named as such', async () => {
    const leafLike = await intermediate('CN=Says Not CA', chain.root, { ca: false });
    expect(codes(at([chain.root, leafLike], NOW), 'cert.not-ca')).toMatchObject([
      { message: expect.stringMatching(/basicConstraints say it is not a CA/) },
    ]);
  });
});

describe('rule identity', () => {
  it('every rule reports findings under its own id (admission selects rules by id)', async () => {
    const bad = await intermediate('CN=Many Faults', chain.root, {
      notBefore: days(-400),
      notAfter: days(-1),
      key: 'rsa1024',
      hash: 'SHA-1',
      keyUsage: 64,
    });
    const orphan = await intermediate('CN=Orphan', await root('CN=Absent Root'));
    const findings = [
      ...at([chain.root, chain.intermediate, chain.client, bad, orphan], NOW),
      ...at([], NOW),
      ...at([ca], ms(notBefore, -1)),
    ];
    const seen = new Set(findings.map((f) => f.code));
    const ids = new Set(RULES.map((r) => r.id));
    expect(ids.size).toBe(RULES.length);
    for (const code of seen) expect(ids.has(code), code).toBe(true);
    // Each rule, run alone on the inputs that trigger it, reports only its own code.
    for (const rule of RULES) {
      const alone = [
        ...lintCertificates(
          [chain.root, chain.intermediate, chain.client, bad, orphan].map((i, n) => ({
            cert: parseCertificate(i.der),
            source: `input ${n}`,
          })),
          { at: NOW, rules: [rule] },
        ).findings,
        ...lintCertificates([], { at: NOW, rules: [rule] }).findings,
      ];
      for (const f of alone) expect(f.code, rule.id).toBe(rule.id);
    }
  });
});

import { readFileSync } from 'node:fs';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  Certificate as AsnCertificate,
  AuthorityKeyIdentifier,
  BasicConstraints,
  CRLDistributionPoints,
  ExtendedKeyUsage,
  KeyUsage,
  SubjectKeyIdentifier,
} from '@peculiar/asn1-x509';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate } from '../../../shared/pki/certificate.js';
import { EKU_NAMES } from '../../../shared/pki/oids.js';
import { readInput } from '../../../shared/pki/read.js';
import { type Issued, intermediate, issue, leaf, root } from '../../fixtures/pki.js';

/**
 * trustroll decodes extensions with its own DER walker (for speed and cold start); the maintained
 * @peculiar/asn1-x509 parser is the oracle it must agree with.
 */
const oracle = (der: Uint8Array) => {
  const cert = AsnConvert.parse(der, AsnCertificate);
  const out: Record<string, unknown> = {};
  for (const e of cert.tbsCertificate.extensions ?? []) {
    const value = new Uint8Array(e.extnValue.buffer);
    if (e.extnID === '2.5.29.19') {
      const bc = AsnConvert.parse(value, BasicConstraints);
      out.basicConstraints = {
        ca: bc.cA === true,
        ...(bc.pathLenConstraint === undefined ? {} : { pathLen: bc.pathLenConstraint }),
        critical: e.critical,
      };
    }
    if (e.extnID === '2.5.29.15')
      out.keyUsage = { usages: AsnConvert.parse(value, KeyUsage).toJSON().sort(), critical: e.critical };
    if (e.extnID === '2.5.29.37') {
      out.extendedKeyUsage = {
        purposes: [...AsnConvert.parse(value, ExtendedKeyUsage)].map((o) => EKU_NAMES[o] ?? o),
        critical: e.critical,
      };
    }
    if (e.extnID === '2.5.29.14')
      out.subjectKeyId = Buffer.from(AsnConvert.parse(value, SubjectKeyIdentifier).buffer).toString('hex');
    if (e.extnID === '2.5.29.35') {
      const aki = AsnConvert.parse(value, AuthorityKeyIdentifier);
      if (aki.keyIdentifier) out.authorityKeyId = Buffer.from(aki.keyIdentifier.buffer).toString('hex');
    }
    if (e.extnID === '2.5.29.31') {
      out.crlDistributionPoints = AsnConvert.parse(value, CRLDistributionPoints).flatMap((dp) =>
        (dp.distributionPoint?.fullName ?? []).flatMap((n) =>
          n.uniformResourceIdentifier === undefined ? [] : [n.uniformResourceIdentifier],
        ),
      );
    }
  }
  return out;
};

const ours = (der: Uint8Array) => {
  const c = parseCertificate(der);
  const pick: Record<string, unknown> = {};
  for (const k of [
    'basicConstraints',
    'keyUsage',
    'extendedKeyUsage',
    'subjectKeyId',
    'authorityKeyId',
    'crlDistributionPoints',
  ] as const) {
    if (c[k] !== undefined) pick[k] = c[k];
  }
  // The oracle lists key usages in its own order: compare them as sets.
  if (c.keyUsage) pick.keyUsage = { ...c.keyUsage, usages: [...c.keyUsage.usages].sort() };
  return pick;
};

let r: Issued;
beforeAll(async () => {
  r = await root('CN=Oracle Root');
});

describe('extension decoding agrees with @peculiar/asn1-x509', () => {
  it('on generated certificates across keyUsage, basicConstraints and EKU combinations', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          ca: fc.constantFrom(true, false, null),
          pathLen: fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined }),
          keyUsage: fc.option(fc.integer({ min: 1, max: 511 }), { nil: null }),
          eku: fc.option(
            fc.subarray(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2', '1.3.6.1.5.5.7.3.3', '1.2.3.4.5']),
            { nil: undefined },
          ),
          ski: fc.boolean(),
          aki: fc.boolean(),
          bcCritical: fc.boolean(),
          cdp: fc.option(fc.array(fc.webUrl(), { maxLength: 3 }), { nil: undefined }),
        }),
        async (spec) => {
          const cert = await issue({
            subject: 'CN=Oracle Case',
            issuer: r,
            ca: spec.ca,
            ...(spec.ca === true && spec.pathLen !== undefined ? { pathLen: spec.pathLen } : {}),
            keyUsage: spec.keyUsage,
            ...(spec.eku ? { eku: spec.eku } : {}),
            ski: spec.ski,
            aki: spec.aki,
            bcCritical: spec.bcCritical,
            ...(spec.cdp ? { crlDistributionPoints: spec.cdp } : {}),
          });
          expect(ours(cert.der)).toEqual(oracle(cert.der));
        },
      ),
      { seed: 4242, numRuns: 150 },
    );
  });

  it("on every certificate of the operating system's CA bundle", () => {
    const bundle = readInput({
      name: 'os',
      bytes: new Uint8Array(readFileSync('/etc/ssl/certs/ca-certificates.crt')),
    });
    expect(bundle.certificates.length).toBeGreaterThan(100);
    for (const { cert } of bundle.certificates)
      expect(ours(cert.der), cert.subject.text).toEqual(oracle(cert.der));
  });

  it('on ordinary chains', async () => {
    const i = await intermediate('CN=Oracle Int', r);
    const l = await leaf('CN=oracle leaf', i);
    for (const c of [r, i, l]) expect(ours(c.der)).toEqual(oracle(c.der));
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate, verifySignature, verifySignatures } from '../../../shared/pki/certificate.js';
import type { InputFile } from '../../../shared/pki/read.js';
import { lintInputs, lintInputsParallel } from '../../../shared/truststore/lint.js';
import { type Issued, intermediate, NOW, partnerChain, pemOf, root, toBytes } from '../../fixtures/pki.js';

let good: Awaited<ReturnType<typeof partnerChain>>;
let impostorChild: Issued;
let other: Issued;
beforeAll(async () => {
  good = await partnerChain('Parallel');
  // Same issuer name as good.root, another key: its signature does not verify in the truststore.
  const impostor = await root('CN=Parallel Root CA,O=Parallel', { keySlot: 'impostor' });
  impostorChild = await intermediate('CN=Child of impostor', impostor);
  other = await root('CN=Other Root', { key: 'p384' });
});

const tamperedRoot = (): Uint8Array => {
  const der = Buffer.from(good.root.der);
  der[der.length - 5]! ^= 0x01;
  return new Uint8Array(der);
};

describe('verifySignatures (signatures verified ahead, on the thread pool)', () => {
  it('gives the answers verifySignature gives, then answers verifySignature with them', async () => {
    const child = parseCertificate(good.intermediate.der);
    const issuer = parseCertificate(good.root.der);
    const stranger = parseCertificate(other.der);
    const tampered = parseCertificate(tamperedRoot());
    await verifySignatures([
      [child, issuer],
      [child, stranger],
      [tampered, tampered],
      [issuer, issuer],
    ]);
    expect(verifySignature(child, issuer)).toBe(true);
    expect(verifySignature(child, stranger)).toBe(false);
    expect(verifySignature(tampered, tampered)).toBe(false);
    expect(verifySignature(issuer, issuer)).toBe(true);
    // The same pairs parsed afresh (nothing remembered for them) and verified on the main thread.
    const fresh = (i: Issued | Uint8Array) => parseCertificate(i instanceof Uint8Array ? i : i.der);
    expect(verifySignature(fresh(good.intermediate), fresh(good.root))).toBe(true);
    expect(verifySignature(fresh(good.intermediate), fresh(other))).toBe(false);
    const t = fresh(tamperedRoot());
    expect(verifySignature(t, t)).toBe(false);
  });
});

describe('lintInputsParallel', () => {
  it('finds exactly what lintInputs finds, bad signatures and missing issuers included', async () => {
    const inputs: InputFile[] = [
      { name: 'good.pem', bytes: toBytes(pemOf(good.root, good.intermediate)) },
      { name: 'impostor.pem', bytes: toBytes(pemOf(impostorChild)) },
      { name: 'tampered.der', bytes: tamperedRoot() },
      { name: 'orphan.pem', bytes: toBytes(pemOf(await intermediate('CN=Orphan', other))) },
    ];
    const serial = lintInputs(inputs, { at: NOW });
    const parallel = await lintInputsParallel(inputs, { at: NOW });
    expect(parallel.findings).toEqual(serial.findings);
    expect(parallel.ok).toBe(false);
    expect(parallel.certificates.map((c) => c.fingerprint)).toEqual(
      serial.certificates.map((c) => c.fingerprint),
    );
    const codes = parallel.findings.map((f) => f.code);
    expect(codes.filter((c) => c === 'signature.invalid')).toHaveLength(2);
    expect(codes).toContain('chain.issuer-missing');
  });
});

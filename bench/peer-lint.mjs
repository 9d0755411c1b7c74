// Node's floor for what bench/peer_lint.py does, as a whole process: split a PEM bundle, read the
// four fields a signature check needs (to-be-signed bytes, algorithm, signature, issuer and
// subject names, key) with a bare DER walk, and verify every certificate with its issuer's key
// (node:crypto, one KeyObject per issuer). No rules, no key hunt: the least any Node linter pays.
// Usage: node bench/peer-lint.mjs bundle.pem   (prints "<certificates> <verified>")
import { createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';

const HASHES = {
  '2a864886f70d01010b': 'sha256',
  '2a864886f70d01010c': 'sha384',
  '2a864886f70d01010d': 'sha512',
  '2a8648ce3d040302': 'sha256',
  '2a8648ce3d040303': 'sha384',
  '2a8648ce3d040304': 'sha512',
};

/** One DER element at `at`: where its content starts and where it ends. */
const element = (der, at) => {
  let pos = at + 1;
  let length = der[pos++];
  if (length & 0x80) {
    const count = length & 0x7f;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[pos++];
  }
  return { start: at, content: pos, end: pos + length };
};

const certificates = [];
const pem = readFileSync(process.argv[2], 'latin1');
for (const m of pem.matchAll(/-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/g)) {
  const der = Buffer.from(m[1], 'base64');
  const tbs = element(der, element(der, 0).content);
  const algorithm = element(der, tbs.end);
  const signature = element(der, algorithm.end);
  let field = element(der, tbs.content);
  if (der[tbs.content] === 0xa0) field = element(der, field.end); // version
  const signatureAlgorithm = element(der, field.end); // after the serial number
  const issuer = element(der, signatureAlgorithm.end);
  const subject = element(der, element(der, issuer.end).end); // after validity
  const spki = element(der, subject.end);
  const oid = element(der, algorithm.content);
  certificates.push({
    tbs: der.subarray(tbs.start, tbs.end),
    signature: der.subarray(signature.content + 1, signature.end),
    hash: HASHES[der.subarray(oid.content, oid.end).toString('hex')],
    issuer: der.subarray(issuer.start, issuer.end).toString('latin1'),
    subject: der.subarray(subject.start, subject.end).toString('latin1'),
    spki: der.subarray(spki.start, spki.end),
  });
}
const bySubject = new Map(certificates.map((c) => [c.subject, c]));
let verified = 0;
for (const cert of certificates) {
  const issuer = bySubject.get(cert.issuer);
  if (!issuer) continue;
  issuer.key ??= createPublicKey({ key: issuer.spki, format: 'der', type: 'spki' });
  if (verify(cert.hash, cert.tbs, issuer.key, cert.signature)) verified++;
}
console.log(certificates.length, verified);

import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keyDigest } from '../../../shared/revocation/index.js';

/** DER: a tag and its content, the length in short or long form. */
const tlv = (tag: number, content: Buffer): Buffer => {
  const n = content.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), content]);
};
const spkiOf = (algorithm: Buffer, key: Buffer) =>
  new Uint8Array(tlv(0x30, Buffer.concat([algorithm, tlv(0x03, Buffer.concat([Buffer.from([0]), key]))])));

/**
 * A revoked key is one key however a certificate writes it: the door and ingest compare keys by
 * this digest, and a second encoding must not bring a revoked key back.
 */
describe('keyDigest', () => {
  it('is the same for an RSA key as rsaEncryption and as RSASSA-PSS, and differs for another key', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rsa = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
    const pkcs1 = publicKey.export({ format: 'der', type: 'pkcs1' });
    // AlgorithmIdentifier { id-RSASSA-PSS } without parameters.
    const pss = spkiOf(Buffer.from('300b06092a864886f70d01010a', 'hex'), pkcs1);
    expect(Buffer.from(pss)).not.toEqual(Buffer.from(rsa));
    expect(keyDigest(pss)).toBe(keyDigest(rsa));
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    expect(keyDigest(new Uint8Array(other.export({ format: 'der', type: 'spki' })))).not.toBe(keyDigest(rsa));
  });

  it('is the same for an EC point compressed and uncompressed', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const plain = publicKey.export({ format: 'der', type: 'spki' });
    const jwk = publicKey.export({ format: 'jwk' });
    const y = Buffer.from(jwk.y!, 'base64url');
    const point = Buffer.concat([Buffer.from([y.at(-1)! & 1 ? 3 : 2]), Buffer.from(jwk.x!, 'base64url')]);
    const algorithm = plain.subarray(2, 4 + plain[3]!);
    const compressed = spkiOf(algorithm, point);
    expect(compressed.length).toBeLessThan(plain.length);
    expect(keyDigest(compressed)).toBe(keyDigest(new Uint8Array(plain)));
  });

  it('takes bytes Node cannot read as a key by themselves, never throwing', () => {
    const junk = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]);
    expect(keyDigest(junk)).toMatch(/^[0-9a-f]{64}$/);
    expect(keyDigest(junk)).not.toBe(keyDigest(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])));
  });
});

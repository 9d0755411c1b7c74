import { createPrivateKey, createPublicKey } from 'node:crypto';
import type { Certificate } from './certificate.js';

/**
 * Whether a private key (PEM or DER, PKCS#8 / PKCS#1 / SEC1, unencrypted) belongs to the
 * certificate. `undefined` when the key cannot be read. The key is used only to derive its public
 * half and is never kept, logged or printed.
 */
export const keyMatches = (cert: Certificate, key: Uint8Array): boolean | undefined => {
  let spki: Buffer;
  try {
    const text = Buffer.from(key).toString('latin1');
    const privateKey = text.includes('-----BEGIN')
      ? createPrivateKey(text)
      : createPrivateKey({ key: Buffer.from(key), format: 'der', type: 'pkcs8' });
    spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  } catch {
    return undefined;
  }
  return Buffer.compare(spki, Buffer.from(cert.publicKey.spki)) === 0;
};

import 'reflect-metadata';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toPem } from '../shared/pki/certificate.js';
import { type Issued, intermediate, type KeyAlg, root } from '../test/fixtures/pki.js';

const CACHE = '.bench-cache';
const KEYS: readonly KeyAlg[] = ['rsa2048', 'rsa4096', 'p256', 'p384'];
const KEY_POOL = 3;

/**
 * A bundle of `n` CA certificates, one root for every ten, the rest intermediates under them,
 * keys cycling through RSA 2048/4096, P-256 and P-384 (from a small key pool, since RSA-4096
 * generation is slow). Cached in .bench-cache/ because generating 10,000 takes a while.
 */
export const caBundle = async (
  n: number,
  keys: readonly KeyAlg[] = KEYS,
): Promise<{ pem: string; ders: Uint8Array[]; issuerOf: number[] }> => {
  const file = join(CACHE, `bundle-${n}${keys === KEYS ? '' : `-${keys.join('-')}`}.json`);
  if (existsSync(file)) {
    const cached = JSON.parse(readFileSync(file, 'utf8')) as { ders: string[]; issuerOf: number[] };
    const ders = cached.ders.map((d) => new Uint8Array(Buffer.from(d, 'base64')));
    return { pem: ders.map(toPem).join(''), ders, issuerOf: cached.issuerOf };
  }
  const roots = Math.max(1, Math.floor(n / 10));
  const issued: Issued[] = [];
  const issuerOf: number[] = [];
  for (let i = 0; i < n; i++) {
    const key = keys[i % keys.length]!;
    const keySlot = `${key}-${i % KEY_POOL}`;
    if (i < roots) {
      issued.push(await root(`CN=Bench Root ${i},O=Bench`, { key, keySlot }));
      issuerOf.push(i);
    } else {
      const parent = i % roots;
      issued.push(
        await intermediate(`CN=Bench Intermediate ${i},O=Bench`, issued[parent]!, { key, keySlot }),
      );
      issuerOf.push(parent);
    }
  }
  const ders = issued.map((c) => c.der);
  mkdirSync(CACHE, { recursive: true });
  writeFileSync(file, JSON.stringify({ ders: ders.map((d) => Buffer.from(d).toString('base64')), issuerOf }));
  return { pem: ders.map(toPem).join(''), ders, issuerOf };
};

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { readInput } from '../../../shared/pki/read.js';
import { lintInputs } from '../../../shared/truststore/lint.js';
import { partnerChain, pemBlock, pemOf, pkcs7Der, privateKeyObject, toBytes } from '../../fixtures/pki.js';

/**
 * Property: whatever bytes arrive, the reader and lint never throw, and every input ends either
 * in certificates or in a finding that says what is wrong with it. Seeded, so a failure replays.
 */
const SEED = 20261128;
let seeds: Uint8Array[] = [];

beforeAll(async () => {
  const c = await partnerChain('Fuzz');
  const key = privateKeyObject(c.client).export({ type: 'pkcs8', format: 'der' });
  seeds = [
    toBytes(pemOf(c.root, c.intermediate)),
    c.root.der,
    pkcs7Der(c.root, c.intermediate),
    toBytes(pemBlock('PKCS7', pkcs7Der(c.root))),
    toBytes(pemOf(c.root).replace(/\n/g, '\r\n')),
    new Uint8Array(key),
  ];
});

const mutation = () =>
  fc.oneof(
    // flip bytes
    fc.record({
      kind: fc.constant('flip' as const),
      at: fc.array(fc.nat(), { minLength: 1, maxLength: 8 }),
      xor: fc.integer({ min: 1, max: 255 }),
    }),
    // truncate
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
    // insert random bytes
    fc.record({
      kind: fc.constant('insert' as const),
      at: fc.nat(),
      bytes: fc.uint8Array({ maxLength: 64 }),
    }),
    // duplicate a slice (nested / repeated structures)
    fc.record({
      kind: fc.constant('repeat' as const),
      at: fc.nat(),
      len: fc.integer({ min: 1, max: 200 }),
      times: fc.integer({ min: 1, max: 5 }),
    }),
  );

const apply = (
  base: Uint8Array,
  muts: ReturnType<typeof mutation> extends fc.Arbitrary<infer M> ? M[] : never,
) => {
  let b = Buffer.from(base);
  for (const m of muts) {
    if (b.length === 0) break;
    if (m.kind === 'flip') for (const at of m.at) b[at % b.length]! ^= m.xor;
    if (m.kind === 'cut') b = b.subarray(0, m.at % b.length);
    if (m.kind === 'insert') {
      const at = m.at % b.length;
      b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
    }
    if (m.kind === 'repeat') {
      const at = m.at % b.length;
      const slice = b.subarray(at, at + m.len);
      b = Buffer.concat([b.subarray(0, at), ...Array(m.times).fill(slice), b.subarray(at)]);
    }
  }
  return new Uint8Array(b);
};

const judge = (bytes: Uint8Array) => {
  const read = readInput({ name: 'fuzz.bin', bytes });
  const lint = lintInputs([{ name: 'fuzz.bin', bytes }]);
  expect(read.certificates.length > 0 || read.findings.length > 0).toBe(true);
  expect(lint.certificates.length > 0 || lint.findings.some((f) => f.code.startsWith('input.'))).toBe(true);
  // The reader's last-resort guard and the rule guard must never be what caught a problem:
  // every malformed input is meant to end in a precise finding, not in a caught exception.
  for (const f of [...read.findings, ...lint.findings]) {
    expect(f.message).not.toMatch(/could not be read \(/);
    expect(f.code).not.toBe('rule.failed');
  }
};

describe('reader and lint under mutated and random input', () => {
  it('never throw and always account for the input (mutated real certificates, PKCS#7, keys)', () => {
    fc.assert(
      fc.property(fc.nat(), fc.array(mutation(), { minLength: 1, maxLength: 4 }), (pick, muts) => {
        judge(apply(seeds[pick % seeds.length]!, muts));
      }),
      { seed: SEED, numRuns: 1500 },
    );
  });

  it('never throw on random bytes and random PEM-looking text', () => {
    const pemish = fc
      .tuple(
        fc.constantFrom('CERTIFICATE', 'PKCS7', 'TRUSTED CERTIFICATE', 'X509 CRL', 'WEIRD'),
        fc.base64String({ maxLength: 400 }),
        fc.boolean(),
      )
      .map(([label, body, close]) =>
        toBytes(`-----BEGIN ${label}-----\n${body}\n${close ? `-----END ${label}-----\n` : ''}`),
      );
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 2048 }), pemish, fc.string().map(toBytes)), (bytes) => {
        judge(bytes);
      }),
      { seed: SEED + 1, numRuns: 1000 },
    );
  });

  it('refuses deeply nested ASN.1 and huge lengths with a finding', () => {
    let nested = new Uint8Array([0x05, 0x00]);
    for (let i = 0; i < 2000; i++) {
      const len = nested.length;
      const header =
        len < 128 ? [0x30, len] : len < 256 ? [0x30, 0x81, len] : [0x30, 0x82, len >> 8, len & 0xff];
      nested = new Uint8Array([...header, ...nested]);
      if (nested.length > 60000) break;
    }
    judge(nested);
    judge(new Uint8Array([0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00]));
    judge(new Uint8Array([0x30, 0x80, 0x00, 0x00]));
  });
});

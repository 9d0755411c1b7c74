import { type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { forgetSignatureAnswers } from '../shared/pki/certificate.js';
import { readInput } from '../shared/pki/read.js';
import { lintInputs } from '../shared/truststore/lint.js';
import { caBundle } from './fixtures.js';
import { median, note, report } from './report.js';

/**
 * The floor: Node's native X509Certificate parse of every certificate plus one signature
 * verification per certificate against its (known) issuer. No issuer search, no rules.
 */
const floor = (ders: readonly Uint8Array[], issuerOf: readonly number[]): void => {
  const certs = ders.map((d) => new X509Certificate(d));
  const keys = new Map<number, KeyObject>();
  certs.forEach((cert, i) => {
    const parent = issuerOf[i]!;
    let key = keys.get(parent);
    if (!key) {
      key = certs[parent]!.publicKey;
      keys.set(parent, key);
    }
    if (!cert.verify(key)) throw new Error(`bench bundle certificate ${i} does not verify`);
  });
};

const lint = (pem: string): void => {
  // Each run as the first: the answers of the run before would spare it every signature check.
  forgetSignatureAnswers();
  const result = lintInputs([{ name: 'bench.pem', bytes: new Uint8Array(Buffer.from(pem)) }]);
  if (result.findings.some((f) => f.code.startsWith('input.') || f.code.startsWith('chain.'))) {
    throw new Error('bench bundle unexpectedly has input or chain findings');
  }
};

export const lintBench = async (): Promise<void> => {
  note('# lint (issue 2): lint of a whole bundle vs. native parse + one verify per certificate');
  const perCert: Record<number, number> = {};
  for (const n of [100, 1000, 10000]) {
    const bundle = await caBundle(n);
    const runs = n >= 10000 ? 3 : 7;
    const lintMs = median(() => lint(bundle.pem), runs);
    const floorMs = median(() => floor(bundle.ders, bundle.issuerOf), runs);
    perCert[n] = lintMs / n;
    report({
      name: `lint.generated.${n}`,
      value: lintMs,
      unit: 'ms',
      floor: floorMs,
      ratio: lintMs / floorMs,
      ...(n === 1000 ? { target: '<= 2' } : {}),
    });
  }
  report({
    name: 'lint.growth.per-cert-10000-vs-100',
    value: perCert[10000]! / perCert[100]!,
    unit: 'x',
    target: '~1 (linear)',
  });

  const osBundle = '/etc/ssl/certs/ca-certificates.crt';
  const bytes = new Uint8Array(readFileSync(osBundle));
  const certs = readInput({ name: osBundle, bytes }).certificates.map((c) => c.cert.der);
  const lintMs = median(() => {
    forgetSignatureAnswers();
    lintInputs([{ name: osBundle, bytes }]);
  }, 7);
  // Roots are self-signed: the floor verifies each against its own key.
  const floorMs = median(
    () =>
      floor(
        certs,
        certs.map((_, i) => i),
      ),
    7,
  );
  report({
    name: `lint.os-bundle.${certs.length}`,
    value: lintMs,
    unit: 'ms',
    floor: floorMs,
    ratio: lintMs / floorMs,
  });
};

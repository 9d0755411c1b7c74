import { type KeyObject, X509Certificate } from 'node:crypto';
import { intermediate, leaf, root } from '../shared/pki/builder.js';
import { parseCertificate } from '../shared/pki/certificate.js';
import { TrustIndex, verifyClient } from '../shared/pki/verify.js';
import { caBundle } from './fixtures.js';
import { median, note, report } from './report.js';

/**
 * diagnose of one client certificate against a 1000-CA truststore, against the floor of parsing
 * and verifying its path (client, intermediate, root) natively. The truststore is parsed once
 * beforehand, as a running endpoint holds it; the issuer lookup is what must not scan.
 */
export const diagnoseBench = async (): Promise<void> => {
  note(
    '# diagnose (issue 7): one client against a 1000-CA truststore vs. native parse + verify of its 3-certificate path',
  );
  const bundle = await caBundle(1000, ['p256']);
  const r = await root('CN=Bench Diagnose Root,O=D');
  const i = await intermediate('CN=Bench Diagnose Issuing,O=D', r);
  const c = await leaf('CN=bench client,O=D', i);
  const trusted = new TrustIndex([
    ...bundle.ders.map((d) => parseCertificate(d)),
    parseCertificate(r.der),
    parseCertificate(i.der),
  ]);
  const floorMs = median(() => {
    const [cc, ii, rr] = [c.der, i.der, r.der].map((d) => new X509Certificate(d)) as [
      X509Certificate,
      X509Certificate,
      X509Certificate,
    ];
    const keys: KeyObject[] = [ii.publicKey, rr.publicKey];
    if (!cc.verify(keys[0]!) || !ii.verify(keys[1]!)) throw new Error('floor: bad signature');
  }, 200);
  const ms = median(() => {
    const result = verifyClient({
      leaf: parseCertificate(c.der),
      sent: [],
      trusted,
      at: new Date(),
      purpose: 'clientAuth',
    });
    if (result.verdict !== 'accept')
      throw new Error(`bench client refused: ${JSON.stringify(result.reasons)}`);
  }, 200);
  report({
    name: 'diagnose.1-client-vs-1000-ca',
    value: ms,
    unit: 'ms',
    floor: floorMs,
    ratio: ms / floorMs,
    target: '<= 2',
  });
};

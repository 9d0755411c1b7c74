import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate } from '../../../shared/pki/certificate.js';
import { readInput } from '../../../shared/pki/read.js';
import { dedupe, renderTruststore } from '../../../shared/truststore/render.js';
import { partnerChain, toBytes } from '../../fixtures/pki.js';

let certs: ReturnType<typeof parseCertificate>[];
beforeAll(async () => {
  const a = await partnerChain('Alpha');
  const b = await partnerChain('Beta', { key: 'p384' });
  certs = [a.root, a.intermediate, b.root, b.intermediate].map((i) => parseCertificate(i.der));
});

describe('renderTruststore', () => {
  it('renders the same bytes whatever the input order', () => {
    const once = renderTruststore(certs);
    expect(renderTruststore([...certs].reverse())).toBe(once);
    expect(renderTruststore([certs[2]!, certs[0]!, certs[3]!, certs[1]!])).toBe(once);
  });

  it('keeps each certificate once, one PEM block each, LF only, nothing else', () => {
    const text = renderTruststore([...certs, ...certs]);
    expect(text.match(/-----BEGIN CERTIFICATE-----/g)).toHaveLength(4);
    expect(text).not.toContain('\r');
    expect(text).toMatch(
      /^(-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=]{1,64}\n)+-----END CERTIFICATE-----\n)+$/,
    );
  });

  it('reads back to the same set, and openssl reads every block', () => {
    const text = renderTruststore(certs);
    const back = readInput({ name: 'truststore.pem', bytes: toBytes(text) });
    expect(new Set(back.certificates.map((c) => c.cert.fingerprint))).toEqual(
      new Set(certs.map((c) => c.fingerprint)),
    );
    const file = join(mkdtempSync(join(tmpdir(), 'trustroll-render-')), 'truststore.pem');
    writeFileSync(file, text);
    const listed = execFileSync('openssl', ['storeutl', '-noout', '-certs', file], { encoding: 'utf8' });
    expect(listed).toContain('Total found: 4');
  });

  it('dedupes on the SHA-256 fingerprint, keeping the first occurrence', () => {
    expect(dedupe([certs[0]!, certs[1]!, certs[0]!]).map((c) => c.fingerprint)).toEqual([
      certs[0]!.fingerprint,
      certs[1]!.fingerprint,
    ]);
  });
});

import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_NAME_VALUE_CHARS,
  MAX_UNKNOWN_EXTENSION_BYTES,
  opaquePayload,
} from '../../../shared/pki/payload.js';
import { readInput } from '../../../shared/pki/read.js';
import { tlv } from '../../fixtures/der.js';
import { type Issued, root, toBytes } from '../../fixtures/pki.js';

const read = (pem: string) => readInput({ name: 'ca.pem', bytes: toBytes(pem) });
const codes = (pem: string) => read(pem).findings.map((f) => f.code);

/** Every certificate of the system bundle (/etc/ssl/certs) and the x509-limbo corpus. */
const realCertificates = () => {
  const texts: string[] = [];
  for (const name of readdirSync('/etc/ssl/certs')) {
    const path = join('/etc/ssl/certs', name);
    if (statSync(path).isFile()) texts.push(readFileSync(path, 'utf8'));
  }
  const limbo = JSON.parse(readFileSync('test/conformance/corpus/x509-limbo-mtls.json', 'utf8')) as {
    testcases: { trusted_certs: string[]; untrusted_intermediates: string[]; peer_certificate: string }[];
  };
  for (const t of limbo.testcases)
    texts.push(...t.trusted_certs, ...t.untrusted_intermediates, t.peer_certificate);
  return texts.flatMap((text) => read(text).certificates.map((c) => c.cert));
};

let plain: Issued;
beforeAll(async () => {
  plain = await root('CN=Plain CA,O=Payload', { keySlot: 'payload' });
});

describe('a CA certificate carrying opaque payload', () => {
  it('is refused, and not kept, when an extension trustroll does not recognise holds more than a few bytes', async () => {
    const small = await root('CN=Small Extension CA,O=Payload', {
      keySlot: 'payload',
      extraExtensions: [{ oid: '1.3.6.1.4.1.55555.2', value: tlv(0x04, randomBytes(40)) }],
    });
    expect(read(small.pem).certificates).toHaveLength(1);
    // Random bytes: nothing any hunt could recognise as a key.
    const large = await root('CN=Large Extension CA,O=Payload', {
      keySlot: 'payload',
      extraExtensions: [
        { oid: '1.3.6.1.4.1.55555.2', value: tlv(0x04, randomBytes(MAX_UNKNOWN_EXTENSION_BYTES + 40)) },
      ],
    });
    const result = read(large.pem);
    expect(result.certificates).toEqual([]);
    expect(result.findings).toMatchObject([
      {
        code: 'cert.opaque-payload',
        severity: 'error',
        message: expect.stringMatching(/1\.3\.6\.1\.4\.1\.55555\.2/),
      },
    ]);
  });

  it('is refused when a name attribute is longer than any RFC 5280 bound, in its subject or in an extension', async () => {
    const long = 'x'.repeat(MAX_NAME_VALUE_CHARS + 1);
    const inName = await root(`CN=Long Name CA,OU=${long},O=Payload`, { keySlot: 'payload' });
    expect(codes(inName.pem)).toEqual(['cert.opaque-payload']);
    const atBound = await root(`CN=Bound Name CA,OU=${'x'.repeat(MAX_NAME_VALUE_CHARS)},O=Payload`, {
      keySlot: 'payload',
    });
    expect(codes(atBound.pem)).toEqual([]);
    const inAltName = await root('CN=Long Alt Name CA,O=Payload', {
      keySlot: 'payload',
      dns: [`${long}.example`],
    });
    expect(codes(inAltName.pem)).toEqual(['cert.opaque-payload']);
    expect(codes(plain.pem)).toEqual([]);
  });

  it('refuses no certificate of the system CA bundle or the x509-limbo corpus', () => {
    const certs = realCertificates();
    expect(certs.length).toBeGreaterThan(1000);
    expect(certs.filter((c) => opaquePayload(c) !== undefined).map((c) => c.subject.text)).toEqual([]);
  }, 120_000);
});

describe('the key hunt', () => {
  it('refuses a certificate nested deeper than it follows instead of passing it unexamined', async () => {
    let der: Uint8Array = randomBytes(200);
    for (let i = 0; i < 30; i++) der = tlv(0x30, der);
    const deep = await root('CN=Deep CA,O=Payload', {
      keySlot: 'payload',
      extraExtensions: [{ oid: '1.3.6.1.4.1.55555.3', value: der }],
    });
    const result = read(deep.pem);
    expect(result.certificates).toEqual([]);
    expect(result.findings).toMatchObject([
      { code: 'input.unparseable', message: expect.stringMatching(/too deeply nested to be examined/) },
    ]);
  });
});

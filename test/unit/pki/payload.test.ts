import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Certificate } from '../../../shared/pki/certificate.js';
import {
  MAX_NAME_VALUE_CHARS,
  MAX_UNIQUE_ID_BYTES,
  MAX_UNKNOWN_EXTENSION_BYTES,
  opaquePayload,
} from '../../../shared/pki/payload.js';
import { readInput } from '../../../shared/pki/read.js';
import { oid, tlv } from '../../fixtures/der.js';
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

/**
 * The rules one by one, on a tbsCertificate built by hand (only its fields are read): each bound
 * just inside and just outside, each message with what it names.
 */
describe('opaquePayload, field by field', () => {
  const seq = (...parts: Uint8Array[]) => tlv(0x30, ...parts);
  const text = (tag: number, s: string) => tlv(tag, Buffer.from(s));
  const utf8 = (s: string) => text(0x0c, s);
  const name = (...values: Uint8Array[]) =>
    seq(...values.map((v, i) => tlv(0x31, seq(oid(`2.5.4.${10 + i}`), v))));
  const ext = (dotted: string, value: Uint8Array, critical = false) =>
    seq(oid(dotted), ...(critical ? [tlv(0x01, new Uint8Array([0xff]))] : []), tlv(0x04, value));
  const tbs = (
    spec: {
      v1?: boolean;
      issuer?: Uint8Array;
      subject?: Uint8Array;
      tail?: Uint8Array[];
      extensions?: Uint8Array[];
    } = {},
  ) =>
    seq(
      ...(spec.v1 ? [] : [tlv(0xa0, tlv(0x02, new Uint8Array([2])))]),
      tlv(0x02, new Uint8Array([1])),
      seq(oid('1.2.840.10045.4.3.2')),
      spec.issuer ?? name(utf8('Issuer')),
      seq(text(0x17, '260101000000Z'), text(0x17, '270101000000Z')),
      spec.subject ?? name(utf8('Subject')),
      seq(seq(oid('1.2.840.10045.2.1')), tlv(0x03, new Uint8Array([0, 4]))),
      ...(spec.tail ?? []),
      ...(spec.extensions ? [tlv(0xa3, seq(...spec.extensions))] : []),
    );
  const payload = (spec: Parameters<typeof tbs>[0]) =>
    opaquePayload({ tbs: tbs(spec) } as unknown as Certificate);
  const over = MAX_NAME_VALUE_CHARS + 1;

  it('measures name attributes in characters of their string type, in the issuer and the subject', () => {
    expect(payload({})).toBeUndefined();
    expect(payload({ subject: name(utf8('a'), utf8('x'.repeat(over))) })).toBe(
      `its subject has an attribute (2.5.4.11) of ${over} characters, over the ${MAX_NAME_VALUE_CHARS} a name attribute may have`,
    );
    expect(payload({ issuer: name(utf8('x'.repeat(over))) })).toBe(
      `its issuer has an attribute (2.5.4.10) of ${over} characters, over the ${MAX_NAME_VALUE_CHARS} a name attribute may have`,
    );
    expect(payload({ subject: name(utf8('x'.repeat(MAX_NAME_VALUE_CHARS))) })).toBeUndefined();
    // UTF-8 counts characters: 256 two-byte characters pass, 257 do not.
    expect(payload({ subject: name(utf8('é'.repeat(MAX_NAME_VALUE_CHARS))) })).toBeUndefined();
    expect(payload({ subject: name(utf8('é'.repeat(over))) })).toMatch(/of 257 characters/);
    // BMPString: two bytes a character (an odd byte counts as one); UniversalString: four.
    const bmp = (chars: number, extra = 0) => tlv(0x1e, new Uint8Array(chars * 2 + extra).fill(0x41));
    expect(payload({ subject: name(bmp(MAX_NAME_VALUE_CHARS)) })).toBeUndefined();
    expect(payload({ subject: name(bmp(MAX_NAME_VALUE_CHARS, 1)) })).toMatch(/of 257 characters/);
    const universal = (chars: number, extra = 0) => tlv(0x1c, new Uint8Array(chars * 4 + extra).fill(0x41));
    expect(payload({ subject: name(universal(MAX_NAME_VALUE_CHARS)) })).toBeUndefined();
    expect(payload({ subject: name(universal(MAX_NAME_VALUE_CHARS, 1)) })).toMatch(/of 257 characters/);
    // Any other syntax: bytes.
    expect(payload({ subject: name(text(0x13, 'x'.repeat(over))) })).toMatch(/of 257 characters/);
    // An attribute without a value is skipped, not the ones after it.
    const noValue = seq(
      tlv(0x31, seq(oid('2.5.4.3'))),
      tlv(0x31, seq(oid('2.5.4.10'), utf8('x'.repeat(over)))),
    );
    expect(payload({ subject: noValue })).toMatch(/its subject has an attribute \(2\.5\.4\.10\)/);
  });

  it('reads the fields of a version 1 certificate (no version field) where they stand', () => {
    expect(payload({ v1: true, subject: name(utf8('x'.repeat(over))) })).toMatch(/^its subject /);
    expect(payload({ v1: true, issuer: name(utf8('x'.repeat(over))) })).toMatch(/^its issuer /);
  });

  it('does not fail on a tbsCertificate cut short', () => {
    const cut = seq(tlv(0xa0, tlv(0x02, new Uint8Array([2]))), tlv(0x02, new Uint8Array([1])));
    expect(opaquePayload({ tbs: cut } as unknown as Certificate)).toBeUndefined();
    expect(opaquePayload({ tbs: seq() } as unknown as Certificate)).toBeUndefined();
  });

  it('allows unique identifiers of up to 64 bytes, and names the one that is larger', () => {
    const id = (tag: number, n: number) => tlv(tag, new Uint8Array(n).fill(0xa5));
    expect(payload({ tail: [id(0x81, MAX_UNIQUE_ID_BYTES), id(0x82, MAX_UNIQUE_ID_BYTES)] })).toBeUndefined();
    expect(payload({ tail: [id(0x81, 65)] })).toBe(
      `it carries an issuerUniqueID of 65 bytes (over ${MAX_UNIQUE_ID_BYTES})`,
    );
    expect(payload({ tail: [id(0x81, 1), id(0x82, 65)] })).toBe(
      `it carries a subjectUniqueID of 65 bytes (over ${MAX_UNIQUE_ID_BYTES})`,
    );
    // Other fields after the public key are not identifiers.
    expect(payload({ tail: [id(0x83, 100), id(0x04, 100)] })).toBeUndefined();
  });

  it('allows an extension it does not recognise up to 64 bytes, any size when it does', () => {
    const bytes = (n: number) => new Uint8Array(n).fill(0xa5);
    expect(payload({ extensions: [ext('1.2.3.4', bytes(MAX_UNKNOWN_EXTENSION_BYTES))] })).toBeUndefined();
    expect(payload({ extensions: [ext('2.5.29.14', bytes(1)), ext('1.2.3.4', bytes(65), true)] })).toBe(
      `it carries an extension trustroll does not recognise (1.2.3.4) holding 65 bytes, over the ${MAX_UNKNOWN_EXTENSION_BYTES} such an extension may hold`,
    );
    expect(
      payload({ extensions: [ext('2.5.29.14', bytes(300)), ext('2.5.29.18', bytes(300))] }),
    ).toBeUndefined();
  });

  it('finds a text longer than any name, URI or notice inside an extension, at any depth up to 8', () => {
    const long = utf8('x'.repeat(over));
    const says = (oidText: string, chars = over) =>
      `its extension ${oidText} holds a text of ${chars} characters, over the ${MAX_NAME_VALUE_CHARS} any name, URI or notice in a CA needs`;
    expect(payload({ extensions: [ext('2.5.29.17', seq(utf8('a'), long))] })).toBe(says('2.5.29.17'));
    expect(
      payload({ extensions: [ext('2.5.29.17', seq(utf8('x'.repeat(MAX_NAME_VALUE_CHARS))))] }),
    ).toBeUndefined();
    // A GeneralName (context-specific), a NumericString, in an OCTET STRING.
    expect(payload({ extensions: [ext('2.5.29.17', seq(text(0x82, 'x'.repeat(over))))] })).toBe(
      says('2.5.29.17'),
    );
    expect(payload({ extensions: [ext('2.5.29.9', seq(text(0x12, '1'.repeat(over))))] })).toBe(
      says('2.5.29.9'),
    );
    expect(payload({ extensions: [ext('2.5.29.14', tlv(0x04, long))] })).toBe(says('2.5.29.14'));
    expect(payload({ extensions: [ext('2.5.29.14', seq(tlv(0x04, seq(long))))] })).toBe(says('2.5.29.14'));
    // After a constructed element or an OCTET STRING holding short text.
    expect(payload({ extensions: [ext('2.5.29.17', seq(seq(utf8('a')), long))] })).toBe(says('2.5.29.17'));
    expect(payload({ extensions: [ext('2.5.29.17', seq(tlv(0x04, utf8('a')), long))] })).toBe(
      says('2.5.29.17'),
    );
    // Only OCTET STRINGs are unwrapped: not an INTEGER (nor read as text).
    expect(payload({ extensions: [ext('2.5.29.14', seq(tlv(0x02, new Uint8Array(over))))] })).toBeUndefined();
    expect(payload({ extensions: [ext('2.5.29.14', seq(tlv(0x02, long)))] })).toBeUndefined();
    // Bytes that are not UTF-8 count as one character each (U+FFFD), without failing.
    expect(payload({ extensions: [ext('2.5.29.17', seq(tlv(0x0c, new Uint8Array(over).fill(0xff))))] })).toBe(
      says('2.5.29.17'),
    );
    // Eight levels below the value are read, not nine.
    const nest = (levels: number) => {
      let der = long;
      for (let i = 0; i < levels; i++) der = seq(der);
      return der;
    };
    expect(payload({ extensions: [ext('2.5.29.32', nest(8))] })).toBe(says('2.5.29.32'));
    expect(payload({ extensions: [ext('2.5.29.32', nest(9))] })).toBeUndefined();
    const octets = (levels: number) => {
      let der = long;
      for (let i = 0; i < levels; i++) der = tlv(0x04, der);
      return der;
    };
    expect(payload({ extensions: [ext('2.5.29.14', octets(8))] })).toBe(says('2.5.29.14'));
    expect(payload({ extensions: [ext('2.5.29.14', octets(9))] })).toBeUndefined();
    // A value that is not DER is left to the key hunt.
    expect(payload({ extensions: [ext('2.5.29.32', new Uint8Array([0x0c, 0x82, 0x01]))] })).toBeUndefined();
    expect(
      payload({ extensions: [ext('2.5.29.32', Buffer.concat([seq(), Buffer.from([0x30, 0x05])]))] }),
    ).toBeUndefined();
  });
});

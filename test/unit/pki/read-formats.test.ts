import { deflateRawSync, gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { type InputFile, readInput } from '../../../shared/pki/read.js';
import { oid, tlv } from '../../fixtures/der.js';
import { type Issued, pemBlock, privateKeyObject, root } from '../../fixtures/pki.js';

/**
 * The containers an upload can arrive in, built here byte by byte: archives (looked into for keys,
 * always refused), UTF-16 text, PEM labels as people write them, and DER that is something other
 * than a certificate. Each with the finding's exact message.
 */
const read = (name: string, bytes: Uint8Array | string): ReturnType<typeof readInput> =>
  readInput({
    name,
    bytes: typeof bytes === 'string' ? new Uint8Array(Buffer.from(bytes, 'latin1')) : bytes,
  } as InputFile);
const messages = (r: ReturnType<typeof readInput>) => r.findings.map((f) => `${f.code}: ${f.message}`);
const u8 = (b: Buffer | Uint8Array) => new Uint8Array(b);

let ca: Issued;
let keyPem: string;
const KEY_MESSAGE = (where: string, what: string) =>
  `input.private-key: ${where} holds ${what}. Never send private keys: delete the file, treat the key as compromised and replace it, then upload only the CA certificates.`;

beforeAll(async () => {
  ca = await root('CN=Formats Root');
  keyPem = privateKeyObject(ca).export({ type: 'pkcs8', format: 'pem' }) as string;
});

/**
 * A zip file of stored (method 0) or deflated (8) members, with a central directory unless `bare`;
 * any other method number is written as given over the stored bytes.
 */
const zip = (members: { name: string; data: Buffer; method?: number }[], bare = false): Uint8Array => {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const m of members) {
    const method = m.method ?? 0;
    const body = method === 8 ? deflateRawSync(m.data) : m.data;
    const name = Buffer.from(m.name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(m.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, body);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(m.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += 30 + name.length + body.length;
  }
  const dir = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(members.length, 8);
  eocd.writeUInt16LE(members.length, 10);
  eocd.writeUInt32LE(dir.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return u8(Buffer.concat(bare ? locals : [...locals, dir, eocd]));
};

/** A ustar archive of regular files. */
const tar = (members: { name: string; data: Buffer; type?: string }[]): Uint8Array => {
  const parts: Buffer[] = [];
  for (const m of members) {
    const header = Buffer.alloc(512);
    header.write(m.name, 0, 'latin1');
    header.write(`${m.data.length.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
    header.write(m.type ?? '0', 156, 'latin1');
    header.write('ustar\0', 257, 'latin1');
    parts.push(header, m.data, Buffer.alloc((512 - (m.data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return u8(Buffer.concat(parts));
};

describe('archives are refused, and looked into for keys', () => {
  const refusal = (name: string, kind: string) =>
    `input.unparseable: ${name}: a ${kind} archive, not a certificate file: upload the CA certificates themselves (PEM, DER or PKCS#7).`;

  it('gzip: refused; a key inside is reported under the archive’s name', () => {
    expect(messages(read('certs.pem.gz', u8(gzipSync(ca.pem))))).toEqual([refusal('certs.pem.gz', 'gzip')]);
    expect(messages(read('k.gz', u8(gzipSync(keyPem))))).toEqual([
      refusal('k.gz', 'gzip'),
      KEY_MESSAGE('k.gz (gzip content), block 1 (line 1)', 'a private key (PRIVATE KEY)'),
    ]);
  });

  it('zip: stored and deflated members, from the central directory or the local headers alone', () => {
    const z = zip([
      { name: 'ca.pem', data: Buffer.from(ca.pem) },
      { name: 'key.pem', data: Buffer.from(keyPem), method: 8 },
    ]);
    expect(messages(read('bundle.zip', z))).toEqual([
      refusal('bundle.zip', 'zip'),
      KEY_MESSAGE('bundle.zip (key.pem), block 1 (line 1)', 'a private key (PRIVATE KEY)'),
    ]);
    const bare = zip([{ name: 'k.pem', data: Buffer.from(keyPem) }], true);
    expect(messages(read('bare.zip', bare))).toEqual([
      refusal('bare.zip', 'zip'),
      KEY_MESSAGE('bare.zip (k.pem), block 1 (line 1)', 'a private key (PRIVATE KEY)'),
    ]);
    // A member with another compression method is not looked into.
    const odd = zip([{ name: 'k.pem', data: Buffer.from(keyPem), method: 12 }]);
    expect(messages(read('odd.zip', odd))).toEqual([refusal('odd.zip', 'zip')]);
  });

  it('tar: regular files only', () => {
    const t = tar([
      { name: 'ca.pem', data: Buffer.from(ca.pem) },
      { name: 'link', data: Buffer.from(keyPem), type: '2' },
      { name: 'key.pem', data: Buffer.from(keyPem) },
    ]);
    expect(messages(read('b.tar', t))).toEqual([
      refusal('b.tar', 'tar'),
      KEY_MESSAGE('b.tar (key.pem), block 1 (line 1)', 'a private key (PRIVATE KEY)'),
    ]);
  });

  it('looks four archives deep and no deeper', () => {
    const nest = (n: number) => {
      let b: Buffer = Buffer.from(keyPem);
      for (let k = 0; k < n; k++) b = gzipSync(b);
      return u8(b);
    };
    expect(read('four.gz', nest(4)).findings.filter((f) => f.code === 'input.private-key')).toHaveLength(1);
    expect(read('five.gz', nest(5)).findings.filter((f) => f.code === 'input.private-key')).toHaveLength(0);
  });

  it('UTF-16 text, with or without a byte order mark, either byte order', () => {
    const utf16 = 'input.unparseable: u.pem: UTF-16 text: save the file as UTF-8 or ASCII PEM.';
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(keyPem, 'utf16le')]);
    const be = Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(keyPem, 'utf16le').swap16()]);
    const noBom = Buffer.from(keyPem, 'utf16le');
    for (const bytes of [le, be, noBom, Buffer.from(keyPem, 'utf16le').swap16()]) {
      const m = messages(read('u.pem', u8(bytes)));
      expect(m[0]).toBe(utf16);
      expect(m[1]).toBe(KEY_MESSAGE('u.pem (as UTF-8), block 1 (line 1)', 'a private key (PRIVATE KEY)'));
    }
    // Short text with zero bytes is not taken for UTF-16.
    expect(messages(read('short', u8(Buffer.from('a\0b\0c\0'))))[0]).toMatch(/no certificate found/);
  });
});

describe('PEM labels as people write them', () => {
  it('reads BEGIN lines in any case, with four dashes or extra spaces', () => {
    const b64 = ca.pem.replace(/-----[^-]+-----/g, '').trim();
    for (const [begin, end] of [
      ['-----begin certificate-----', '-----end certificate-----'],
      ['----BEGIN  CERTIFICATE----', '----END  CERTIFICATE----'],
      ['-----BEGIN X509 CERTIFICATE-----', '-----END X509 CERTIFICATE-----'],
    ]) {
      const r = read('label.pem', `${begin}\n${b64}\n${end}\n`);
      expect(r.findings).toEqual([]);
      expect(r.certificates).toHaveLength(1);
    }
  });

  it('reports any key label, even unclosed, without reading its body', () => {
    for (const label of [
      'RSA PRIVATE KEY',
      'OPENSSH PRIVATE KEY',
      'PKCS12',
      'ENCRYPTED KEY',
      'PFX',
      'SECRET KEY',
    ]) {
      expect(messages(read('k.pem', `-----BEGIN ${label}-----\nnot base64 at all`))).toEqual([
        KEY_MESSAGE('k.pem, block 1 (line 1)', `a private key (${label})`),
      ]);
    }
  });

  it('explains blocks that are not certificates, and empty or broken ones', () => {
    expect(messages(read('f.pem', pemBlock('FOO BAR', new Uint8Array([1, 2, 3]))))).toEqual([
      'input.unparseable: f.pem, block 1 (line 1): "FOO BAR" blocks are not certificates; remove this block.',
    ]);
    expect(messages(read('e.pem', '-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n'))).toEqual([
      'input.unparseable: e.pem, block 1 (line 1): the CERTIFICATE block is empty.',
    ]);
    expect(
      messages(read('b.pem', '-----BEGIN CERTIFICATE-----\nAAAAA\n-----END CERTIFICATE-----\n')),
    ).toEqual([
      'input.unparseable: b.pem, block 1 (line 1): the CERTIFICATE block is not valid base64 (edited by hand or truncated?).',
    ]);
    expect(
      messages(read('c.pem', `\n\n${pemBlock('NEW CERTIFICATE REQUEST', new Uint8Array([0x30, 0]))}`)),
    ).toEqual([
      'input.unparseable: c.pem, block 1 (line 3): a certificate signing request (CSR), not a certificate: upload the signed CA certificate.',
    ]);
    expect(messages(read('r.pem', pemBlock('RSA PUBLIC KEY', new Uint8Array([0x30, 0]))))).toEqual([
      'input.unparseable: r.pem, block 1 (line 1): a bare public key, not a certificate: upload the CA certificate.',
    ]);
  });

  it('reports a key under a certificate label, and binary bytes between blocks', () => {
    const der = u8(privateKeyObject(ca).export({ type: 'pkcs8', format: 'der' }));
    expect(messages(read('m.pem', pemBlock('CERTIFICATE', der)))).toEqual([
      KEY_MESSAGE('m.pem, block 1 (line 1)', 'a DER private key labelled CERTIFICATE'),
    ]);
    const r = read('bin.pem', `${ca.pem}\u0000\u0001\u0002binary\n${ca.pem}`);
    expect(r.certificates).toHaveLength(2);
    expect(messages(r)).toEqual([
      'input.unparseable: bin.pem, before block 2: binary data outside the PEM blocks; upload PEM text alone, or one DER certificate.',
    ]);
  });

  it('counts lines with CRLF endings too', () => {
    const crlf = `${ca.pem}${pemBlock('FOO', new Uint8Array([1]))}`.replace(/\n/g, '\r\n');
    const lines = ca.pem.split('\n').length;
    expect(messages(read('crlf.pem', crlf))).toEqual([
      `input.unparseable: crlf.pem, block 2 (line ${lines}): "FOO" blocks are not certificates; remove this block.`,
    ]);
  });
});

describe('DER that is not a certificate', () => {
  const seq = (...p: Uint8Array[]) => tlv(0x30, ...p);
  const int = (n: number) => tlv(0x02, new Uint8Array([n]));
  const octets = tlv(0x04, new Uint8Array([1, 2, 3]));
  const alg = (dotted: string) => seq(oid(dotted));
  const cases: [string, Uint8Array, string][] = [
    [
      'PKCS#12',
      seq(int(3), seq(oid('1.2.840.113549.1.7.1'), tlv(0xa0, octets))),
      'a PKCS#12 (.p12/.pfx) archive, which bundles a private key',
    ],
    ['PKCS#8 v1', seq(int(1), alg('1.2.840.10045.2.1'), octets), 'a DER private key'],
    ['SEC1', seq(int(1), octets), 'a DER private key'],
    ['PKCS#1', seq(int(0), int(1), int(2), int(3), int(4), int(5)), 'a DER private key'],
    ['PBES2', seq(alg('1.2.840.113549.1.5.13'), octets), 'a DER private key'],
    ['PKCS#12 PBE', seq(alg('1.2.840.113549.1.12.1.3'), octets), 'a DER private key'],
  ];
  it.each(cases)('reports %s as a key', (_, der, what) => {
    expect(messages(read('x.der', der))).toEqual([KEY_MESSAGE('x.der', what)]);
  });

  it('takes near misses for what they are: not a key, not a certificate', () => {
    const neither = 'input.unparseable: x.der: DER data that is neither a certificate nor PKCS#7 (.p7b).';
    for (const der of [
      seq(int(0), int(1), int(2), int(3), int(4)),
      seq(int(2), octets),
      seq(int(3), seq(oid('1.2.3'))),
      seq(alg('1.2.3.4'), octets),
      seq(oid('1.2.840.113549.1.7.1'), tlv(0xa0)),
      seq(),
    ])
      expect(messages(read('x.der', der))).toEqual([neither]);
  });

  it('refuses DER with bytes after the element, and PKCS#7 that carries no certificate', () => {
    expect(messages(read('t.der', u8(Buffer.concat([ca.der, Buffer.from([0x05, 0x00])]))))).toEqual([
      'input.unparseable: t.der: not valid DER (2 unexpected bytes after the DER element).',
    ]);
    const signedData = (set: Uint8Array[]) =>
      seq(
        oid('1.2.840.113549.1.7.2'),
        tlv(0xa0, seq(int(1), tlv(0x31), seq(oid('1.2.840.113549.1.7.1')), tlv(0xa0, ...set), tlv(0x31))),
      );
    expect(messages(read('p.p7b', signedData([])))).toEqual([
      'input.unparseable: p.p7b: the PKCS#7 bundle holds no certificates.',
    ]);
    expect(messages(read('a.p7b', signedData([tlv(0xa1, int(1))])))).toEqual([
      'input.unparseable: a.p7b, PKCS#7 certificate 1: not an X.509 certificate (attribute or other certificate format).',
    ]);
    expect(
      messages(read('d.p7b', pemBlock('PKCS7', seq(oid('1.2.840.113549.1.7.1'), tlv(0xa0, octets))))),
    ).toEqual([
      'input.unparseable: d.p7b, block 1 (line 1): PKCS#7 content is not SignedData, so it carries no certificates.',
    ]);
    expect(read('ok.p7b', signedData([u8(ca.der)])).certificates).toHaveLength(1);
  });
});

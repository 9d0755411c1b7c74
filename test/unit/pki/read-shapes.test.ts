import { deflateRawSync, gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { readInput } from '../../../shared/pki/read.js';
import { oid, signedData, tlv } from '../../fixtures/der.js';
import { crl, type Issued, pemBlock, privateKeyObject, root } from '../../fixtures/pki.js';

/**
 * What the input reader takes each shape for, one difference at a time: files that look like an
 * archive, UTF-16 or bare base64 by a byte or two only, DER one element away from a certificate or
 * a key, PKCS#7 bundles with keys in each of their parts or CRLs beside certificates, zip files as
 * real tools write them (comments, extra fields, streamed members). Each with its finding's message.
 */
const read = (name: string, bytes: Uint8Array | string) =>
  readInput({
    name,
    bytes: typeof bytes === 'string' ? new Uint8Array(Buffer.from(bytes, 'latin1')) : bytes,
  });
const messages = (r: ReturnType<typeof readInput>) => r.findings.map((f) => `${f.code}: ${f.message}`);
const u8 = (b: Buffer | Uint8Array) => new Uint8Array(b);
const KEY = (where: string, what: string) =>
  `input.private-key: ${where} holds ${what}. Never send private keys: delete the file, treat the key as compromised and replace it, then upload only the CA certificates.`;
const NO_CERT = (name: string) =>
  `input.unparseable: ${name}: no certificate found; expected PEM blocks (-----BEGIN CERTIFICATE-----), DER or PKCS#7 (.p7b).`;
const NEITHER = (name: string) =>
  `input.unparseable: ${name}: DER data that is neither a certificate nor PKCS#7 (.p7b).`;
const ARCHIVE = (name: string, kind: string) =>
  `input.unparseable: ${name}: a ${kind} archive, not a certificate file: upload the CA certificates themselves (PEM, DER or PKCS#7).`;
const keyIn = (archive: string, member: string) =>
  KEY(`${archive} (${member}), block 1 (line 1)`, 'a private key (PRIVATE KEY)');
const UTF16 = (name: string) =>
  `input.unparseable: ${name}: UTF-16 text: save the file as UTF-8 or ASCII PEM.`;

let ca: Issued;
let rsa: Issued;
let keyPem: string;
let keyDer: Uint8Array;
let rsaKeyDer: Uint8Array;
beforeAll(async () => {
  ca = await root('CN=Shapes Root');
  rsa = await root('CN=Shapes RSA Root', { key: 'rsa2048' });
  keyPem = privateKeyObject(ca).export({ type: 'pkcs8', format: 'pem' }) as string;
  keyDer = u8(privateKeyObject(ca).export({ type: 'pkcs8', format: 'der' }));
  rsaKeyDer = u8(privateKeyObject(rsa).export({ type: 'pkcs1', format: 'der' }));
});

const seq = (...p: Uint8Array[]) => tlv(0x30, ...p);
const int = (n: number) => tlv(0x02, new Uint8Array([n]));
const octets = tlv(0x04, new Uint8Array([1, 2, 3]));
const bits = tlv(0x03, new Uint8Array([0, 1]));
const alg = (dotted: string) => seq(oid(dotted));
const oidContent = (dotted: string) => oid(dotted).subarray(2);
const DATA = '1.2.840.113549.1.7.1';
const SIGNED = '1.2.840.113549.1.7.2';
const PBES2 = '1.2.840.113549.1.5.13';

describe('a file is taken for an archive or UTF-16 only by all of its marks', () => {
  it('needs both gzip magic bytes and all four of zip’s', () => {
    const text = 'some notes, not a certificate at all';
    for (const head of [
      [0x1f, 0x41],
      [0x41, 0x8b],
      [0x51, 0x4b, 0x03, 0x04],
      [0x50, 0x41, 0x03, 0x04],
      [0x50, 0x4b, 0x41, 0x04],
      [0x50, 0x4b, 0x03, 0x41],
    ]) {
      const bytes = u8(Buffer.concat([Buffer.from(head), Buffer.from(text)]));
      expect(messages(read('n.txt', bytes)), head.join(',')).toEqual([NO_CERT('n.txt')]);
    }
  });

  it('takes a tar archive of one 512-byte header for one', () => {
    const header = Buffer.alloc(512);
    header.write('empty.pem', 0, 'latin1');
    header.write('00000000000\0', 124, 'latin1');
    header.write('0', 156, 'latin1');
    header.write('ustar\0', 257, 'latin1');
    expect(messages(read('h.tar', u8(header)))).toEqual([ARCHIVE('h.tar', 'tar')]);
  });

  it('needs both bytes of a byte order mark', () => {
    for (const head of [
      [0xff, 0x41],
      [0x41, 0xfe],
      [0xfe, 0x41],
      [0x41, 0xff],
    ]) {
      const bytes = u8(Buffer.concat([Buffer.from(head), Buffer.from('plain text, no certificate here')]));
      expect(messages(read('b.txt', bytes)), head.join(',')).toEqual([NO_CERT('b.txt')]);
    }
  });

  it('takes four UTF-16 characters for UTF-16 (with an odd byte after them too), not three', () => {
    expect(messages(read('u', u8(Buffer.from('abcd', 'utf16le'))))).toEqual([UTF16('u')]);
    expect(
      messages(read('u', u8(Buffer.concat([Buffer.from('abcd', 'utf16le'), Buffer.from('e')])))),
    ).toEqual([UTF16('u')]);
    expect(messages(read('u', u8(Buffer.from('abc', 'utf16le'))))).toEqual([NO_CERT('u')]);
  });

  it('reads UTF-16 without a byte order mark from its first character', () => {
    // Four dashes: one character lost would leave no BEGIN line.
    const text = keyPem.replace(/-----/g, '----');
    expect(messages(read('u.pem', u8(Buffer.from(text, 'utf16le'))))).toEqual([
      UTF16('u.pem'),
      KEY('u.pem (as UTF-8), block 1 (line 1)', 'a private key (PRIVATE KEY)'),
    ]);
  });
});

describe('base64 without PEM armour', () => {
  // DER of 46, 47 and 48 bytes: base64 ending in "==", "=" and nothing, each 64 characters.
  const ders = [42, 43, 44].map((n) => seq(tlv(0x04, new Uint8Array(n).fill(7))).subarray(0));

  it('is read from 64 characters, with any padding, a byte order mark or line breaks', () => {
    for (const der of ders) {
      const b64 = Buffer.from(der).toString('base64');
      expect(b64.length).toBe(64);
      for (const text of [b64, `\u00ef\u00bb\u00bf${b64}`, `${b64.slice(0, 30)}\n${b64.slice(30)}\n`])
        expect(messages(read('k.txt', text))).toEqual([NEITHER('k.txt (base64)')]);
    }
    const cert = Buffer.from(ca.der).toString('base64');
    expect(read('c.txt', cert.replace(/(.{64})/g, '$1\r\n')).certificates).toHaveLength(1);
  });

  it('is not read when shorter than 64 characters, or with anything else in the text', () => {
    const b64 = Buffer.from(ders[0]!).toString('base64');
    for (const text of [
      b64.slice(0, 60),
      'MAMCAQU=',
      `#${b64}`,
      `${b64}#`,
      `${b64.slice(0, 32)}\u00ef\u00bb\u00bf${b64.slice(32)}`,
      'A'.repeat(64),
    ])
      expect(messages(read('k.txt', text)), text).toEqual([NO_CERT('k.txt')]);
  });

  it('is looked at for keys when it is neither: as DER first, else as text', () => {
    // A DER key inside an OCTET STRING: found as DER, and reported once.
    expect(messages(read('o.bin', tlv(0x04, keyDer)))).toEqual([
      KEY('o.bin', 'a DER private key'),
      NO_CERT('o.bin'),
    ]);
    const jwk = '{"kty":"EC","crv":"P-256","x":"abc","y":"def","d":"secret"}';
    expect(messages(read('k.json', jwk))).toEqual([
      KEY('k.json', 'a JSON Web Key with its private part'),
      NO_CERT('k.json'),
    ]);
  });
});

describe('PEM blocks and their END lines', () => {
  it('reads labels with several spaces or tabs inside, in BEGIN and END lines', () => {
    const body = ca.pem.replace(/-----[^-]+-----/g, '');
    const r = read('s.pem', `-----BEGIN X509  CERTIFICATE-----${body}-----END X509\t\tCERTIFICATE-----\n`);
    expect(messages(r)).toEqual([]);
    expect(r.certificates).toHaveLength(1);
  });

  it('needs the END line’s closing dashes, and takes an END right after the BEGIN', () => {
    const body = ca.pem.replace(/-----[^-]+-----/g, '');
    expect(messages(read('d.pem', `-----BEGIN CERTIFICATE-----${body}-----END CERTIFICATE-\n`))).toEqual([
      'input.unparseable: d.pem, block 1 (line 1): the CERTIFICATE block has no matching "-----END CERTIFICATE-----" line.',
    ]);
    expect(messages(read('e.pem', '-----BEGIN CERTIFICATE----------END CERTIFICATE-----\n'))).toEqual([
      'input.unparseable: e.pem, block 1 (line 1): the CERTIFICATE block is empty.',
    ]);
  });

  it('refuses a block whose END comes after the next BEGIN, and reads that next block', () => {
    const open = ca.pem.slice(0, ca.pem.indexOf('-----END'));
    const r = read('o.pem', `${open}${ca.pem}`);
    expect(r.certificates.map((c) => c.source)).toEqual([`o.pem, block 2 (line ${open.split('\n').length})`]);
    expect(messages(r)).toEqual([
      'input.unparseable: o.pem, block 1 (line 1): the CERTIFICATE block has no matching "-----END CERTIFICATE-----" line.',
    ]);
  });

  it('says where a key outside the blocks stands: before a block or after the last', () => {
    const jwk = '{"kty":"EC","d":"secret"}';
    expect(messages(read('a.pem', `${ca.pem}${jwk}\n`))).toEqual([
      KEY('a.pem, after the last block', 'a JSON Web Key with its private part'),
    ]);
  });

  it('reports a key appended to a certificate in its block, and refuses the block', () => {
    const both = u8(Buffer.concat([ca.der, keyDer]));
    const r = read('ck.pem', pemBlock('CERTIFICATE', both));
    expect(r.certificates).toEqual([]);
    expect(messages(r)[0]).toBe(KEY('ck.pem, block 1 (line 1)', 'a DER private key'));
  });

  it('reports a PKCS#12 archive under any label', () => {
    const pfx = seq(int(3), seq(oid(DATA), tlv(0xa0, octets)));
    expect(messages(read('p.pem', pemBlock('CERTIFICATE', pfx)))).toEqual([
      KEY('p.pem, block 1 (line 1)', 'a PKCS#12 archive labelled CERTIFICATE'),
    ]);
  });

  it('TRUSTED CERTIFICATE: a key after the certificate is reported and nothing kept; a broken body is named', () => {
    const r = read('t.pem', pemBlock('TRUSTED CERTIFICATE', u8(Buffer.concat([ca.der, keyDer]))));
    expect(r.certificates).toEqual([]);
    expect(messages(r)).toEqual([KEY('t.pem, block 1 (line 1), after the certificate', 'a DER private key')]);
    expect(
      messages(read('b.pem', pemBlock('TRUSTED CERTIFICATE', new Uint8Array([0x30, 0x05, 0x01])))),
    ).toEqual([
      expect.stringMatching(
        /^input\.unparseable: b\.pem, block 1 \(line 1\): not a valid X\.509 certificate \(.+\)\.$/,
      ),
    ]);
  });
});

describe('keys hidden in the fields of a certificate or a CRL', () => {
  it('reports a key in a certificate’s extension as such, and keeps nothing', async () => {
    const carrier = await root('CN=Carrier CA', {
      keySlot: 'carrier',
      extraExtensions: [{ oid: '1.3.6.1.4.1.55555.9', value: tlv(0x04, keyDer) }],
    });
    const r = read('c.pem', carrier.pem);
    expect(r.certificates).toEqual([]);
    expect(messages(r)).toEqual([
      KEY(
        'c.pem, block 1 (line 1)',
        'a DER private key inside the certificate (in an extension, a name or the signature)',
      ),
    ]);
  });

  it('reports a key in a CRL entry’s extension, in PEM and in DER', async () => {
    const list = await crl(ca, [
      { serial: '01', extensions: [{ oid: '1.3.6.1.4.1.55555.9', value: keyDer }] },
    ]);
    const inside = 'a DER private key inside the CRL (in an extension, a name or the signature)';
    expect(messages(read('l.pem', pemBlock('X509 CRL', list)))).toEqual([
      KEY('l.pem, block 1 (line 1)', inside),
    ]);
    expect(messages(read('l.crl', list))).toEqual([KEY('l.crl', inside.replace('CRL', 'certificate'))]);
  });

  it('refuses a certificate with opaque payload in words that say what to do', async () => {
    const opaque = await root('CN=Opaque CA', {
      keySlot: 'carrier',
      extraExtensions: [{ oid: '1.3.6.1.4.1.55555.10', value: new Uint8Array(100).fill(0x41) }],
    });
    const fp = read('x', opaque.der).findings[0]!.message.match(/sha256 ([0-9a-f]{16})…/)?.[1];
    expect(fp).toHaveLength(16);
    expect(messages(read('o.pem', opaque.pem))).toEqual([
      `cert.opaque-payload: o.pem, block 1 (line 1): the certificate (sha256 ${fp}…) was refused and not kept: it carries an extension trustroll does not recognise (1.3.6.1.4.1.55555.10) holding 100 bytes, over the 64 such an extension may hold. A CA certificate has no use for such data and trustroll publishes only what it understands: issue the CA without it.`,
    ]);
  });

  it('refuses the whole input when it is too deep to look into, certificates read before it too', async () => {
    let der: Uint8Array = new Uint8Array(200).fill(9);
    for (let i = 0; i < 30; i++) der = seq(der);
    const deep = await root('CN=Deep Shapes CA', {
      keySlot: 'carrier',
      extraExtensions: [{ oid: '1.3.6.1.4.1.55555.3', value: der }],
    });
    const r = read('deep.pem', `${ca.pem}${deep.pem}`);
    expect(r.certificates).toEqual([]);
    expect(messages(r)).toEqual([
      'input.unparseable: deep.pem: too deeply nested to be examined for hidden keys; export the CA certificates again as plain PEM.',
    ]);
  });
});

describe('DER one element away from what it would be', () => {
  const shapes: [string, Uint8Array][] = [
    // certificate: SEQUENCE { SEQUENCE, SEQUENCE, BIT STRING }
    ['no SEQUENCE first', seq(oid('1.2.3'), seq(), bits)],
    ['no SEQUENCE second', seq(seq(), oid('1.2.3'), bits)],
    ['no BIT STRING third', seq(seq(), seq(), octets)],
    ['a SEQUENCE alone', seq(seq(int(1)))],
    ['content that is not a run of elements', u8(Buffer.from([0x30, 0x03, 0x04, 0x05, 0x00]))],
    ['two SEQUENCEs', seq(seq(int(1)), seq(int(2)))],
    // ContentInfo
    ['signedData with no [0]', seq(oid(SIGNED), seq())],
    ['signedData OID alone', seq(oid(SIGNED))],
    // PFX
    ['version 2 PFX', seq(int(2), seq(oid(DATA)))],
    ['PFX with a SET', seq(int(3), tlv(0x31, oid(DATA)))],
    ['PFX version alone', seq(int(3))],
    ['PFX with no OID', seq(int(3), seq(tlv(0x04, oidContent(DATA))))],
    ['PFX empty', seq(int(3), seq())],
    ['PFX with a broken ContentInfo', seq(int(3), u8(Buffer.from([0x30, 0x03, 0x04, 0x05, 0x00])))],
    // PKCS#8 and SEC1
    ['PKCS#8 version 2', seq(int(2), alg('1.2.840.10045.2.1'), octets)],
    ['PKCS#8 without AlgorithmIdentifier', seq(int(0), int(5), octets)],
    ['PKCS#8 without key', seq(int(0), alg('1.2.840.10045.2.1'), int(5))],
    ['PKCS#8 cut short', seq(int(0), alg('1.2.840.10045.2.1'))],
    ['an odd version', seq(int(5), int(1), octets)],
    ['SEC1 without OCTET STRING', seq(int(1), int(5))],
    ['SEC1 version alone', seq(int(1))],
    ['version as a SEQUENCE', seq(tlv(0x30, new Uint8Array([0])), seq(), octets)],
    ['a two-byte version', seq(tlv(0x02, new Uint8Array([0, 0x80])), seq(), octets)],
    // PKCS#1
    ['PKCS#1 version 2', seq(int(2), int(1), int(2), int(3), int(4), int(5))],
    ['PKCS#1 with an OCTET STRING', seq(int(0), int(1), int(2), int(3), int(4), octets)],
    // EncryptedPrivateKeyInfo
    ['encrypted with three parts', seq(alg(PBES2), octets, int(1))],
    ['encrypted under a SET', seq(tlv(0x31, oid(PBES2)), octets)],
    ['encrypted without OCTET STRING', seq(alg(PBES2), int(5))],
    ['encrypted cut short', seq(alg(PBES2))],
    ['encrypted with no OID', seq(seq(tlv(0x04, oidContent(PBES2))), octets)],
    ['encrypted with an empty algorithm', seq(seq(), octets)],
  ];
  it.each(shapes)('%s is neither a certificate, a bundle nor a key', (_, der) => {
    expect(messages(read('x.der', der))).toEqual([NEITHER('x.der')]);
  });

  it('reports a PFX whose content is signedData', () => {
    expect(messages(read('s.p12', seq(int(3), seq(oid(SIGNED), tlv(0xa0, octets)))))).toEqual([
      KEY('s.p12', 'a PKCS#12 (.p12/.pfx) archive, which bundles a private key'),
    ]);
  });
});

describe('PKCS#7: keys in each part, CRLs beside the certificates, broken structure', () => {
  const p7 = (name: string, der: Uint8Array) => messages(read(name, der));

  it('names the part a key is in: the content (as DER or text), the signer infos, the CRLs', () => {
    expect(p7('c.p7b', signedData(keyDer, [u8(ca.der)]))).toEqual([
      KEY('c.p7b, PKCS#7 content', 'a DER private key'),
    ]);
    const jwk = '{"kty":"EC","crv":"P-256","x":"abc","y":"def","d":"secret"}';
    expect(p7('t.p7b', signedData(u8(Buffer.from(jwk)), [u8(ca.der)]))).toEqual([
      KEY('t.p7b, PKCS#7 content', 'a JSON Web Key with its private part'),
    ]);
    expect(p7('s.p7b', signedData(undefined, [u8(ca.der)], { signerInfos: [keyDer] }))).toEqual([
      KEY('s.p7b, PKCS#7 signer infos', 'a DER private key'),
    ]);
    expect(p7('l.p7b', signedData(undefined, [u8(ca.der)], { crls: [keyDer] }))[0]).toBe(
      KEY('l.p7b, PKCS#7 CRLs', 'a DER private key'),
    );
  });

  it('looks at content that is not in an OCTET STRING as it is', () => {
    const bundle = seq(
      oid(SIGNED),
      tlv(
        0xa0,
        seq(int(1), tlv(0x31), seq(oid(DATA), tlv(0xa0, rsaKeyDer)), tlv(0xa0, u8(ca.der)), tlv(0x31)),
      ),
    );
    expect(p7('r.p7b', bundle)).toEqual([KEY('r.p7b, PKCS#7 content', 'a DER private key')]);
  });

  it('reports keys in the certificate set as such, once', () => {
    const pfx = seq(int(3), seq(oid(DATA), tlv(0xa0, octets)));
    expect(p7('k.p7b', signedData(undefined, [keyDer]))).toEqual([
      KEY('k.p7b, PKCS#7 certificate 1', 'a DER private key in the certificate set'),
    ]);
    expect(p7('p.p7b', signedData(undefined, [u8(ca.der), pfx]))).toEqual([
      KEY('p.p7b, PKCS#7 certificate 2', 'a PKCS#12 archive in the certificate set'),
    ]);
    expect(
      p7('a.p7b', signedData(undefined, [tlv(0xa1, int(0), int(1), int(2), int(3), int(4), int(5))])),
    ).toEqual([
      'input.unparseable: a.p7b, PKCS#7 certificate 1: not an X.509 certificate (attribute or other certificate format).',
    ]);
  });

  it('refuses a bundle with CRLs whole, counting them and the certificates beside them', async () => {
    const list = await crl(ca, []);
    const tail =
      '; API Gateway truststores hold only CA certificates: put the CRLs into inbox/<partner>/crl/ and the certificates into inbox/<partner>/ (openssl pkcs7 -print_certs -in <file>, with -inform DER for a binary one, writes both out as PEM blocks).';
    const refusal = (what: string) => [`input.unparseable: c.p7b: the PKCS#7 bundle holds ${what}${tail}`];
    expect(p7('c.p7b', signedData(undefined, [], { crls: [list] }))).toEqual(
      refusal('a certificate revocation list'),
    );
    expect(p7('c.p7b', signedData(undefined, [u8(ca.der)], { crls: [list, list] }))).toEqual(
      refusal('2 certificate revocation lists beside 1 certificate'),
    );
    expect(p7('c.p7b', signedData(undefined, [u8(ca.der), u8(rsa.der)], { crls: [list] }))).toEqual(
      refusal('a certificate revocation list beside 2 certificates'),
    );
  });

  it('names what is wrong with a broken bundle', () => {
    const bundle = (...inner: Uint8Array[]) => pemBlock('PKCS7', seq(...inner));
    const bad = (why: string) => [`input.unparseable: b.pem, block 1 (line 1): ${why}.`];
    expect(messages(read('b.pem', bundle()))).toEqual(
      bad('PKCS#7 content is not SignedData, so it carries no certificates'),
    );
    expect(messages(read('b.pem', bundle(oid(SIGNED))))).toEqual(
      bad('not a valid PKCS#7 bundle (PKCS#7 content is missing)'),
    );
    expect(messages(read('b.pem', bundle(oid(SIGNED), tlv(0xa0))))).toEqual(
      bad('not a valid PKCS#7 bundle (SignedData is not a SEQUENCE)'),
    );
    expect(messages(read('b.pem', bundle(oid(SIGNED), tlv(0xa0, tlv(0x31, int(1))))))).toEqual(
      bad('not a valid PKCS#7 bundle (SignedData is not a SEQUENCE)'),
    );
    // The OID's bytes under another tag are no content type.
    const sd = signedData(undefined, [u8(ca.der)]);
    const typed = u8(sd);
    typed[typed.indexOf(0x06)] = 0x04;
    expect(messages(read('b.pem', pemBlock('PKCS7', typed)))).toEqual(
      bad('PKCS#7 content is not SignedData, so it carries no certificates'),
    );
    // No certificate set at all.
    const none = seq(oid(SIGNED), tlv(0xa0, seq(int(1), tlv(0x31), seq(oid(DATA)), tlv(0x31))));
    expect(messages(read('b.pem', pemBlock('PKCS7', none)))).toEqual(
      bad('the PKCS#7 bundle holds no certificates'),
    );
  });
});

/** A zip file as tools write them: names, extra fields and comments where asked. */
const zip = (
  members: {
    name: string;
    data: Buffer;
    method?: number;
    /** Written as the member's bytes whatever the method (a stream that is no deflate). */
    body?: Buffer;
    localName?: string;
    localExtra?: number;
    centralExtra?: number;
    centralComment?: number;
    streamed?: boolean;
    offset?: number;
  }[],
  comment = 0,
): Uint8Array => {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const m of members) {
    const method = m.method ?? 0;
    const body = m.body ?? (method === 8 ? deflateRawSync(m.data) : m.data);
    const local = Buffer.alloc(30);
    const localName = Buffer.from(m.localName ?? m.name);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(m.streamed ? 0 : body.length, 18);
    local.writeUInt16LE(localName.length, 26);
    local.writeUInt16LE(m.localExtra ?? 0, 28);
    locals.push(local, localName, Buffer.alloc(m.localExtra ?? 0, 0x55), body);
    const name = Buffer.from(m.name);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(m.centralExtra ?? 0, 30);
    central.writeUInt16LE(m.centralComment ?? 0, 32);
    central.writeUInt32LE(m.offset ?? offset, 42);
    centrals.push(central, name, Buffer.alloc((m.centralExtra ?? 0) + (m.centralComment ?? 0), 0x55));
    offset += 30 + localName.length + (m.localExtra ?? 0) + body.length;
  }
  const dir = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(members.length, 8);
  eocd.writeUInt16LE(members.length, 10);
  eocd.writeUInt32LE(dir.length, 12);
  eocd.writeUInt32LE(offset, 16);
  eocd.writeUInt16LE(comment, 20);
  return u8(Buffer.concat([...locals, dir, eocd, Buffer.alloc(comment, 0x20)]));
};

describe('zip files as tools write them', () => {
  it('finds streamed members (sizes in the central directory only), behind a comment up to 65,535 bytes', () => {
    for (const comment of [0, 10, 65_535]) {
      const z = zip([{ name: 'key.pem', data: Buffer.from(keyPem), streamed: true }], comment);
      expect(messages(read('s.zip', z)), String(comment)).toEqual([
        ARCHIVE('s.zip', 'zip'),
        keyIn('s.zip', 'key.pem'),
      ]);
    }
  });

  it('names a member as the central directory does, past extra fields and comments', () => {
    const z = zip([
      { name: 'ca.pem', data: Buffer.from(ca.pem), centralExtra: 9, centralComment: 5, localExtra: 7 },
      { name: 'central.pem', localName: 'local.pem', data: Buffer.from(keyPem), localExtra: 4 },
    ]);
    expect(messages(read('n.zip', z))).toEqual([ARCHIVE('n.zip', 'zip'), keyIn('n.zip', 'central.pem')]);
  });

  it('reads each stored member to its own end, and goes on past a member it cannot read', () => {
    const z = zip([
      { name: 'a.pem', data: Buffer.from(ca.pem) },
      { name: 'odd.bin', data: Buffer.from('not deflate at all'), method: 12 },
      { name: 'gone.pem', data: Buffer.from('x'), offset: 0x7fff_fff0 },
      { name: 'key.pem', data: Buffer.from(keyPem) },
    ]);
    expect(messages(read('m.zip', z))).toEqual([ARCHIVE('m.zip', 'zip'), keyIn('m.zip', 'key.pem')]);
  });

  it('reads local headers alone past their extra fields', () => {
    const z = zip([
      { name: 'ca.pem', data: Buffer.from(ca.pem), localExtra: 12 },
      { name: 'key.pem', data: Buffer.from(keyPem) },
    ]);
    const bare = z.subarray(0, z.length - 22 - (46 * 2 + 'ca.pem'.length + 'key.pem'.length));
    expect(messages(read('b.zip', bare))).toEqual([ARCHIVE('b.zip', 'zip'), keyIn('b.zip', 'key.pem')]);
  });
});

describe('what gzip and tar archives are looked into for', () => {
  it('reports keys only, not what else their content lacks', () => {
    expect(messages(read('h.gz', u8(gzipSync('hello'))))).toEqual([ARCHIVE('h.gz', 'gzip')]);
  });

  it('finds a key at the start of gzip content that decompresses past 16 MiB', () => {
    const bomb = u8(gzipSync(Buffer.concat([Buffer.from(keyPem), Buffer.alloc(20 * 1024 * 1024)])));
    expect(messages(read('bomb.gz', bomb))).toEqual([
      ARCHIVE('bomb.gz', 'gzip'),
      KEY('bomb.gz (gzip content), block 1 (line 1)', 'a private key (PRIVATE KEY)'),
    ]);
  });

  it('keeps the keys found in a member before it turned out too deep to look into', async () => {
    let der: Uint8Array = new Uint8Array(200).fill(9);
    for (let i = 0; i < 30; i++) der = seq(der);
    const deep = await root('CN=Deep Shapes CA', {
      keySlot: 'carrier',
      extraExtensions: [{ oid: '1.3.6.1.4.1.55555.3', value: der }],
    });
    expect(messages(read('d.gz', u8(gzipSync(`${keyPem}${deep.pem}`))))).toEqual([
      ARCHIVE('d.gz', 'gzip'),
      KEY('d.gz (gzip content), block 1 (line 1)', 'a private key (PRIVATE KEY)'),
    ]);
  });

  it('tar: takes a NUL type flag for a regular file, and an empty size field for 0', () => {
    const header = (name: string, size: number | undefined, type: string) => {
      const h = Buffer.alloc(512);
      h.write(name, 0, 'latin1');
      if (size !== undefined) h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
      h.write(type, 156, 'latin1');
      h.write('ustar\0', 257, 'latin1');
      return h;
    };
    const data = Buffer.from(keyPem);
    const t = Buffer.concat([
      header('dir/', undefined, '5'),
      header('key.pem', data.length, '\0'),
      data,
      Buffer.alloc((512 - (data.length % 512)) % 512),
      Buffer.alloc(1024),
    ]);
    expect(messages(read('t.tar', u8(t)))).toEqual([
      ARCHIVE('t.tar', 'tar'),
      KEY('t.tar (key.pem), block 1 (line 1)', 'a private key (PRIVATE KEY)'),
    ]);
  });
});

describe('a zip member that cannot be inflated in full', () => {
  it('still lets the other members be looked into: one past 16 MiB, one that is not deflate', () => {
    const z = zip([
      { name: 'key.pem', data: Buffer.from(keyPem) },
      { name: 'zeros.bin', data: Buffer.alloc(20 * 1024 * 1024), method: 8 },
    ]);
    expect(messages(read('big.zip', z))).toEqual([ARCHIVE('big.zip', 'zip'), keyIn('big.zip', 'key.pem')]);
    // Block type 3 does not exist: no deflate stream.
    const broken = zip([
      { name: 'bad.bin', data: Buffer.alloc(0), body: Buffer.alloc(100, 0xff), method: 8 },
      { name: 'key.pem', data: Buffer.from(keyPem) },
    ]);
    expect(messages(read('bad.zip', broken))).toEqual([
      ARCHIVE('bad.zip', 'zip'),
      keyIn('bad.zip', 'key.pem'),
    ]);
  });

  it('finds a key at the start of a member that inflates past 16 MiB', () => {
    const z = zip([
      {
        name: 'k.pem',
        data: Buffer.concat([Buffer.from(keyPem), Buffer.alloc(20 * 1024 * 1024)]),
        method: 8,
      },
    ]);
    expect(messages(read('k.zip', z))).toEqual([ARCHIVE('k.zip', 'zip'), keyIn('k.zip', 'k.pem')]);
  });
});

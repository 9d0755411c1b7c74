import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ReadResult, readInput } from '../../../shared/pki/read.js';
import {
  crl,
  type Issued,
  partnerChain,
  pemBlock,
  pemOf,
  pkcs7Der,
  pkcs7Pem,
  privateKeyObject,
  toBytes,
} from '../../fixtures/pki.js';

let chain: Awaited<ReturnType<typeof partnerChain>>;
let rsa: Awaited<ReturnType<typeof partnerChain>>;
beforeAll(async () => {
  chain = await partnerChain('Acme');
  rsa = await partnerChain('Rsaco', { key: 'rsa2048' });
});

const read = (name: string, bytes: Uint8Array | string): ReadResult =>
  readInput({ name, bytes: typeof bytes === 'string' ? toBytes(bytes) : bytes });
const fingerprints = (r: ReadResult) => r.certificates.map((c) => c.cert.fingerprint);
const fp = (i: Issued) => readInput({ name: 'x', bytes: i.der }).certificates[0]!.cert.fingerprint;
const codes = (r: ReadResult) => r.findings.map((f) => f.code);

describe('readInput: certificates in every format', () => {
  it('reads a PEM bundle of several certificates in order', () => {
    const r = read('bundle.pem', pemOf(chain.intermediate, chain.root));
    expect(r.findings).toEqual([]);
    expect(fingerprints(r)).toEqual([fp(chain.intermediate), fp(chain.root)]);
    expect(r.certificates[1]!.source).toBe(
      'bundle.pem, block 2 (line 12)'.replace('12', String(lineOfSecond())),
    );
  });

  it('reads CRLF line endings and a UTF-8 byte order mark', () => {
    const text = `\ufeff${pemOf(chain.intermediate, chain.root).replace(/\n/g, '\r\n')}`;
    const r = read('windows.pem', text);
    expect(r.findings).toEqual([]);
    expect(fingerprints(r)).toEqual([fp(chain.intermediate), fp(chain.root)]);
  });

  it('skips text before and between blocks, such as openssl x509 -text output', () => {
    const dir = mkdtempSync(join(tmpdir(), 'trustroll-read-'));
    writeFileSync(join(dir, 'a.pem'), chain.root.pem);
    const text = execFileSync('openssl', ['x509', '-in', join(dir, 'a.pem'), '-text'], { encoding: 'utf8' });
    const r = read(
      'annotated.pem',
      `Bag Attributes\n  friendlyName: acme\n${text}\n# next\n${chain.intermediate.pem}`,
    );
    expect(r.findings).toEqual([]);
    expect(fingerprints(r)).toEqual([fp(chain.root), fp(chain.intermediate)]);
  });

  it('reads OpenSSL TRUSTED CERTIFICATE blocks', () => {
    const dir = mkdtempSync(join(tmpdir(), 'trustroll-read-'));
    writeFileSync(join(dir, 'a.pem'), chain.root.pem);
    const trusted = execFileSync(
      'openssl',
      ['x509', '-in', join(dir, 'a.pem'), '-addtrust', 'clientAuth', '-trustout'],
      { encoding: 'utf8' },
    );
    expect(trusted).toContain('BEGIN TRUSTED CERTIFICATE');
    const r = read('trusted.pem', trusted);
    expect(r.findings).toEqual([]);
    expect(fingerprints(r)).toEqual([fp(chain.root)]);
  });

  it.each(['root.cer', 'root.der', 'root.crt'])('reads a DER certificate (%s)', (name) => {
    const r = read(name, chain.root.der);
    expect(r.findings).toEqual([]);
    expect(fingerprints(r)).toEqual([fp(chain.root)]);
    expect(r.certificates[0]!.source).toBe(name);
  });

  it('reads PKCS#7 in DER and in PEM', () => {
    for (const r of [
      read('b.p7b', pkcs7Der(chain.root, chain.intermediate)),
      read('b.p7b', pkcs7Pem(chain.root, chain.intermediate)),
    ]) {
      expect(r.findings).toEqual([]);
      expect(new Set(fingerprints(r))).toEqual(new Set([fp(chain.root), fp(chain.intermediate)]));
    }
  });

  it('reads PKCS#7 made by openssl crl2pkcs7', () => {
    const dir = mkdtempSync(join(tmpdir(), 'trustroll-read-'));
    writeFileSync(join(dir, 'a.pem'), pemOf(chain.root, chain.intermediate));
    execFileSync('openssl', [
      'crl2pkcs7',
      '-nocrl',
      '-certfile',
      join(dir, 'a.pem'),
      '-outform',
      'DER',
      '-out',
      join(dir, 'b.p7b'),
    ]);
    const r = read('b.p7b', new Uint8Array(readFileSync(join(dir, 'b.p7b'))));
    expect(r.findings).toEqual([]);
    expect(fingerprints(r)).toHaveLength(2);
  });

  it('reads base64 DER without PEM armour', () => {
    const r = read('bare.txt', Buffer.from(chain.root.der).toString('base64'));
    expect(fingerprints(r)).toEqual([fp(chain.root)]);
  });
});

describe('readInput: private keys are reported, never kept', () => {
  const keyCases = async (): Promise<[string, string | Uint8Array][]> => {
    const ec = privateKeyObject(chain.client);
    const r = privateKeyObject(rsa.client);
    return [
      ['PKCS#8 PEM', ec.export({ type: 'pkcs8', format: 'pem' }) as string],
      [
        'encrypted PKCS#8 PEM',
        ec.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }) as string,
      ],
      ['PKCS#1 RSA PEM', r.export({ type: 'pkcs1', format: 'pem' }) as string],
      ['SEC1 EC PEM', ec.export({ type: 'sec1', format: 'pem' }) as string],
      ['PKCS#8 DER', new Uint8Array(ec.export({ type: 'pkcs8', format: 'der' }))],
      [
        'encrypted PKCS#8 DER',
        new Uint8Array(ec.export({ type: 'pkcs8', format: 'der', cipher: 'aes-256-cbc', passphrase: 'pw' })),
      ],
      ['PKCS#1 RSA DER', new Uint8Array(r.export({ type: 'pkcs1', format: 'der' }))],
      ['SEC1 EC DER', new Uint8Array(ec.export({ type: 'sec1', format: 'der' }))],
      ['PKCS#12', pkcs12(chain.client)],
      ['cert + key in one PEM', `${chain.client.pem}\n${ec.export({ type: 'pkcs8', format: 'pem' })}`],
    ];
  };

  it('reports every private key format as a critical input.private-key finding without key material', async () => {
    for (const [what, bytes] of await keyCases()) {
      const r = read(`upload-${what}`, bytes);
      const keyFindings = r.findings.filter((f) => f.code === 'input.private-key');
      expect(keyFindings, what).toHaveLength(1);
      expect(keyFindings[0]!.severity, what).toBe('critical');
      const serialized = JSON.stringify(r.findings);
      const body = typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('base64');
      const secretLine =
        body.split('\n').find((l) => l.length > 40 && !l.startsWith('-----')) ?? body.slice(0, 64);
      expect(serialized, what).not.toContain(secretLine.slice(0, 32));
    }
  });
});

describe('readInput: unreadable input becomes a finding naming the file and place', () => {
  it('reports an empty file', () => {
    expect(read('empty.pem', '').findings).toMatchObject([
      { code: 'input.unparseable', severity: 'error', message: 'empty.pem: the file is empty.' },
    ]);
  });

  it('reports a text file with no certificate', () => {
    const r = read('notes.txt', 'hello, this is not a certificate');
    expect(codes(r)).toEqual(['input.unparseable']);
    expect(r.findings[0]!.message).toMatch(/^notes\.txt: no certificate found/);
  });

  it('reports a truncated PEM block with its block number and line', () => {
    const pem = pemOf(chain.root, chain.intermediate);
    const cut = pem.slice(0, pem.lastIndexOf('-----END'));
    const r = read('cut.pem', cut);
    expect(fingerprints(r)).toEqual([fp(chain.root)]);
    expect(r.findings).toHaveLength(1);
    expect(r.findings[0]!.message).toMatch(
      /^cut\.pem, block 2 \(line \d+\): the CERTIFICATE block has no matching/,
    );
  });

  it('reports a hand-edited base64 body and a corrupted DER body separately from good blocks', () => {
    const bad = chain.root.pem.replace(/\n[A-Za-z0-9+/]{10}/, '\n!!!!!!!!!!');
    const der = Buffer.from(chain.intermediate.der);
    const broken = pemBlock('CERTIFICATE', new Uint8Array(der.subarray(0, der.length - 20)));
    const r = read('edited.pem', `${bad}${broken}${chain.root.pem}`);
    expect(fingerprints(r)).toEqual([fp(chain.root)]);
    expect(r.findings.map((f) => f.message)).toEqual([
      expect.stringMatching(/block 1 .*not valid base64/),
      expect.stringMatching(/block 2 .*not a valid X\.509 certificate/),
    ]);
  });

  it('explains CSRs, CRLs and public keys', () => {
    const r = read(
      'misc.pem',
      `${pemBlock('CERTIFICATE REQUEST', new Uint8Array([0x30, 0]))}${pemBlock('X509 CRL', new Uint8Array([0x30, 0]))}${pemBlock('PUBLIC KEY', new Uint8Array([0x30, 0]))}`,
    );
    expect(r.findings.map((f) => f.message)).toEqual([
      expect.stringMatching(/certificate signing request/),
      expect.stringMatching(/revocation list/),
      expect.stringMatching(/bare public key/),
    ]);
  });

  it('says where a DER CRL belongs instead of calling it a broken certificate, in DER and under a CERTIFICATE label', async () => {
    const list = await crl(chain.root, []);
    const why =
      'a certificate revocation list; API Gateway truststores hold only CA certificates: put CRLs into inbox/<partner>/crl/ instead (a DER CRL).';
    expect(read('revoked.crl', list).findings).toEqual([
      { code: 'input.unparseable', severity: 'error', message: `revoked.crl: ${why}`, source: 'revoked.crl' },
    ]);
    expect(read('revoked.pem', pemBlock('CERTIFICATE', list)).findings.map((f) => f.message)).toEqual([
      `revoked.pem, block 1 (line 1): ${why}`,
    ]);
  });

  it('reports DER that is neither a certificate nor PKCS#7', () => {
    const r = read('junk.der', new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x05]));
    expect(r.findings[0]!.message).toMatch(/neither a certificate nor PKCS#7/);
  });
});

const lineOfSecond = (): number => {
  const text = pemOf(chain.intermediate, chain.root);
  return text.slice(0, text.indexOf('-----BEGIN', 10)).split('\n').length;
};

const pkcs12 = (issued: Issued): Uint8Array => {
  const dir = mkdtempSync(join(tmpdir(), 'trustroll-p12-'));
  writeFileSync(join(dir, 'c.pem'), issued.pem);
  writeFileSync(
    join(dir, 'k.pem'),
    privateKeyObject(issued).export({ type: 'pkcs8', format: 'pem' }) as string,
  );
  execFileSync('openssl', [
    'pkcs12',
    '-export',
    '-in',
    join(dir, 'c.pem'),
    '-inkey',
    join(dir, 'k.pem'),
    '-out',
    join(dir, 'c.p12'),
    '-passout',
    'pass:pw',
  ]);
  return new Uint8Array(readFileSync(join(dir, 'c.p12')));
};

import { gunzipSync, inflateRawSync, constants as zlibConstants } from 'node:zlib';
import type { Finding } from '../finding.js';
import { type Certificate, parseCertificate } from './certificate.js';
import { parseCrl } from './crl.js';
import { children, DerError, decodeOid, readSingle, readTlv, TAG, type Tlv } from './der.js';
import { BudgetSpent, HuntBudget, holdsBinary, huntBer, huntText } from './key-hunt.js';
import { CMS_DATA, CMS_SIGNED_DATA } from './oids.js';
import { opaquePayload } from './payload.js';

/** One input as it arrived: a file, an S3 object, standard input. */
export interface InputFile {
  /** Shown in findings (a path, an object key, `-`). */
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** A certificate and where it was found (`bundle.pem, block 2 (line 31)`). */
export interface SourcedCertificate {
  readonly cert: Certificate;
  readonly source: string;
}

export interface ReadResult {
  readonly certificates: readonly SourcedCertificate[];
  /** `input.unparseable` and `input.private-key` findings; never any key material. */
  readonly findings: readonly Finding[];
}

const CERT_LABELS = new Set(['CERTIFICATE', 'X509 CERTIFICATE', 'TRUSTED CERTIFICATE']);
const PKCS7_LABELS = new Set(['PKCS7', 'PKCS #7 SIGNED DATA', 'CMS']);
/** Whether DER bytes read as a CRL (the lenient reader `diagnose --crl` uses). */
const isCrl = (der: Uint8Array): boolean => {
  try {
    parseCrl(der);
    return true;
  } catch {
    return false;
  }
};

const NOT_A_CERT: Record<string, string> = {
  'CERTIFICATE REQUEST':
    'a certificate signing request (CSR), not a certificate: upload the signed CA certificate',
  'NEW CERTIFICATE REQUEST':
    'a certificate signing request (CSR), not a certificate: upload the signed CA certificate',
  'X509 CRL':
    'a certificate revocation list; API Gateway truststores hold only CA certificates: put CRLs into inbox/<partner>/crl/ instead',
  'PUBLIC KEY': 'a bare public key, not a certificate: upload the CA certificate',
  'RSA PUBLIC KEY': 'a bare public key, not a certificate: upload the CA certificate',
};

/**
 * A PEM BEGIN line, as written by hand too: any case, four or five dashes, several spaces. The
 * label is read as upper case with single spaces (`begin  private key` is a PRIVATE KEY).
 */
const BEGIN = /-{4,5}[ \t]*BEGIN[ \t]+([^-\s]{1,64}(?:[ \t]+[^-\s]{1,64}){0,8})[ \t]*-{4,5}/gi;
const normalLabel = (raw: string) => raw.trim().toUpperCase().replace(/\s+/g, ' ');
/** Labels whose blocks hold key material, whatever the rest of the label says. */
const KEY_LABEL = /PRIVATE KEY|PKCS ?12|\bPFX\b|ENCRYPTED KEY|SECRET KEY/;
/** Decompressed archives are looked into for key material up to this size and depth only. */
const ARCHIVE_LIMIT = 16 * 1024 * 1024;
const ARCHIVE_DEPTH = 4;

/**
 * Reads every certificate in one input, whatever the format: PEM bundles (LF or CRLF, BOM, text
 * around the blocks, `TRUSTED CERTIFICATE`), DER, PKCS#7 in PEM or DER, bare base64 DER.
 * Private keys (any `PRIVATE KEY` block, DER PKCS#1/#8/SEC1, PKCS#12) become a critical
 * `input.private-key` finding; their bytes are not kept. Nothing here throws for bad input.
 */
export const readInput = (input: InputFile): ReadResult => {
  const out = new Collector(input.name, new HuntBudget(input.bytes.length));
  try {
    readInto(input.bytes, out, 0);
  } catch (error) {
    if (error instanceof BudgetSpent) {
      // Built to be slow to examine: nothing of it is used, not even the certificates read so far.
      out.unparseable(input.name, `${error.message}; export the CA certificates again as plain PEM`);
      return { certificates: [], findings: out.findings };
    }
    // Defensive: a reader bug must still end as a finding, not as a crash of the whole run.
    out.unparseable(input.name, `could not be read (${(error as Error).message})`);
  }
  return { certificates: out.certificates, findings: out.findings };
};

class Collector {
  readonly certificates: SourcedCertificate[] = [];
  readonly findings: Finding[] = [];
  constructor(
    readonly name: string,
    readonly budget: HuntBudget,
  ) {}

  unparseable(source: string, what: string): void {
    this.findings.push({
      code: 'input.unparseable',
      severity: 'error',
      message: `${source}: ${what}.`,
      source,
    });
  }

  privateKey(source: string, what: string): void {
    this.findings.push({
      code: 'input.private-key',
      severity: 'critical',
      message:
        `${source} holds ${what}. Never send private keys: delete the file, treat the key as compromised ` +
        'and replace it, then upload only the CA certificates.',
      source,
    });
  }

  /**
   * Whether a key is carried inside the fields of a certificate or CRL (an extension, a name, the
   * signature), reported as a key: what is kept of either (a name, a URI) would carry it on.
   */
  private hidesKey(der: Uint8Array, source: string, what: string): boolean {
    const inside = {
      privateKey: (where: string, found: string) =>
        this.privateKey(where, `${found} inside the ${what} (in an extension, a name or the signature)`),
    };
    return huntBer(der, source, inside, this.budget, { loose: false, skipTop: true });
  }

  /** A CRL where certificates were expected: looked into for keys like a certificate, then named. */
  crl(der: Uint8Array, source: string, what: string): void {
    if (this.hidesKey(der, source, 'CRL')) return;
    this.unparseable(source, what);
  }

  certificate(der: Uint8Array, source: string): void {
    // A key carried inside the certificate would be kept and published with it: such a
    // certificate is reported as a key, and not read.
    if (this.hidesKey(der, source, 'certificate')) return;
    try {
      const cert = parseCertificate(der);
      const payload = opaquePayload(cert);
      if (payload) {
        // Not kept either: what it carries is exactly what trustroll cannot vouch for.
        this.findings.push({
          code: 'cert.opaque-payload',
          severity: 'error',
          message:
            `${source}: the certificate (sha256 ${cert.fingerprint.slice(0, 16)}…) was refused and not kept: ${payload}. ` +
            'A CA certificate has no use for such data and trustroll publishes only what it understands: issue the CA without it.',
          source,
        });
        return;
      }
      this.certificates.push({ cert, source });
    } catch (error) {
      // A DER CRL dropped where CA certificates go: said as such, with where it belongs.
      if (isCrl(der)) {
        this.unparseable(source, `${NOT_A_CERT['X509 CRL']} (a DER CRL)`);
        return;
      }
      const reason = error instanceof DerError ? error.message : String(error);
      this.unparseable(source, `not a valid X.509 certificate (${reason}); export it again as PEM or DER`);
    }
  }
}

const readInto = (bytes: Uint8Array, out: Collector, depth: number): void => {
  if (bytes.length === 0) return out.unparseable(out.name, 'the file is empty');
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return readArchive(bytes, 'gzip', out, depth);
  if (bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04)
    return readArchive(bytes, 'zip', out, depth);
  if (bytes.length >= 512 && Buffer.from(bytes.subarray(257, 262)).toString('latin1') === 'ustar')
    return readArchive(bytes, 'tar', out, depth);
  if (isUtf16(bytes)) return readArchive(bytes, 'UTF-16 text', out, depth);
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  BEGIN.lastIndex = 0;
  if (BEGIN.test(text)) return readPem(text, out);
  if (bytes[0] === TAG.SEQUENCE) return readDer(bytes, out.name, out);
  const trimmed = text.replace(/^\ufeff|^\u00ef\u00bb\u00bf/, '').replace(/\s+/g, '');
  if (trimmed.length >= 64 && /^[A-Za-z0-9+/]+={0,2}$/.test(trimmed)) {
    const der = Buffer.from(trimmed, 'base64');
    if (der[0] === TAG.SEQUENCE) return readDer(der, `${out.name} (base64)`, out);
  }
  if (!huntBer(bytes, out.name, out, out.budget)) huntText(text, out.name, out, out.budget);
  return out.unparseable(
    out.name,
    'no certificate found; expected PEM blocks (-----BEGIN CERTIFICATE-----), DER or PKCS#7 (.p7b)',
  );
};

const readPem = (text: string, out: Collector): void => {
  const lineAt = lineCounter(text);
  const ends = endMarkers(text);
  let block = 0;
  let found = false;
  // Where the previous block ended: the text between blocks is looked at for hidden keys.
  let outsideFrom = 0;
  BEGIN.lastIndex = 0;
  for (let m = BEGIN.exec(text); m; m = BEGIN.exec(text)) {
    found = true;
    block++;
    const label = normalLabel(m[1]!);
    const where = `${out.name}, block ${block} (line ${lineAt(m.index)})`;
    outside(text.slice(outsideFrom, m.index), `${out.name}, before block ${block}`, out);
    const bodyStart = m.index + m[0].length;
    const end = ends.after(label, bodyStart);
    BEGIN.lastIndex = bodyStart;
    const nextBegin = BEGIN.exec(text)?.index ?? -1;
    const closed = end !== undefined && (nextBegin < 0 || nextBegin > end.index);
    // A key block is reported whether or not it is closed: its body is never looked at.
    if (KEY_LABEL.test(label)) out.privateKey(where, `a private key (${label})`);
    else if (!closed || !end)
      out.unparseable(where, `the ${label} block has no matching "-----END ${label}-----" line`);
    else readPemBlock(label, text.slice(bodyStart, end.index), where, out);
    outsideFrom = closed && end ? end.index + end.length : bodyStart;
    BEGIN.lastIndex = outsideFrom;
  }
  outside(text.slice(outsideFrom), `${out.name}, after the last block`, out);
  if (!found) out.unparseable(out.name, 'no PEM block found');
};

/**
 * Text around the PEM blocks: looked into for keys, and refused when it holds bytes no text holds
 * (raw DER or a compressed stream appended to PEM): what was not understood is not accepted.
 */
const outside = (segment: string, where: string, out: Collector): void => {
  huntText(segment, where, out, out.budget);
  if (holdsBinary(segment))
    out.unparseable(
      where,
      'binary data outside the PEM blocks; upload PEM text alone, or one DER certificate',
    );
};

/**
 * Every END line of the text, found in one pass (as loosely written as BEGIN lines may be), by
 * label: each block's END is then a lookup, not a scan of the rest of the text (50,000 BEGIN lines
 * without an END would otherwise cost 50,000 scans).
 */
const endMarkers = (text: string) => {
  const byLabel = new Map<string, { index: number; length: number }[]>();
  const re = /-{4,5}[ \t]*END[ \t]+([^-\s]{1,64}(?:[ \t]+[^-\s]{1,64}){0,8})[ \t]*-{4,5}/gi;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const label = normalLabel(m[1]!);
    const list = byLabel.get(label) ?? [];
    list.push({ index: m.index, length: m[0].length });
    byLabel.set(label, list);
  }
  return {
    /** The first END line of `label` at or after `from`. */
    after: (label: string, from: number) => {
      const list = byLabel.get(label);
      if (!list) return undefined;
      let lo = 0;
      let hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (list[mid]!.index < from) lo = mid + 1;
        else hi = mid;
      }
      return list[lo];
    },
  };
};

/**
 * A gzip or zip archive is not a certificate format: it is refused, and looked into (decompressed
 * within bounds) only to report key material it carries.
 */
const readArchive = (
  bytes: Uint8Array,
  kind: 'gzip' | 'zip' | 'tar' | 'UTF-16 text',
  out: Collector,
  depth: number,
): void => {
  out.unparseable(
    out.name,
    kind === 'UTF-16 text'
      ? 'UTF-16 text: save the file as UTF-8 or ASCII PEM'
      : `a ${kind} archive, not a certificate file: upload the CA certificates themselves (PEM, DER or PKCS#7)`,
  );
  if (depth >= ARCHIVE_DEPTH) return;
  let members: { name: string; bytes: Uint8Array }[] = [];
  try {
    if (kind === 'gzip') members = [{ name: 'gzip content', bytes: gunzipPrefix(bytes) }];
    else if (kind === 'zip') members = zipMembers(bytes);
    else if (kind === 'tar') members = tarMembers(bytes);
    else members = [{ name: 'as UTF-8', bytes: fromUtf16(bytes) }];
  } catch {
    return;
  }
  for (const m of members) {
    // Looked into for keys only (the archive is refused anyway): a smaller budget per byte.
    const inner = new Collector(`${out.name} (${m.name})`, new HuntBudget(m.bytes.length, 0.25));
    try {
      readInto(m.bytes, inner, depth + 1);
    } catch (error) {
      if (!(error instanceof BudgetSpent)) continue;
    }
    for (const f of inner.findings) if (f.code === 'input.private-key') out.findings.push(f);
  }
};

/**
 * The decompressed content of a gzip file, or its first ARCHIVE_LIMIT bytes or so when it is
 * larger (a key followed by a bomb of zeros is still found): deflate expands at most 1032 times,
 * so that many compressed bytes cannot decompress past the limit.
 */
const gunzipPrefix = (bytes: Uint8Array): Uint8Array => {
  try {
    return gunzipSync(bytes, { maxOutputLength: ARCHIVE_LIMIT });
  } catch {
    const prefix = bytes.subarray(0, Math.floor(ARCHIVE_LIMIT / 1032));
    return gunzipSync(prefix, { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: ARCHIVE_LIMIT });
  }
};

/**
 * A deflated zip member, or its first ARCHIVE_LIMIT bytes or so when it is larger (as
 * gunzipPrefix); undefined when it is no deflate stream.
 */
const inflatePrefix = (data: Uint8Array): Uint8Array | undefined => {
  try {
    return inflateRawSync(data, { maxOutputLength: ARCHIVE_LIMIT });
  } catch {
    try {
      const prefix = data.subarray(0, Math.floor(ARCHIVE_LIMIT / 1032));
      return inflateRawSync(prefix, {
        finishFlush: zlibConstants.Z_SYNC_FLUSH,
        maxOutputLength: ARCHIVE_LIMIT,
      });
    } catch {
      return undefined;
    }
  }
};

/** UTF-16 (with a byte order mark, or ASCII with every other byte zero) as UTF-8. */
const fromUtf16 = (bytes: Uint8Array): Uint8Array => {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bigEndian = buf[0] === 0xfe || (buf[0] === 0 && buf[1] !== 0);
  const body = buf[0] === 0xff || buf[0] === 0xfe ? buf.subarray(2) : buf;
  const le = bigEndian ? Buffer.from(body).swap16() : body;
  return new Uint8Array(Buffer.from(le.subarray(0, le.length - (le.length % 2)).toString('utf16le'), 'utf8'));
};

const isUtf16 = (bytes: Uint8Array): boolean => {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) return true;
  const n = Math.min(bytes.length - (bytes.length % 2), 64);
  if (n < 8) return false;
  let even = 0;
  let odd = 0;
  for (let i = 0; i < n; i += 2) {
    if (bytes[i] === 0) even++;
    if (bytes[i + 1] === 0) odd++;
  }
  return even === n / 2 || odd === n / 2;
};

/** The regular files of a tar archive (ustar), within bounds. */
const tarMembers = (tar: Uint8Array): { name: string; bytes: Uint8Array }[] => {
  const view = Buffer.from(tar.buffer, tar.byteOffset, tar.byteLength);
  const out: { name: string; bytes: Uint8Array }[] = [];
  for (let pos = 0; pos + 512 <= view.length && out.length < 1000; ) {
    const header = view.subarray(pos, pos + 512);
    if (header.every((b) => b === 0)) break;
    const name = header.subarray(0, 100).toString('latin1').replace(/\0.*$/s, '');
    const size = Number.parseInt(
      header.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0',
      8,
    );
    if (!Number.isFinite(size) || size < 0) break;
    const type = String.fromCharCode(header[156]!);
    if (type === '0' || type === '\0')
      out.push({ name, bytes: new Uint8Array(view.subarray(pos + 512, pos + 512 + size)) });
    pos += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
};

/**
 * The stored and deflated members of a zip file, within bounds: from the central directory (where
 * the sizes are also for members written as a stream, with a data descriptor), else from the
 * local headers.
 */
const zipMembers = (zip: Uint8Array): { name: string; bytes: Uint8Array }[] => {
  const view = Buffer.from(zip.buffer, zip.byteOffset, zip.byteLength);
  const entries: { name: string; method: number; size: number; local: number }[] = [];
  // End of central directory: within the last 64 KiB + 22 bytes.
  let eocd = -1;
  for (let i = view.length - 22; i >= Math.max(0, view.length - 65_557); i--)
    if (view.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  if (eocd >= 0) {
    let pos = view.readUInt32LE(eocd + 16);
    for (let n = view.readUInt16LE(eocd + 10); n > 0 && pos + 46 <= view.length; n--) {
      if (view.readUInt32LE(pos) !== 0x02014b50) break;
      const nameLength = view.readUInt16LE(pos + 28);
      entries.push({
        name: view.subarray(pos + 46, pos + 46 + nameLength).toString('utf8'),
        method: view.readUInt16LE(pos + 10),
        size: view.readUInt32LE(pos + 20),
        local: view.readUInt32LE(pos + 42),
      });
      pos += 46 + nameLength + view.readUInt16LE(pos + 30) + view.readUInt16LE(pos + 32);
    }
  } else {
    for (let pos = 0; pos + 30 <= view.length && view.readUInt32LE(pos) === 0x04034b50; ) {
      const size = view.readUInt32LE(pos + 18);
      if (size === 0) break;
      entries.push({ name: '', method: view.readUInt16LE(pos + 8), size, local: pos });
      pos += 30 + view.readUInt16LE(pos + 26) + view.readUInt16LE(pos + 28) + size;
    }
  }
  const out: { name: string; bytes: Uint8Array }[] = [];
  let total = 0;
  for (const e of entries) {
    if (e.local + 30 > view.length || view.readUInt32LE(e.local) !== 0x04034b50) continue;
    const nameLength = view.readUInt16LE(e.local + 26);
    const start = e.local + 30 + nameLength + view.readUInt16LE(e.local + 28);
    const name = e.name || view.subarray(e.local + 30, e.local + 30 + nameLength).toString('utf8');
    const data = view.subarray(start, Math.min(view.length, start + e.size));
    if (e.method !== 0 && e.method !== 8) continue;
    // A member that cannot be inflated is passed over, not the archive's other members with it.
    const bytes = e.method === 0 ? data : inflatePrefix(data);
    if (!bytes) continue;
    total += bytes.length;
    if (total > ARCHIVE_LIMIT) break;
    out.push({ name, bytes: new Uint8Array(bytes) });
  }
  return out;
};

const readPemBlock = (label: string, body: string, where: string, out: Collector): void => {
  const b64 = body.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 === 1) {
    return out.unparseable(where, `the ${label} block is not valid base64 (edited by hand or truncated?)`);
  }
  const der = new Uint8Array(Buffer.from(b64, 'base64'));
  if (der.length === 0) return out.unparseable(where, `the ${label} block is empty`);
  if (label === 'TRUSTED CERTIFICATE') {
    // OpenSSL's trusted form: the certificate followed by its trust settings; keep the certificate,
    // after a look at whatever follows it.
    try {
      const cert = readTlv(der).bytes;
      if (huntBer(der.subarray(cert.length), `${where}, after the certificate`, out, out.budget)) return;
      return out.certificate(cert, where);
    } catch (error) {
      return out.unparseable(where, `not a valid X.509 certificate (${(error as Error).message})`);
    }
  }
  // A key labelled as something else (CERTIFICATE, PKCS7) is still a key.
  let kind: DerKind = 'unknown';
  try {
    kind = classify(readTlv(der));
  } catch {}
  if (kind === 'private-key') return out.privateKey(where, `a DER private key labelled ${label}`);
  if (kind === 'pkcs12') return out.privateKey(where, `a PKCS#12 archive labelled ${label}`);
  if (CERT_LABELS.has(label)) {
    // Bytes after the certificate (a key appended to it) are looked at before it is refused.
    try {
      readSingle(der);
    } catch {
      huntBer(der, where, out, out.budget);
    }
    return out.certificate(der, where);
  }
  if (PKCS7_LABELS.has(label)) return readPkcs7(der, where, out);
  // CRL uploads are hunted through this reader: a CRL's fields get the certificate's look.
  if (label === 'X509 CRL') return out.crl(der, where, NOT_A_CERT[label]!);
  const reason = NOT_A_CERT[label];
  return out.unparseable(where, reason ?? `"${label}" blocks are not certificates; remove this block`);
};

const readDer = (der: Uint8Array, where: string, out: Collector): void => {
  let top: Tlv;
  try {
    top = readSingle(der);
  } catch (error) {
    // Whatever follows the first element (a key appended to a certificate) is looked at too.
    huntBer(der, where, out, out.budget);
    return out.unparseable(where, `not valid DER (${(error as Error).message})`);
  }
  const kind = classify(top);
  switch (kind) {
    case 'certificate':
      return out.certificate(der, where);
    case 'pkcs7':
      return readPkcs7(der, where, out);
    case 'pkcs12':
      return out.privateKey(where, 'a PKCS#12 (.p12/.pfx) archive, which bundles a private key');
    case 'private-key':
      return out.privateKey(where, 'a DER private key');
    default:
      return out.unparseable(where, 'DER data that is neither a certificate nor PKCS#7 (.p7b)');
  }
};

type DerKind = 'certificate' | 'pkcs7' | 'pkcs12' | 'private-key' | 'unknown';

/** Tells what a top-level DER SEQUENCE is from its first fields, without parsing it in full. */
const classify = (top: Tlv): DerKind => {
  if (top.tag !== TAG.SEQUENCE) return 'unknown';
  let parts: Tlv[];
  try {
    parts = children(top);
  } catch {
    return 'unknown';
  }
  const [a, b, c] = parts;
  if (!a) return 'unknown';
  // Certificate: SEQUENCE { tbsCertificate SEQUENCE, AlgorithmIdentifier SEQUENCE, BIT STRING }
  if (a.tag === TAG.SEQUENCE && b?.tag === TAG.SEQUENCE && c?.tag === TAG.BIT_STRING) return 'certificate';
  // ContentInfo: SEQUENCE { contentType OID, [0] EXPLICIT content }
  if (a.tag === TAG.OID && b?.tag === 0xa0) return oidOf(a) === CMS_SIGNED_DATA ? 'pkcs7' : 'unknown';
  if (a.tag === TAG.INTEGER) {
    const version = a.content.length === 1 ? a.content[0] : -1;
    // PFX: SEQUENCE { version 3, authSafe ContentInfo, macData? }
    if (version === 3 && b?.tag === TAG.SEQUENCE) {
      const inner = safeChildren(b);
      const type = inner[0]?.tag === TAG.OID ? oidOf(inner[0]) : '';
      if (type === CMS_DATA || type === CMS_SIGNED_DATA) return 'pkcs12';
    }
    // PKCS#8: SEQUENCE { version 0|1, AlgorithmIdentifier, OCTET STRING }
    if ((version === 0 || version === 1) && b?.tag === TAG.SEQUENCE && c?.tag === TAG.OCTET_STRING) {
      return 'private-key';
    }
    // SEC1 EC key: SEQUENCE { version 1, OCTET STRING privateKey, ... }
    if (version === 1 && b?.tag === TAG.OCTET_STRING) return 'private-key';
    // PKCS#1 RSA / DSA private key: version 0 followed by at least five more INTEGERs.
    if (version === 0 && parts.length >= 6 && parts.every((p) => p.tag === TAG.INTEGER)) return 'private-key';
  }
  // EncryptedPrivateKeyInfo: SEQUENCE { AlgorithmIdentifier (PBES2, PKCS#12 PBE), OCTET STRING }
  if (a.tag === TAG.SEQUENCE && b?.tag === TAG.OCTET_STRING && parts.length === 2) {
    const alg = safeChildren(a)[0];
    const oid = alg?.tag === TAG.OID ? oidOf(alg) : '';
    if (oid.startsWith('1.2.840.113549.1.5.') || oid.startsWith('1.2.840.113549.1.12.1.'))
      return 'private-key';
  }
  return 'unknown';
};

const safeChildren = (tlv: Tlv): Tlv[] => {
  try {
    return tlv.constructed ? children(tlv) : [];
  } catch {
    return [];
  }
};

const oidOf = (tlv: Tlv): string => {
  try {
    return decodeOid(tlv.content);
  } catch {
    return '';
  }
};

const readPkcs7 = (der: Uint8Array, where: string, out: Collector): void => {
  let certs: Tlv[];
  let crls = 0;
  try {
    const [typeTlv, wrapped] = children(readSingle(der));
    if (!typeTlv || typeTlv.tag !== TAG.OID || decodeOid(typeTlv.content) !== CMS_SIGNED_DATA) {
      return out.unparseable(where, 'PKCS#7 content is not SignedData, so it carries no certificates');
    }
    const signedData = children(wrapped ?? fail('PKCS#7 content is missing'))[0];
    if (!signedData || signedData.tag !== TAG.SEQUENCE) fail('SignedData is not a SEQUENCE');
    const fields = children(signedData!);
    // encapContentInfo: a certificate bundle carries no content; whatever it carries is looked at.
    const encap = fields.find((f, i) => i > 0 && f.tag === TAG.SEQUENCE);
    const content = encap ? safeChildren(encap).find((f) => f.tag === 0xa0) : undefined;
    for (const octets of content ? safeChildren(content) : []) {
      const bytes = octets.tag === TAG.OCTET_STRING ? octets.content : octets.bytes;
      if (!huntBer(bytes, `${where}, PKCS#7 content`, out, out.budget))
        huntText(Buffer.from(bytes).toString('latin1'), `${where}, PKCS#7 content`, out, out.budget);
    }
    const set = fields.find((field) => field.tag === 0xa0);
    // The other parts (CRLs, signer infos) are looked into as well: none of them is kept either.
    for (const field of fields)
      if (field !== set && field !== encap)
        huntBer(
          field.bytes,
          `${where}, PKCS#7 ${field.tag === 0xa1 ? 'CRLs' : 'signer infos'}`,
          out,
          out.budget,
          {
            loose: false,
          },
        );
    certs = set ? children(set) : [];
    crls = fields.filter((f) => f.tag === 0xa1).flatMap((f) => safeChildren(f)).length;
  } catch (error) {
    huntBer(der, where, out, out.budget);
    return out.unparseable(where, `not a valid PKCS#7 bundle (${(error as Error).message})`);
  }
  // CRLs are judged only in inbox/<partner>/crl/: a bundle that carries some is refused whole,
  // as a CRL block beside certificates is, never taken with its CRLs silently left out.
  if (crls > 0)
    return out.unparseable(
      where,
      `the PKCS#7 bundle holds ${crls === 1 ? 'a certificate revocation list' : `${crls} certificate revocation lists`}${certs.length > 0 ? ` beside ${certs.length} certificate${certs.length === 1 ? '' : 's'}` : ''}; API Gateway truststores hold only CA certificates: put the CRLs into inbox/<partner>/crl/ and the certificates into inbox/<partner>/ (openssl pkcs7 -print_certs -in <file>, with -inform DER for a binary one, writes both out as PEM blocks)`,
    );
  if (certs.length === 0) return out.unparseable(where, 'the PKCS#7 bundle holds no certificates');
  certs.forEach((cert, i) => {
    const place = `${where}, PKCS#7 certificate ${i + 1}`;
    const kind = classify(cert);
    if (kind === 'private-key') out.privateKey(place, 'a DER private key in the certificate set');
    else if (kind === 'pkcs12') out.privateKey(place, 'a PKCS#12 archive in the certificate set');
    else if (cert.tag === TAG.SEQUENCE) out.certificate(cert.bytes, place);
    else out.unparseable(place, 'not an X.509 certificate (attribute or other certificate format)');
  });
};

const fail = (message: string): never => {
  throw new DerError(message);
};

/** Line numbers (1-based) for character offsets, counting LF (CRLF files count the same). */
const lineCounter = (text: string): ((index: number) => number) => {
  let line = 1;
  let pos = 0;
  return (index: number) => {
    for (; pos < index; pos++) if (text.charCodeAt(pos) === 10) line++;
    return line;
  };
};

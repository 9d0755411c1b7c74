import {
  createHash,
  createPublicKey,
  constants as cryptoConstants,
  type KeyObject,
  verify,
} from 'node:crypto';
import {
  bitLength,
  bitStringBytes,
  children,
  DerError,
  decodeOid,
  expectTag,
  readOid,
  readSingle,
  readTime,
  readTlv,
  smallInteger,
  TAG,
  type Tlv,
  toHex,
  unsignedMagnitude,
} from './der.js';
import { type DecodedExtensions, decodeExtensions, type RawExtension } from './extensions.js';
import { attributeValues, type DistinguishedName, parseName } from './name.js';
import { CURVES, HASH_OIDS, KEY_ALGORITHMS, SIGNATURE_ALGORITHMS } from './oids.js';

/** PKCS #9 emailAddress, the subject attribute OpenSSL checks against email name constraints. */
const EMAIL_ADDRESS = '1.2.840.113549.1.9.1';

export type KeyType = 'rsa' | 'rsa-pss' | 'ec' | 'ed25519' | 'ed448' | 'dsa' | 'unknown';

export interface PublicKeyInfo {
  readonly type: KeyType;
  /** Modulus size for RSA, curve size for EC, nominal size for EdDSA. */
  readonly bits?: number;
  /** Curve name (`P-256`, …) or dotted OID for unknown curves. */
  readonly curve?: string;
  /** RSA: the public exponent's size in bits, and whether it is odd. */
  readonly exponentBits?: number;
  readonly exponentOdd?: boolean;
  readonly algorithmOid: string;
  /** The DER SubjectPublicKeyInfo. */
  readonly spki: Uint8Array;
}

export interface SignatureInfo {
  readonly algorithmOid: string;
  /** `sha256WithRSAEncryption`, `ecdsa-with-SHA384`, … or the dotted OID when unknown. */
  readonly algorithm: string;
  /** Digest, `null` for EdDSA, `undefined` when the algorithm is unknown. */
  readonly hash: string | null | undefined;
  /** RSASSA-PSS salt length (bytes). */
  readonly pssSaltLength?: number;
}

/** One parsed X.509 certificate: what trustroll judges, nothing it does not. */
export interface Certificate extends DecodedExtensions {
  readonly der: Uint8Array;
  /** SHA-256 of the DER, lowercase hex without colons. */
  readonly fingerprint: string;
  /** X.509 version (1, 2 or 3). */
  readonly version: number;
  /** Serial number, lowercase hex of the DER INTEGER content (two's complement as encoded). */
  readonly serial: string;
  readonly subject: DistinguishedName;
  readonly issuer: DistinguishedName;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly publicKey: PublicKeyInfo;
  readonly signature: SignatureInfo;
  /** Every extension present, with criticality, including those trustroll does not decode. */
  readonly extensions: readonly { readonly oid: string; readonly critical: boolean }[];
  /**
   * The subject's emailAddress attributes (bytes as latin1, and whether IA5String), when there are
   * some: OpenSSL checks them against rfc822Name constraints.
   */
  readonly subjectEmails?: readonly { readonly value: string; readonly ia5: boolean }[];
  /** Subject and issuer names are equal (canonically): a root candidate or a self-issued CA. */
  readonly selfIssued: boolean;
  /** @internal bytes covered by the signature */
  readonly tbs: Uint8Array;
  /** @internal the signature value */
  readonly signatureValue: Uint8Array;
}

/** Subject + fingerprint: how a finding names the certificate it concerns. */
export interface CertRef {
  readonly subject: string;
  readonly fingerprint: string;
}

export const certRef = (cert: Certificate): CertRef => ({
  subject: cert.subject.text,
  fingerprint: cert.fingerprint,
});

/**
 * Parses one DER certificate. Throws `DerError` with a reason a person can act on when the bytes
 * are not a well-formed X.509 certificate.
 */
export const parseCertificate = (der: Uint8Array): Certificate => {
  const top = readSingle(der);
  const [tbsTlv, sigAlgTlv, sigValueTlv, extra] = children(expectTag(top, TAG.SEQUENCE, 'certificate'));
  if (extra) throw new DerError('certificate has more than three top-level fields');
  const tbs = expectTag(tbsTlv, TAG.SEQUENCE, 'tbsCertificate');
  const outerAlg = parseAlgorithm(expectTag(sigAlgTlv, TAG.SEQUENCE, 'signatureAlgorithm'));
  const signatureValue = bitStringBytes(expectTag(sigValueTlv, TAG.BIT_STRING, 'signature'), 'signature');

  const fields = children(tbs);
  let i = 0;
  let version = 1;
  if (fields[0]?.tag === 0xa0) {
    version = smallInteger(children(fields[0])[0], 'version') + 1;
    if (version < 1 || version > 3) throw new DerError(`unknown certificate version ${version}`);
    i = 1;
  }
  const serialTlv = expectTag(fields[i++], TAG.INTEGER, 'serialNumber');
  const innerAlg = parseAlgorithm(expectTag(fields[i++], TAG.SEQUENCE, 'tbsCertificate.signature'));
  if (innerAlg.algorithmOid !== outerAlg.algorithmOid) {
    throw new DerError('the signature algorithm inside the certificate differs from the outer one');
  }
  const issuer = parseName(fields[i++] ?? missing('issuer'), 'issuer');
  const validity = children(expectTag(fields[i++], TAG.SEQUENCE, 'validity'));
  const notBefore = readTime(validity[0], 'notBefore');
  const notAfter = readTime(validity[1], 'notAfter');
  const subjectTlv = fields[i++] ?? missing('subject');
  const subject = parseName(subjectTlv, 'subject');
  const subjectEmails = attributeValues(subjectTlv, EMAIL_ADDRESS).map(({ value, tag }) => ({
    value,
    ia5: tag === TAG.IA5_STRING,
  }));
  const publicKey = parsePublicKey(expectTag(fields[i++], TAG.SEQUENCE, 'subjectPublicKeyInfo'));

  const raw: RawExtension[] = [];
  for (; i < fields.length; i++) {
    const field = fields[i]!;
    // [1] issuerUniqueID and [2] subjectUniqueID are legal in v2/v3 and ignored.
    if (field.tag === 0x81 || field.tag === 0x82) continue;
    if (field.tag !== 0xa3) throw new DerError(`unexpected field with tag 0x${field.tag.toString(16)}`);
    if (version !== 3) throw new DerError('extensions are only allowed in version 3 certificates');
    for (const ext of children(expectTag(children(field)[0], TAG.SEQUENCE, 'extensions'))) {
      const parts = children(expectTag(ext, TAG.SEQUENCE, 'extension'));
      const oid = readOid(parts[0], 'extension id');
      let critical = false;
      let valueTlv = parts[1];
      if (valueTlv?.tag === TAG.BOOLEAN) {
        critical = valueTlv.content[0] !== 0;
        valueTlv = parts[2];
      }
      raw.push({ oid, critical, value: expectTag(valueTlv, TAG.OCTET_STRING, `extension ${oid}`).content });
    }
  }

  return {
    der,
    fingerprint: createHash('sha256').update(der).digest('hex'),
    version,
    serial: toHex(serialTlv.content),
    subject,
    issuer,
    notBefore,
    notAfter,
    publicKey,
    signature: outerAlg,
    extensions: raw.map(({ oid, critical }) => ({ oid, critical })),
    ...(subjectEmails.length > 0 ? { subjectEmails } : {}),
    selfIssued: subject.key === issuer.key,
    ...decodeExtensions(raw),
    tbs: tbs.bytes,
    signatureValue,
  };
};

const missing = (what: string): never => {
  throw new DerError(`${what} is missing`);
};

/** An AlgorithmIdentifier of a signature (certificates and CRLs), with RSASSA-PSS parameters read. */
export const parseAlgorithm = (seq: Tlv): SignatureInfo => {
  const [oidTlv, params] = children(seq);
  const algorithmOid = readOid(oidTlv, 'algorithm');
  const known = SIGNATURE_ALGORITHMS[algorithmOid];
  if (!known) return { algorithmOid, algorithm: algorithmOid, hash: undefined };
  if (known.family !== 'rsa-pss') return { algorithmOid, algorithm: known.name, hash: known.hash };
  // RSASSA-PSS-params: [0] hashAlgorithm (default SHA-1), [1] maskGen, [2] saltLength (default 20).
  let hash: string | undefined = 'sha1';
  let pssSaltLength = 20;
  if (params && params.tag === TAG.SEQUENCE) {
    for (const field of children(params)) {
      if (field.tag === 0xa0) hash = HASH_OIDS[readOid(children(children(field)[0]!)[0], 'PSS hash')];
      if (field.tag === 0xa2) pssSaltLength = smallInteger(children(field)[0], 'PSS salt length');
    }
  }
  return { algorithmOid, algorithm: `rsassaPss(${hash ?? 'unknown'})`, hash, pssSaltLength };
};

/**
 * The public key of a DER certificate, reading only what leads to it (no names, times or
 * extensions decoded): for a view that shows keys of certificates it need not judge.
 */
export const publicKeyOf = (der: Uint8Array): PublicKeyInfo => {
  const [tbsTlv] = children(expectTag(readSingle(der), TAG.SEQUENCE, 'certificate'));
  const fields = children(expectTag(tbsTlv, TAG.SEQUENCE, 'tbsCertificate'));
  // [version], serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
  const at = fields[0]?.tag === 0xa0 ? 6 : 5;
  return parsePublicKey(expectTag(fields[at], TAG.SEQUENCE, 'subjectPublicKeyInfo'));
};

const parsePublicKey = (spki: Tlv): PublicKeyInfo => {
  const [algTlv, keyTlv] = children(spki);
  const [oidTlv, params] = children(expectTag(algTlv, TAG.SEQUENCE, 'public key algorithm'));
  const algorithmOid = readOid(oidTlv, 'public key algorithm');
  const keyBits = bitStringBytes(expectTag(keyTlv, TAG.BIT_STRING, 'public key'), 'public key');
  const type: KeyType = KEY_ALGORITHMS[algorithmOid] ?? 'unknown';
  const base: PublicKeyInfo = { type, algorithmOid, spki: spki.bytes };
  switch (type) {
    case 'rsa':
    case 'rsa-pss': {
      const [modulus, exponent] = children(expectTag(readSingle(keyBits), TAG.SEQUENCE, 'RSA public key'));
      const e = unsignedMagnitude(expectTag(exponent, TAG.INTEGER, 'public exponent').content);
      return {
        ...base,
        bits: bitLength(unsignedMagnitude(expectTag(modulus, TAG.INTEGER, 'modulus').content)),
        exponentBits: bitLength(e),
        exponentOdd: e.length > 0 && (e[e.length - 1]! & 1) === 1,
      };
    }
    case 'ec': {
      if (params?.tag !== TAG.OID) return { ...base, curve: 'explicit parameters' };
      const curveOid = decodeOid(params.content);
      const curve = CURVES[curveOid];
      return curve ? { ...base, curve: curve.name, bits: curve.bits } : { ...base, curve: curveOid };
    }
    case 'ed25519':
      return { ...base, bits: 256 };
    case 'ed448':
      return { ...base, bits: 456 };
    case 'dsa': {
      const p = params?.tag === TAG.SEQUENCE ? children(params)[0] : undefined;
      return p?.tag === TAG.INTEGER ? { ...base, bits: bitLength(unsignedMagnitude(p.content)) } : base;
    }
    default:
      return base;
  }
};

const keyCache = new WeakMap<Certificate, KeyObject | null>();

/** The certificate's public key as a Node KeyObject, built once; `null` when Node cannot load it. */
export const publicKeyObject = (cert: Certificate): KeyObject | null => {
  let key = keyCache.get(cert);
  if (key === undefined) {
    try {
      key = createPublicKey({ key: Buffer.from(cert.publicKey.spki), format: 'der', type: 'spki' });
    } catch {
      key = null;
    }
    keyCache.set(cert, key);
  }
  return key;
};

/**
 * Signatures already checked, by certificate: each pair is verified once. A certificate is
 * checked against one issuer or a few, so a short list costs less memory than a map per certificate.
 */
const verified = new WeakMap<Certificate, { readonly issuer: Certificate; readonly ok: boolean }[]>();

/**
 * The same answers by the two certificates' fingerprints, for certificates parsed again (a state
 * document read afresh holds new objects for the same CAs): an answer is a function of the two
 * DER encodings alone. Bounded: past `MAX_BY_PRINT` pairs the oldest are forgotten.
 */
const byPrint = new Map<string, boolean>();
const MAX_BY_PRINT = 50_000;
const printKey = (cert: Certificate, issuer: Certificate) => `${cert.fingerprint}${issuer.fingerprint}`;

const known = (cert: Certificate, issuer: Certificate): boolean | undefined => {
  const answer = verified.get(cert)?.find((v) => v.issuer === issuer)?.ok;
  if (answer !== undefined) return answer;
  const again = byPrint.get(printKey(cert, issuer));
  if (again !== undefined) remember(cert, issuer, again);
  return again;
};

const remember = (cert: Certificate, issuer: Certificate, ok: boolean): boolean => {
  const list = verified.get(cert);
  if (list) list.push({ issuer, ok });
  else verified.set(cert, [{ issuer, ok }]);
  const key = printKey(cert, issuer);
  if (!byPrint.has(key)) learn(key, ok);
  return ok;
};

/** Adds an answer by fingerprints (the oldest forgotten past the bound). */
const learn = (key: string, ok: boolean): void => {
  if (byPrint.size >= MAX_BY_PRINT) byPrint.delete(byPrint.keys().next().value!);
  byPrint.set(key, ok);
  answersChanged++;
};
/** Counts the changes to the answers by fingerprints: `signatureAnswers` is computed again only after one. */
let answersChanged = 0;
const answersOf = new WeakMap<
  ReadonlyMap<string, number>,
  { readonly changes: number; readonly answers: [number, number, boolean][] }
>();

/**
 * The answers known in this process for pairs of the certificates at `positions` (fingerprint →
 * position): [certificate, issuer, whether the issuer's key verifies its signature], by position,
 * sorted. What a state document carries under its seal (see `sealOf`), so that another process
 * reading it does not verify those signatures again.
 */
export const signatureAnswers = (positions: ReadonlyMap<string, number>): [number, number, boolean][] => {
  const kept = answersOf.get(positions);
  if (kept?.changes === answersChanged) return kept.answers;
  const out: [number, number, boolean][] = [];
  for (const [key, ok] of byPrint) {
    const cert = positions.get(key.slice(0, 64));
    if (cert === undefined) continue;
    const issuer = positions.get(key.slice(64));
    if (issuer !== undefined) out.push([cert, issuer, ok]);
  }
  out.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  answersOf.set(positions, { changes: answersChanged, answers: out });
  return out;
};

/**
 * Forgets the answers found for `certificates` (by fingerprint: their signatures checked against
 * any issuer), or every answer: a benchmark that judges the same upload again measures the
 * signature work a new upload costs.
 */
export const forgetSignatureAnswers = (certificates?: ReadonlySet<string>): void => {
  for (const key of byPrint.keys())
    if (!certificates || certificates.has(key.slice(0, 64))) byPrint.delete(key);
  answersChanged++;
};

/**
 * Takes answers a sealed state document carries (by fingerprint) as known: answers a trustroll
 * process found by verifying, or took under a seal itself.
 */
export const rememberSignatureAnswers = (
  answers: Iterable<readonly [cert: string, issuer: string, ok: boolean]>,
): void => {
  for (const [cert, issuer, ok] of answers) {
    const key = `${cert}${issuer}`;
    if (!byPrint.has(key)) learn(key, ok);
  }
};

/** What a signature check needs: the signed bytes, the signature and its algorithm (a certificate or a CRL). */
export interface Signed {
  readonly tbs: Uint8Array;
  readonly signatureValue: Uint8Array;
  readonly signature: SignatureInfo;
}

/** What `verify` needs for a signature by `issuer`, or `false` when it cannot be checked here. */
const verification = (signed: Signed, issuer: Certificate) => {
  // No signature work with a key no CA should have (key.unsupported reports it): its cost is unbounded.
  if (unsupportedKey(issuer.publicKey)) return false;
  const key = publicKeyObject(issuer);
  const { hash, pssSaltLength } = signed.signature;
  if (!key || hash === undefined) return false;
  return {
    hash,
    key:
      pssSaltLength !== undefined
        ? { key, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: pssSaltLength }
        : key,
  };
};

/**
 * Whether `issuer`'s key verifies a signature over `signed.tbs` (RSA PKCS#1 v1.5, RSA-PSS, ECDSA,
 * EdDSA): the one check certificates and CRLs share. `false` when it does not verify, or when the
 * algorithm or key cannot be checked here. Not remembered: `verifySignature` caches for certificates.
 */
export const verifySignedBy = (signed: Signed, issuer: Certificate): boolean => {
  const how = verification(signed, issuer);
  if (!how) return false;
  try {
    return verify(how.hash, signed.tbs, how.key, signed.signatureValue);
  } catch {
    return false;
  }
};

/**
 * Whether `issuer`'s key verifies `cert`'s signature. `false` when it does not, or when the
 * algorithm cannot be checked here (unknown algorithm, unsupported key).
 */
export const verifySignature = (cert: Certificate, issuer: Certificate): boolean => {
  const answer = known(cert, issuer);
  if (answer !== undefined) return answer;
  return remember(cert, issuer, verifySignedBy(cert, issuer));
};

/** Verifications `verifySignatures` keeps in flight: enough for every core, few enough for memory. */
const IN_FLIGHT = 64;

/**
 * Verifies many signatures at once, on libuv's thread pool (several cores), and remembers the
 * answers, so that `verifySignature` then answers them without signature work. The answers are
 * the same as `verifySignature`'s: this only moves the work off the main thread, ahead of time.
 * At most `IN_FLIGHT` run at a time: each holds a copy of its to-be-signed bytes.
 */
export const verifySignatures = async (
  pairs: readonly (readonly [cert: Certificate, issuer: Certificate])[],
): Promise<void> => {
  let next = 0;
  const one = (cert: Certificate, issuer: Certificate) =>
    new Promise<void>((resolve) => {
      if (known(cert, issuer) !== undefined) return resolve();
      const how = verification(cert, issuer);
      if (!how) {
        remember(cert, issuer, false);
        return resolve();
      }
      try {
        verify(how.hash, cert.tbs, how.key, cert.signatureValue, (error, ok) => {
          remember(cert, issuer, !error && ok);
          resolve();
        });
      } catch {
        remember(cert, issuer, false);
        resolve();
      }
    });
  const worker = async () => {
    while (next < pairs.length) {
      const [cert, issuer] = pairs[next++]!;
      await one(cert, issuer);
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, pairs.length) }, worker));
};

/** RSA limits: OpenSSL's largest modulus, and FIPS 186-4's largest public exponent. */
export const MAX_RSA_BITS = 16_384;
export const MAX_RSA_EXPONENT_BITS = 256;

/**
 * Why a public key is not one to spend signature work on, or `undefined`: an RSA modulus over
 * 16,384 bits, or an exponent that is even, below 3 or over 256 bits (verifying with a 3,000-bit
 * exponent costs as much as two hundred ordinary verifications).
 */
export const unsupportedKey = (key: PublicKeyInfo): string | undefined => {
  if (key.type !== 'rsa' && key.type !== 'rsa-pss') return undefined;
  if ((key.bits ?? 0) > MAX_RSA_BITS) return `an RSA modulus of ${key.bits} bits (at most ${MAX_RSA_BITS})`;
  if (key.exponentBits !== undefined && key.exponentBits > MAX_RSA_EXPONENT_BITS)
    return `an RSA public exponent of ${key.exponentBits} bits (at most ${MAX_RSA_EXPONENT_BITS}; 65537 is usual)`;
  if (key.exponentBits !== undefined && (key.exponentBits < 2 || key.exponentOdd === false))
    return 'an RSA public exponent that is even or below 3';
  return undefined;
};

/** PEM text of one certificate (LF line endings, 64-character lines). */
export const toPem = (der: Uint8Array): string => {
  const b64 = Buffer.from(der).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
};

/** The DER inside one PEM block (any label): the inverse of toPem. */
export const pemToDer = (pem: string): Uint8Array =>
  new Uint8Array(Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64'));

/** Reads the first element of a buffer, for callers that only need to sniff a structure. */
export const sniff = (bytes: Uint8Array): Tlv | undefined => {
  try {
    return readTlv(bytes);
  } catch {
    return undefined;
  }
};

/** A serial (hex of its INTEGER's content) with a leading zero byte DER does not allow (`0006`). */
export const paddedSerial = (serial: string): boolean =>
  serial.length >= 4 && serial.startsWith('00') && Number.parseInt(serial.slice(2, 4), 16) < 0x80;

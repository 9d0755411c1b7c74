/**
 * PKI builder: generates CAs, client certificates and keys with @peculiar/x509 — for test
 * fixtures, the demo PKI of `trustroll up` and `trustroll pki`. Never imported by Lambda code
 * (its cold start is 120–250 ms).
 * Keys are cached per (algorithm, slot) so a process generates each RSA key once.
 */
import 'reflect-metadata';
import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, webcrypto } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type Algorithm = webcrypto.Algorithm;
type RsaHashedKeyGenParams = webcrypto.RsaHashedKeyGenParams;
type EcKeyGenParams = webcrypto.EcKeyGenParams;

import { AsnConvert } from '@peculiar/asn1-schema';
import * as asn1X509 from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export const DAY = 86_400_000;
export const days = (n: number, from: Date): Date => new Date(from.getTime() + n * DAY);

export type KeyAlg = 'rsa1024' | 'rsa2048' | 'rsa3072' | 'rsa4096' | 'p256' | 'p384' | 'p521' | 'ed25519';
export type Hash = 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512';

export interface Issued {
  readonly cert: x509.X509Certificate;
  readonly der: Uint8Array;
  readonly pem: string;
  readonly keys: CryptoKeyPair;
  readonly alg: KeyAlg;
}

/** A GeneralName, for subjectAltName and name constraints. */
export type GeneralNameSpec =
  | { readonly dns: string }
  | { readonly email: string }
  | { readonly uri: string }
  /** RFC 4514 text, as `subject`. */
  | { readonly dir: string }
  | { readonly registeredId: string }
  /** An otherName of type `otherName` whose value is a UTF8String, or the DER given. */
  | { readonly otherName: string; readonly utf8?: string; readonly der?: Uint8Array };

/** One subtree of a nameConstraints extension; `minimum`/`maximum` as RFC 5280 (which forbids them). */
export type SubtreeSpec = GeneralNameSpec & { readonly minimum?: number; readonly maximum?: number };

export interface CertSpec {
  /**
   * RFC 4514 text (most specific first, as people write it), or a JSON name in DER order (whose
   * values may name their string type, e.g. `{ utf8String: … }`).
   */
  readonly subject: string | x509.JsonName | x509.JsonNameParams;
  /** Signed by this issuer; self-signed when absent. */
  readonly issuer?: Issued;
  readonly key?: KeyAlg;
  /** Distinct slots give distinct keys of the same algorithm (for re-keyed CAs). */
  readonly keySlot?: string;
  readonly hash?: Hash;
  /** basicConstraints cA; `null` leaves the extension out. Default true. */
  readonly ca?: boolean | null;
  readonly pathLen?: number;
  readonly bcCritical?: boolean;
  /** keyUsage flags; `null` leaves the extension out. Default keyCertSign|cRLSign for CAs, digitalSignature for leaves. */
  readonly keyUsage?: number | null;
  readonly eku?: readonly string[];
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  readonly ski?: boolean;
  readonly aki?: boolean;
  readonly serial?: string;
  /** Issuer name to write when it must differ from the issuer's subject (broken chains). */
  readonly issuerName?: string | x509.JsonName;
  /** A raw SPKI to certify instead of a generated key (curves WebCrypto lacks). */
  readonly spki?: Uint8Array;
  /** subjectAltName DNS names and IP addresses (server certificates). */
  readonly dns?: readonly string[];
  readonly ips?: readonly string[];
  /** Further subjectAltName names (email addresses, URIs, otherNames…), after the DNS names and IPs. */
  readonly altNames?: readonly GeneralNameSpec[];
  /** A nameConstraints extension (critical, as RFC 5280 requires). */
  readonly nameConstraints?: {
    readonly permitted?: readonly SubtreeSpec[];
    readonly excluded?: readonly SubtreeSpec[];
  };
  /** The moment default validity is computed from (default: now). */
  readonly now?: Date;
  /** Further extensions, as their OID and the DER of extnValue (hostile fixtures). */
  readonly extraExtensions?: readonly {
    readonly oid: string;
    readonly value: Uint8Array;
    readonly critical?: boolean;
  }[];
  /** cRLDistributionPoints: one distribution point per URI. */
  readonly crlDistributionPoints?: readonly string[];
}

const keyParams = (alg: KeyAlg, hash: Hash): RsaHashedKeyGenParams | EcKeyGenParams | Algorithm => {
  switch (alg) {
    case 'p256':
      return { name: 'ECDSA', namedCurve: 'P-256' } as EcKeyGenParams;
    case 'p384':
      return { name: 'ECDSA', namedCurve: 'P-384' } as EcKeyGenParams;
    case 'p521':
      return { name: 'ECDSA', namedCurve: 'P-521' } as EcKeyGenParams;
    case 'ed25519':
      return { name: 'Ed25519' };
    default:
      return {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: Number(alg.slice(3)),
        publicExponent: new Uint8Array([1, 0, 1]),
        hash,
      } as RsaHashedKeyGenParams;
  }
};

const keyCache = new Map<string, Promise<CryptoKeyPair>>();

/**
 * Where RSA keys may be kept between processes, as PKCS#8: generating one costs 50 ms to seconds,
 * and the test suites (run again per mutant by mutation testing) need the same ones each time.
 * Test fixtures set one; `trustroll pki` and `up` never do, so their keys are always new.
 */
export interface KeyStore {
  get(id: string): Uint8Array | undefined;
  set(id: string, pkcs8: Uint8Array): void;
}
let keyStore: KeyStore | undefined;
export const useKeyStore = (store: KeyStore | undefined): void => {
  keyStore = store;
};

export const keyPair = (alg: KeyAlg, slot = 'default'): Promise<CryptoKeyPair> => {
  const id = `${alg}/${slot}`;
  let keys = keyCache.get(id);
  if (!keys) {
    keys = makeKeys(alg, id, alg.startsWith('rsa') ? keyStore : undefined);
    keyCache.set(id, keys);
  }
  return keys;
};

const makeKeys = async (alg: KeyAlg, id: string, store: KeyStore | undefined): Promise<CryptoKeyPair> => {
  const params = keyParams(alg, 'SHA-256');
  const kept = store?.get(id);
  if (kept) {
    const spki = createPublicKey(
      createPrivateKey({ key: Buffer.from(kept), format: 'der', type: 'pkcs8' }),
    ).export({
      type: 'spki',
      format: 'der',
    });
    return {
      privateKey: await webcrypto.subtle.importKey('pkcs8', kept, params, true, ['sign']),
      publicKey: await webcrypto.subtle.importKey('spki', spki, params, true, ['verify']),
    };
  }
  const made = (await webcrypto.subtle.generateKey(params, true, ['sign', 'verify'])) as CryptoKeyPair;
  store?.set(id, new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', made.privateKey)));
  return made;
};

const signing = (alg: KeyAlg, hash: Hash): Algorithm => {
  if (alg === 'ed25519') return { name: 'Ed25519' };
  if (alg.startsWith('rsa')) return { name: 'RSASSA-PKCS1-v1_5', hash } as Algorithm;
  return { name: 'ECDSA', hash } as Algorithm;
};

/** WebCrypto binds an RSA key to one hash: re-import the private key to sign with another. */
const signerFor = async (keys: CryptoKeyPair, alg: KeyAlg, hash: Hash): Promise<CryptoKey> => {
  if (!alg.startsWith('rsa') || hash === 'SHA-256') return keys.privateKey;
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return webcrypto.subtle.importKey('pkcs8', pkcs8, { name: 'RSASSA-PKCS1-v1_5', hash }, false, ['sign']);
};

/**
 * @peculiar/x509 encodes a name string's RDNs in the order written, while RFC 4514 text lists the
 * last RDN first: reverse the text so `CN=x,O=y,C=DE` reads back as written.
 */
const derOrder = (name: string | x509.JsonName | x509.JsonNameParams): string | x509.Name =>
  typeof name === 'string'
    ? name
        .split(/(?<!\\),/)
        .reverse()
        .join(',')
    : new x509.Name(name);

const generalName = (g: GeneralNameSpec): asn1X509.GeneralName => {
  if ('dns' in g) return new asn1X509.GeneralName({ dNSName: g.dns });
  if ('email' in g) return new asn1X509.GeneralName({ rfc822Name: g.email });
  if ('uri' in g) return new asn1X509.GeneralName({ uniformResourceIdentifier: g.uri });
  if ('registeredId' in g) return new asn1X509.GeneralName({ registeredID: g.registeredId });
  if ('dir' in g) {
    const name = new x509.Name(derOrder(g.dir)).toArrayBuffer();
    return new asn1X509.GeneralName({ directoryName: AsnConvert.parse(name, asn1X509.Name) });
  }
  const der =
    g.der ?? new Uint8Array(AsnConvert.serialize(new asn1X509.DirectoryString({ utf8String: g.utf8 ?? '' })));
  return new asn1X509.GeneralName({
    otherName: new asn1X509.OtherName({ typeId: g.otherName, value: new Uint8Array(der).buffer }),
  });
};

let serialCounter = 1;

/** Issues one certificate from a spec. */
export const issue = async (spec: CertSpec): Promise<Issued> => {
  const alg = spec.key ?? 'p256';
  const hash = spec.hash ?? 'SHA-256';
  const issuer = spec.issuer;
  const keys = await keyPair(alg, spec.keySlot ?? JSON.stringify(spec.subject));
  const signerAlg = issuer?.alg ?? alg;
  const signingKey = await signerFor(issuer?.keys ?? keys, signerAlg, hash);
  const ca = spec.ca === undefined ? true : spec.ca;
  const extensions: x509.Extension[] = [];
  if (ca !== null)
    extensions.push(new x509.BasicConstraintsExtension(ca, spec.pathLen, spec.bcCritical ?? true));
  const usage =
    spec.keyUsage === undefined
      ? ca
        ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign
        : x509.KeyUsageFlags.digitalSignature
      : spec.keyUsage;
  if (usage !== null) extensions.push(new x509.KeyUsagesExtension(usage, true));
  const san = [
    ...(spec.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(spec.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  if (spec.altNames?.length) {
    // @peculiar/x509's JSON names cannot say otherName values or registeredIDs: build GeneralNames.
    const names = [...(spec.dns ?? []).map((dns) => ({ dns })), ...spec.altNames].map(generalName);
    const ips = (spec.ips ?? []).map((iPAddress) => new asn1X509.GeneralName({ iPAddress }));
    names.splice(spec.dns?.length ?? 0, 0, ...ips);
    extensions.push(
      new x509.Extension(
        asn1X509.id_ce_subjectAltName,
        false,
        AsnConvert.serialize(new asn1X509.SubjectAlternativeName(names)),
      ),
    );
  } else if (san.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(san, false));
  if (spec.nameConstraints) {
    const subtrees = (list: readonly SubtreeSpec[] | undefined) =>
      list?.length
        ? new asn1X509.GeneralSubtrees(
            list.map(
              (s) =>
                new asn1X509.GeneralSubtree({
                  base: generalName(s),
                  ...(s.minimum === undefined ? {} : { minimum: s.minimum }),
                  ...(s.maximum === undefined ? {} : { maximum: s.maximum }),
                }),
            ),
          )
        : undefined;
    const permittedSubtrees = subtrees(spec.nameConstraints.permitted);
    const excludedSubtrees = subtrees(spec.nameConstraints.excluded);
    const nc = new asn1X509.NameConstraints({
      ...(permittedSubtrees ? { permittedSubtrees } : {}),
      ...(excludedSubtrees ? { excludedSubtrees } : {}),
    });
    extensions.push(new x509.Extension(asn1X509.id_ce_nameConstraints, true, AsnConvert.serialize(nc)));
  }
  if (spec.eku) extensions.push(new x509.ExtendedKeyUsageExtension([...spec.eku], false));
  for (const e of spec.extraExtensions ?? [])
    extensions.push(new x509.Extension(e.oid, e.critical ?? false, e.value));
  if (spec.crlDistributionPoints)
    extensions.push(new x509.CRLDistributionPointsExtension([...spec.crlDistributionPoints]));
  const publicKey = spec.spki ? new x509.PublicKey(spec.spki) : keys.publicKey;
  if (spec.ski !== false) extensions.push(await x509.SubjectKeyIdentifierExtension.create(publicKey));
  if (issuer && spec.aki !== false) {
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey));
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: spec.serial ?? (serialCounter++).toString(16).padStart(4, '0'),
    subject: derOrder(spec.subject),
    issuer: spec.issuerName
      ? derOrder(spec.issuerName)
      : (issuer?.cert.subjectName ?? derOrder(spec.subject)),
    notBefore: spec.notBefore ?? days(-30, spec.now ?? new Date()),
    notAfter: spec.notAfter ?? days(3 * 365, spec.now ?? new Date()),
    publicKey,
    signingKey,
    signingAlgorithm: signing(signerAlg, hash),
    extensions,
  });
  return { cert, der: new Uint8Array(cert.rawData), pem: cert.toString('pem'), keys, alg };
};

export const root = (subject: string, spec: Partial<CertSpec> = {}): Promise<Issued> =>
  issue({ subject, ...spec });

export const intermediate = (
  subject: string,
  issuer: Issued,
  spec: Partial<CertSpec> = {},
): Promise<Issued> => issue({ subject, issuer, pathLen: 0, ...spec });

export const leaf = (subject: string, issuer: Issued, spec: Partial<CertSpec> = {}): Promise<Issued> =>
  issue({
    subject,
    issuer,
    ca: false,
    eku: ['1.3.6.1.5.5.7.3.2'],
    notAfter: days(365, spec.now ?? new Date()),
    ...spec,
  });

/** A partner's chain: root → intermediate → client. */
export const partnerChain = async (partner: string, spec: Partial<CertSpec> = {}) => {
  const r = await root(`CN=${partner} Root CA,O=${partner}`, spec);
  const i = await intermediate(`CN=${partner} Issuing CA,O=${partner}`, r, spec);
  const { now, notBefore, notAfter } = spec;
  const client = await leaf(`CN=client.${partner.toLowerCase()}.example,O=${partner}`, i, {
    key: spec.key ?? 'p256',
    ...(now ? { now } : {}),
    ...(notBefore ? { notBefore } : {}),
    ...(notAfter ? { notAfter } : {}),
  });
  return { root: r, intermediate: i, client };
};

export const pemOf = (...certs: Issued[]): string => certs.map((c) => c.pem).join('\n');

/** PKCS#7 (certs-only SignedData) holding the certificates, as DER. */
export const pkcs7Der = (...certs: Issued[]): Uint8Array =>
  new Uint8Array(new x509.X509Certificates(certs.map((c) => c.cert)).export('raw'));

export const pkcs7Pem = (...certs: Issued[]): string => pemBlock('PKCS7', pkcs7Der(...certs));

export const pemBlock = (label: string, der: Uint8Array): string => {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
};

/** The private key of an issued certificate as a Node KeyObject (for key-format fixtures). */
export const privateKeyObject = (issued: Issued): KeyObject => KeyObject.from(issued.keys.privateKey);

/** SPKI of a secp256k1 key: a curve API Gateway does not accept and WebCrypto cannot generate. */
export const secp256k1Spki = (): Uint8Array =>
  new Uint8Array(
    generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey.export({ type: 'spki', format: 'der' }),
  );

export const toBytes = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'utf8'));

/** PEM (PKCS#8) of an issued certificate's private key. */
export const privateKeyPem = (issued: Issued): string =>
  privateKeyObject(issued).export({ type: 'pkcs8', format: 'pem' }) as string;

/** RFC 5280 CRLReason codes (7 is unused). */
export const CRL_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;

/** One revoked certificate of a fixture CRL, when more than its serial matters. */
export interface RevokedSpec {
  /** The certificate revoked; or `serial` (hex) alone. */
  readonly cert?: Issued;
  readonly serial?: string;
  /** Default: a day before `now`. */
  readonly revokedAt?: Date;
  /** A reasonCode entry extension (written even for `unspecified`). */
  readonly reason?: keyof typeof CRL_REASONS;
  readonly invalidity?: Date;
  /** A certificateIssuer entry extension (critical, as RFC 5280 requires): an indirect CRL. */
  readonly certificateIssuer?: string;
  readonly extensions?: readonly {
    readonly oid: string;
    readonly critical?: boolean;
    readonly value: Uint8Array;
  }[];
}

export interface CrlSpec {
  /** The moment defaults are computed from (default: now). */
  readonly now?: Date;
  /** Default: a day before `now`. */
  readonly thisUpdate?: Date;
  /** Default: thirty days after `now`; `null` leaves it out. */
  readonly nextUpdate?: Date | null;
  /** A cRLNumber extension. */
  readonly crlNumber?: bigint | number;
  /** Default SHA-256 (SHA-1 for a weak signature). */
  readonly hash?: Hash;
  /** An authorityKeyIdentifier of the signing key (default true). */
  readonly aki?: boolean;
  /** Sign with this one's key, still naming `issuer` (a forged or re-keyed signer). */
  readonly signedBy?: Issued;
  /** An issuingDistributionPoint extension (critical, as RFC 5280 requires). */
  readonly idp?: {
    readonly uris?: readonly string[];
    readonly onlyUser?: boolean;
    readonly onlyCA?: boolean;
    /** ReasonFlags bits (e.g. `2` = keyCompromise), or `true` for keyCompromise only. */
    readonly onlySomeReasons?: number | true;
    readonly indirect?: boolean;
    /** onlyContainsAttributeCerts (RFC 5280: false in a CA's CRL). */
    readonly onlyAttribute?: boolean;
  };
  /** A deltaCRLIndicator naming this base CRL number: a delta CRL. */
  readonly deltaOf?: bigint | number;
  readonly extraExtensions?: readonly {
    readonly oid: string;
    readonly critical?: boolean;
    readonly value: Uint8Array;
  }[];
}

/** DER INTEGER of a non-negative number (cRLNumber and friends may exceed 2^53). */
const derInteger = (n: bigint | number): Uint8Array => {
  let hex = BigInt(n).toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  if (Number.parseInt(hex.slice(0, 2), 16) >= 0x80) hex = `00${hex}`;
  return new Uint8Array([0x02, hex.length / 2, ...Buffer.from(hex, 'hex')]);
};

const revokedEntry = (r: Issued | RevokedSpec, now: Date): x509.X509CrlEntryParams => {
  const spec: RevokedSpec = 'keys' in r ? { cert: r } : r;
  const serialNumber = spec.serial ?? spec.cert?.cert.serialNumber;
  if (!serialNumber) throw new Error('a revoked entry needs a cert or a serial');
  const extensions: x509.Extension[] = [];
  if (spec.reason !== undefined) {
    const value = AsnConvert.serialize(new asn1X509.CRLReason(CRL_REASONS[spec.reason]));
    extensions.push(new x509.Extension(asn1X509.id_ce_cRLReasons, false, value));
  }
  if (spec.certificateIssuer) {
    // @peculiar/x509 writes the CRL's own issuer as a bare Name here: build GeneralNames by hand.
    const name = new x509.Name(derOrder(spec.certificateIssuer)).toArrayBuffer();
    const names = new asn1X509.GeneralNames([
      new asn1X509.GeneralName({ directoryName: AsnConvert.parse(name, asn1X509.Name) }),
    ]);
    extensions.push(new x509.Extension(asn1X509.id_ce_certificateIssuer, true, AsnConvert.serialize(names)));
  }
  for (const e of spec.extensions ?? [])
    extensions.push(new x509.Extension(e.oid, e.critical ?? false, e.value));
  return {
    serialNumber,
    revocationDate: spec.revokedAt ?? days(-1, now),
    ...(spec.invalidity ? { invalidity: spec.invalidity } : {}),
    extensions,
  };
};

/**
 * A CRL signed by `issuer` listing `revoked` (certificates, or entries with a reason, a date,
 * extensions), from a day before now to thirty days on unless the spec says otherwise.
 */
export const crl = async (
  issuer: Issued,
  revoked: readonly (Issued | RevokedSpec)[],
  spec: CrlSpec = {},
): Promise<Uint8Array> => {
  const now = spec.now ?? new Date();
  const hash = spec.hash ?? 'SHA-256';
  const signer = spec.signedBy ?? issuer;
  const extensions: x509.Extension[] = [];
  if (spec.aki !== false)
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(signer.keys.publicKey));
  if (spec.crlNumber !== undefined)
    extensions.push(new x509.Extension(asn1X509.id_ce_cRLNumber, false, derInteger(spec.crlNumber)));
  if (spec.deltaOf !== undefined)
    extensions.push(new x509.Extension(asn1X509.id_ce_deltaCRLIndicator, true, derInteger(spec.deltaOf)));
  if (spec.idp) {
    const { uris, onlyUser, onlyCA, onlySomeReasons, indirect, onlyAttribute } = spec.idp;
    const idp = new asn1X509.IssuingDistributionPoint({
      ...(uris?.length
        ? {
            distributionPoint: new asn1X509.DistributionPointName({
              fullName: uris.map((u) => new asn1X509.GeneralName({ uniformResourceIdentifier: u })),
            }),
          }
        : {}),
      onlyContainsUserCerts: onlyUser ?? false,
      onlyContainsCACerts: onlyCA ?? false,
      indirectCRL: indirect ?? false,
      onlyContainsAttributeCerts: onlyAttribute ?? false,
      ...(onlySomeReasons === undefined
        ? {}
        : { onlySomeReasons: new asn1X509.Reason(onlySomeReasons === true ? 2 : onlySomeReasons) }),
    });
    extensions.push(
      new x509.Extension(asn1X509.id_ce_issuingDistributionPoint, true, AsnConvert.serialize(idp)),
    );
  }
  for (const e of spec.extraExtensions ?? [])
    extensions.push(new x509.Extension(e.oid, e.critical ?? false, e.value));
  const nextUpdate = spec.nextUpdate === undefined ? days(30, now) : spec.nextUpdate;
  const list = await x509.X509CrlGenerator.create({
    issuer: issuer.cert.subjectName,
    thisUpdate: spec.thisUpdate ?? days(-1, now),
    ...(nextUpdate ? { nextUpdate } : {}),
    extensions,
    entries: revoked.map((r) => revokedEntry(r, now)),
    signingKey: await signerFor(signer.keys, signer.alg, hash),
    signingAlgorithm: signing(signer.alg, hash),
  });
  return new Uint8Array(list.rawData);
};

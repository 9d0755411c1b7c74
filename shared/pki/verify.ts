import { type Certificate, paddedSerial, verifySignature } from './certificate.js';
import { type Crl, crlsSignedOnPath, listedOn } from './crl.js';
import { SMTP_UTF8_MAILBOX, type SmtpUtf8Name } from './extensions.js';
import { WEAK_HASHES } from './oids.js';
import { a2ulabel } from './punycode.js';

export type Purpose = 'clientAuth' | 'serverAuth' | 'any';

export interface Reason {
  readonly code: string;
  readonly message: string;
}

export interface VerifyInput {
  readonly leaf: Certificate;
  /** What the client sends besides its own certificate. */
  readonly sent: readonly Certificate[];
  /** The truststore (an index built once when the same truststore judges many clients). */
  readonly trusted: readonly Certificate[] | TrustIndex;
  readonly at: Date;
  readonly purpose: Purpose;
  /** `-verify_depth`: intermediates allowed between leaf and anchor. Default unlimited (100). */
  readonly maxDepth?: number;
  /**
   * API Gateway needs every CA of the path in the truststore: an intermediate only the client
   * sends is not enough there (it is for a plain OpenSSL endpoint). Default true.
   */
  readonly apiGateway?: boolean;
  /**
   * TLS security level: 1 (what TLS servers apply: keys of 80 bits of security, no MD5/SHA-1
   * signatures below the trust anchor), or 0 (what `openssl verify` applies by default). Default 1.
   */
  readonly securityLevel?: 0 | 1;
  /** CRLs to mention: API Gateway checks none, a stricter client may. */
  readonly crls?: readonly Crl[];
  /**
   * Check revocation as a server given these CRLs does (`-crl_check_all`, as nginx's ssl_crl): each
   * certificate of the path needs a current CRL of its issuer, and one listed refuses the client
   * instead of a warning. With no CRL, nothing is checked. Default false (API Gateway).
   */
  readonly crlCheck?: boolean;
}

export interface VerifyResult {
  readonly verdict: 'accept' | 'reject';
  readonly reasons: readonly Reason[];
  readonly warnings: readonly Reason[];
  /** The path built, leaf first. */
  readonly path: readonly Certificate[];
}

const SUPPORTED_CRITICAL = new Set([
  '2.16.840.1.113730.1.1', // nsCertType
  '2.5.29.15', // keyUsage
  '2.5.29.17', // subjectAltName
  '2.5.29.19', // basicConstraints
  '2.5.29.32', // certificatePolicies
  '2.5.29.37', // extKeyUsage
  '1.3.6.1.5.5.7.1.7', // sbgp-ipAddrBlock
  '1.3.6.1.5.5.7.1.8', // sbgp-autonomousSysNum
  '2.5.29.36', // policyConstraints
  '1.3.6.1.5.5.7.1.14', // proxyCertInfo
  '2.5.29.30', // nameConstraints
  '2.5.29.33', // policyMappings
  '2.5.29.54', // inhibitAnyPolicy
]);

/** OpenSSL's X509_self_signed(x, 0): issued by itself by name and key ids (not key usage); the signature is not checked. */
/**
 * A truststore indexed by subject name, in file order within a name (OpenSSL's lookup order), so
 * that finding an issuer does not scan the whole truststore.
 */
export class TrustIndex {
  private readonly bySubject = new Map<string, Certificate[]>();
  private readonly fingerprints = new Set<string>();
  constructor(readonly all: readonly Certificate[]) {
    for (const c of all) {
      const list = this.bySubject.get(c.subject.key);
      if (list) list.push(c);
      else this.bySubject.set(c.subject.key, [c]);
      this.fingerprints.add(c.fingerprint);
    }
  }
  named(key: string): readonly Certificate[] {
    return this.bySubject.get(key) ?? [];
  }
  has(c: Certificate): boolean {
    return this.fingerprints.has(c.fingerprint);
  }
}

const isSelfSigned = (c: Certificate): boolean => likelyIssued(c, c);

const same = (a: Certificate, b: Certificate) => a.fingerprint === b.fingerprint;

/** X509_check_issued: names match, AKI key id matches the SKI when both exist, keyCertSign if keyUsage is present. */
const issued = (issuer: Certificate, subject: Certificate): boolean =>
  likelyIssued(issuer, subject) && !(issuer.keyUsage && !issuer.keyUsage.usages.includes('keyCertSign'));

/** ossl_x509_likely_issued: names match and the authority key identifier fits. */
const likelyIssued = (issuer: Certificate, subject: Certificate): boolean => {
  if (issuer.subject.key !== subject.issuer.key) return false;
  if (subject.authorityKeyId && issuer.subjectKeyId && subject.authorityKeyId !== issuer.subjectKeyId)
    return false;
  // X509_check_akid: an authorityCertIssuer / authorityCertSerialNumber must name the issuer's own issuer and serial.
  if (subject.authorityCertSerial !== undefined && subject.authorityCertSerial !== issuer.serial)
    return false;
  if (subject.authorityCertIssuers && !subject.authorityCertIssuers.includes(issuer.issuer.key)) return false;
  return true;
};

/** OpenSSL's X509_cmp_time: a certificate is expired from its notAfter second on. */
const timeValid = (c: Certificate, at: Date) =>
  c.notBefore.getTime() <= at.getTime() && at.getTime() < c.notAfter.getTime();

/**
 * Picks an issuer like OpenSSL's lookup: the first match (in file order) that is valid at `at`,
 * else the match that expires last. No backtracking: a wrong pick fails the whole path, as it
 * does for the real endpoint.
 */
const pick = (
  candidates: readonly Certificate[],
  subject: Certificate,
  at: Date,
): Certificate | undefined => {
  const matches = candidates.filter((c) => issued(c, subject));
  return (
    matches.find((c) => timeValid(c, at)) ??
    matches.reduce<Certificate | undefined>((a, b) => (!a || b.notAfter > a.notAfter ? b : a), undefined)
  );
};

const caKind = (c: Certificate): number => {
  if (c.keyUsage && !c.keyUsage.usages.includes('keyCertSign')) return 0;
  if (c.basicConstraints) return c.basicConstraints.ca ? 1 : 0;
  if (c.version === 1 && c.selfIssued) return 3;
  if (c.keyUsage) return 4;
  return 0;
};

const EKU_FOR: Record<Purpose, string | undefined> = {
  clientAuth: 'clientAuth',
  serverAuth: 'serverAuth',
  any: undefined,
};

/** X509_check_purpose for sslclient / sslserver. */
const purposeOk = (c: Certificate, purpose: Purpose, asCa: boolean): boolean => {
  const eku = EKU_FOR[purpose];
  if (!eku) return true;
  if (c.extendedKeyUsage && !c.extendedKeyUsage.purposes.includes(eku)) return false;
  if (asCa) return caKind(c) !== 0;
  if (c.keyUsage) {
    const allowed =
      purpose === 'clientAuth'
        ? ['digitalSignature', 'keyAgreement']
        : ['digitalSignature', 'keyEncipherment', 'keyAgreement'];
    if (!c.keyUsage.usages.some((u) => allowed.includes(u))) return false;
  }
  return true;
};

/** Security level 1: at least 80 bits of security for keys and signature digests. */
const keyTooSmall = (c: Certificate): boolean => {
  const { type, bits } = c.publicKey;
  if ((type === 'rsa' || type === 'rsa-pss' || type === 'dsa') && bits !== undefined) return bits < 1024;
  if (type === 'ec' && bits !== undefined) return bits < 160;
  return false;
};

const d = (date: Date) => date.toISOString().replace('.000Z', 'Z');

/**
 * Would an OpenSSL (and API Gateway) endpoint accept this client certificate?
 * Builds the path as OpenSSL does (trust store first, no backtracking), then checks what OpenSSL
 * checks: extensions, CA and purpose, path length, key strength, signatures, validity, name
 * constraints. In API Gateway mode, a path that needs an intermediate only the client sent is
 * refused. Warnings name what a stricter validator (RFC 5280, Web PKI) would refuse, and what
 * API Gateway's documented rules forbid, even where the handshake passes.
 */
export const verifyClient = (input: VerifyInput): VerifyResult => {
  const { leaf, at, purpose } = input;
  const trusted = input.trusted instanceof TrustIndex ? input.trusted : new TrustIndex(input.trusted);
  const sent = input.sent.filter((c) => !same(c, leaf));
  const path: Certificate[] = [leaf];
  const fromTrust: boolean[] = [trusted.has(leaf)];
  const reasons: Reason[] = [];
  const reject = (code: string, message: string): VerifyResult => {
    reasons.push({ code, message });
    return { verdict: 'reject', reasons, warnings: warningsFor(path, input), path };
  };
  const maxLength = (input.maxDepth ?? 100) + 2;

  // OpenSSL does not read a certificate whose serial is not in DER's shortest form (`00 06` for
  // 6): the handshake fails before any path is built.
  if (paddedSerial(leaf.serial))
    return reject(
      'cert.serial-not-der',
      `The client certificate's serial number is padded with a zero byte DER does not allow (bytes ${leaf.serial}): OpenSSL cannot read the certificate, so the handshake fails. Reissue it with the serial in its shortest encoding.`,
    );

  // 1. Build the chain.
  for (;;) {
    const top = path.at(-1)!;
    const topTrusted = fromTrust.at(-1)!;
    if (isSelfSigned(top)) {
      if (topTrusted || trusted.has(top)) break;
      return path.length === 1
        ? reject(
            'self-signed',
            'The client certificate is self-signed and not in the truststore (API Gateway: "self signed certificate").',
          )
        : reject(
            'self-signed-in-chain',
            `The chain the client sent ends in the self-signed ${top.subject.text}, which is not in the truststore.`,
          );
    }
    if (path.length >= maxLength) {
      return reject(
        'chain.too-long',
        `The path is longer than the ${input.maxDepth ?? 100} intermediate(s) allowed.`,
      );
    }
    const inPath = (c: Certificate) => path.some((p) => same(p, c));
    const fromStore = pick(
      trusted.named(top.issuer.key).filter((c) => !inPath(c)),
      top,
      at,
    );
    if (fromStore) {
      path.push(fromStore);
      fromTrust.push(true);
      continue;
    }
    const fromClient = topTrusted
      ? undefined
      : pick(
          sent.filter((c) => !inPath(c)),
          top,
          at,
        );
    if (fromClient) {
      path.push(fromClient);
      fromTrust.push(false);
      continue;
    }
    if (topTrusted) {
      return reject(
        'chain.issuer-missing',
        `${top.subject.text} is in the truststore but its issuer ${top.issuer.text} is not: the truststore must hold every CA up to a self-signed root.`,
      );
    }
    // A CA with the issuer's name is trusted, but another key signed this one: adding "that CA"
    // would be refused (two CAs with one subject), so the fix is a rotation or another issuer.
    const namesake = trusted.named(top.issuer.key).find((c) => !inPath(c));
    if (namesake) {
      return reject(
        'issuer-key-mismatch',
        `Could not find issuer for certificate: the truststore holds a CA named ${top.issuer.text}, but a different key signed ${top.subject.text} (a re-keyed CA, or another CA with the same name). ` +
          `A second CA with that name cannot be added: replace the one in the truststore by uploading the CA that signed it under inbox/<partner>/replace/, or issue the certificate from the CA in the truststore.`,
      );
    }
    return reject(
      'issuer-unknown',
      `Could not find issuer for certificate: nothing in the truststore${sent.length > 0 ? ' or sent by the client' : ''} issued ${top.subject.text} (issuer ${top.issuer.text}). Add that CA to the truststore.`,
    );
  }

  // 2. What OpenSSL checks on the built chain, in its order.
  let nonSelfIssued = 0;
  for (const [i, c] of path.entries()) {
    const critical = c.extensions.find((e) => e.critical && !SUPPORTED_CRITICAL.has(e.oid));
    if (critical)
      return reject(
        'unhandled-critical-extension',
        `${c.subject.text} has a critical extension ${critical.oid} that TLS stacks do not understand.`,
      );
    if (c.publicKey.curve === 'explicit parameters') {
      return reject(
        'ec-explicit-parameters',
        `${c.subject.text} has an EC key with explicit curve parameters, which TLS stacks refuse: use a named curve (P-256, P-384).`,
      );
    }
    if (c.basicConstraints && !c.basicConstraints.ca && c.basicConstraints.pathLen !== undefined) {
      return reject(
        'invalid-extension',
        `${c.subject.text} has a path length constraint without being a CA (an invalid basicConstraints).`,
      );
    }
    // OpenSSL: intermediates must say cA=TRUE; only the trust anchor may be a CA by keyUsage or as a v1 root.
    if (i > 0 && (caKind(c) === 0 || (i < path.length - 1 && caKind(c) !== 1))) {
      return reject(
        'invalid-ca',
        `${c.subject.text} issues certificates in this path but is not a CA (basicConstraints cA or keyUsage keyCertSign missing).`,
      );
    }
    if (!purposeOk(c, purpose, i > 0)) {
      return reject(
        'wrong-purpose',
        i === 0
          ? `The client certificate's extended key usage or key usage does not allow ${purpose} ("unsuitable certificate purpose"): issue it with extendedKeyUsage ${purpose}.`
          : `The CA ${c.subject.text} restricts extended key usage to ${c.extendedKeyUsage?.purposes.join(', ')}, which excludes ${purpose}.`,
      );
    }
    if (i > 1 && c.basicConstraints?.pathLen !== undefined && nonSelfIssued > c.basicConstraints.pathLen) {
      return reject(
        'path-length-exceeded',
        `${c.subject.text} allows ${c.basicConstraints.pathLen} CA(s) below it, but the path has ${nonSelfIssued}.`,
      );
    }
    if (i > 0 && !c.selfIssued) nonSelfIssued++;
  }
  // check_auth_level: key sizes and signature digests, all but the trust anchor's self-signature.
  for (const [i, c] of path.entries()) {
    if ((input.securityLevel ?? 1) < 1) break;
    if (keyTooSmall(c)) {
      return reject(
        'key-too-small',
        `${c.subject.text} has a key too small for TLS (security level 1: RSA 1024, EC 160 bits at least).`,
      );
    }
    const anchorSelfSignature = i === path.length - 1 && c.selfIssued;
    if (!anchorSelfSignature && c.signature.hash && WEAK_HASHES.has(c.signature.hash)) {
      return reject(
        'insecure-signature',
        `${i === 0 ? 'The client certificate' : c.subject.text} is signed with ${c.signature.algorithm} (API Gateway: "Client cert using an insecure Signature Algorithm"): reissue it with SHA-256 or stronger.`,
      );
    }
  }
  // internal_verify: signatures from the anchor down (the anchor's own self-signature is not checked), then times.
  for (let i = path.length - 1; i >= 0; i--) {
    const c = path[i]!;
    const issuer = path[i + 1];
    if (issuer && !verifySignature(c, issuer)) {
      return reject(
        'bad-signature',
        `The signature of ${c.subject.text} does not verify with the key of ${issuer.subject.text}: a re-keyed CA with the same name?`,
      );
    }
    if (at.getTime() < c.notBefore.getTime()) {
      return reject(
        'not-yet-valid',
        `${i === 0 ? 'The client certificate' : c.subject.text} is not valid before ${d(c.notBefore)}.`,
      );
    }
    if (at.getTime() >= c.notAfter.getTime()) {
      return reject(
        'expired',
        `${i === 0 ? 'The client certificate' : c.subject.text} expired on ${d(c.notAfter)}.`,
      );
    }
  }
  const violation = nameConstraintViolation(path);
  if (violation) return reject('name-constraints', violation);

  // A server that checks CRLs refuses what OpenSSL's -crl_check_all refuses (nginx's ssl_crl sets
  // it); API Gateway checks none.
  // A server given no CRL checks none.
  if (input.crlCheck && (input.crls ?? []).length > 0) {
    const refusal = crlRefusal(path, input.crls ?? [], input.at);
    if (refusal) return reject(refusal.code, refusal.message);
  }

  // 3. API Gateway: every CA of the path must be in the truststore.
  const onlySent = path.slice(1).filter((_, i) => !fromTrust[i + 1]);
  if ((input.apiGateway ?? true) && onlySent.length > 0) {
    return reject(
      'intermediate-not-in-truststore',
      `The client sends ${onlySent.map((c) => c.subject.text).join(', ')}, but API Gateway needs every CA of the path in the truststore (a plain TLS server would accept this): add ${onlySent.length === 1 ? 'it' : 'them'} to the truststore.`,
    );
  }
  return { verdict: 'accept', reasons, warnings: warningsFor(path, input), path };
};

/**
 * OpenSSL's cn2dnsid: the subject's common names that read as DNS names of two labels or more
 * (letters, digits and `_`, with `-` and `.` inside, no `.` next to a `.` or `-`). Read from the
 * canonical name key, lowercase (DNS constraints ignore case).
 */
const cnDnsNames = (c: Certificate): string[] =>
  c.subject.key
    .split('/')
    .flatMap((rdn) => rdn.split('+'))
    .filter((atv) => atv.startsWith('2.5.4.3='))
    .map((atv) => atv.slice('2.5.4.3='.length))
    .filter((cn) => /^[a-z0-9_]+(?:-+[a-z0-9_]+)*(?:\.[a-z0-9_]+(?:-+[a-z0-9_]+)*)+$/.test(cn));

/** OpenSSL's ia5ncasecmp: equal but for the case of ASCII letters (bytes above 0x7f compare as they are). */
const sameIgnoringAsciiCase = (a: string, b: string): boolean =>
  a.length === b.length &&
  a.replace(/[A-Z]/g, (x) => x.toLowerCase()) === b.replace(/[A-Z]/g, (x) => x.toLowerCase());

/** `name` ends with `suffix` (ASCII case ignored) and is longer than it: how OpenSSL matches a leading-dot base. */
const below = (name: string, suffix: string): boolean =>
  name.length > suffix.length && sameIgnoringAsciiCase(name.slice(-suffix.length), suffix);

/**
 * What OpenSSL's nc_match_single says of one name against one base of its kind: it matches, it
 * does not, or it cannot be judged (OpenSSL's error, which refuses the client whatever the other
 * subtrees say).
 */
type Single = 'match' | 'miss' | { readonly syntax: string };

/** OpenSSL's nc_email: a mailbox (local part compared case-sensitively), a host, or a `.domain` suffix. */
const emailMatch = (email: string, base: string): Single => {
  // Both split at their last @ (OpenSSL's ia5memrchr).
  const at = email.lastIndexOf('@');
  if (at < 0) return { syntax: 'it has no @' };
  const baseAt = base.lastIndexOf('@');
  if (baseAt < 0 && base.startsWith('.')) return below(email, base) ? 'match' : 'miss';
  let host = base;
  if (baseAt >= 0) {
    if (baseAt > 0) {
      if (baseAt !== at) return 'miss';
      if (base.includes('\0') || email.includes('\0')) return { syntax: 'it holds a NUL byte' };
      if (base.slice(0, baseAt) !== email.slice(0, at)) return 'miss';
    }
    host = base.slice(baseAt + 1);
  }
  return sameIgnoringAsciiCase(email.slice(at + 1), host) ? 'match' : 'miss';
};

/**
 * OpenSSL 3's nc_email_eai, for an SmtpUTF8Mailbox against an rfc822Name base: only the host
 * after the last @ is compared with the base turned into Unicode labels (xn-- labels decoded), so
 * a mailbox base never matches, and a `.domain` base gets a second dot and matches nothing usual
 * (as OpenSSL 3.0.19 does).
 */
const smtpUtf8Match = (name: SmtpUtf8Name, base: string): Single => {
  if (base.includes('\0')) return { syntax: 'the constraint holds a NUL byte' };
  if (!name.utf8) return { syntax: 'it is not a UTF8String' };
  const at = name.value.lastIndexOf('@');
  if (at < 0) return { syntax: 'it has no @' };
  // OpenSSL's buffer holds 256 bytes with the NUL, the leading dot included.
  const dotted = base.startsWith('.');
  const ulabel = a2ulabel(base, dotted ? 255 : 256);
  if (ulabel === undefined) return { syntax: `the constraint ${base} cannot be converted to Unicode labels` };
  if (dotted) return below(name.value, `.${ulabel}`) ? 'match' : 'miss';
  return sameIgnoringAsciiCase(name.value.slice(at + 1), ulabel) ? 'match' : 'miss';
};

/**
 * OpenSSL's nc_uri: the host of `scheme://host[:port][/…]` (up to the first `:` after `//`, else
 * the first `/`; userinfo, `?` and `#` are not set apart) is the base itself, or ends with a
 * `.domain` base; ASCII case ignored. A URI without `scheme://` or without a host cannot be judged.
 */
const uriMatch = (uri: string, base: string): Single => {
  const colon = uri.indexOf(':');
  if (colon < 0 || uri.length - colon < 3 || uri[colon + 1] !== '/' || uri[colon + 2] !== '/')
    return { syntax: 'it has no scheme://host' };
  const start = colon + 3;
  const port = uri.indexOf(':', start);
  const end = port >= 0 ? port : uri.indexOf('/', start);
  const host = uri.slice(start, end >= 0 ? end : undefined);
  if (host === '') return { syntax: 'it has no host' };
  if (base.startsWith('.')) return below(host, base) ? 'match' : 'miss';
  return sameIgnoringAsciiCase(host, base) ? 'match' : 'miss';
};

/**
 * OpenSSL's nc_match for one name against the bases of its kind: if there are permitted ones, one
 * must match; then no excluded one may. The first base that cannot be judged decides.
 */
const subtreesMatch = <N>(
  name: N,
  permitted: readonly string[],
  excluded: readonly string[],
  single: (name: N, base: string) => Single,
): 'ok' | 'permitted' | 'excluded' | Exclude<Single, 'match' | 'miss'> => {
  let matched = false;
  for (const base of permitted) {
    const r = single(name, base);
    if (r === 'match') {
      matched = true;
      break;
    }
    if (r !== 'miss') return r;
  }
  if (permitted.length > 0 && !matched) return 'permitted';
  for (const base of excluded) {
    const r = single(name, base);
    if (r === 'match') return 'excluded';
    if (r !== 'miss') return r;
  }
  return 'ok';
};

/** How people name the GeneralName kinds of `nameKind`. */
const KIND_NAMES: Readonly<Record<string, string>> = {
  dns: 'DNS',
  ip: 'IP address',
  dir: 'directory name',
  email: 'email (rfc822Name)',
  uri: 'URI',
};
const kindName = (kind: string): string => KIND_NAMES[kind] ?? kind;

/**
 * The name constraints of the CAs (every kind OpenSSL applies: DNS, IP, directory name, email,
 * URI; and the kinds it refuses to match), applied to the certificates below them as OpenSSL's
 * NAME_CONSTRAINTS_check does: the subject, its emailAddress attributes, every subjectAltName.
 */
const nameConstraintViolation = (path: readonly Certificate[]): string | undefined => {
  for (let i = path.length - 1; i > 0; i--) {
    const ca = path[i]!;
    const nc = ca.nameConstraints;
    if (!nc) continue;
    const caName = ca.subject.text;
    for (const [k, c] of path.slice(0, i).entries()) {
      // As OpenSSL: a self-issued CA below the constraining CA is not judged (RFC 5280 6.1.4); the client always is.
      if (k > 0 && c.selfIssued) continue;
      const byCn = k === 0 && (c.sanDns ?? []).length === 0;
      const dnsNames = byCn ? cnDnsNames(c) : (c.sanDns ?? []);
      // A subtree with a minimum or maximum: OpenSSL refuses to match any name of its kind.
      const kinds = [
        ...(c.subject.key !== '' || (c.sanDirs ?? []).length > 0 ? ['dir'] : []),
        ...(dnsNames.length > 0 ? ['dns'] : []),
        ...((c.sanIps ?? []).length > 0 ? ['ip'] : []),
        ...((c.subjectEmails ?? []).length + (c.sanEmails ?? []).length + (c.sanSmtpUtf8 ?? []).length > 0
          ? ['email']
          : []),
        ...((c.sanUris ?? []).length > 0 ? ['uri'] : []),
        ...(c.sanOther ?? []),
      ];
      const minMax = kinds.find((kind) => nc.minMax.includes(kind));
      if (minMax)
        return `${caName} constrains ${kindName(minMax)} names with a minimum or maximum distance, which OpenSSL does not support ("name constraints minimum and maximum not supported"): it refuses ${c.subject.text}, which has such a name. Reissue the CA without minimum and maximum in its nameConstraints.`;
      // directoryName: the subject's RDNs (and those of each directory name of subjectAltName) must
      // begin with those of a permitted name and of no excluded one.
      const dirs = [...(c.subject.key !== '' ? [c.subject.key] : []), ...(c.sanDirs ?? [])];
      for (const [d, dir] of dirs.entries()) {
        const under = (base: string) =>
          base === '' ||
          dir === base ||
          (dir.startsWith(`${base}/`) && /^\d+(?:\.\d+)*=/.test(dir.slice(base.length + 1)));
        const what =
          d === 0 && c.subject.key !== ''
            ? `The subject ${c.subject.text}`
            : `A directory name in the subjectAltName of ${c.subject.text}`;
        if (nc.excludedDirs.some(under)) return `${what} is excluded by the name constraints of ${caName}.`;
        if (nc.permittedDirs.length > 0 && !nc.permittedDirs.some(under))
          return `${what} is outside the names ${caName} may issue for: "permitted subtree violation".`;
      }
      // The subject's emailAddress attributes count as email addresses (OpenSSL checks them as such).
      for (const email of c.subjectEmails ?? []) {
        if (!email.ia5)
          return `The subject of ${c.subject.text} holds an emailAddress that is not an IA5String, which OpenSSL refuses under the name constraints of ${caName} ("unsupported or invalid name syntax"): reissue it with emailAddress as an IA5String, or without it.`;
      }
      const emails = [
        ...(c.subjectEmails ?? []).map((e) => ({ value: e.value, where: 'the subject’s emailAddress' })),
        ...(c.sanEmails ?? []).map((value) => ({ value, where: 'subjectAltName' })),
      ];
      for (const { value, where } of emails) {
        const r = subtreesMatch(value, nc.permittedEmails, nc.excludedEmails, emailMatch);
        const what = `The email address ${value} (${where}) of ${c.subject.text}`;
        if (r === 'excluded') return `${what} is excluded by the name constraints of ${caName}.`;
        if (r === 'permitted') {
          // The one rule people do not expect: the local part of a mailbox constraint is case-sensitive.
          const caseOnly = nc.permittedEmails.find(
            (base) => base.lastIndexOf('@') > 0 && sameIgnoringAsciiCase(base, value),
          );
          return `${what} is outside the email addresses ${caName} may issue for (${nc.permittedEmails.join(', ')}): "permitted subtree violation".${caseOnly ? ` OpenSSL compares the part before @ case-sensitively: issue it as ${caseOnly}.` : ''}`;
        }
        if (r !== 'ok')
          return `${what} cannot be matched against the email constraints of ${caName} (${r.syntax}): OpenSSL refuses it ("unsupported or invalid name syntax"). Reissue the certificate with a valid address (local@host) or without it.`;
      }
      for (const name of c.sanSmtpUtf8 ?? []) {
        const r = subtreesMatch(name, nc.permittedEmails, nc.excludedEmails, smtpUtf8Match);
        const shown = Buffer.from(name.value, 'latin1').toString('utf8');
        const what = `The SmtpUTF8Mailbox ${shown} of ${c.subject.text} (an internationalized email address, which OpenSSL checks against email constraints by its host alone)`;
        if (r === 'excluded') return `${what} is excluded by the name constraints of ${caName}.`;
        if (r === 'permitted')
          return `${what} is outside the email addresses ${caName} may issue for (${nc.permittedEmails.join(', ')}): "permitted subtree violation". OpenSSL matches such a name only against a constraint that is a host, never a mailbox or a .domain.`;
        if (r !== 'ok')
          return `${what} cannot be matched against the email constraints of ${caName} (${r.syntax}): OpenSSL refuses it. Reissue the certificate without it, or with a valid UTF8String address.`;
      }
      for (const uri of c.sanUris ?? []) {
        const r = subtreesMatch(uri, nc.permittedUris, nc.excludedUris, uriMatch);
        const what = `The URI ${uri} of ${c.subject.text}`;
        if (r === 'excluded') return `${what} is excluded by the name constraints of ${caName}.`;
        if (r === 'permitted')
          return `${what} is outside the URI hosts ${caName} may issue for (${nc.permittedUris.join(', ')}): "permitted subtree violation".`;
        if (r !== 'ok')
          return `${what} cannot be matched against the URI constraints of ${caName} (${r.syntax}): OpenSSL refuses it ("unsupported or invalid name syntax"). Reissue the certificate without that URI or with one of the form scheme://host/…, or the CA without URI constraints.`;
      }
      // Kinds OpenSSL cannot match (otherName by type, x400Address, ediPartyName, registeredID):
      // a name of a constrained kind refuses the certificate, whatever the constraint says.
      const unsupported = (c.sanOther ?? []).find((kind) => nc.unsupported.includes(kind));
      if (unsupported)
        return `${c.subject.text} has a subjectAltName ${unsupported} and ${caName} constrains names of that kind, which OpenSSL does not support ("unsupported name constraint type"): it refuses every such certificate below that CA. Reissue the client without that name, or the CA without that constraint.`;
      // OpenSSL checks the client's common names as DNS names too when it has no DNS name.
      for (const dns of dnsNames) {
        // OpenSSL's nc_dns: the name itself and names below it; with a leading dot, only names below it.
        const within = (base: string) => {
          const b = base.toLowerCase();
          const n = dns.toLowerCase();
          return b.startsWith('.') ? n.endsWith(b) : n === b || n.endsWith(`.${b}`);
        };
        const what = byCn ? `The common name ${dns} (read as a DNS name: the certificate has none)` : dns;
        if (nc.excludedDns.some(within))
          return `${what} in ${c.subject.text} is excluded by the name constraints of ${caName}.`;
        if (nc.permittedDns.length > 0 && !nc.permittedDns.some(within)) {
          return `${what} in ${c.subject.text} is outside the names ${caName} may issue for (${nc.permittedDns.join(', ')}): "permitted subtree violation".`;
        }
      }
      for (const ip of c.sanIps ?? []) {
        const match = (r: { address: string; mask: string }) => {
          if (r.address.length !== ip.length) return false;
          for (let k = 0; k < ip.length; k += 2) {
            const m = Number.parseInt(r.mask.slice(k, k + 2), 16);
            if (
              (Number.parseInt(ip.slice(k, k + 2), 16) & m) !==
              (Number.parseInt(r.address.slice(k, k + 2), 16) & m)
            )
              return false;
          }
          return true;
        };
        if (nc.excludedIps.some(match))
          return `an IP address in ${c.subject.text} is excluded by the name constraints of ${caName}.`;
        const sameFamily = nc.permittedIps.filter((r) => r.address.length === ip.length);
        if (sameFamily.length > 0 && !sameFamily.some(match))
          return `an IP address in ${c.subject.text} is outside the name constraints of ${caName}.`;
      }
    }
  }
  return undefined;
};

const serialProblem = (hex: string): string | undefined => {
  const bytes = hex.length / 2;
  if (/^0*$/.test(hex)) return 'is zero';
  if (Number.parseInt(hex.slice(0, 2), 16) >= 0x80) return 'is negative';
  if (bytes > 20) return `is ${bytes} bytes long (RFC 5280 allows 20)`;
  return undefined;
};

/**
 * What the handshake forgives but a stricter validator, a future API Gateway, or API Gateway's
 * own documented rules would not — and likely mistakes. Judged on the path, or on the leaf and
 * what was given when no path was built.
 */
export const warningsFor = (path: readonly Certificate[], input: VerifyInput): Reason[] => {
  const out: Reason[] = [];
  const add = (code: string, message: string) => {
    if (!out.some((w) => w.code === code && w.message === message)) out.push({ code, message });
  };
  const leaf = path[0]!;
  const eku = EKU_FOR[input.purpose];
  if (leaf.basicConstraints?.ca)
    add(
      'leaf.is-ca',
      'The client certificate is a CA certificate (basicConstraints cA=TRUE): issue a separate end-entity certificate for the client.',
    );
  if (leaf.keyUsage?.usages.includes('keyCertSign') && !leaf.basicConstraints?.ca) {
    add(
      'leaf.keycertsign',
      'The client certificate has keyUsage keyCertSign without being a CA: an inconsistent certificate that strict validators refuse.',
    );
  }
  if (leaf.version !== 3)
    add(
      'cert.v1',
      `The client certificate is X.509 version ${leaf.version}; strict validators require version 3.`,
    );
  if (eku && !leaf.extendedKeyUsage)
    add('leaf.no-eku', `The client certificate has no extendedKeyUsage; strict validators require ${eku}.`);
  if (leaf.extendedKeyUsage?.purposes.includes('anyExtendedKeyUsage'))
    add(
      'leaf.any-eku',
      'The client certificate uses anyExtendedKeyUsage; strict validators require the specific purpose.',
    );
  if (leaf.extendedKeyUsage?.critical)
    add(
      'leaf.critical-eku',
      'The client certificate marks extendedKeyUsage critical, which the Web PKI rules forbid.',
    );
  for (const [i, c] of path.entries()) {
    const name = i === 0 ? 'The client certificate' : c.subject.text;
    const self = c.selfIssued;
    const isCa = i > 0;
    const serial = serialProblem(c.serial);
    if (serial)
      add(
        'cert.odd-serial',
        `The serial number of ${name} ${serial}; RFC 5280 requires a positive serial of at most 20 bytes.`,
      );
    if (!self && !c.authorityKeyId)
      add(
        'cert.missing-aki',
        `${name} has no authority key identifier; RFC 5280 requires one (path building may pick the wrong issuer).`,
      );
    if (c.hasAuthorityKeyIdentifier && !c.authorityKeyId)
      add('cert.aki-without-keyid', `${name} has an authority key identifier without a keyIdentifier.`);
    if (isCa && !c.subjectKeyId)
      add(
        'ca.missing-ski',
        `The CA ${c.subject.text} has no subject key identifier; RFC 5280 requires one on CAs.`,
      );
    if (isCa && !c.basicConstraints)
      add(
        'ca.no-basic-constraints',
        `The CA ${c.subject.text} has no basicConstraints extension; RFC 5280 requires it on CAs.`,
      );
    if (isCa && c.basicConstraints && !c.basicConstraints.critical)
      add(
        'ca.basic-constraints-not-critical',
        `The CA ${c.subject.text} has a non-critical basicConstraints extension; RFC 5280 requires it critical.`,
      );
    if (isCa && self && c.extendedKeyUsage)
      add(
        'root.has-eku',
        `The root ${c.subject.text} carries an extendedKeyUsage extension, which the Web PKI rules forbid on roots.`,
      );
    const pc = c.extensions.find((e) => e.oid === '2.5.29.36');
    if (pc && !pc.critical)
      add(
        'ca.policy-constraints-not-critical',
        `${c.subject.text} has a non-critical policyConstraints extension; RFC 5280 requires it critical.`,
      );
    if (c.malformedAia) add('cert.malformed-aia', `${name} has a malformed authorityInfoAccess extension.`);
    // OpenSSL never applies SmtpUTF8Mailbox constraints (it matches such names against email
    // constraints instead): the verdict follows it, a validator that follows RFC 8398 would not.
    if (c.nameConstraints?.unsupported.includes(`otherName ${SMTP_UTF8_MAILBOX}`))
      add(
        'ca.name-constraints-unchecked',
        `${c.subject.text} constrains SmtpUTF8Mailbox (internationalized email) names, which OpenSSL, and so the endpoint and API Gateway, does not apply: this verdict follows OpenSSL, a validator that follows RFC 8398 may refuse a client it accepts. Constrain email addresses with rfc822Name constraints.`,
      );
    // OpenSSL reads an address's host after its last @, so `a@b@example.com` passes email
    // constraints on example.com; RFC 5280 validators refuse such an address.
    const emailCa = path
      .slice(i + 1)
      .find(
        (ca) =>
          (ca.nameConstraints?.permittedEmails.length ?? 0) +
            (ca.nameConstraints?.excludedEmails.length ?? 0) >
          0,
      );
    const twoAts = [...(c.sanEmails ?? []), ...(c.subjectEmails ?? []).map((e) => e.value)].find(
      (e) => e.indexOf('@') !== e.lastIndexOf('@'),
    );
    if (emailCa && twoAts !== undefined)
      add(
        'cert.malformed-email',
        `${name} has the email address ${twoAts}, with more than one @: OpenSSL judges it against the email constraints of ${emailCa.subject.text} by the host after the last @, a strict (RFC 5280) validator refuses it. Reissue it with a valid address.`,
      );
    const { type, bits, curve } = c.publicKey;
    if ((type === 'rsa' || type === 'rsa-pss') && bits !== undefined) {
      if (bits < 2048)
        add(
          'key.too-weak',
          `${name} has an RSA key of ${bits} bits; API Gateway documents RSA 2048 or more.`,
        );
      if (bits % 8 !== 0)
        add(
          'key.rsa-odd-size',
          `${name} has an RSA key of ${bits} bits, not a multiple of 8: an unusual key strict validators refuse.`,
        );
    }
    if (type === 'ec' && curve !== 'P-256' && curve !== 'P-384' && curve !== 'P-521')
      add(
        'key.too-weak',
        `${name} has an EC key on ${curve}; API Gateway documents ECDSA P-256 or stronger.`,
      );
    if (type !== 'rsa' && type !== 'rsa-pss' && type !== 'ec')
      add('key.unsupported', `${name} has a ${type} key; API Gateway documents RSA and ECDSA only.`);
    const notAnchorSelfSig = !(i === path.length - 1 && self);
    if (notAnchorSelfSig && c.signature.hash && WEAK_HASHES.has(c.signature.hash)) {
      add(
        'signature.weak-hash',
        `${name} is signed with ${c.signature.algorithm}; API Gateway requires SHA-256 or stronger ("insecure Signature Algorithm").`,
      );
    }
  }
  const { signed, forged } = crlsSignedOnPath(input.crls ?? [], path);
  for (const crl of forged)
    add(
      'crl.signature-invalid',
      `The CRL of ${crl.issuer.text} was ignored: its signature does not verify with the key of ${crl.issuer.text} on this client's path (another key signed it under that name, or the CA was re-keyed).`,
    );
  for (const crl of signed) {
    if (!path.some((c) => c.issuer.key === crl.issuer.key)) {
      add(
        'crl.ignored',
        `The CRL of ${crl.issuer.text} was ignored: that CA issued no certificate on this client's path.`,
      );
      continue;
    }
    const revoked = path.filter((c) => listedOn(c, crl));
    // Where revocation is checked a listing is a refusal (see verifyClient), not a warning.
    if (input.crlCheck) continue;
    for (const c of revoked)
      add(
        'revoked',
        `${c.subject.text} (serial ${c.serial}) is listed on the CRL of ${crl.issuer.text}: API Gateway checks no revocation and accepts it; use a Lambda authorizer to enforce revocation.`,
      );
    if (revoked.length === 0)
      add(
        'revocation.not-checked',
        `A CRL of ${crl.issuer.text} was given: API Gateway does not check revocation, a validator that does would consult it.`,
      );
  }
  return out;
};

/**
 * What a server that checks the CRLs of the whole chain (OpenSSL's -crl_check_all, as nginx's
 * `ssl_crl` sets it) refuses, as OpenSSL 3.0 does (checked against `openssl verify`): from the
 * client up to the anchor, each certificate needs a CRL of its issuer that OpenSSL can use (its
 * issuer's key signed it; no partition by reasons, not indirect: "unable to get certificate CRL").
 * Of those, the best is taken (no critical extension OpenSSL does not handle, then in scope, then
 * current; of equals, the latest thisUpdate) and judged in OpenSSL's order: the issuer may sign
 * CRLs (keyUsage cRLSign), the scope covers the certificate, the time, the signature, the critical
 * extensions, and last whether it lists the certificate. Its authorityKeyIdentifier, when it has
 * one, must name the issuer's key.
 */
const crlRefusal = (
  path: readonly Certificate[],
  crls: readonly Crl[],
  at: Date,
): { readonly code: string; readonly message: string } | undefined => {
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    const issuer = path[i + 1] ?? c;
    const who = i === 0 ? `the client certificate ${c.subject.text}` : c.subject.text;
    if (c.crlDistributionPointsByReasons)
      return {
        code: 'crl-missing',
        message: `${who} names its CRLs for some revocation reasons only (every cRLDistributionPoint carries reasons): a server that checks the CRLs of the whole chain (nginx's ssl_crl, openssl -crl_check_all) finds no CRL covering all reasons ("unable to get certificate CRL") and refuses it. Reissue it with a distribution point for all reasons.`,
      };
    const named = crls.filter((crl) => crl.issuer.key === c.issuer.key);
    // Its key identifier must name the issuer's key (a CRL naming another key is another CA's).
    const ofIssuer = named.filter(
      (crl) =>
        crl.authorityKeyId === undefined ||
        issuer.subjectKeyId === undefined ||
        crl.authorityKeyId === issuer.subjectKeyId,
    );
    const usable = ofIssuer.filter((crl) => crl.extendedOnly === undefined);
    if (usable.length === 0) {
      const why =
        ofIssuer.length > 0
          ? ` (the CRL given ${ofIssuer[0]!.extendedOnly}, which a server reads only with extended CRL support)`
          : named.length > 0
            ? ' for its key (the CRL given in its name names another key in its authorityKeyIdentifier)'
            : '';
      return {
        code: 'crl-missing',
        message: `No CRL of ${c.issuer.text}${why} that a server can use was given for ${who} ("unable to get certificate CRL"): a server that checks the CRLs of the whole chain (nginx's ssl_crl, openssl -crl_check_all) refuses it. Add the CRL of ${c.issuer.text} to the --crl file.`,
      };
    }
    const critical = (crl: Crl) => (crl.unknownCritical ?? []).length > 0;
    const inScope = (crl: Crl) => !crl.covers || crl.covers(c);
    const current = (crl: Crl) =>
      !(crl.thisUpdate && crl.thisUpdate > at) && !(crl.nextUpdate && crl.nextUpdate <= at);
    const score = (crl: Crl) => (critical(crl) ? 0 : 4) + (inScope(crl) ? 2 : 0) + (current(crl) ? 1 : 0);
    const crl = usable.reduce((best, next) =>
      score(next) > score(best) ||
      (score(next) === score(best) && (next.thisUpdate?.getTime() ?? 0) > (best.thisUpdate?.getTime() ?? 0))
        ? next
        : best,
    );
    if (issuer.keyUsage && !issuer.keyUsage.usages.includes('crlSign'))
      return {
        code: 'crl-signer',
        message: `${issuer.subject.text} may not sign CRLs (its keyUsage lacks cRLSign: "key usage does not include CRL signing"), so a server that checks CRLs cannot take its CRL and refuses ${who}. Reissue the CA with cRLSign in its keyUsage.`,
      };
    if (!inScope(crl))
      return {
        code: 'crl-scope',
        message: `The CRL of ${c.issuer.text} given does not cover ${who} (its issuing distribution point limits it to other certificates: "different CRL scope"): a server that checks CRLs refuses it. Add the CRL of ${c.issuer.text} whose distribution point is the one ${who} names.`,
      };
    if (crl.thisUpdate && crl.thisUpdate > at)
      return {
        code: 'crl-not-yet-valid',
        message: `The CRL of ${c.issuer.text} is not valid before ${crl.thisUpdate.toISOString()} ("CRL is not yet valid"), so ${who} is refused. Check the clock of the CA that issued it, or give its current CRL.`,
      };
    if (crl.nextUpdate && crl.nextUpdate <= at)
      return {
        code: 'crl-expired',
        message: `The CRL of ${c.issuer.text} expired on ${crl.nextUpdate.toISOString()} ("CRL has expired"), so ${who} is refused by a server that checks CRLs. Give its current CRL (${c.issuer.text} must publish a new one).`,
      };
    if (crl.signedBy && !crl.signedBy(issuer))
      return {
        code: 'crl-signature',
        message: `The CRL of ${c.issuer.text} a server would take (the latest given) does not verify with the key of ${issuer.subject.text} on this client's path ("CRL signature failure": another key signed it, or the CA was re-keyed), so ${who} is refused. Give the CRL the CA signed.`,
      };
    if (critical(crl))
      return {
        code: 'crl-critical',
        message: `The CRL of ${c.issuer.text} has a critical extension a server cannot process (${crl.unknownCritical!.join(', ')}: "unhandled critical CRL extension"), so ${who} is refused. Publish the CRL without it.`,
      };
    if (listedOn(c, crl))
      return {
        code: 'revoked',
        message: `${c.subject.text} (serial ${c.serial}) is revoked by the CRL of ${crl.issuer.text} ("certificate revoked"): a server that checks CRLs refuses it.`,
      };
  }
  return undefined;
};

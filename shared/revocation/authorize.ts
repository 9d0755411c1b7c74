import { createHash, createPublicKey, verify } from 'node:crypto';
import { type Certificate, paddedSerial } from '../pki/certificate.js';
import { covers } from './coverage.js';
import { type IndexCa, type IndexCrl, manualRevocationOf, type RevocationIndex } from './index.js';
import { MANUAL, reasonName } from './records.js';

/**
 * The decision at the door, the same everywhere: the Lambda authorizer, `trustroll authorize`,
 * the local endpoint and `diagnose`. A client certificate that passed the mTLS handshake is
 * mapped to its partner through its issuing CA, then denied when it (or a CA above it) is
 * revoked, when its issuer's CRL is stale beyond the grace, or when the partner's rules (pinned
 * certificates or keys, allowed routes) do not admit it.
 */

export interface AuthorizeOptions {
  readonly now: Date;
  /** What a CRL past its nextUpdate (plus the grace) means for the clients it covers. Default `deny`. */
  readonly staleCrl?: 'deny' | 'allow';
  /** How long after a CRL's nextUpdate it still counts as fresh. Default one day. */
  readonly graceSeconds?: number;
}

export const DEFAULT_GRACE_SECONDS = 86_400;

export interface Reason {
  readonly code: string;
  readonly message: string;
}

/** What the integration receives (API Gateway passes these as `$context.authorizer.*`). */
export interface AuthorizeContext {
  readonly partner: string;
  readonly certSha256: string;
  readonly issuerSha256: string;
  readonly serial: string;
  readonly subject: string;
  readonly notAfter: string;
}

export interface AuthorizeDecision {
  readonly decision: 'allow' | 'deny';
  readonly partner?: string;
  /** Why it is denied; for an allow, notes (a stale CRL let through by `staleCrl: allow`). */
  readonly reasons: readonly Reason[];
  readonly context?: AuthorizeContext;
}

const deny = (reasons: Reason[], partner?: string, context?: AuthorizeContext): AuthorizeDecision => ({
  decision: 'deny',
  ...(partner === undefined ? {} : { partner }),
  reasons,
  ...(context ? { context } : {}),
});

/**
 * Decides for one client certificate. `route` is `METHOD /path` (`GET /orders/1`); without it a
 * partner with route rules is denied (`route.missing`), never allowed unchecked.
 */
export const authorize = (
  index: RevocationIndex,
  cert: Certificate,
  route: string | undefined,
  options: AuthorizeOptions,
): AuthorizeDecision => {
  const now = options.now.getTime();
  if (cert.notAfter.getTime() < now)
    return deny([
      { code: 'cert.expired', message: `${cert.subject.text} expired on ${iso(cert.notAfter)}.` },
    ]);
  if (cert.notBefore.getTime() > now)
    return deny([
      {
        code: 'cert.not-yet-valid',
        message: `${cert.subject.text} is valid only from ${iso(cert.notBefore)}.`,
      },
    ]);

  // A serial that is empty or negative (RFC 5280 wants a positive one) cannot be named to
  // `revoke --serial`, and a reader may take its bytes for another number: not let in unchecked.
  // Nor one padded with a leading zero byte DER does not allow (00 06 is 06): a revocation of 06
  // would not match its bytes, and OpenSSL refuses to read such a certificate.
  const padded = paddedSerial(cert.serial);
  if (cert.serial === '' || Number.parseInt(cert.serial.slice(0, 2), 16) >= 0x80 || padded)
    return deny([
      {
        code: 'cert.serial-invalid',
        message: `${cert.subject.text} has ${cert.serial === '' ? 'an empty serial number' : padded ? `a serial number padded with a zero byte DER does not allow (bytes ${cert.serial})` : `a negative serial number (bytes ${cert.serial})`}, which RFC 5280 does not allow and whose revocation cannot be checked reliably: have the partner issue a certificate with a positive serial${padded ? ' in its shortest encoding' : ''}.`,
      },
    ]);

  const found = issuerOf(index, cert);
  // A CA retired past its end counts no more: its clients are as unknown as after the removal.
  const expired =
    found !== undefined &&
    index.ca(found).retiredUntil !== undefined &&
    now >= Date.parse(index.ca(found).retiredUntil!);
  if (expired)
    return deny([
      {
        code: 'issuer.unknown',
        message: `${cert.subject.text} was issued by ${cert.issuer.text}, which was removed from the truststore; it was still counted (ca.retired) until ${index.ca(found!).retiredUntil}, while targets might serve a version with it, and no longer is.`,
      },
    ]);
  const issuerAt = found;
  if (issuerAt === undefined) {
    const rekeyed = index.withSubject(cert.issuer.key).length > 0;
    return deny([
      {
        code: 'issuer.unknown',
        message: rekeyed
          ? `${cert.subject.text} was issued by a CA named ${cert.issuer.text} with another key (key identifier ${cert.authorityKeyId ?? 'none'}) than the one in the truststore this index speaks for (revision ${index.header.revision}): that CA was re-keyed or replaced, and this client needs a certificate from the CA as it is now.`
          : `${cert.subject.text} was issued by ${cert.issuer.text}, which is not a CA of the truststore this index speaks for (revision ${index.header.revision}).`,
      },
    ]);
  }
  const issuer = index.ca(issuerAt);
  const partner = issuer.partner;
  const context: AuthorizeContext = {
    partner,
    certSha256: cert.fingerprint,
    issuerSha256: issuer.fingerprint,
    serial: cert.serial,
    subject: cert.subject.text,
    notAfter: iso(cert.notAfter),
  };

  const reasons: Reason[] = [];
  const notes: Reason[] = [];
  if (issuer.retired)
    notes.push({
      code: 'ca.retired',
      message: `${issuer.subject} was removed from the truststore recently: its clients are decided as before${issuer.retiredUntil ? ` until ${issuer.retiredUntil.slice(0, 16).replace('T', ' ')} UTC` : ''}, because targets may still serve a version that trusts it (a canary rolled back, a wave not reached); a target on the latest version refuses them in the handshake. To deny one before then: trustroll revoke.`,
    });
  // Only a CRL whose scope covers the client speaks for it: a partition's serials are its own. A
  // CA certificate presented as a client is judged in both roles: listed on its issuer's CA-only
  // CRL, it is revoked at the door too.
  const speaksFor = (c: IndexCrl) => covers(c, cert, 'client') || covers(c, cert, 'issued');
  const listed = index.revoked(issuerAt, cert.serial, speaksFor);
  if (listed !== undefined)
    reasons.push({
      code: 'cert.revoked',
      message: `${cert.subject.text} (serial ${cert.serial}) is revoked by ${issuer.subject}${revokedHow(index, issuer, cert.serial, listed)}.`,
    });
  // Any client certificate of a key its partner's CA lost (revoked for a reason against the key):
  // that CA itself or a renewal of it presented as a client, or a leaf made for that key.
  if (listed === undefined) {
    const key = index.revokedKey(partner, cert.publicKey.spki);
    if (key)
      reasons.push({
        code: 'cert.revoked',
        message: `${cert.subject.text} (serial ${cert.serial}) carries a revoked key${key.reason ? ` (${key.reason})` : ''}: ${key.source}.`,
      });
  }
  const staleOf = (crls: readonly IndexCrl[], of: string, by: string) => {
    for (const crl of crls) {
      if (!crl.nextUpdate) continue;
      const due = Date.parse(crl.nextUpdate) + (options.graceSeconds ?? DEFAULT_GRACE_SECONDS) * 1000;
      if (due >= now) continue;
      const reason = {
        code: 'crl.stale',
        message: `The CRL of ${by} that covers ${of} was due on ${crl.nextUpdate.slice(0, 10)} and no newer one has arrived: revocation of ${of} cannot be checked.`,
      };
      (options.staleCrl === 'allow' ? notes : reasons).push(reason);
    }
  };
  staleOf(issuer.crls.filter(speaksFor), cert.subject.text, issuer.subject);
  // CRLs held for the CA, none of which speaks for this client (partitions of other distribution
  // points, a CA-only CRL): its revocation is not checked, which an allow must not pass over.
  if (issuer.crls.length > 0 && !issuer.crls.some(speaksFor))
    notes.push({
      code: 'crl.not-covered',
      message: `${issuer.subject} has ${issuer.crls.length === 1 ? 'a CRL' : `${issuer.crls.length} CRLs`} (${issuer.crls.map((c) => (c.uris.length > 0 ? `for ${c.uris.join(', ')}` : c.onlyCA ? 'for CAs only' : 'partitioned')).join('; ')}), none of which covers ${cert.subject.text}${cert.crlDistributionPoints?.length ? ` (its CRL distribution point: ${cert.crlDistributionPoints.join(', ')})` : ' (it names no CRL distribution point)'}: its revocation is not checked by a CRL. Ask the partner for the CRL that covers it.`,
    });

  // Every CA above: listed by its issuer, or covered by a stale CRL.
  const seen = new Set<number>();
  for (let at: number | undefined = issuerAt; at !== undefined && !seen.has(at); at = index.ca(at).issuer) {
    seen.add(at);
    const ca = index.ca(at);
    // A root is revoked only through its key (a revoked CA's key under a self-signed certificate).
    if (ca.issuer === undefined) {
      if (ca.revoked)
        reasons.push({
          code: 'ca.revoked',
          message: `${cert.subject.text} was issued under ${ca.subject}, whose key is revoked${ca.revoked.reason ? ` (${ca.revoked.reason})` : ''}: ${ca.revoked.source}.`,
        });
      break;
    }
    const parent = index.ca(ca.issuer);
    if (ca.revoked)
      reasons.push({
        code: 'ca.revoked',
        message: `${cert.subject.text} was issued under ${ca.subject}, which ${parent.subject} revoked${ca.revoked.reason ? ` (${ca.revoked.reason})` : ''}: ${ca.revoked.source}.`,
      });
    staleOf(
      (ca.coveredBy ?? []).map((j) => parent.crls[j]!),
      ca.subject,
      parent.subject,
    );
  }

  const rules = index.header.rules[partner];
  if (rules?.pins && rules.pins.length > 0) {
    const spki = sha256(cert.publicKey.spki);
    if (!rules.pins.includes(cert.fingerprint) && !rules.pins.includes(spki))
      reasons.push({
        code: 'pin.mismatch',
        message: `${cert.subject.text} (SHA-256 ${cert.fingerprint}, key SHA-256 ${spki}) is not one of the ${rules.pins.length} client certificate(s) or key(s) pinned for partner ${partner}.`,
      });
  }
  if (rules?.routes && rules.routes.length > 0) {
    if (route === undefined)
      reasons.push({
        code: 'route.missing',
        message: `Partner ${partner} may call only ${rules.routes.join(', ')}: give the route to decide.`,
      });
    else if (!rules.routes.some((r) => routeMatches(r, route)))
      reasons.push({
        code: 'route.denied',
        message: `Partner ${partner} may call only ${rules.routes.join(', ')}, not ${route}.`,
      });
  }
  if (reasons.length > 0) return deny(reasons, partner, context);
  return { decision: 'allow', partner, reasons: notes, context };
};

const iso = (d: Date) => d.toISOString();
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

const revokedHow = (
  index: RevocationIndex,
  issuer: IndexCa,
  serial: string,
  listed: { readonly code: number; readonly crl?: IndexCrl },
): string => {
  if (listed.code === MANUAL) {
    const m = manualRevocationOf(index.header.manual, issuer, serial);
    return m ? ` by hand (${m.reason}; ${m.by}, ${m.at.slice(0, 10)})` : ' by hand';
  }
  const reason = reasonName(listed.code);
  // The CRL that lists it, named by its number even when the CA has several (partitions).
  const number = listed.crl?.number;
  return `'s CRL${number === undefined ? '' : ` #${number}`}${reason ? ` (${reason})` : ''}`;
};

/**
 * The truststore CA that issued `cert`: by issuer name, then the authority key identifier, then
 * (CAs of the same name without key identifiers) the key that verifies the signature.
 */
const issuerOf = (index: RevocationIndex, cert: Certificate): number | undefined => {
  const named = index.withSubject(cert.issuer.key);
  // One CA of that name: it is the issuer unless the key identifiers say otherwise (a client of
  // the CA's earlier key, still served by a domain the new version has not reached yet, would
  // otherwise take the new CA's revocations, and the old one's would be lost).
  if (named.length <= 1) {
    const ski = named[0] === undefined ? undefined : index.ca(named[0]).ski;
    return cert.authorityKeyId !== undefined && ski !== undefined && ski !== cert.authorityKeyId
      ? undefined
      : named[0];
  }
  // Several CAs of that name: the one whose key signed the client, whatever its key identifier
  // says (an authority key identifier is the client's claim; a CA without a subject key
  // identifier cannot contradict it, so a client of a new CA could name the retired one's and
  // take its clean record). Of several with that key (a CA renewed, same key), the one held.
  const byKey = cert.authorityKeyId ? named.filter((i) => index.ca(i).ski === cert.authorityKeyId) : [];
  if (cert.signature.hash === undefined) return byKey.length === 1 ? byKey[0] : undefined;
  const signers = named.filter((i) => {
    const spki = index.ca(i).spki;
    if (!spki) return false;
    try {
      const key = createPublicKey({ key: Buffer.from(spki, 'base64'), format: 'der', type: 'spki' });
      return verify(cert.signature.hash!, cert.tbs, key, cert.signatureValue);
    } catch {
      return false;
    }
  });
  if (signers.length <= 1) return signers[0];
  return (
    signers.find((i) => !index.ca(i).retired && byKey.includes(i)) ??
    signers.find((i) => !index.ca(i).retired) ??
    signers.find((i) => byKey.includes(i)) ??
    signers[0]
  );
};

/**
 * `METHOD /path` against a rule. The rule's method `*` or `ANY` (or none) matches any method;
 * another matches only the request's method spelled exactly so (HTTP methods are case-sensitive
 * and API Gateway route keys are upper case: `get` is not `GET`). In the path a `*` is one
 * non-empty segment (or part of one) and a final `**` any rest.
 */
export const routeMatches = (rule: string, route: string): boolean => {
  const [ruleMethod, rulePath] = splitRoute(rule);
  const [method, raw] = splitRoute(route);
  const path = requestPath(raw);
  // A path that is not plain (dot segments, encoded slashes or dots, bad escapes) matches no rule:
  // `/health/../admin` must not pass for `/health/**`.
  if (path === undefined) return false;
  // Rules were upper-cased at input; one written before that still means the method it names.
  const wanted = ruleMethod?.toUpperCase();
  if (wanted !== undefined && wanted !== '*' && wanted !== 'ANY' && wanted !== method) return false;
  return pathMatches(rulePath, path);
};

/** The request's path without query or fragment, percent-decoded; undefined when it is not plain. */
const requestPath = (raw: string): string | undefined => {
  // A fragment is never sent in a request target: one that has it is not plain (a backend that
  // keeps it as path would resolve `/health/x#/../../admin` to /admin).
  if (raw.replace(/\?.*$/s, '').includes('#')) return undefined;
  const bare = raw.replace(/\?.*$/s, '');
  let decoded: string;
  try {
    decoded = decodeURIComponent(bare);
  } catch {
    return undefined;
  }
  // An encoded slash makes another path than the one routed; dot segments climb out of a rule.
  if (decoded.split('/').length !== bare.split('/').length) return undefined;
  // Servers that take `\` for `/` (IIS, some proxies) would route another path than the one judged.
  if (decoded.includes('\\')) return undefined;
  // Tomcat and Spring strip `;params` from a segment before resolving it: `..;x` climbs like `..`,
  // and `/orders/;` is `/orders/` there. A path with `;params` is not plain: it matches no rule.
  if (decoded.includes(';')) return undefined;
  if (decoded.split('/').some((s) => isDotSegment(s))) return undefined;
  // Encoded twice (`%252e%252e`, `%252f`, `%2523`, `%2500`…): a backend that decodes once more
  // reads another path than the one judged (it climbs, splits or cuts there).
  if (/%[0-9a-f]{2}/i.test(decoded)) return undefined;
  // An encoded `#` or `?` (`..%23/admin`): a backend that decodes, then parses again, cuts there.
  if (/[#?]/.test(decoded)) return undefined;
  // Control characters (`%00`, `%09`) are cut or trimmed by some servers, and characters whose
  // compatibility form differs (full-width `．．`) are folded by others: another path than judged.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(decoded) || decoded.normalize('NFKC') !== decoded) return undefined;
  // Invisible characters (zero-width space, soft hyphen, byte order mark, joiners, variation
  // selectors: format and default-ignorable code points) that a backend or a filter may strip:
  // `/x/\u200b..\u200b/admin` would climb there.
  if (/[\p{Cf}\p{Default_Ignorable_Code_Point}\p{Zl}\p{Zp}]/u.test(decoded)) return undefined;
  // Three or more dots, or dots with spaces: Windows servers trim a segment's trailing dots and
  // spaces (`...`, `..%20` and `.%20.` are `.` or `..` there).
  // A segment of spaces only is an empty one there (`/orders/%20` is `/orders/`).
  if (decoded.split('/').some((s) => /^[. ]+$/.test(s))) return undefined;
  return decoded;
};

/** `.` or `..`, once the segment's `;params` are stripped. */
export const isDotSegment = (segment: string): boolean => {
  const bare = segment.split(';')[0];
  return bare === '.' || bare === '..';
};

const splitRoute = (route: string): [string | undefined, string] => {
  const trimmed = route.trim();
  const space = trimmed.indexOf(' ');
  if (space < 0) return [undefined, trimmed];
  return [trimmed.slice(0, space), trimmed.slice(space + 1).trim()];
};

/**
 * Whether `path` matches the rule's path, segment by segment, in time linear in the path for a
 * given rule (no regular expression: a rule like `*-*-*-*` against a long segment of dashes made a
 * backtracking one take minutes, and every request behind it waited).
 */
const pathMatches = (rulePath: string, path: string): boolean => {
  const rule = rulePath.split('/');
  const segs = path.split('/');
  const rest = rule.at(-1) === '**';
  const fixed = rest ? rule.slice(0, -1) : rule;
  // A final `**` is any rest (even empty) after the fixed segments and their slash.
  if (rest ? segs.length <= fixed.length : segs.length !== fixed.length) return false;
  return fixed.every((pattern, i) => segmentMatches(pattern, segs[i]!));
};

/**
 * One segment against its pattern: a pattern of stars only is one non-empty segment; otherwise
 * each `*` is any run of characters (the segment holds no `/`). Greedy with one resumption point
 * (the last star seen): at most pattern × segment steps, never exponential.
 */
const segmentMatches = (pattern: string, text: string): boolean => {
  if (/^\*+$/.test(pattern)) return text.length > 0;
  let p = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.length && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (star >= 0) {
      p = star + 1;
      t = ++resume;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
};

import { type Certificate, parseCertificate, pemToDer } from '../pki/certificate.js';
import { keyInTexts } from '../pki/key-hunt.js';
import { readInput } from '../pki/read.js';
import { TrustIndex, verifyClient } from '../pki/verify.js';
import type { ObjectStore } from '../ports.js';
import { certificateOf, KEYS, type TruststoreState } from '../truststore/state.js';
import { type AccessLogEntry, parseAccessLog } from './access-log.js';

/** One refused handshake, explained. */
export interface Refusal {
  readonly requestId?: string;
  readonly time?: string;
  readonly domainName?: string;
  /** The client certificate (SHA-256 of its DER), when the log line carried its PEM. */
  readonly certSha256?: string;
  readonly subject: string;
  readonly issuer?: string;
  readonly serial?: string;
  /** The partner of the CA that issued it (or of a CA above it), or `unknown`. */
  readonly partner: string;
  /**
   * The partner was inferred, not found: the issuing CA is in no truststore version, but a CA of
   * the same organisation (O=) is, and of one partner only (a missing intermediate, most often).
   */
  readonly partnerGuessed?: true;
  /** Why API Gateway refused it, as `diagnose` says it; the message says what to fix. */
  readonly code: string;
  readonly message: string;
  /** The truststore version judged against: the one published last before the request. */
  readonly version?: string;
}

/** Refusals of one partner for one reason: what an alert and the report show. */
export interface RefusalGroup {
  readonly partner: string;
  readonly code: string;
  /** The fix, once (the first refusal's message). */
  readonly message: string;
  readonly count: number;
  /** Distinct client certificates (by SHA-256, else by subject and serial). */
  readonly certificates: readonly {
    readonly key: string;
    readonly subject: string;
    readonly serial?: string;
  }[];
  readonly first?: string;
  readonly last?: string;
}

/**
 * The truststore a request met: the version published last at or before its time (the latest
 * when the time is unknown), read once per version. The latest revision comes from the state's
 * entries; older ones from the truststore object's versions.
 */
export class ServedTruststores {
  private readonly versions = new Map<string, Promise<TrustIndex>>();
  private readonly partners = new Map<string, string>();
  constructor(
    private readonly store: Pick<ObjectStore, 'get'>,
    private readonly state: TruststoreState,
  ) {
    for (const r of state.history)
      for (const [fp, p] of Object.entries(r.partners ?? {})) this.partners.set(fp, p);
    for (const e of [...(state.removedEntries ?? []), ...state.entries])
      this.partners.set(e.fingerprint, e.partner);
  }

  /** The version serving at `time`, and its CAs. */
  async at(time: Date | undefined): Promise<{ version?: string; trusted: TrustIndex }> {
    const published = this.state.history.filter((r) => r.version);
    const latest = published.at(-1);
    const served =
      time === undefined
        ? latest
        : ([...published].reverse().find((r) => Date.parse(r.at) <= time.getTime()) ?? latest);
    if (!served?.version) return { trusted: new TrustIndex([]) };
    let index = this.versions.get(served.version);
    if (!index) {
      index =
        served === latest && served.revision === this.state.revision
          ? Promise.resolve(new TrustIndex(this.state.entries.map(certificateOf)))
          : this.store
              .get(KEYS.truststore, { version: served.version })
              .then(
                (o) =>
                  new TrustIndex(
                    readInput({ name: KEYS.truststore, bytes: o.body }).certificates.map((c) => c.cert),
                  ),
              );
      this.versions.set(served.version, index);
    }
    return { version: served.version, trusted: await index };
  }

  partnerOf(fingerprint: string): string | undefined {
    return this.partners.get(fingerprint);
  }
}

const organisation = (dn: string) => /(?:^|,)O=((?:\\,|[^,])+)/.exec(dn)?.[1];

/**
 * The partner of a client: through the CA that issued it, by name (and key id), in the truststore
 * served or any held before. When its issuer is in none, a CA of the same organisation held for
 * one partner only names that partner as a guess (the usual case: an intermediate never uploaded,
 * whose root is held).
 */
const partnerFor = (
  leaf: Certificate,
  trusted: TrustIndex,
  served: ServedTruststores,
): { partner: string; guessedFrom?: Certificate } => {
  const issuers = trusted.named(leaf.issuer.key);
  const byKey = issuers.find(
    (c) => !leaf.authorityKeyId || !c.subjectKeyId || leaf.authorityKeyId === c.subjectKeyId,
  );
  const ca = byKey ?? issuers[0];
  const found = ca && served.partnerOf(ca.fingerprint);
  if (found) return { partner: found };
  const org = organisation(leaf.issuer.text);
  if (!org) return { partner: 'unknown' };
  const kin = trusted.all.filter((c) => organisation(c.subject.text) === org);
  const partners = new Set(kin.map((c) => served.partnerOf(c.fingerprint)).filter((p) => p !== undefined));
  if (partners.size !== 1) return { partner: 'unknown' };
  return { partner: [...partners][0]!, guessedFrom: kin[0]! };
};

/**
 * Why a logged PEM gave no certificate. Key material in it is named (never shown or kept): a
 * private key that reached a log has been exposed, and must be replaced.
 */
const notACertificate = (pem: string): string => {
  const key = keyInTexts([pem]);
  return key
    ? `The log line holds ${key} where the client certificate should be: nothing of it was kept or shown. Treat that key as exposed (it sits in the access log) and have it replaced; then find out what wrote it there.`
    : 'The client certificate in the log line does not parse: its PEM was cut or changed on the way. Ask the partner for the certificate and run trustroll diagnose --cert on it.';
};

/** Explains each refused handshake against the truststore version served when it happened. */
export const explainRefusals = async (
  refusals: readonly AccessLogEntry[],
  served: ServedTruststores,
): Promise<Refusal[]> => {
  const out: Refusal[] = [];
  for (const r of refusals) {
    const { version, trusted } = await served.at(r.time);
    const base = {
      ...(r.requestId ? { requestId: r.requestId } : {}),
      ...(r.time ? { time: r.time.toISOString() } : {}),
      ...(r.domainName ? { domainName: r.domainName } : {}),
      ...(version ? { version } : {}),
    };
    let leaf: Certificate | undefined;
    try {
      if (r.clientCertPem) leaf = parseCertificate(pemToDer(r.clientCertPem));
    } catch {
      leaf = undefined;
    }
    if (!leaf) {
      out.push({
        ...base,
        subject: r.subjectDN ?? '(no subject logged)',
        ...(r.issuerDN ? { issuer: r.issuerDN } : {}),
        ...(r.serialNumber ? { serial: r.serialNumber } : {}),
        partner: 'unknown',
        code: 'cert.not-logged',
        message: r.clientCertPem
          ? notACertificate(r.clientCertPem)
          : 'The log line names the certificate but holds no PEM: add $context.identity.clientCert.clientCertPem to the stage access-log format (TruststorePipeline.accessLogFormat) to have it explained.',
      });
      continue;
    }
    const at = r.time ?? new Date();
    const result = verifyClient({ leaf, sent: [], trusted, at, purpose: 'clientAuth', apiGateway: true });
    const reason = result.reasons[0] ?? {
      code: 'handshake.refused-unexplained',
      message: `API Gateway refused it, but truststore version ${version ?? '(none)'} accepts this certificate at ${at.toISOString()}: the domain may have served another version then (trustroll status shows drift), or the client sent another certificate than the one logged.`,
    };
    const { partner, guessedFrom } = partnerFor(leaf, trusted, served);
    out.push({
      ...base,
      certSha256: leaf.fingerprint,
      subject: leaf.subject.text,
      issuer: leaf.issuer.text,
      serial: leaf.serial,
      partner,
      ...(guessedFrom ? { partnerGuessed: true as const } : {}),
      code: reason.code,
      message: guessedFrom
        ? `${reason.message} ${leaf.issuer.text} is probably an intermediate CA of partner ${partner} (the truststore holds ${guessedFrom.subject.text}, of the same organisation): API Gateway needs every CA of the path in the truststore, so ask ${partner} to upload it to inbox/${partner}/.`
        : reason.message,
    });
  }
  return out;
};

/** Refusals grouped by partner and reason, most frequent first. */
export const groupRefusals = (refusals: readonly Refusal[]): RefusalGroup[] => {
  const groups = new Map<string, { partner: string; code: string; message: string; items: Refusal[] }>();
  for (const r of refusals) {
    const key = `${r.partner}\u0000${r.code}`;
    const g = groups.get(key) ?? { partner: r.partner, code: r.code, message: r.message, items: [] };
    g.items.push(r);
    groups.set(key, g);
  }
  return [...groups.values()]
    .map((g) => {
      const certs = new Map<string, { key: string; subject: string; serial?: string }>();
      for (const r of g.items) {
        const key = refusalKey(r);
        if (!certs.has(key))
          certs.set(key, { key, subject: r.subject, ...(r.serial ? { serial: r.serial } : {}) });
      }
      const times = g.items
        .map((r) => r.time)
        .filter((t): t is string => t !== undefined)
        .sort();
      return {
        partner: g.partner,
        code: g.code,
        message: g.message,
        count: g.items.length,
        certificates: [...certs.values()],
        ...(times[0] ? { first: times[0], last: times.at(-1)! } : {}),
      };
    })
    .sort((a, b) => b.count - a.count || a.partner.localeCompare(b.partner) || a.code.localeCompare(b.code));
};

/** What identifies a refused certificate: its SHA-256, else its subject and serial. */
export const refusalKey = (r: Refusal): string => r.certSha256 ?? `${r.subject}#${r.serial ?? ''}`;

/**
 * The refusals of an access log, explained against the store's truststore versions and grouped:
 * what the report shows (locally, from `.trustroll/endpoint/refusals.log`).
 */
export const refusalGroupsOf = async (
  text: string,
  store: Pick<ObjectStore, 'get'>,
  state: TruststoreState,
): Promise<RefusalGroup[]> =>
  groupRefusals(await explainRefusals(parseAccessLog(text).refusals, new ServedTruststores(store, state)));

import { DEFAULT_THRESHOLDS } from '../defaults.js';
import { SEVERITY_RANK, type Severity } from '../finding.js';
import { crlLinesOf, daysUntil, expiryLines, levelOf, pathToRoot } from '../pipeline/expiry.js';
import { type HistoryLine, historyLines } from '../pipeline/history.js';
import { removedAt, retiredClaims } from '../pipeline/revocation.js';
import { renderedOf } from '../pipeline/state-store.js';
import type { DomainStatusLine } from '../pipeline/status.js';
import { type PublicKeyInfo, pemToDer, publicKeyOf } from '../pki/certificate.js';
import type { RefusalGroup } from '../refusals/explain.js';
import { MAX_CHAIN } from '../truststore/rules/chain.too-long.js';
import { MAX_TRUSTSTORE_BYTES, sizeFindings } from '../truststore/rules/truststore.too-large.js';
import {
  type Entry,
  entriesBySubject,
  latestPublished,
  parsedCertificateOf,
  pendingRevision,
  type TruststoreState,
} from '../truststore/state.js';
import { type ReportRollouts, type RolloutSources, reportRollouts } from './rollouts.js';

/** The JSON shape's name and version: a consumer checks it before reading the rest. */
export const REPORT_SCHEMA = 'trustroll.report/1';

/** How far the expiry chart looks ahead of the report's moment. */
export const CHART_MONTHS = 13;

/** One CA of the truststore, with its provenance and when its clients stop working. */
export interface ReportCa {
  readonly partner: string;
  readonly subject: string;
  readonly issuer: string;
  /** SHA-256 of the certificate (DER), lowercase hex. */
  readonly fingerprint: string;
  /** `RSA 2048`, `EC P-256`, … */
  readonly key: string;
  readonly notBefore: string;
  readonly notAfter: string;
  /** Whole days from the report's moment to notAfter (negative once expired). */
  readonly days: number;
  /** The smallest expiry threshold (days) the CA is within, 0 once expired; absent when none. */
  readonly threshold?: number;
  /** Certificates from this CA up to its root (itself included), as held in the truststore. */
  readonly chainLength: number;
  /** When its clients stop working: the first expiry on its path to the root. */
  readonly chainBreaksAt: string;
  /** The certificate on that path that expires first. */
  readonly chainBreaksBecause: string;
  /** True when the chain breaks before the CA itself expires (an issuer expires first). */
  readonly breaksEarly: boolean;
  /** Who added it and when: the upload (inbox key and version) and the moment it joined. */
  readonly addedAt: string;
  readonly upload: { readonly key: string; readonly version: string };
  /** Revoked by the CA above it (by hand or on its CRL): every client under it is denied at the door. */
  readonly revoked?: { readonly reason?: string; readonly source: string };
  /** Non-blocking findings it had when admitted. */
  readonly findings: readonly {
    readonly code: string;
    readonly severity: Severity;
    readonly message: string;
  }[];
}

export interface ReportPartner {
  readonly name: string;
  readonly cas: number;
  /** The earliest notAfter of its CAs. */
  readonly nextExpiry: string;
  /** The earliest moment one of its chains breaks. */
  readonly nextBreak: string;
}

/** Something open that someone should act on. */
export interface ReportWarning {
  readonly code: string;
  readonly severity: Severity;
  readonly message: string;
  readonly partner?: string;
  readonly subject?: string;
  readonly fingerprint?: string;
}

export interface ReportCrl {
  /** The subject of the CA that signed it. */
  readonly issuer: string;
  readonly partner: string;
  readonly number?: string;
  readonly thisUpdate?: string;
  readonly nextUpdate?: string;
  readonly days?: number;
  /** Past its nextUpdate at the report's moment. */
  readonly stale: boolean;
  /** Serials it revokes. */
  readonly revoked?: number;
}

/** A certificate revoked by hand (`trustroll revoke`): the door denies it whatever its CRL says. */
export interface ReportManualRevocation {
  /** The issuing CA's subject, when the state knows it (held, retired or removed). */
  readonly issuer?: string;
  readonly issuerSha256: string;
  /** The partner of the issuing CA, when known. */
  readonly partner?: string;
  /** The serial (hex). */
  readonly serial: string;
  /** The revoked certificate's subject and SHA-256, when it was given as a file. */
  readonly subject?: string;
  readonly certSha256?: string;
  readonly reason: string;
  readonly by: string;
  readonly at: string;
}

/** A partner's identity rules at the door (`trustroll rules`): pins and routes. */
export interface ReportRules {
  readonly partner: string;
  /** How many certificate or public-key pins; none: any client under the partner's CAs. */
  readonly pins: number;
  /** Allowed routes; none: every route. */
  readonly routes: readonly string[];
}

/**
 * A CA removed in the last days (retired): targets may still serve a version with it, so the
 * door decides its clients as its partner's, and no other partner may take its name, until then.
 */
export interface ReportRetired {
  readonly partner: string;
  readonly subject: string;
  readonly fingerprint: string;
  readonly removedAt: string;
  readonly until: string;
}

/**
 * The report: the truststore as people read it (`trustroll report --format json`). Every value
 * comes from the state (and, for `domains`, from the domains' own status): this is the documented
 * JSON shape, `schema` names its version.
 */
export interface Report {
  readonly schema: typeof REPORT_SCHEMA;
  /** The moment the report speaks for (days, thresholds and staleness are counted from it). */
  readonly generatedAt: string;
  /** Where the state was read: a data folder or `s3://bucket[/prefix]`. */
  readonly store: string;
  readonly truststore: {
    readonly revision: number;
    /** The latest published version id. */
    readonly version?: string;
    /** A revision committed but not yet published (it is what the CAs below are). */
    readonly unpublishedRevision?: number;
    readonly certificates: number;
    readonly partners: number;
    /** Size of the rendered truststore object, and API Gateway's limit (about 1000 KB). */
    readonly bytes: number;
    readonly limitBytes: number;
    readonly headroomBytes: number;
    readonly usedPercent: number;
    /** The longest path held from a CA to its root, and API Gateway's limit (root + 3). */
    readonly longestChain: number;
    readonly maxChain: number;
  };
  /** The expiry scan's thresholds (days before expiry), largest first. */
  readonly thresholds: readonly number[];
  /** The window of the expiry chart: from the report's moment, `CHART_MONTHS` months on. */
  readonly window: { readonly from: string; readonly to: string };
  readonly partners: readonly ReportPartner[];
  /** Every CA, by partner then soonest expiry. */
  readonly cas: readonly ReportCa[];
  /** Every version, newest first: what changed, why and when. */
  readonly history: readonly HistoryLine[];
  readonly warnings: readonly ReportWarning[];
  readonly crls: readonly ReportCrl[];
  /** The door beyond the truststore: revocations by hand (newest first), partner rules, retired CAs. */
  readonly door: {
    readonly manual: readonly ReportManualRevocation[];
    readonly rules: readonly ReportRules[];
    readonly retired: readonly ReportRetired[];
  };
  /** The domains' status and drift, when they were asked (absent: not checked for this report). */
  readonly domains?: readonly DomainStatusLine[];
  /**
   * The handshakes refused for their client certificate, explained and grouped by partner and
   * reason (`trustroll refusals`), when a refusals log was read (absent: none was given).
   */
  readonly refusals?: { readonly source: string; readonly groups: readonly RefusalGroup[] };
  /**
   * With targets (rolled in waves): the version each target serves and the last rollout
   * (`shared/report/rollouts.ts`). Absent when there are no targets.
   */
  readonly rollouts?: ReportRollouts;
}

export interface ReportOptions {
  readonly now: Date;
  readonly store: string;
  readonly thresholds?: readonly number[];
  readonly domains?: readonly DomainStatusLine[];
  readonly refusals?: { readonly source: string; readonly groups: readonly RefusalGroup[] };
  /** The rollout records and, locally, what each target endpoint serves. */
  readonly rollouts?: RolloutSources;
  /** The CAs revoked by the CA above them, by fingerprint (`revokedCas`). */
  readonly revoked?: ReadonlyMap<string, { readonly reason?: string; readonly source: string }>;
}

/** `RSA 2048`, `EC P-384`, `Ed25519`: how people name a key. */
export const keyLabel = (key: PublicKeyInfo): string => {
  switch (key.type) {
    case 'rsa':
    case 'rsa-pss':
      return `${key.type === 'rsa' ? 'RSA' : 'RSA-PSS'} ${key.bits ?? '?'}`;
    case 'ec':
      return `EC ${key.curve ?? `${key.bits ?? '?'} bits`}`;
    case 'ed25519':
      return 'Ed25519';
    case 'ed448':
      return 'Ed448';
    case 'dsa':
      return `DSA ${key.bits ?? '?'}`;
    default:
      return key.algorithmOid;
  }
};

/** Each entry's key label, read once per entry (entries are immutable; a warm process keeps them). */
const keys = new WeakMap<Entry, string>();
const keyOf = (e: Entry): string => {
  let key = keys.get(e);
  if (key === undefined) {
    key = keyLabel(parsedCertificateOf(e)?.publicKey ?? publicKeyOf(pemToDer(e.pem)));
    keys.set(e, key);
  }
  return key;
};

/** `months` calendar months after `from` (UTC). */
const addMonths = (from: Date, months: number): Date => {
  const d = new Date(from);
  d.setUTCMonth(d.getUTCMonth() + months);
  return d;
};

/**
 * The report of a state at `now`: a pure function of the state (and the domains' status when
 * given). It reuses what the other commands compute: the expiry scan's lines and thresholds
 * (`scan`), the history (`history`), the CRL lines (`status`, `scan`), the size and chain limits
 * of lint.
 */
export const buildReport = (state: TruststoreState, options: ReportOptions): Report => {
  const { now } = options;
  const thresholds = [...(options.thresholds ?? DEFAULT_THRESHOLDS)].sort((a, b) => b - a);
  const expiry = new Map(expiryLines(state.entries, now).map((l) => [l.fingerprint, l]));
  const bySubject = entriesBySubject(state.entries);
  const cas: ReportCa[] = state.entries
    .map((e) => {
      const line = expiry.get(e.fingerprint)!;
      const threshold = levelOf(line.days, thresholds);
      return {
        partner: e.partner,
        subject: e.subject,
        issuer: e.issuer,
        fingerprint: e.fingerprint,
        key: keyOf(e),
        notBefore: e.notBefore,
        notAfter: e.notAfter,
        days: line.days,
        ...(threshold === undefined ? {} : { threshold }),
        chainLength: pathToRoot(e, bySubject).length,
        chainBreaksAt: line.chainBreaksAt,
        chainBreaksBecause: line.chainBreaksBecause,
        breaksEarly: line.chainBreaksAt < e.notAfter,
        addedAt: e.addedAt,
        upload: { key: e.upload.key, version: e.upload.version },
        ...(options.revoked?.has(e.fingerprint) ? { revoked: options.revoked.get(e.fingerprint)! } : {}),
        findings: e.findings.map((f) => ({ code: f.code, severity: f.severity, message: f.message })),
      };
    })
    .sort(
      (a, b) =>
        cmp(a.partner, b.partner) ||
        cmp(a.notAfter, b.notAfter) ||
        cmp(a.subject, b.subject) ||
        cmp(a.fingerprint, b.fingerprint),
    );

  const partners = new Map<string, { cas: number; nextExpiry: string; nextBreak: string }>();
  for (const ca of cas) {
    const p = partners.get(ca.partner);
    if (!p) partners.set(ca.partner, { cas: 1, nextExpiry: ca.notAfter, nextBreak: ca.chainBreaksAt });
    else {
      p.cas++;
      if (ca.notAfter < p.nextExpiry) p.nextExpiry = ca.notAfter;
      if (ca.chainBreaksAt < p.nextBreak) p.nextBreak = ca.chainBreaksAt;
    }
  }

  const bytes = Buffer.byteLength(renderedOf(state.entries).body);
  const longestChain = cas.reduce((m, c) => Math.max(m, c.chainLength), 0);
  const crls: ReportCrl[] = crlLinesOf(state, now).map((l) => {
    const held = state.revocation?.crls[l.key];
    return {
      issuer: l.issuer,
      partner: l.partner,
      ...(l.number ? { number: l.number } : {}),
      ...(held ? { thisUpdate: held.thisUpdate, revoked: held.entries } : {}),
      ...(l.nextUpdate ? { nextUpdate: l.nextUpdate, days: l.days } : {}),
      stale: l.nextUpdate !== undefined && Date.parse(l.nextUpdate) < now.getTime(),
    };
  });

  const warnings: ReportWarning[] = [];
  for (const f of sizeFindings(bytes))
    warnings.push({ code: f.code, severity: f.severity, message: f.message });
  const pending = pendingRevision(state);
  if (pending)
    warnings.push({
      code: 'truststore.unpublished',
      severity: 'warning',
      message: `Revision ${pending.revision}, the latest, is committed but not published yet: trustroll repair, or the next change, publishes it.`,
    });
  for (const ca of cas) {
    const who = { partner: ca.partner, subject: ca.subject, fingerprint: ca.fingerprint };
    if (ca.revoked)
      warnings.push({
        code: 'ca.revoked',
        severity: 'error',
        message: `Revoked: ${ca.revoked.source}. Every client under it is denied at the door.`,
        ...who,
      });
    if (ca.days < 0)
      warnings.push({
        code: 'ca.expired',
        severity: 'error',
        message: `Expired on ${day(ca.notAfter)}.`,
        ...who,
      });
    else if (ca.threshold !== undefined)
      warnings.push({
        code: 'ca.expiring',
        severity: ca.threshold <= 30 ? 'warning' : 'info',
        message: `Expires on ${day(ca.notAfter)}, in ${ca.days} day${ca.days === 1 ? '' : 's'}.`,
        ...who,
      });
    if (ca.breaksEarly && Date.parse(ca.chainBreaksAt) >= now.getTime())
      warnings.push({
        code: 'chain.breaks-early',
        severity: daysUntil(ca.chainBreaksAt, now) <= 30 ? 'warning' : 'info',
        message: `Its clients break on ${day(ca.chainBreaksAt)}, before it expires (${day(ca.notAfter)}): ${ca.chainBreaksBecause} expires first.`,
        ...who,
      });
    // Expiry as admitted is old news: the lines above say it as of the report's moment.
    for (const f of ca.findings.filter((f) => !f.code.startsWith('cert.expir')))
      warnings.push({ code: f.code, severity: f.severity, message: f.message, ...who });
  }
  for (const c of crls)
    if (c.stale)
      warnings.push({
        code: 'crl.stale',
        severity: 'error',
        message: `The CRL of ${c.issuer} was due on ${day(c.nextUpdate!)}: the authorizer denies its clients once the grace has passed.`,
        partner: c.partner,
      });
  for (const d of options.domains ?? []) {
    if (d.drift)
      warnings.push({ code: 'truststore.drift', severity: 'warning', message: `${d.name} ${d.drift}.` });
    else if (!d.latest)
      warnings.push({
        code: 'domain.not-latest',
        severity: 'warning',
        message: `${d.name} serves truststore version ${d.truststoreVersion ?? 'none'}, not the latest.`,
      });
    for (const w of d.warnings)
      warnings.push({ code: 'domain.warning', severity: 'warning', message: `${d.name}: ${w}` });
  }

  const door = doorOf(state, now);

  const latest = latestPublished(state);
  const rollouts = options.rollouts ? reportRollouts(options.rollouts, latest?.version) : undefined;
  if (rollouts?.unreadable !== undefined)
    warnings.push({
      code: 'rollout.records-unreadable',
      severity: 'warning',
      message: `The rollout records could not be read (${rollouts.unreadable}): which version each target serves is not shown.`,
    });
  const last = rollouts?.last;
  const after = last?.after;
  if (after && (after.status === 'rolled-back' || after.status === 'failed'))
    warnings.push({
      code: 'rollout.stopped',
      severity: after.status === 'failed' ? 'error' : 'warning',
      message: `The rollout of truststore version ${after.version} ${after.status === 'failed' ? 'FAILED' : 'was rolled back'}${after.wave ? ` in wave ${after.wave}` : ''}${after.reason ? `: ${after.reason}` : ''}; the targets were taken to ${last!.version}, the newest version verified.`,
    });
  if (last && (last.status === 'rolled-back' || last.status === 'failed'))
    warnings.push({
      code: 'rollout.stopped',
      severity: last.status === 'failed' ? 'error' : 'warning',
      message: `The rollout of truststore version ${last.version} ${last.status === 'failed' ? 'FAILED' : 'was rolled back'}${last.wave ? ` in wave ${last.wave}` : ''}${last.reason ? `: ${last.reason}` : ''}.`,
    });
  if (rollouts?.mixed)
    warnings.push({
      code: 'targets.mixed-versions',
      severity: 'warning',
      message: `The targets serve different truststore versions: ${rollouts.versions
        .map(
          (v) => `${v.version === undefined ? 'not known' : v.version || 'none'} on ${v.targets.join(', ')}`,
        )
        .join('; ')}.`,
    });
  return {
    schema: REPORT_SCHEMA,
    generatedAt: now.toISOString(),
    store: options.store,
    truststore: {
      revision: state.revision,
      ...(latest?.version ? { version: latest.version } : {}),
      ...(pending ? { unpublishedRevision: pending.revision } : {}),
      certificates: cas.length,
      partners: partners.size,
      bytes,
      limitBytes: MAX_TRUSTSTORE_BYTES,
      headroomBytes: MAX_TRUSTSTORE_BYTES - bytes,
      usedPercent: Math.round((bytes / MAX_TRUSTSTORE_BYTES) * 1000) / 10,
      longestChain,
      maxChain: MAX_CHAIN,
    },
    thresholds,
    window: { from: now.toISOString(), to: addMonths(now, CHART_MONTHS).toISOString() },
    partners: [...partners].map(([name, p]) => ({ name, ...p })),
    cas,
    history: historyLines(state),
    warnings: warnings.sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity]),
    crls,
    door,
    ...(options.domains ? { domains: options.domains } : {}),
    ...(options.refusals ? { refusals: options.refusals } : {}),
    ...(rollouts ? { rollouts } : {}),
  };
};

/** What the door decides beyond the truststore, from the state's revocation part and removals. */
const doorOf = (state: TruststoreState, now: Date): Report['door'] => {
  const rev = state.revocation;
  // A revocation names its issuer by fingerprint: held, or removed since (retired or gone).
  const known = new Map<string, { subject: string; partner: string }>();
  for (const e of [...(state.removedEntries ?? []), ...state.entries])
    known.set(e.fingerprint, { subject: e.subject, partner: e.partner });
  const manual = (rev?.manual ?? [])
    .map((m): ReportManualRevocation => {
      const issuer = known.get(m.issuer);
      return {
        ...(issuer ? { issuer: issuer.subject, partner: issuer.partner } : {}),
        issuerSha256: m.issuer,
        serial: m.serial,
        ...(m.subject === undefined ? {} : { subject: m.subject }),
        ...(m.certSha256 === undefined ? {} : { certSha256: m.certSha256 }),
        reason: m.reason,
        by: m.by,
        at: m.at,
      };
    })
    .sort((a, b) => cmp(b.at, a.at) || cmp(a.issuerSha256, b.issuerSha256) || cmp(a.serial, b.serial));
  const rules = Object.entries(rev?.rules ?? {})
    .filter(([, r]) => (r.pins?.length ?? 0) > 0 || (r.routes?.length ?? 0) > 0)
    .map(([partner, r]) => ({ partner, pins: r.pins?.length ?? 0, routes: [...(r.routes ?? [])] }))
    .sort((a, b) => cmp(a.partner, b.partner));
  const retired = retiredClaims(state, now)
    .map(({ entry, until }) => ({
      partner: entry.partner,
      subject: entry.subject,
      fingerprint: entry.fingerprint,
      removedAt: removedAt(state, entry.fingerprint),
      until,
    }))
    .sort(
      (a, b) =>
        cmp(a.until, b.until) ||
        cmp(a.partner, b.partner) ||
        cmp(a.subject, b.subject) ||
        cmp(a.fingerprint, b.fingerprint),
    );
  return { manual, rules, retired };
};

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
/** The date of an ISO moment, `2026-06-01`. */
export const day = (iso: string): string => iso.slice(0, 10);

import { createHash } from 'node:crypto';
import { SEVERITY_RANK } from '../finding.js';
import { type Certificate, parseCertificate, rememberSignatureAnswers } from '../pki/certificate.js';
import { renderedOf } from './render.js';
import type { TruststoreState } from './state.js';

/**
 * Checks that a parsed state document has the shape trustroll relies on, field by field, and
 * returns it typed. A state edited by hand that is still valid JSON (a list deleted, `null` where
 * an object was, `"3"` for 3, a certificate swapped under an entry) is refused here with the path
 * of the first field that is wrong, instead of failing later as a TypeError or publishing what
 * was never judged. Fields trustroll does not read are let through (newer writers may add some).
 *
 * Beyond types: every entry's PEM must be canonical and hash to its fingerprint (removed entries
 * too: rollback publishes them again), and every field its certificate gives (subject, issuer,
 * validity) must be what the certificate says, no CA is listed twice, revisions increase and none is
 * ahead of the state's, and the entries must render to the SHA-256 the latest revision recorded.
 *
 * The fields a certificate gives are compared with it by parsing it, unless the document's seal
 * (`entriesSeal`, see {@link sealOf}) vouches for them: a writer seals only entries whose fields it
 * compared with their parsed certificate itself (or read under a seal), so a document whose entries
 * still hash to the seal needs no certificate parsed to be read; one edited by hand, or written by
 * a trustroll that did not seal, is checked certificate by certificate as before.
 */
export const checkState = (
  value: unknown,
  /**
   * `value` is a state this process made (not parsed): its entry objects that pass are kept, so
   * that the next state made from it checks only the entries that are new. Parsed states are not
   * kept: their objects are never seen again.
   */
  made = false,
): TruststoreState => {
  keep = made;
  if (!isObject(value) || value.schema !== 1)
    throw new Error('state document is not a trustroll state (schema 1)');
  // Fields trustroll does not read are let through, but not nested past what it can write again.
  const deep = tooDeep(value);
  if (deep) fail(deep, `nested deeper than ${MAX_DEPTH} levels (a state trustroll writes nests 6)`);
  const revision = count(value.revision, 'revision', 0);
  const entries = list(value.entries, 'entries');
  const removed = value.removedEntries;
  optional(value.entriesSeal, 'entriesSeal', hex64);
  optional(value.signatures, 'signatures', (x, p) =>
    typeof x === 'string' && SIGNATURES.test(x)
      ? x
      : bad(p, x, 'signature answers ("3>1 4>1": positions among the entries, then the removed entries)'),
  );
  const signatures = typeof value.signatures === 'string' ? value.signatures : '';
  // The seal is looked at only for an entry whose certificate this process has not parsed (a cold
  // start, CAs another writer added): a warm process compares the fields with what it parsed.
  let seal: { readonly lines: string[]; readonly removedLines?: string[] } | null | undefined;
  const sealedLine = (i: number, of: 'entries' | 'removed' = 'entries'): string | undefined => {
    if (seal === undefined) {
      const lines = value.entriesSeal === undefined ? undefined : entries.map(sealLine);
      const removedLines = lines && Array.isArray(removed) ? removed.map(sealLine) : undefined;
      seal =
        lines !== undefined && value.entriesSeal === sealOf(lines, removedLines, signatures)
          ? { lines, ...(removedLines ? { removedLines } : {}) }
          : null;
    }
    return of === 'entries' ? seal?.lines[i] : seal?.removedLines?.[i];
  };
  const seen = new Map<string, number>();
  entries.forEach((e, i) => {
    const fingerprint = entry(e, `entries[${i}]`, () => sealedLine(i));
    const first = seen.get(fingerprint);
    if (first !== undefined)
      fail(`entries[${i}]`, `the same CA (fingerprint ${short(fingerprint)}) as entries[${first}]`);
    seen.set(fingerprint, i);
  });
  for (const [key, p] of Object.entries(object(value.processed, 'processed'))) {
    const at = `processed[${JSON.stringify(key)}]`;
    const o = object(p, at);
    if (o.outcome !== 'accepted' && o.outcome !== 'rejected' && o.outcome !== 'private-key')
      bad(`${at}.outcome`, o.outcome, '"accepted", "rejected" or "private-key"');
    text(o.at, `${at}.at`);
  }
  let previous = 0;
  list(value.history, 'history').forEach((h, i) => {
    const at = `history[${i}]`;
    const r = object(h, at);
    const n = count(r.revision, `${at}.revision`, 1);
    if (n <= previous) fail(`${at}.revision`, `${n} does not come after revision ${previous}`);
    if (n > revision) fail(`${at}.revision`, `${n} is ahead of the state's revision ${revision}`);
    previous = n;
    optional(r.version, `${at}.version`, text);
    optional(r.sha256, `${at}.sha256`, hex64);
    date(r.at, `${at}.at`);
    text(r.reason, `${at}.reason`);
    for (const f of ['added', 'removed'] as const)
      list(r[f], `${at}.${f}`).forEach((x, j) => {
        hex64(x, `${at}.${f}[${j}]`);
      });
    optional(r.partners, `${at}.partners`, (x, p) => {
      for (const [fp, partner] of Object.entries(object(x, p))) {
        hex64(fp, `${p} key`);
        text(partner, `${p}[${JSON.stringify(fp)}]`);
      }
    });
    optional(r.lostVersion, `${at}.lostVersion`, text);
    optional(r.supersededBy, `${at}.supersededBy`, (x, p) => count(x, p, 1));
  });
  optional(value.lastRollAt, 'lastRollAt', date);
  optional(value.expiryAlerts, 'expiryAlerts', (x, p) => {
    for (const [fp, a] of Object.entries(object(x, p))) {
      const o = object(a, `${p}[${JSON.stringify(fp)}]`);
      // Number.isFinite is false for anything that is not a number (text, null) too.
      if (!Number.isFinite(o.level)) bad(`${p}[${JSON.stringify(fp)}].level`, o.level, 'a number');
      text(o.at, `${p}[${JSON.stringify(fp)}].at`);
    }
  });
  optional(value.outbox, 'outbox', (x, p) =>
    list(x, p).forEach((n, i) => {
      const o = object(n, `${p}[${i}]`);
      for (const f of ['id', 'eventType', 'severity', 'subject', 'body']) text(o[f], `${p}[${i}].${f}`);
      optional(o.partner, `${p}[${i}].partner`, text);
    }),
  );
  optional(value.pending, 'pending', (x, p) => {
    for (const [key, held] of Object.entries(object(x, p))) {
      const at = `${p}[${JSON.stringify(key)}]`;
      const o = object(held, at);
      text(o.version, `${at}.version`);
      text(o.since, `${at}.since`);
      date(o.until, `${at}.until`);
    }
  });
  optional(value.removedEntries, 'removedEntries', (x, p) =>
    list(x, p).forEach((e, i) => {
      entry(e, `${p}[${i}]`, () => sealedLine(i, 'removed'));
    }),
  );
  optional(value.revocation, 'revocation', (x, p) => checkRevocation(x, p));
  // The answers of a seal looked at, once per seal: the same seal holds the same answers.
  if (seal && signatures !== '' && value.entriesSeal !== rememberedSeal) {
    rememberSealed(signatures, [...entries, ...(Array.isArray(removed) ? removed : [])]);
    rememberedSeal = value.entriesSeal as string;
  }
  const state = value as unknown as TruststoreState;
  const latest = state.history.at(-1);
  if (latest?.revision === revision && latest.sha256 !== undefined) {
    const rendered = renderedOf(state.entries).hash;
    if (rendered !== latest.sha256)
      fail(
        'entries',
        `not the CA set revision ${revision} was committed with (they render to SHA-256 ${short(rendered)}, ` +
          `history records ${short(latest.sha256)})`,
      );
  }
  return state;
};

/** The revocation part: CRLs held, manual revocations, partner rules (shared/revocation/state.ts). */
const checkRevocation = (value: unknown, at: string): void => {
  const r = object(value, at);
  count(r.generation, `${at}.generation`, 0);
  optional(r.crlChange, `${at}.crlChange`, (x, p) => {
    const c = object(x, p);
    count(c.revision, `${p}.revision`, 0);
    count(c.generation, `${p}.generation`, 1);
    if ((c.generation as number) > (r.generation as number))
      fail(`${p}.generation`, `is ${c.generation}, past the state's revocation generation ${r.generation}`);
  });
  for (const [key, c] of Object.entries(object(r.crls, `${at}.crls`))) {
    const p = `${at}.crls[${JSON.stringify(key)}]`;
    const o = object(c, p);
    hex64(o.issuer, `${p}.issuer`);
    if (key !== `${o.issuer}/${o.scope}`)
      fail(p, `is filed under ${JSON.stringify(key)}, not under its issuer and scope`);
    list(o.uris, `${p}.uris`).forEach((u, i) => {
      text(u, `${p}.uris[${i}]`);
    });
    for (const f of ['onlyUser', 'onlyCA'])
      if (typeof o[f] !== 'boolean') bad(`${p}.${f}`, o[f], 'true or false');
    optional(o.number, `${p}.number`, (x, q) => {
      if (typeof x !== 'string' || !/^\d+$/.test(x)) bad(q, x, 'a decimal number as a string');
    });
    date(o.thisUpdate, `${p}.thisUpdate`);
    optional(o.nextUpdate, `${p}.nextUpdate`, date);
    hex64(o.sha256, `${p}.sha256`);
    hex64(o.serials, `${p}.serials`);
    count(o.entries, `${p}.entries`, 0);
    text(o.partner, `${p}.partner`);
    const upload = object(o.upload, `${p}.upload`);
    text(upload.key, `${p}.upload.key`);
    text(upload.version, `${p}.upload.version`);
    date(o.acceptedAt, `${p}.acceptedAt`);
  }
  list(r.manual, `${at}.manual`).forEach((m, i) => {
    const p = `${at}.manual[${i}]`;
    const o = object(m, p);
    hex64(o.issuer, `${p}.issuer`);
    if (typeof o.serial !== 'string' || !/^(?:[0-9a-f]{2})+$/.test(o.serial))
      bad(`${p}.serial`, o.serial, 'lowercase hex of whole bytes');
    for (const f of ['reason', 'by']) text(o[f], `${p}.${f}`);
    date(o.at, `${p}.at`);
  });
  optional(r.staleAlerts, `${at}.staleAlerts`, (x, p) => {
    for (const [key, a] of Object.entries(object(x, p))) {
      const o = object(a, `${p}[${JSON.stringify(key)}]`);
      count(o.level, `${p}[${JSON.stringify(key)}].level`, 0);
      date(o.at, `${p}[${JSON.stringify(key)}].at`);
    }
  });
  for (const [partner, rules] of Object.entries(object(r.rules, `${at}.rules`))) {
    const p = `${at}.rules[${JSON.stringify(partner)}]`;
    const o = object(rules, p);
    optional(o.pins, `${p}.pins`, (x, q) =>
      list(x, q).forEach((pin, i) => {
        hex64(pin, `${q}[${i}]`);
      }),
    );
    optional(o.routes, `${p}.routes`, (x, q) =>
      list(x, q).forEach((route, i) => {
        text(route, `${q}[${i}]`);
      }),
    );
  }
};

/**
 * Checks one entry (CA with provenance) and returns its fingerprint. `sealed`: the line of the
 * document's seal that vouches for the fields its certificate gives, if the seal is whole (the PEM
 * is still held to the fingerprint); asked only for a certificate this process has not parsed.
 */
const entry = (value: unknown, at: string, sealed: () => string | undefined): string => {
  // An entry object that passed is not checked again (entries are never changed in place):
  // a state this process wrote holds the entries of the state it read, and a few new ones.
  if (keep && passed.has(value as object)) return (value as { fingerprint: string }).fingerprint;
  const e = object(value, at);
  const fingerprint = hex64(e.fingerprint, `${at}.fingerprint`);
  for (const f of ['subject', 'subjectKey', 'issuer', 'issuerKey', 'partner', 'addedAt'])
    text(e[f], `${at}.${f}`);
  // Dates are checked where they are computed with (expiry, the pending window, roll pacing).
  for (const f of ['notBefore', 'notAfter']) date(e[f], `${at}.${f}`);
  const upload = object(e.upload, `${at}.upload`);
  text(upload.key, `${at}.upload.key`);
  text(upload.version, `${at}.upload.version`);
  list(e.findings, `${at}.findings`).forEach((f, i) => {
    const o = object(f, `${at}.findings[${i}]`);
    for (const k of ['code', 'message']) text(o[k], `${at}.findings[${i}].${k}`);
    if (typeof o.severity !== 'string' || !Object.hasOwn(SEVERITY_RANK, o.severity))
      bad(`${at}.findings[${i}].severity`, o.severity, SEVERITIES);
  });
  const pem = text(e.pem, `${at}.pem`);
  const known = verified.get(fingerprint);
  const line = known?.pem === pem ? undefined : sealed();
  if (line !== undefined) {
    checkPemForm(pem, fingerprint, at);
    sealedEntries.set(e, line);
    if (keep) passed.add(e);
    return fingerprint;
  }
  const checked = known?.pem === pem ? known : checkPem(pem, fingerprint, at);
  const derived = checked.derived;
  // certificateOf takes it from here: a state read is parsed once, not once more per use.
  parsedEntries.set(e, checked.cert);
  // Everything the certificate says is taken from it, never from the state alone: an expiry
  // edited in the state would otherwise be reported (and alerted, and pruned) as the truth.
  for (const [field, value] of Object.entries(derived))
    if (e[field] !== value)
      fail(`${at}.${field}`, `${shown(e[field])} is not what the entry's certificate says (${shown(value)})`);
  if (keep) passed.add(e);
  return fingerprint;
};
const passed = new WeakSet<object>();
/** Whether the state being checked is one this process made (see checkState). */
let keep = false;

/**
 * Fields of an entry that are read from its certificate: what `entryOf` writes and what the state
 * check compares, from one place so the two cannot drift apart.
 */
export const certificateFields = (cert: Certificate): Record<CertificateField, string> => {
  let fields = fieldsByCert.get(cert);
  if (!fields) {
    fields = fieldsFrom(cert);
    fieldsByCert.set(cert, fields);
  }
  return fields;
};
const fieldsByCert = new WeakMap<Certificate, Record<CertificateField, string>>();
const fieldsFrom = (cert: Certificate): Record<CertificateField, string> => ({
  subject: cert.subject.text,
  subjectKey: cert.subject.key,
  issuer: cert.issuer.text,
  issuerKey: cert.issuer.key,
  notBefore: cert.notBefore.toISOString(),
  notAfter: cert.notAfter.toISOString(),
});

/** The fields of an entry its certificate gives (`certificateFields`), in the order a seal line holds them. */
export const CERTIFICATE_FIELDS = [
  'subject',
  'subjectKey',
  'issuer',
  'issuerKey',
  'notBefore',
  'notAfter',
] as const;
type CertificateField = (typeof CERTIFICATE_FIELDS)[number];

/**
 * What a seal holds of one entry: its fingerprint and the fields its certificate gives, as JSON
 * (any value, so that a document edited into other types still gives a line, which then differs).
 */
export const sealLine = (e: unknown): string => {
  const o = isObject(e) ? e : {};
  return JSON.stringify([o.fingerprint, ...CERTIFICATE_FIELDS.map((f) => o[f])]);
};

/**
 * Raised whenever what a seal line holds or what the check derives from a certificate changes (a
 * field read otherwise), or the certificate reader comes to refuse what it read before: a seal of
 * another build is not trusted, its entries are parsed and compared again as the seal's writer did.
 */
const SEAL_BUILD = 1;

/**
 * The seal of a state's entries (and removed entries): the SHA-256 of their lines and of the
 * signatures found good between pairs of them (`signatures`). A writer puts it in the document only
 * for entries whose fields it compared with their certificate (see serializeState); a reader that
 * finds the same seal for the entries it reads takes their fields as compared, without parsing a
 * certificate, and the answers as found, without verifying a signature. Any change to an entry's
 * fingerprint, to a field its certificate gives or to an answer changes the seal (and the entry is
 * checked against its certificate, the signature verified when asked about).
 */
export const sealOf = (
  entries: readonly string[],
  removed: readonly string[] = [],
  signatures = '',
): string => sealOfLines(entries, removed)(signatures);

/**
 * `sealOf` in two steps: the lines hashed once, then the seal with any signature answers (a writer
 * writes the same entries more than once, with answers found in between).
 */
export const sealOfLines = (entries: readonly string[], removed: readonly string[]) => {
  const lines = createHash('sha256').update(
    `trustroll entries seal ${SEAL_BUILD}\n${entries.join('\n')}\nremoved\n${removed.join('\n')}\nsignatures\n`,
  );
  return (signatures: string): string => lines.copy().update(signatures).digest('hex');
};

/**
 * The signature answers of a sealed document, taken as known (see `signatureAnswers`): positions
 * among the entries and removed entries, `a>b` where b's key verifies a's signature. Only those:
 * a check that failed may have failed for this machine (a key its OpenSSL cannot load), and is
 * made again by whoever asks.
 */
const rememberSealed = (signatures: string, all: readonly unknown[]): void => {
  const fingerprintAt = (position: string): string => {
    const e = all[Number(position)] as { fingerprint: string } | undefined;
    return e ? e.fingerprint : fail('signatures', `position ${position} is past the ${all.length} entries`);
  };
  rememberSignatureAnswers(
    signatures.split(' ').map((answer) => {
      const [cert, issuer] = answer.split('>');
      return [fingerprintAt(cert!), fingerprintAt(issuer!), true] as const;
    }),
  );
};
const SIGNATURES = /^(?:\d+>\d+(?: \d+>\d+)*)?$/;
/** The seal whose answers were taken last. */
let rememberedSeal: string | undefined;

/** Entries a seal vouched for when read, with the line it vouched (see serializeState). */
export const sealedEntries = new WeakMap<object, string>();

/** The certificates the check parsed, by entry object (see `certificateOf`). */
export const parsedEntries = new WeakMap<object, Certificate>();

/**
 * Checks that `pem` is canonical and hashes to `fingerprint`; returns its certificate and what it
 * says.
 */
const checkPem = (
  pem: string,
  fingerprint: string,
  at: string,
): { readonly pem: string; readonly cert: Certificate; readonly derived: Record<string, string> } => {
  const der = checkPemForm(pem, fingerprint, at);
  let cert: Certificate;
  try {
    cert = parseCertificate(new Uint8Array(der));
  } catch (error) {
    return fail(`${at}.pem`, `not a certificate trustroll can read (${(error as Error).message})`);
  }
  return rememberParsed(fingerprint, pem, cert);
};

/**
 * Takes `cert`, parsed from `pem`, as the certificate of `fingerprint` (when it is: its DER hashes
 * to it), so that the next state read compares its fields with it instead of parsing it again or
 * taking them under a seal: what the check parses, and what `certificateOf` parses later.
 */
export const rememberParsed = (
  fingerprint: string,
  pem: string,
  cert: Certificate,
): { readonly pem: string; readonly cert: Certificate; readonly derived: Record<string, string> } => {
  const checked = { pem, cert, derived: certificateFields(cert) };
  if (cert.fingerprint !== fingerprint) return checked;
  if (verified.size >= MAX_VERIFIED) verified.clear();
  verified.set(fingerprint, checked);
  return checked;
};

/** Checks that `pem` is canonical and hashes to `fingerprint`; returns its DER. */
const checkPemForm = (pem: string, fingerprint: string, at: string): Buffer => {
  const lines = PEM.exec(pem)?.[1]?.split('\n');
  const base64 = lines?.join('') ?? '';
  const der = Buffer.from(base64, 'base64');
  // What toPem writes: canonical base64 in lines of 64, nothing the decoder would skip. (The last
  // line holds at least one digit, so bytes that encode back to it are never none.)
  const canonical =
    lines?.every((l, i) => l.length === 64 || (i === lines.length - 1 && l.length > 0 && l.length < 64)) &&
    der.toString('base64') === base64;
  if (!canonical) fail(`${at}.pem`, 'not one certificate in the PEM form trustroll writes');
  const actual = createHash('sha256').update(der).digest('hex');
  if (actual !== fingerprint)
    fail(
      `${at}.pem`,
      `not the certificate of the entry's fingerprint ${short(fingerprint)} (it holds ${short(actual)})`,
    );
  return der;
};

const PEM = /^-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=\n]+)\n-----END CERTIFICATE-----\n$/;

/**
 * Fingerprint → the PEM already found to hash to it and its certificate, so a state read several
 * times in a run (or by a warm Lambda) hashes and parses each certificate once; any other PEM under
 * that fingerprint is checked again.
 */
const verified = new Map<
  string,
  { readonly pem: string; readonly cert: Certificate; readonly derived: Record<string, string> }
>();
const MAX_VERIFIED = 20_000;

/**
 * Forgets the certificates this process parsed or made, by fingerprint, as a process that starts
 * knows none: what the tests of a state read by another process start with.
 */
export const forgetCheckedCertificates = (): void => verified.clear();

/** The severities a finding has, as a refusal names them (from the ranks findings are sorted by). */
const SEVERITIES = Object.keys(SEVERITY_RANK)
  .map((s) => JSON.stringify(s))
  .join(', ')
  .replace(/, ([^,]*)$/, ' or $1');

/** Nesting a state document may have: trustroll's own nest 6 deep; JSON.stringify recurses. */
const MAX_DEPTH = 32;

/**
 * The path of the first value nested deeper than MAX_DEPTH, or undefined. Walked without recursion
 * (a document nested thousands deep is what it looks for), over objects and lists only, the path
 * made only for the one found.
 */
const tooDeep = (value: unknown): string | undefined => {
  const values: object[] = [];
  const depths: number[] = [];
  const push = (x: unknown, depth: number) => {
    if (typeof x === 'object' && x !== null) {
      values.push(x);
      depths.push(depth);
    }
  };
  push(value, 0);
  while (values.length > 0) {
    const v = values.pop() as Record<string, unknown> | unknown[];
    const depth = depths.pop()!;
    if (depth >= MAX_DEPTH) return pathTo(value);
    if (Array.isArray(v)) for (const x of v) push(x, depth + 1);
    else for (const k in v) push(v[k], depth + 1);
  }
  return undefined;
};

/** The path of the first value MAX_DEPTH deep (there is one). */
const pathTo = (value: unknown): string => {
  const stack: [unknown, number, string][] = [[value, 0, '']];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [v, depth, path] = item;
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= MAX_DEPTH) return path;
    for (const [k, x] of Object.entries(v))
      stack.push([x, depth + 1, Array.isArray(v) ? `${path}[${k}]` : path ? `${path}.${k}` : k]);
  }
  return '';
};

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const short = (fingerprint: string) => `${fingerprint.slice(0, 16)}…`;

const shown = (v: unknown): string => {
  if (v === undefined) return 'nothing';
  const json = JSON.stringify(v) ?? String(v);
  return json.length > 40 ? `${json.slice(0, 40)}…` : json;
};

const fail = (at: string, problem: string): never => {
  throw new Error(`${at}: ${problem}`);
};

const bad = (at: string, value: unknown, expected: string): never =>
  fail(at, `expected ${expected}, found ${shown(value)}`);

const object = (v: unknown, at: string): Record<string, unknown> =>
  isObject(v) ? v : bad(at, v, 'an object');

const list = (v: unknown, at: string): unknown[] => (Array.isArray(v) ? v : bad(at, v, 'a list'));

const text = (v: unknown, at: string): string => (typeof v === 'string' ? v : bad(at, v, 'a string'));

const date = (v: unknown, at: string): string =>
  typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? v : bad(at, v, 'a date (ISO 8601)');

const hex64 = (v: unknown, at: string): string =>
  typeof v === 'string' && /^[0-9a-f]{64}$/.test(v) ? v : bad(at, v, 'a SHA-256 in hex (64 digits)');

const count = (v: unknown, at: string, min: number): number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= min
    ? v
    : bad(at, v, `a whole number of at least ${min}`);

const optional = (v: unknown, at: string, check: (v: unknown, at: string) => unknown): void => {
  if (v !== undefined) check(v, at);
};

import { DamagedStoreError } from '../../shared/errors.js';
import {
  indexProblem,
  loadIndex,
  normalSerial,
  retiredEntries,
  revocationOf,
  revokeCertificate,
  setPartnerRules,
  unrevokeCertificate,
} from '../../shared/pipeline/revocation.js';
import { loadState } from '../../shared/pipeline/state-store.js';
import type { Certificate } from '../../shared/pki/certificate.js';
import { readInput } from '../../shared/pki/read.js';
import { type AuthorizeDecision, authorize } from '../../shared/revocation/authorize.js';
import { covers } from '../../shared/revocation/coverage.js';
import { parseRevocationList } from '../../shared/revocation/crl.js';
import type { RevocationIndex } from '../../shared/revocation/index.js';
import { issuerEntryOf } from '../../shared/revocation/issuer-entry.js';
import type { ManualRevocation, PartnerRules } from '../../shared/revocation/state.js';
import { shown } from '../../shared/text.js';
import { certificateOf, type Entry, type TruststoreState } from '../../shared/truststore/state.js';
import { fileOnly, type Io, jsonOut, loadInputs, UsageError } from '../io.js';
import { openStore, type StoreDeps, type StoreFlags } from '../stores.js';

type Flags = StoreFlags & { readonly json?: boolean };

export interface SelectorFlags extends Flags {
  readonly cert?: string;
  readonly serial?: string;
  readonly issuer?: string;
}

/** How to find a CA's fingerprint, said wherever one is asked for. */
const FINGERPRINT_HINT =
  'openssl x509 -in ca.pem -noout -fingerprint -sha256 prints it; trustroll export writes the truststore';

/**
 * The client certificate of a `--cert` file: the first certificate in it (a file of several is
 * the client followed by what it sends). A file that holds none is a usage error naming it.
 */
export const readClient = async (option: string, path: string, io: Io): Promise<Certificate> => {
  await fileOnly(option, path, ' of the client certificate (such as client.pem)');
  const [input] = await loadInputs([path], io);
  const read = readInput(input!);
  const first = read.certificates[0];
  if (!first) {
    // A CRL given where the client goes: the reader's message speaks of truststores (uploads).
    const text = Buffer.from(input!.bytes.subarray(0, 4096)).toString('latin1');
    if (/-----BEGIN X509 CRL-----/.test(text) || isDerCrl(input!.bytes))
      throw new UsageError(
        `${option} ${path} is a certificate revocation list, not a client certificate: name the client certificate file (PEM or DER); a partner's CRL goes to inbox/<partner>/crl/, and diagnose --crl checks a client against one`,
      );
    const why = read.findings.find((f) => f.code === 'input.unparseable')?.message;
    throw new UsageError(
      `${option} ${path} holds no readable certificate${why ? ` (${why})` : ''}: name the client certificate file (PEM or DER)`,
    );
  }
  return first.cert;
};

/** Whether the bytes are one DER CRL. */
const isDerCrl = (bytes: Uint8Array): boolean => {
  try {
    parseRevocationList(bytes);
    return true;
  } catch {
    return false;
  }
};

/** Checks that exactly one selector is given, before anything is read. */
export const checkSelector = (flags: SelectorFlags): void => {
  if (flags.cert !== undefined && (flags.serial !== undefined || flags.issuer !== undefined))
    throw new UsageError(
      '--cert names the certificate, its serial and its issuer: give --cert, or --serial with --issuer, not both',
    );
  if (flags.cert === undefined && flags.serial === undefined)
    throw new UsageError(
      'name the certificate: --cert <file>, or --serial <hex> with --issuer <sha256> of the CA that issued it',
    );
  if (flags.serial !== undefined && flags.issuer === undefined)
    throw new UsageError(
      `--serial needs --issuer <sha256>, the fingerprint of the truststore CA that issued it: serial numbers are unique per issuer only (${FINGERPRINT_HINT})`,
    );
};

/** What a selector names: the issuing CA (fingerprint or prefix) and the serial, with the certificate when given. */
export interface Selected {
  readonly issuer: string;
  readonly serial: string;
  readonly cert?: Certificate;
}

/**
 * The issuer and serial a selector names. With `--cert`, the issuing CA is found in the
 * truststore (name, key identifier, signature): a certificate no CA of it issued is refused.
 */
export const select = async (
  flags: SelectorFlags,
  deps: StoreDeps,
  io: Io,
  client?: Certificate,
): Promise<Selected> => {
  if (flags.cert === undefined) return { issuer: flags.issuer!, serial: normalSerial(flags.serial!) };
  const cert = client ?? (await readClient('--cert', flags.cert, io));
  const { state } = await loadState(deps.store);
  // A client of a CA removed in the last days is still decided by the index (`ca.retired`: some
  // target may still serve a version with it), so it can still be revoked.
  const found = issuerEntryOf([...state.entries, ...retiredEntries(state, new Date())], cert);
  // A CA of the truststore: an intermediate is revoked under the CA that issued it, as
  // `--serial … --issuer …` revokes it (every client under it is denied); nothing is above a root.
  // A root removed lately (retired) neither: it would only revoke its own key for its partner.
  if (
    (state.entries.some((e) => e.fingerprint === cert.fingerprint) &&
      (!('entry' in found) || found.entry.fingerprint === cert.fingerprint)) ||
    ('entry' in found && found.entry.fingerprint === cert.fingerprint)
  )
    throw new UsageError(
      shown`${flags.cert} is ${cert.subject.text}, a root CA of the truststore${state.entries.some((e) => e.fingerprint === cert.fingerprint) ? '' : ' (removed lately, still retired)'}: no CA above it can revoke it; take it out with trustroll remove --fingerprint ${cert.fingerprint.slice(0, 16)}`,
    );
  if ('entry' in found) return { issuer: found.entry.fingerprint, serial: cert.serial, cert };
  if (found.problem === 'not-held') {
    // A CA of that name is held, but its key identifier is not the one the certificate names.
    const namesake = state.entries.find((e) => e.subjectKey === cert.issuer.key);
    throw new UsageError(
      namesake
        ? shown`${flags.cert} (${cert.subject.text}) was issued by a CA named ${cert.issuer.text} with another key than the one of that name in the truststore of ${deps.label} (its authority key identifier ${cert.authorityKeyId ?? '?'} is not that CA's): it is no client of this truststore (the handshake refuses it already). Another PKI uses the same CA name, or the CA was re-keyed; check --store, or give --serial with --issuer`
        : shown`${flags.cert} (${cert.subject.text}) was issued by ${cert.issuer.text}, which is not a CA of the truststore of ${deps.label}: only clients of a truststore CA can be revoked (the handshake refuses the others already); check --store, or give --serial with --issuer`,
    );
  }
  throw new UsageError(
    shown`${flags.cert} (${cert.subject.text}) names ${cert.issuer.text} as its issuer, but the key of that CA in the truststore did not sign it (a re-keyed CA, or another CA of the same name): it is not a client of the truststore of ${deps.label}`,
  );
};

/** The truststore entry a fingerprint (or prefix) names, if any (a CA retired lately too). */
const entryOf = (state: TruststoreState, issuer: string): Entry | undefined => {
  const fp = issuer.toLowerCase().replace(/:/g, '');
  return [...state.entries, ...retiredEntries(state, new Date())].find((e) => e.fingerprint.startsWith(fp));
};

const caJson = (e: Entry | undefined) =>
  e ? { fingerprint: e.fingerprint, subject: e.subject, partner: e.partner } : undefined;

const indexNote = (version: string | undefined) =>
  version
    ? `revocation index version ${version}`
    : 'revocation index: a newer one was published meanwhile, which holds this change too';

/** `trustroll revoke` (declared in commands/revocation.ts). */
export const revoke = async (
  flags: SelectorFlags & { reason: string; by: string },
  io: Io,
  exit: (code: number) => void,
): Promise<void> => {
  checkSelector(flags);
  if (flags.reason.trim() === '')
    throw new UsageError(
      '--reason is empty: say why (it is kept with the revocation and shown in every denial)',
    );
  if (flags.by.trim() === '')
    throw new UsageError(
      '--by is empty: name who revokes (it is kept with the revocation), or leave --by out',
    );
  const client = flags.cert ? await readClient('--cert', flags.cert, io) : undefined;
  const deps = await openStore(flags.store, flags, io);
  const selected = await select(flags, deps, io, client);
  const result = await revokeCertificate(deps, {
    issuer: selected.issuer,
    serial: selected.serial,
    reason: flags.reason,
    by: flags.by,
    ...(selected.cert ? { subject: selected.cert.subject.text, certSha256: selected.cert.fingerprint } : {}),
  });
  const ca = entryOf(result.state, selected.issuer);
  const record: ManualRevocation | undefined = revocationOf(result.state).manual.find(
    (m) => m.issuer === ca?.fingerprint && m.serial === selected.serial,
  );
  // A serial of a CA the truststore holds (an emergency): every client under it is denied.
  const subCa = ca
    ? result.state.entries.find(
        (e) =>
          e.issuerKey === ca.subjectKey &&
          e.fingerprint !== ca.fingerprint &&
          certificateOf(e).serial === selected.serial,
      )
    : undefined;
  const caNote = subCa
    ? shown`
that serial is the truststore CA ${subCa.subject} (partner ${subCa.partner}): every client under it is denied (ca.revoked); trustroll remove takes the CA out of the truststore instead.`
    : '';
  if (flags.json)
    io.out(
      jsonOut({
        ...(subCa ? { revokesCa: { subject: subCa.subject, fingerprint: subCa.fingerprint } } : {}),
        outcome: result.already ? 'already-revoked' : 'revoked',
        revocation: record,
        issuer: caJson(ca),
        ...(result.version ? { indexVersion: result.version } : {}),
      }),
    );
  else {
    const who = record?.subject ?? 'the certificate';
    io.out(
      (result.already
        ? shown`already revoked by hand: ${who} (serial ${selected.serial}) of ${ca?.subject ?? selected.issuer}, partner ${ca?.partner ?? '?'}, by ${record?.by ?? '?'} on ${record?.at ?? '?'} (${record?.reason ?? ''}); nothing changed`
        : shown`revoked: ${who} (serial ${selected.serial}) of ${ca?.subject ?? selected.issuer}, partner ${ca?.partner ?? '?'}: ${flags.reason} (by ${flags.by})`) +
        caNote +
        (result.already
          ? `\n${indexNote(result.version)}.\n`
          : `\n${indexNote(result.version)}; the authorizer and a running trustroll up deny it from this index on.\n`),
    );
  }
  exit(0);
};

/**
 * Whether the index lists `serial` under the CA `fingerprint` (after an unrevoke: on a CRL). With
 * the certificate, only CRLs whose scope covers it count; a bare serial, on any CRL of the CA.
 */
const listed = (
  index: RevocationIndex | undefined,
  fingerprint: string | undefined,
  serial: string,
  cert: Certificate | undefined,
) => {
  if (!index || !fingerprint) return false;
  const at = index.header.cas.findIndex((c) => c.fingerprint === fingerprint);
  return at >= 0 && index.revoked(at, serial, (c) => !cert || covers(c, cert, 'client')) !== undefined;
};

/** The truststore CA at `fingerprint` or above it that its issuer revoked, if any (`ca.revoked`). */
const revokedAbove = (index: RevocationIndex | undefined, fingerprint: string | undefined) => {
  if (!index || !fingerprint) return undefined;
  const start = index.header.cas.findIndex((c) => c.fingerprint === fingerprint);
  const seen = new Set<number>();
  for (let at: number | undefined = start < 0 ? undefined : start; at !== undefined && !seen.has(at); ) {
    seen.add(at);
    const ca = index.ca(at);
    if (ca.revoked) return ca;
    at = ca.issuer;
  }
  return undefined;
};

/** `trustroll unrevoke` (declared in commands/revocation.ts). */
export const unrevoke = async (flags: SelectorFlags, io: Io, exit: (code: number) => void): Promise<void> => {
  checkSelector(flags);
  const client = flags.cert ? await readClient('--cert', flags.cert, io) : undefined;
  const deps = await openStore(flags.store, flags, io);
  const selected = await select(flags, deps, io, client);
  const result = await unrevokeCertificate(deps, { issuer: selected.issuer, serial: selected.serial });
  const ca = entryOf(result.state, selected.issuer);
  const index = (await loadIndex(deps.store))?.index;
  const onCrl = listed(index, ca?.fingerprint, selected.serial, selected.cert);
  // Not revoked itself, it is still denied when a CA above it is (ca.revoked): said, not "not revoked".
  const above = revokedAbove(index, ca?.fingerprint);
  const aboveNote = above
    ? shown`${above.subject} above it is revoked${above.revoked?.reason ? ` (${above.revoked.reason})` : ''} (${above.revoked?.source ?? ''}), so it stays denied (ca.revoked) until that is taken back`
    : '';
  const what = shown`serial ${selected.serial} of ${ca?.subject ?? selected.issuer} (partner ${ca?.partner ?? '?'})`;
  const crlNote = onCrl
    ? shown`it is listed on the CRL of ${ca?.subject ?? selected.issuer} and stays revoked: only a new CRL from partner ${ca?.partner ?? '?'} without it takes that back`
    : '';
  // A certificate revoked through its key (a CA of its partner with that key revoked): said too,
  // for a CA of the truststore and for any other certificate made for that key.
  const self = selected.cert
    ? index?.header.cas.find((c) => c.fingerprint === selected.cert!.fingerprint)
    : undefined;
  const byKey =
    self?.revoked ??
    (selected.cert && ca ? index?.revokedKey(ca.partner, selected.cert.publicKey.spki) : undefined);
  const keyNote =
    byKey && !onCrl
      ? shown`its key is revoked (${byKey.source}), so it stays denied (${self ? 'ca.revoked' : 'cert.revoked'}) until that revocation is taken back`
      : '';
  const still = [onCrl ? crlNote : '', keyNote, aboveNote].filter((n) => n !== '').join('; and ');
  const message = result.found
    ? `taken back: ${what} is no longer revoked by hand${still ? `; but ${still}` : ''}`
    : `nothing was revoked by hand for ${what}, so nothing changed${still ? `; ${still}` : ' (it is not revoked)'}`;
  if (flags.json)
    io.out(
      jsonOut({
        outcome: result.found ? 'unrevoked' : 'not-revoked-by-hand',
        revoked: onCrl || byKey !== undefined,
        ...(onCrl ? { listedOnCrl: true } : {}),
        ...(byKey && !onCrl ? { keyRevoked: { source: byKey.source } } : {}),
        ...(above ? { caRevoked: { subject: above.subject, fingerprint: above.fingerprint } } : {}),
        serial: selected.serial,
        issuer: caJson(ca),
        message,
        ...(result.version ? { indexVersion: result.version } : {}),
      }),
    );
  else io.out(`${message}\n${result.found ? `${indexNote(result.version)}.\n` : ''}`);
  exit(result.found && !onCrl && !above && !byKey ? 0 : 1);
};

const SHA256 = /^[0-9a-f]{64}$/;

/** `trustroll rules` (declared in commands/revocation.ts). */
export const rules = async (
  flags: Flags & {
    partner: string;
    pinCert?: string[];
    pinKey?: string[];
    route?: string[];
    clear?: boolean;
  },
  io: Io,
  exit: (code: number) => void,
): Promise<void> => {
  const pinKeys = (flags.pinKey ?? []).map((p) => {
    const hex = p.toLowerCase().replace(/:/g, '');
    if (!SHA256.test(hex))
      throw new UsageError(
        `--pin-key ${p} is not a SHA-256 (64 hex digits): give the fingerprint of a client certificate or of its public key, or pin the certificate file with --pin-cert`,
      );
    return hex;
  });
  const pinned: { file: string; cert: Certificate }[] = [];
  for (const file of flags.pinCert ?? [])
    pinned.push({ file, cert: await readClient('--pin-cert', file, io) });
  const pinCerts = pinned.map((p) => p.cert.fingerprint);
  for (const route of flags.route ?? [])
    if (!ROUTE.test(route.trim()))
      throw new UsageError(
        `--route ${JSON.stringify(route)} is not "METHOD /path": write it like "GET /orders/*" (quoted), * for one path segment, a final ** for any rest`,
      );
  const deps = await openStore(flags.store, flags, io);
  const { state } = await loadState(deps.store);
  if (flags.partner.trim() === '')
    throw new UsageError('--partner is empty: name the partner (its inbox folder name)');
  // A partner removed lately (its CAs retired, its clients still let in) keeps its rules, and
  // rules held for a partner can always be shown and cleared.
  const holders = [...state.entries, ...retiredEntries(state, new Date())];
  if (
    !holders.some((e) => e.partner === flags.partner) &&
    state.revocation?.rules[flags.partner] === undefined
  ) {
    const partners = [...new Set(holders.map((e) => e.partner))].sort();
    throw new UsageError(
      shown`no CA of the truststore of ${deps.label} belongs to partner ${flags.partner}: the partners are ${partners.join(', ') || '(none yet)'}`,
    );
  }
  // A pin that can never match locks the partner out: a CA, or a client issued under another
  // partner's (or no held) CA, is refused here rather than discovered as denials.
  for (const { file, cert } of pinned) {
    if (cert.basicConstraints?.ca === true)
      throw new UsageError(
        shown`--pin-cert ${file} is a CA certificate (${cert.subject.text}): pin the partner's client certificates, not its CAs`,
      );
    const signer = issuerEntryOf(state.entries, cert);
    const owner = 'entry' in signer ? signer.entry.partner : undefined;
    if (owner !== flags.partner)
      throw new UsageError(
        owner
          ? shown`--pin-cert ${file} (${cert.subject.text}) is a client of partner ${owner}, not ${flags.partner}: its pin would deny every client of ${flags.partner}`
          : shown`--pin-cert ${file} (${cert.subject.text}) was not issued by a CA of the truststore: the handshake refuses it, so pinning it would deny every client of ${flags.partner}`,
      );
  }
  const current: PartnerRules = revocationOf(state).rules[flags.partner] ?? {};
  const pinsGiven = flags.pinCert !== undefined || flags.pinKey !== undefined;
  const routesGiven = flags.route !== undefined;
  let after = current;
  let version: string | undefined;
  let changed = false;
  if (pinsGiven || routesGiven || flags.clear) {
    const keep = (given: boolean, value: readonly string[] | undefined, next: readonly string[]) =>
      given ? [...new Set(next)] : flags.clear ? [] : [...(value ?? [])];
    after = {
      pins: keep(pinsGiven, current.pins, [...pinCerts, ...pinKeys]),
      routes: keep(
        routesGiven,
        current.routes,
        (flags.route ?? []).map((r) => r.trim()),
      ),
    };
    const result = await setPartnerRules(deps, flags.partner, after);
    changed = result.changed;
    version = result.version;
    after = revocationOf(result.state).rules[flags.partner] ?? {};
  }
  const pins = after.pins ?? [];
  const routes = after.routes ?? [];
  if (flags.json)
    io.out(
      jsonOut({
        partner: flags.partner,
        pins,
        routes,
        ...(pinsGiven || routesGiven || flags.clear ? { changed } : {}),
        ...(version ? { indexVersion: version } : {}),
      }),
    );
  else {
    const lines = [
      shown`partner ${flags.partner}:`,
      pins.length > 0
        ? `  pins (client certificates or keys, SHA-256): ${pins.join(', ')}`
        : '  pins: none (any client certificate of its CAs)',
      routes.length > 0 ? shown`  routes: ${routes.join(', ')}` : '  routes: none (any route)',
    ];
    if (pinsGiven || routesGiven || flags.clear)
      lines.push(changed ? `${indexNote(version)}.` : 'unchanged: these were the rules already.');
    io.out(`${lines.join('\n')}\n`);
  }
  exit(0);
};

/** A request's route: `METHOD /path` (a request always has a method; rules may leave it out). */
export const REQUEST_ROUTE = /^[A-Za-z]+ +\/\S*$/;

/** Why `--route` is not a request's `METHOD /path` (undefined when it is). */
export const requestRouteProblem = (route: string | undefined): string | undefined => {
  if (route === undefined || REQUEST_ROUTE.test(route.trim())) return undefined;
  return /^\/\S*$/.test(route.trim())
    ? `--route ${JSON.stringify(route)} names no method, and every request has one: write it like "GET ${route.trim()}" (quoted)`
    : `--route ${JSON.stringify(route)} is not "METHOD /path": write it like "GET /orders/1" (quoted)`;
};

/**
 * The store's revocation index as the authorizer would read it, or undefined when the store has
 * published none yet (nothing to decide from). An index missing, changed by hand or older than
 * the state is refused (DamagedStoreError, exit 4) before any decision: its answer could be a
 * wrong allow. `authorize` and `diagnose` both decide only from an index this returns.
 */
export const checkedIndex = async (deps: StoreDeps): Promise<Awaited<ReturnType<typeof loadIndex>>> => {
  if (await deps.holdsStore()) {
    const problem = await indexProblem(deps.store, (await loadState(deps.store)).state);
    if (problem.damaged) throw new DamagedStoreError(problem.damaged);
    // Behind: revocations or rules recorded since are not in it, so its answer may be a wrong
    // allow. No decision then (a run in progress publishes it within seconds; repair does too).
    if (problem.behind)
      throw new DamagedStoreError(
        `${problem.behind}. The published index does not hold every change the state records: ask again once it is published`,
      );
  }
  return loadIndex(deps.store);
};

/** `METHOD /path`, or a bare path (any method). */
const ROUTE = /^(?:[A-Za-z*]+ +)?\/\S*$/;

const human = (d: AuthorizeDecision, cert: Certificate): string => {
  const lines = [
    shown`${d.decision === 'allow' ? 'ALLOW' : 'DENY'}: ${cert.subject.text}${d.partner ? ` (partner ${d.partner})` : ''}`,
  ];
  for (const r of d.reasons)
    lines.push(shown`  ${d.decision === 'allow' ? 'note' : 'why'}:  ${r.message}  [${r.code}]`);
  return `${lines.join('\n')}\n`;
};

/** `trustroll authorize` (declared in commands/revocation.ts). */
export const authorizeCommand = async (
  flags: Flags & {
    cert: string;
    route?: string;
    at?: Date;
    staleCrl: 'deny' | 'allow';
    grace: number;
  },
  io: Io,
  exit: (code: number) => void,
): Promise<void> => {
  const routeProblem = requestRouteProblem(flags.route);
  if (routeProblem) throw new UsageError(routeProblem);
  const cert = await readClient('--cert', flags.cert, io);
  const deps = await openStore(flags.store, flags, io);
  const loaded = await checkedIndex(deps);
  if (!loaded)
    throw new UsageError(
      `${deps.label} has no revocation index yet: it is published with every truststore version (and every revoke or rules change), so run the pipeline first (trustroll up or trustroll ingest there; on AWS, the pipeline ingests an upload)`,
    );
  io.err(
    shown`deciding with revocation index version ${loaded.version} (truststore revision ${String(loaded.index.header.revision)}) of ${deps.label}\n`,
  );
  const decided = authorize(loaded.index, cert, flags.route?.trim(), {
    now: flags.at ?? new Date(),
    staleCrl: flags.staleCrl,
    graceSeconds: flags.grace,
  });
  // The authorizer sees only clients the handshake verified; a file given here was not, so its
  // signature is checked against the CA it names: a forged certificate is never allowed. The
  // index finds a lone CA by its name alone (the handshake vouched for the rest), so a certificate
  // whose key identifier names another key of that name ('not-held' here) is refused too.
  // A CA removed in the last days counts too (targets still on the version before decide its
  // clients as before): another partner's CA that took its name since must not make them forgeries.
  const { state } = await loadState(deps.store);
  const entries = [...state.entries, ...retiredEntries(state, flags.at ?? new Date())];
  const signer = issuerEntryOf(entries, cert);
  const forged =
    'problem' in signer &&
    (signer.problem === 'not-signed' || entries.some((e) => e.subjectKey === cert.issuer.key));
  const decision: AuthorizeDecision = forged
    ? {
        decision: 'deny',
        ...(decided.partner ? { partner: decided.partner } : {}),
        reasons: [
          {
            code: 'signature.invalid',
            message: `${cert.subject.text} names ${cert.issuer.text} as its issuer, but no key of that CA in the truststore verifies its signature: the handshake refuses it before any authorizer.`,
          },
          // An allow's reasons are notes (a stale CRL let through), not reasons to deny.
          ...(decided.decision === 'deny' ? decided.reasons.filter((r) => r.code !== 'issuer.unknown') : []),
        ],
      }
    : decided;
  io.out(flags.json ? jsonOut(decision) : human(decision, cert));
  exit(decision.decision === 'allow' ? 0 : 1);
};

import { NotFoundError } from '../errors.js';
import { revocationOf, sameCa } from '../pipeline/revocation.js';
import { loadState } from '../pipeline/state-store.js';
import { readInput } from '../pki/read.js';
import type { ObjectStore } from '../ports.js';
import { crlPemKey } from '../revocation/state.js';
import { KEYS, type TruststoreState } from '../truststore/state.js';
import type { Rollout } from './model.js';
import type { CrlFile } from './targets.js';

/** Where the version trustroll last gave each ELB trust store is kept (see ElbTrustStoreApi). */
export const TRUST_STORE_LEDGER_PREFIX = 'rollouts/trust-stores/';

export const ledgerKey = (trustStoreArn: string): string =>
  `${TRUST_STORE_LEDGER_PREFIX}${encodeURIComponent(trustStoreArn)}.json`;

/** A CRL object of the pipeline's bucket given to a trust store (or to be given), as a ledger keeps it. */
export interface LedgerCrl {
  readonly key: string;
  readonly objectVersion: string;
  /** Issuer fingerprint and scope: one CRL per issuer and scope. */
  readonly issuer: string;
  readonly scope: string;
}

/** The same CRL object: its key (the SHA-256 of its DER) and S3 version. */
export const sameCrl = (a: LedgerCrl, b: LedgerCrl): boolean =>
  a.key === b.key && a.objectVersion === b.objectVersion;

/** One CRL object an ELB trust store is given with a truststore version. */
export interface ElbCrl extends CrlFile {
  /** `revocation/crls/<sha256>.pem` in the pipeline's bucket, and its S3 object version. */
  readonly key: string;
  readonly objectVersion: string;
  /** SHA-256 of the CRL's DER. */
  readonly sha256: string;
  /** Fingerprint of the CA that signed it, and its scope (`crlKey`): one CRL per issuer and scope. */
  readonly issuer: string;
  readonly scope: string;
}

/**
 * What goes to an ELB trust store with a truststore version: the CRLs held for the CAs that version
 * carries (the newest per issuer and scope, as the revocation index holds them), and, one phrase
 * each, the revocations an ELB trust store cannot enforce.
 */
export interface ElbRevocationPlan {
  readonly crls: readonly ElbCrl[];
  /** Revocations of the version's CAs that no CRL file can carry to ELB: said, never claimed. */
  readonly notEnforced: readonly string[];
}

/** How many serials a phrase names before it says "and N more". */
const SHOWN = 5;

/**
 * The revocation plan for an ELB trust store rolled to `version`. Steps:
 * 1. The CAs of the version: its truststore object, parsed.
 * 2. The CRLs the state holds whose issuer is one of them (or an earlier certificate of one, same
 *    name and key): each by its PEM object (`revocation/crls/<sha256>.pem`, HEAD for its version
 *    and size). A CRL accepted before trustroll kept CRLs has none: it is named in `notEnforced`.
 * 3. Revocations by hand (`trustroll revoke`) of those CAs, and the identity rules (pins, routes)
 *    of their partners: ELB takes only CRLs signed by the CA, so these are named in `notEnforced`.
 */
export const elbRevocationPlan = async (
  store: Pick<ObjectStore, 'get' | 'head'>,
  version: string,
): Promise<ElbRevocationPlan> => {
  const { state } = await loadState(store);
  const truststore = (await store.get(KEYS.truststore, { version })).body;
  const fingerprints = readInput({
    name: `truststore version ${version}`,
    bytes: truststore,
  }).certificates.map((c) => c.cert.fingerprint);
  return planFor(store, state, fingerprints);
};

const planFor = async (
  store: Pick<ObjectStore, 'head'>,
  state: TruststoreState,
  fingerprints: readonly string[],
): Promise<ElbRevocationPlan> => {
  const rev = revocationOf(state);
  const same = sameCa(state);
  const caOf = (issuer: string) => fingerprints.find((f) => same(issuer, f));
  const entries = new Map([...(state.removedEntries ?? []), ...state.entries].map((e) => [e.fingerprint, e]));
  const name = (fingerprint: string) =>
    entries.get(fingerprint)?.subject ?? `the CA with SHA-256 ${fingerprint.slice(0, 16)}…`;
  const crls: ElbCrl[] = [];
  const notEnforced: string[] = [];
  const byKey = Object.keys(rev.crls).sort();
  for (const k of byKey) {
    const held = rev.crls[k]!;
    const ca = caOf(held.issuer);
    if (ca === undefined) continue;
    const key = crlPemKey(held.sha256);
    try {
      const head = await store.head(key);
      crls.push({
        name: `${key} (CRL of ${name(ca)}${held.scope ? `, scope ${held.scope}` : ''})`,
        key,
        objectVersion: head.version,
        bytes: head.size,
        entries: held.entries,
        sha256: held.sha256,
        issuer: held.issuer,
        scope: held.scope,
      });
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      notEnforced.push(
        `the CRL of ${name(ca)} (thisUpdate ${held.thisUpdate}, ${held.entries} revoked) was accepted before trustroll kept CRLs for ELB, or its ${key} was deleted: upload it again to inbox/${held.partner}/crl/`,
      );
    }
  }
  const manual = new Map<string, string[]>();
  for (const m of rev.manual) {
    const ca = caOf(m.issuer);
    if (ca !== undefined) manual.set(ca, [...(manual.get(ca) ?? []), m.serial]);
  }
  for (const [ca, serials] of [...manual].sort(([a], [b]) => a.localeCompare(b)))
    notEnforced.push(
      `${serials.length} revocation(s) by hand (trustroll revoke) of certificates of ${name(ca)} (serial ${serials.slice(0, SHOWN).join(', ')}${serials.length > SHOWN ? ` and ${serials.length - SHOWN} more` : ''}): ELB takes only CRLs the CA signed; have the CA revoke them in its CRL`,
    );
  const partners = new Set(fingerprints.map((f) => entries.get(f)?.partner).filter((p) => p !== undefined));
  for (const partner of Object.keys(rev.rules).sort()) {
    const r = rev.rules[partner]!;
    if (!partners.has(partner) || ((r.pins?.length ?? 0) === 0 && (r.routes?.length ?? 0) === 0)) continue;
    notEnforced.push(
      `the identity rules of partner ${partner} (${[
        ...(r.pins?.length ? [`${r.pins.length} pin(s)`] : []),
        ...(r.routes?.length ? [`${r.routes.length} route(s)`] : []),
      ].join(', ')}): an ELB trust store checks only the chain and CRLs`,
    );
  }
  return { crls, notEnforced };
};

/**
 * The ELB trust stores whose CRLs are behind the state's (a CRL accepted since their last rollout
 * brings no truststore version): one phrase each, for `trustroll status`. Reads every ledger under
 * `rollouts/trust-stores/` and compares the CRLs it recorded with the plan of its version today.
 * A ledger written before trustroll sent CRLs counts as holding none. `sync`: the newest CRL sync's
 * record (latestCrlSync): the phrase says when that sync is under way, or failed for the trust store.
 */
export const trustStoresBehind = async (
  store: Pick<ObjectStore, 'get' | 'list'>,
  plan: (version: string) => Promise<ElbRevocationPlan>,
  sync?: Rollout,
): Promise<string[]> => {
  const out: string[] = [];
  for (const { key } of await store.list(TRUST_STORE_LEDGER_PREFIX)) {
    let entry: { trustStoreArn?: unknown; version?: unknown; crls?: readonly LedgerCrl[] };
    try {
      entry = JSON.parse(new TextDecoder().decode((await store.get(key)).body));
    } catch (error) {
      if (error instanceof NotFoundError || error instanceof SyntaxError) continue;
      throw error;
    }
    if (typeof entry.version !== 'string' || typeof entry.trustStoreArn !== 'string') continue;
    const held = entry.crls ?? [];
    let wanted: readonly ElbCrl[];
    try {
      wanted = (await plan(entry.version)).crls;
    } catch (error) {
      // Said, not thrown: status goes on, and does not call the trust store up to date.
      out.push(
        `ELB trust store ${entry.trustStoreArn} (truststore version ${entry.version}): its CRLs cannot be compared with the state's: ${(error as Error).message}`,
      );
      continue;
    }
    const missing = wanted.filter((c) => !held.some((h) => sameCrl(h, c)));
    const extra = held.filter((h) => !wanted.some((c) => sameCrl(h, c)));
    if (missing.length === 0 && extra.length === 0) continue;
    out.push(
      `ELB trust store ${entry.trustStoreArn} (truststore version ${entry.version}) lacks ${missing.length} CRL(s) the state holds for its CAs${extra.length > 0 ? ` and still holds ${extra.length} superseded` : ''}: ${whyBehind(entry.trustStoreArn, sync)}`,
    );
  }
  return out;
};

/** What the newest CRL sync says about a trust store that is behind. */
const whyBehind = (arn: string, sync: Rollout | undefined): string => {
  const run = sync?.targets.find((t) => t.resource === arn);
  if (sync && run && sync.status === 'running')
    return `the CRL sync ${sync.id} (revision ${sync.revision}, revocation generation ${sync.generation}) is under way since ${sync.startedAt}`;
  if (sync && run?.phase === 'failed')
    return `the CRL sync ${sync.id} (revision ${sync.revision}, revocation generation ${sync.generation}) failed for it: ${run.error ?? 'see its record'}; fix that and start the sync again, or the next version's rollout brings them`;
  return "no CRL sync has given them to it yet: with ELB trust stores among the targets, the ingest run that accepts a CRL starts one, and a run that could not (Step Functions unreachable, a crash) leaves it to the next run (its retry, the next upload, or the run the daily scan asks for); the next version's rollout brings them too";
};

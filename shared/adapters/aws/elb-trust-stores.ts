import {
  AddTrustStoreRevocationsCommand,
  DescribeTrustStoreRevocationsCommand,
  DescribeTrustStoresCommand,
  ElasticLoadBalancingV2Client,
  ModifyTrustStoreCommand,
  RemoveTrustStoreRevocationsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { ConflictError, NotFoundError, RevocationRefusedError } from '../../errors.js';
import type { DomainState, ObjectStore } from '../../ports.js';
import {
  type LedgerCrl,
  ledgerKey,
  sameCrl,
  TRUST_STORE_LEDGER_PREFIX,
} from '../../rollout/elb-revocations.js';

export { ElasticLoadBalancingV2Client, ledgerKey, TRUST_STORE_LEDGER_PREFIX };

/** A revocation file trustroll added to a trust store, with the id ELB gave it. */
export interface LedgerRevocation extends LedgerCrl {
  readonly revocationId: number;
}

interface LedgerEntry {
  readonly trustStoreArn: string;
  readonly uri: string;
  readonly version: string;
  readonly at: string;
  /** The revocation files trustroll added that are in the trust store (absent: none, or an older ledger). */
  readonly revocations?: readonly LedgerRevocation[];
  /** The CRLs that go with `version` (what a roll back to it restores). */
  readonly crls?: readonly LedgerCrl[];
  /** The version served before this one, with its CRLs: what a roll back restores. */
  readonly previous?: { readonly uri: string; readonly version: string; readonly crls: readonly LedgerCrl[] };
}

/** ELB's answers that refuse a revocation file for good (query protocol codes, or the SDK's names). */
const REFUSALS: Readonly<Record<string, string>> = {
  InvalidRevocationContent:
    'ELB refused it as a CRL (invalid format, or a signature algorithm it does not take)',
  TooManyTrustStoreRevocationEntries:
    'the trust store would hold more revoked entries than ELB allows (500,000 per trust store)',
  RevocationContentNotFound: 'ELB could not read the object (deleted, or not readable by the caller)',
};

const crlOf = ({ key, objectVersion, issuer, scope }: LedgerCrl): LedgerCrl => ({
  key,
  objectVersion,
  issuer,
  scope,
});

/**
 * ELB (Application Load Balancer) trust stores: `ModifyTrustStore` with the bundle's bucket, key
 * and S3 object version, `DescribeTrustStores` for the status (ACTIVE, or CREATING while ELB
 * takes the bundle in: reported as API Gateway's AVAILABLE and UPDATING).
 *
 * ELB reports neither the bundle's version nor warnings. The version a trust store serves is
 * therefore the one trustroll last gave it, kept in a ledger object per trust store
 * (`rollouts/trust-stores/<arn>.json`), written right after each successful `ModifyTrustStore`.
 * A step that fails between the two calls leaves the older version in the ledger: the next step
 * finds the target not on the new version and updates it again, which changes nothing. A trust
 * store never rolled by trustroll, or changed by hand since, has no (or a stale) ledger entry: its
 * `from` is unknown (undefined), and a roll-back has nothing to go back to. ELB checks the bundle
 * when it is given (an invalid bundle is refused by the call, InvalidCaCertificatesBundle), so a
 * new version cannot bring warnings after the fact as on API Gateway.
 *
 * Revocations: with a version come its CRLs (`crls`, the objects `revocation/crls/<sha256>.pem`).
 * After `ModifyTrustStore` (and the ledger written with the new version), the trust store's
 * revocation files are brought in step: `DescribeTrustStoreRevocations` tells which of the ids
 * trustroll recorded are still there; each CRL it lacks is added (`AddTrustStoreRevocations`, one
 * file per call so that each RevocationId is known), then the files trustroll added before that
 * are not wanted any more (superseded, or their CA left) are removed
 * (`RemoveTrustStoreRevocations`). Files added by others are never touched. The ledger records
 * trustroll's ids after the adds and again after the removals. A roll back (`restore`) brings back
 * the CRLs the ledger recorded with the version it goes back to. A file ELB refuses is a
 * RevocationRefusedError (the rollout rolls the target back).
 */
export class ElbTrustStoreApi {
  constructor(
    private readonly client: ElasticLoadBalancingV2Client,
    private readonly ledger: Pick<ObjectStore, 'get' | 'put'>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async read(trustStoreArn: string): Promise<DomainState> {
    const out = await this.client.send(new DescribeTrustStoresCommand({ TrustStoreArns: [trustStoreArn] }));
    const store = out.TrustStores?.find((t) => t.TrustStoreArn === trustStoreArn) ?? out.TrustStores?.[0];
    if (!store) throw new NotFoundError(`trust store ${trustStoreArn} does not exist`);
    const entry = await this.entry(trustStoreArn);
    return {
      name: trustStoreArn,
      status:
        store.Status === 'ACTIVE'
          ? 'AVAILABLE'
          : store.Status === 'CREATING'
            ? 'UPDATING'
            : `${store.Status}`,
      ...(entry ? { truststoreUri: entry.uri, truststoreVersion: entry.version } : {}),
      warnings: [],
    };
  }

  async update(
    trustStoreArn: string,
    uri: string,
    version: string,
    options: { readonly crls?: readonly LedgerCrl[]; readonly restore?: boolean } = {},
  ): Promise<void> {
    const { bucket, key } = parseS3Uri(uri);
    const prior = await this.entry(trustStoreArn);
    // A repeat of this update (a retried step) keeps what the first call recorded.
    const repeat = prior?.version === version;
    const previous = repeat
      ? prior.previous
      : prior
        ? { uri: prior.uri, version: prior.version, crls: prior.crls ?? [] }
        : undefined;
    // A roll back brings back the CRLs recorded with the version it goes back to.
    const recorded = repeat
      ? prior.crls
      : prior?.previous?.version === version
        ? prior.previous.crls
        : undefined;
    const wanted = (options.restore ? (recorded ?? options.crls) : options.crls) ?? [];
    await this.client.send(
      new ModifyTrustStoreCommand({
        TrustStoreArn: trustStoreArn,
        CaCertificatesBundleS3Bucket: bucket,
        CaCertificatesBundleS3Key: key,
        CaCertificatesBundleS3ObjectVersion: version,
      }),
    );
    const write = (revocations: readonly LedgerRevocation[]) =>
      this.write({
        trustStoreArn,
        uri,
        version,
        at: this.now().toISOString(),
        revocations,
        crls: wanted.map(crlOf),
        ...(previous ? { previous } : {}),
      });
    await write(prior?.revocations ?? []);
    await this.bringRevocations(trustStoreArn, bucket, prior?.revocations ?? [], wanted, write);
  }

  /**
   * Brings the revocation files of a trust store that serves `version` (as its ledger says) in step
   * with `crls`, without ModifyTrustStore: a CRL accepted since the version was rolled (no new
   * version, so no rollout) reaches the trust store, and the one it supersedes leaves it. The files
   * it lacks are added, then the superseded ones trustroll added are removed; files added by
   * others are never touched; the ledger keeps its version (and the one before) and records the
   * new set. A ledger that names another version (a rollout changed the trust store since) is a
   * ConflictError: the sync is for the version it was planned for. `added`/`removed`: files.
   */
  async syncRevocations(
    trustStoreArn: string,
    version: string,
    crls: readonly LedgerCrl[],
  ): Promise<{ readonly added: number; readonly removed: number }> {
    const prior = await this.entry(trustStoreArn);
    if (!prior || prior.version !== version)
      throw new ConflictError(
        `the ledger of trust store ${trustStoreArn} names truststore version ${prior?.version ?? '(none)'}, not ${version}: a rollout changed it since the CRLs were planned`,
      );
    const { bucket } = parseS3Uri(prior.uri);
    // Until every file is in, the ledger keeps the CRLs it had: a sync that fails part-way leaves
    // the trust store behind, and status must say so.
    const write = (revocations: readonly LedgerRevocation[], done = false) =>
      this.write({
        ...prior,
        at: this.now().toISOString(),
        revocations,
        crls: (done ? crls : (prior.crls ?? [])).map(crlOf),
      });
    const out = await this.bringRevocations(trustStoreArn, bucket, prior.revocations ?? [], crls, write);
    await write(out.held, true);
    return { added: out.added, removed: out.removed };
  }

  /**
   * The revocation files of the trust store brought in step with `wanted` (see the class): each
   * CRL it lacks added (one per call), then trustroll's files not wanted any more removed; the
   * ledger written (`write`) after the adds and after the removals.
   */
  private async bringRevocations(
    trustStoreArn: string,
    bucket: string,
    recorded: readonly LedgerRevocation[],
    wanted: readonly LedgerCrl[],
    write: (revocations: readonly LedgerRevocation[]) => Promise<void>,
  ): Promise<{
    readonly added: number;
    readonly removed: number;
    readonly held: readonly LedgerRevocation[];
  }> {
    let held = [...recorded];
    if (held.length === 0 && wanted.length === 0) return { added: 0, removed: 0, held };
    const present = await this.revocationIds(trustStoreArn);
    // Ids removed by someone else are gone: what they carried is added again if still wanted.
    held = held.filter((r) => present.has(r.revocationId));
    const added: LedgerRevocation[] = [];
    for (const crl of wanted) {
      if (held.some((r) => sameCrl(r, crl)) || added.some((r) => sameCrl(r, crl))) continue;
      let id: number | undefined;
      try {
        const out = await this.client.send(
          new AddTrustStoreRevocationsCommand({
            TrustStoreArn: trustStoreArn,
            RevocationContents: [
              { S3Bucket: bucket, S3Key: crl.key, S3ObjectVersion: crl.objectVersion, RevocationType: 'CRL' },
            ],
          }),
        );
        id = out.TrustStoreRevocations?.[0]?.RevocationId;
      } catch (error) {
        const code = (error as Error).name.replace(/Exception$/, '');
        const why = REFUSALS[code];
        // The files added so far are recorded: a roll back (or the next sync) knows them.
        await write([...held, ...added]);
        if (why === undefined) throw error;
        throw new RevocationRefusedError(
          `the trust store refused the revocation file s3://${bucket}/${crl.key} (version ${crl.objectVersion}): ${why} (${code}: ${(error as Error).message})`,
          { cause: error },
        );
      }
      if (id === undefined)
        throw new RevocationRefusedError(
          `AddTrustStoreRevocations gave no RevocationId for s3://${bucket}/${crl.key}: trustroll cannot keep track of it`,
        );
      added.push({ ...crlOf(crl), revocationId: id });
    }
    if (added.length > 0) await write([...held, ...added]);
    const stale = held.filter((r) => !wanted.some((c) => sameCrl(r, c)));
    if (stale.length > 0) {
      await this.client.send(
        new RemoveTrustStoreRevocationsCommand({
          TrustStoreArn: trustStoreArn,
          RevocationIds: stale.map((r) => r.revocationId),
        }),
      );
      await write([...held.filter((r) => !stale.includes(r)), ...added]);
    } else if (held.length !== recorded.length) await write([...held, ...added]);
    return {
      added: added.length,
      removed: stale.length,
      held: [...held.filter((r) => !stale.includes(r)), ...added],
    };
  }

  /** The ids of the revocation files in the trust store (every page). */
  private async revocationIds(trustStoreArn: string): Promise<Set<number>> {
    const ids = new Set<number>();
    let marker: string | undefined;
    do {
      const out = await this.client.send(
        new DescribeTrustStoreRevocationsCommand({
          TrustStoreArn: trustStoreArn,
          ...(marker ? { Marker: marker } : {}),
        }),
      );
      for (const r of out.TrustStoreRevocations ?? [])
        if (r.RevocationId !== undefined) ids.add(r.RevocationId);
      marker = out.NextMarker;
    } while (marker);
    return ids;
  }

  private async write(entry: LedgerEntry): Promise<void> {
    await this.ledger.put(
      ledgerKey(entry.trustStoreArn),
      new TextEncoder().encode(`${JSON.stringify(entry)}\n`),
      { contentType: 'application/json' },
    );
  }

  private async entry(trustStoreArn: string): Promise<LedgerEntry | undefined> {
    try {
      const object = await this.ledger.get(ledgerKey(trustStoreArn));
      const parsed = JSON.parse(new TextDecoder().decode(object.body)) as Partial<LedgerEntry>;
      return typeof parsed.version === 'string' && typeof parsed.uri === 'string'
        ? (parsed as LedgerEntry)
        : undefined;
    } catch (error) {
      if (error instanceof NotFoundError || error instanceof SyntaxError) return undefined;
      throw error;
    }
  }
}

/** `s3://bucket/key/with/slashes` → bucket and key. */
export const parseS3Uri = (uri: string): { bucket: string; key: string } => {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!m) throw new Error(`"${uri}" is not an s3://bucket/key URI`);
  return { bucket: m[1]!, key: m[2]! };
};

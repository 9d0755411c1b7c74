import {
  DescribeTrustStoresCommand,
  ElasticLoadBalancingV2Client,
  ModifyTrustStoreCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { NotFoundError } from '../../errors.js';
import type { DomainState, ObjectStore } from '../../ports.js';

export { ElasticLoadBalancingV2Client };

/** Where the version trustroll last gave each trust store is kept (see ElbTrustStoreApi). */
export const TRUST_STORE_LEDGER_PREFIX = 'rollouts/trust-stores/';

export const ledgerKey = (trustStoreArn: string): string =>
  `${TRUST_STORE_LEDGER_PREFIX}${encodeURIComponent(trustStoreArn)}.json`;

interface LedgerEntry {
  readonly trustStoreArn: string;
  readonly uri: string;
  readonly version: string;
  readonly at: string;
}

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

  async update(trustStoreArn: string, uri: string, version: string): Promise<void> {
    const { bucket, key } = parseS3Uri(uri);
    await this.client.send(
      new ModifyTrustStoreCommand({
        TrustStoreArn: trustStoreArn,
        CaCertificatesBundleS3Bucket: bucket,
        CaCertificatesBundleS3Key: key,
        CaCertificatesBundleS3ObjectVersion: version,
      }),
    );
    const entry: LedgerEntry = { trustStoreArn, uri, version, at: this.now().toISOString() };
    await this.ledger.put(ledgerKey(trustStoreArn), new TextEncoder().encode(`${JSON.stringify(entry)}\n`), {
      contentType: 'application/json',
    });
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

import { join } from 'node:path';
import { parseDomainSpec } from '../shared/adapters/aws/domains.js';
import { EndpointStatusFile } from '../shared/adapters/local/endpoint-status.js';
import { consoleLog } from '../shared/adapters/local/log.js';
import type { PublishDeps } from '../shared/pipeline/publish.js';
import { type DomainGateway, systemClock } from '../shared/ports.js';
import { printable } from '../shared/text.js';
import { KEYS } from '../shared/truststore/state.js';
import { type Io, UsageError } from './io.js';
import { layout, localNotifier, localStore } from './local.js';

/** Where the lifecycle commands work: a local data folder, or `s3://bucket[/prefix]`. */
export interface StoreFlags {
  readonly dataDir: string;
  readonly inbox: string;
  readonly store?: string;
  readonly region?: string;
  readonly profile?: string;
  /** On S3: the domains to roll and report, `name[:REST|HTTP]`. */
  readonly domain?: string[];
}

const S3_SPEC = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/;

/**
 * Dependencies for a store spec. Local: the running `trustroll up` rolls its endpoint to what is
 * published. S3: the configured domains are rolled from here (clients use the default AWS
 * credentials, `--profile` and `--region`).
 */
export const depsFor = async (
  spec: string | undefined,
  flags: StoreFlags,
  io: Io,
): Promise<PublishDeps & { label: string }> => {
  const log = consoleLog(io.err);
  if (spec?.startsWith('s3://')) {
    const m = S3_SPEC.exec(spec);
    if (!m) throw new UsageError(`${spec} is not s3://bucket[/prefix]`);
    const bucket = m[1]!;
    const prefix = m[2] ? `${m[2].replace(/\/+$/, '')}/` : '';
    if (flags.profile) process.env.AWS_PROFILE = flags.profile;
    const endpoint = process.env.TRUSTROLL_AWS_ENDPOINT;
    const common = { ...(flags.region ? { region: flags.region } : {}), ...(endpoint ? { endpoint } : {}) };
    const { S3Client } = await import('@aws-sdk/client-s3');
    const { S3ObjectStore } = await import('../shared/adapters/aws/s3-store.js');
    const domains = (flags.domain ?? []).map((d) => {
      const { domain, problems } = parseDomainSpec(d);
      if (problems.length > 0) throw new UsageError(`--domain: ${problems.join('; ')}`);
      return domain;
    });
    let gateway: DomainGateway = {
      describe: async () => Promise.reject(new UsageError('no --domain given')),
      roll: async () => {},
    };
    if (domains.length > 0) {
      const { apiGatewayDomains } = await import('../shared/adapters/aws/api-gateway.js');
      gateway = apiGatewayDomains(domains, `s3://${bucket}/${prefix}${KEYS.truststore}`, common);
    }
    return {
      label: spec,
      store: new S3ObjectStore(
        new S3Client({ ...common, ...(endpoint ? { forcePathStyle: true } : {}) }),
        bucket,
        prefix,
      ),
      gateway,
      notifier: {
        publish: async (n) => void io.err(`${n.severity.toUpperCase().padEnd(8)} ${printable(n.subject)}\n`),
      },
      clock: systemClock,
      log,
      roll: { domains: domains.map((d) => d.name) },
    };
  }
  const paths = { dataDir: spec ?? flags.dataDir, inboxDir: flags.inbox };
  return {
    label: paths.dataDir,
    store: localStore(paths),
    gateway: new EndpointStatusFile(join(layout(paths).endpoint, 'status.json')),
    notifier: localNotifier(paths, { ...io, out: io.err }),
    clock: systemClock,
    log,
    roll: { domains: [] },
  };
};

import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDomainSpec } from '../shared/adapters/aws/domains.js';
import { EndpointStatusFile } from '../shared/adapters/local/endpoint-status.js';
import { consoleLog } from '../shared/adapters/local/log.js';
import { NotFoundError } from '../shared/errors.js';
import type { PublishDeps } from '../shared/pipeline/publish.js';
import { DeferredDelivery, type DomainGateway, type ObjectStore, systemClock } from '../shared/ports.js';
import { printable } from '../shared/text.js';
import { KEYS } from '../shared/truststore/state.js';
import { type Io, UsageError } from './io.js';
import { layout, localNotifier, localStore } from './local.js';

/** Where the lifecycle commands work: a local data folder, or `s3://bucket[/prefix]`. */
export interface StoreFlags {
  readonly dataDir: string;
  /** The inbox folder (default `inbox`); commands that read no inbox do not offer it. */
  readonly inbox?: string;
  readonly store?: string;
  readonly region?: string;
  readonly profile?: string;
  /** On S3: the domains to roll and report, `name[:REST|HTTP]`. */
  readonly domain?: string[];
}

/** A store's dependencies, what to call it, and whether trustroll has made a store there. */
export type StoreDeps = PublishDeps & {
  readonly label: string;
  readonly kind: 'folder' | 's3';
  /** True once `up` or `ingest` made a store there (a folder) or the pipeline wrote its state (S3). */
  readonly holdsStore: () => Promise<boolean>;
};

const S3_SPEC = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/;

/**
 * Dependencies for a store spec. Local: the running `trustroll up` rolls its endpoint to what is
 * published. S3: the configured domains are rolled from here (clients use the default AWS
 * credentials, `--profile` and `--region`).
 */
export const depsFor = async (spec: string | undefined, flags: StoreFlags, io: Io): Promise<StoreDeps> => {
  const log = consoleLog(io.err);
  if (spec?.startsWith('s3://')) {
    const m = S3_SPEC.exec(spec);
    if (!m) throw new UsageError(`${spec} is not s3://bucket[/prefix]`);
    const bucket = m[1]!;
    const prefix = m[2] ? `${m[2].replace(/\/+$/, '')}/` : '';
    if (flags.profile) process.env.AWS_PROFILE = flags.profile;
    const endpoint = process.env.TRUSTROLL_AWS_ENDPOINT;
    const common = { ...(flags.region ? { region: flags.region } : {}), ...(endpoint ? { endpoint } : {}) };
    const { S3Client, S3ObjectStore } = await import('../shared/adapters/aws/s3-store.js');
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
    const store = new S3ObjectStore(
      new S3Client({ ...common, ...(endpoint ? { forcePathStyle: true } : {}) }),
      bucket,
      prefix,
    );
    return {
      label: spec,
      kind: 's3',
      // The truststore alone still names a store (its state deleted by hand: repair's case).
      holdsStore: async () => (await present(store, KEYS.state)) || present(store, KEYS.truststore),
      store,
      gateway,
      // The CLI has no topic to send to: an alert of a change made here stays in the store's outbox
      // (in the state) and the pipeline's next run (ingest, or the scheduled scan) sends it to its
      // topic, as if one of its own runs had made the change.
      notifier: {
        publish: async (n) => {
          io.err(
            `${n.severity.toUpperCase().padEnd(8)} ${printable(n.subject)} (queued in the store's outbox: the pipeline's next run sends it to its alert topic)\n`,
          );
          throw new DeferredDelivery(`${n.id} is left for the pipeline to send`);
        },
      },
      clock: systemClock,
      log,
      roll: { domains: domains.map((d) => d.name) },
    };
  }
  const paths = { dataDir: spec ?? flags.dataDir, inboxDir: flags.inbox ?? 'inbox' };
  return {
    label: paths.dataDir,
    kind: 'folder',
    holdsStore: () => holdsLocalStore(paths.dataDir),
    store: localStore(paths),
    gateway: new EndpointStatusFile(join(layout(paths).endpoint, 'status.json')),
    notifier: localNotifier(paths, { ...io, out: io.err }),
    clock: systemClock,
    log,
    roll: { domains: [] },
  };
};

const present = (store: ObjectStore, key: string): Promise<boolean> =>
  store.head(key).then(
    () => true,
    (error: unknown) => {
      if (error instanceof NotFoundError) return false;
      throw error;
    },
  );

const isFolder = (path: string): Promise<boolean> =>
  stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );

/** A data folder holds a store once `up` ran there (its endpoint) or `ingest` wrote to it (its store). */
export const holdsLocalStore = async (dataDir: string): Promise<boolean> =>
  (await isFolder(join(dataDir, 'store'))) || isFolder(join(dataDir, 'endpoint'));

/**
 * The sentence for a path that holds no trustroll store: which path, and what to do. A typo in
 * `--data-dir` or `--store` must not read as an empty store ("no versions yet").
 */
export const noStoreMessage = (label: string, kind: 'folder' | 's3', option?: string): string =>
  kind === 's3'
    ? `${label} holds no trustroll store (no ${KEYS.state} under it): check the bucket and prefix of ${option ?? '--store'}, or let the pipeline ingest an upload there first`
    : `${label} holds no trustroll store: run trustroll up or trustroll ingest there first, or check ${option ?? '--data-dir or --store'}`;

/** Refuses (exit 2) a store spec that names no trustroll store. */
export const requireStore = async (deps: StoreDeps, option?: string): Promise<StoreDeps> => {
  if (!(await deps.holdsStore())) throw new UsageError(noStoreMessage(deps.label, deps.kind, option));
  return deps;
};

/** The dependencies of an existing store (see {@link requireStore}): what every reading command uses. */
export const openStore = async (spec: string | undefined, flags: StoreFlags, io: Io): Promise<StoreDeps> =>
  requireStore(await depsFor(spec, flags, io));

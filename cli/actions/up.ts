import { appendFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalEndpoint } from '../../shared/adapters/local/endpoint.js';
import { EndpointStatusFile } from '../../shared/adapters/local/endpoint-status.js';
import { VersionedFolderStore } from '../../shared/adapters/local/folder-store.js';
import { FolderWatch } from '../../shared/adapters/local/folder-watch.js';
import { consoleLog } from '../../shared/adapters/local/log.js';
import { ReportServer } from '../../shared/adapters/local/report-server.js';
import { LocalTargetGateway } from '../../shared/adapters/local/target-gateway.js';
import { type IngestDeps, ingestUploads } from '../../shared/pipeline/ingest.js';
import { handleRemovalRequests, REQUESTS_PREFIX } from '../../shared/pipeline/lifecycle.js';
import { publishPending } from '../../shared/pipeline/publish.js';
import { loadIndex, publishIndex, revokedCas } from '../../shared/pipeline/revocation.js';
import { type RollReport, rollDomains } from '../../shared/pipeline/roll.js';
import { scanExpiry } from '../../shared/pipeline/scan.js';
import {
  assertIntact,
  type LoadedState,
  loadState,
  readTruststoreVersion,
} from '../../shared/pipeline/state-store.js';
import { domainStatus } from '../../shared/pipeline/status.js';
import { type DomainGateway, type ObjectStore, systemClock } from '../../shared/ports.js';
import { buildReport } from '../../shared/report/model.js';
import { REVOCATION_KEYS } from '../../shared/revocation/state.js';
import type { Rollout, RolloutConfig, Target, TargetGateway } from '../../shared/rollout/model.js';
import { runRollout, startRollout } from '../../shared/rollout/step.js';
import { checkLimits, limitsRefusedNotification } from '../../shared/rollout/targets.js';
import { printable } from '../../shared/text.js';
import { KEYS, latestPublished, type TruststoreState } from '../../shared/truststore/state.js';
import { Backoff, fallbackMs, InboxWatcher, type Step, StepLoop } from '../commands/up-watch.js';
import { folderOrAbsent, type Io, UsageError } from '../io.js';
import {
  DEMO_CRL,
  endpointMaterial,
  type LocalPaths,
  layout,
  localNotifier,
  localStore,
  requestsDir,
  writeDemoPki,
} from '../local.js';
import { summarize } from './ingest.js';
import { reportRefusals } from './report.js';
import {
  clearTargetStatus,
  forgetRemovedTargets,
  loadLocalTargets,
  localRolloutSources,
  readRollout,
  targetStatusFile,
  targetStatusFiles,
  writeRollout,
} from './up-targets.js';

export interface UpFlags {
  readonly dataDir: string;
  readonly inbox: string;
  readonly port: number;
  readonly host: string;
  readonly domain: string;
  readonly expiringDays: number;
  readonly debounceMs: number;
  readonly pollMs: number;
  readonly demo: boolean;
  readonly scanHours: number;
  readonly plainTls?: boolean;
  /** With targets: forget what the last rollout refused (its cause was outside the version). */
  readonly retryRefused?: boolean;
  readonly reportPort: number;
  readonly report: boolean;
  /** A targets configuration: one local endpoint per API Gateway target, rolled in waves. */
  readonly targets?: string;
}

/** `trustroll up`: the whole pipeline on this machine, until Ctrl-C; resolves to the exit status (declared in commands/up.ts). */
export const up = async (flags: UpFlags, io: Io): Promise<number> => {
  if (flags.port > 65535) throw new UsageError(`--port must be at most 65535; got ${flags.port}`);
  if (flags.targets !== undefined && flags.targets.trim() === '')
    throw new UsageError(
      '--targets needs the path of a targets file (README: Targets and waves); got an empty one',
    );
  if (flags.targets && flags.domain !== 'localhost')
    throw new UsageError(
      `--domain names the one endpoint's domain; with --targets each target plays its own "resource": leave --domain out (got ${flags.domain})`,
    );
  if (flags.retryRefused && !flags.targets)
    throw new UsageError(
      '--retry-refused applies to --targets: a single endpoint forgets what it refused when it stops, and tries the latest version again whenever up starts',
    );
  await folderOrAbsent('--inbox', flags.inbox);
  await folderOrAbsent('--data-dir', flags.dataDir);
  const paths: LocalPaths = { dataDir: flags.dataDir, inboxDir: flags.inbox };
  await aloneOn(paths);
  const log = consoleLog(io.out);
  const store = localStore(paths);
  const material = await endpointMaterial(paths);
  const demo = flags.demo ? await writeDemoPki(paths) : undefined;
  const versions = new VersionedFolderStore(layout(paths).store);
  const states = new StateCache(store, versions);
  // One endpoint, or one per target (--targets), each rolled like the custom domain it plays.
  const targets = flags.targets ? await loadLocalTargets(flags.targets, flags.port, flags.host) : undefined;
  const makeEndpoint = (domain: string, port: number, statusFile: EndpointStatusFile, target?: Target) =>
    new LocalEndpoint({
      ...(target && flags.targets
        ? {
            portSource: {
              who: `target ${target.id}`,
              fix: `stop what uses it, or give target ${target.id} another "port" in ${flags.targets} (its "port" field; targets without one take consecutive ports from --port)`,
            },
          }
        : {}),
      // Checked against what was published: a version changed by hand is refused, not served.
      loadTruststore: async (version) =>
        (await readTruststoreVersion(store, version, (await states.get()).loaded.state)).body,
      judged: true,
      domain,
      host: flags.host,
      port,
      serverKey: material.serverKey,
      serverCert: material.serverCert,
      noTruststoreCa: material.noTruststoreCa,
      log,
      onStatus: statusFile.write,
      rules: flags.plainTls ? 'plain-tls' : 'api-gateway',
      // What API Gateway's access log holds for a refused handshake: trustroll refusals reads it.
      refusalLog: (line) => appendFileSync(join(layout(paths).endpoint, 'refusals.log'), `${line}\n`),
      // The authorizer's decision after the handshake, from the index the pipeline publishes.
      revocation: { stamp: () => versions.stamp(REVOCATION_KEYS.index), load: () => loadIndex(store) },
    });
  const played: {
    readonly target?: Target;
    readonly endpoint: LocalEndpoint;
    readonly status: EndpointStatusFile;
  }[] = targets
    ? targets.targets.map((target) => {
        const status = targetStatusFile(paths, target.id);
        return { target, endpoint: makeEndpoint(target.resource, target.port ?? 0, status, target), status };
      })
    : [
        {
          endpoint: makeEndpoint(flags.domain, flags.port, singleStatusFile(paths)),
          status: singleStatusFile(paths),
        },
      ];
  const endpoint = played[0]!.endpoint;
  // A damaged store is named, and left alone until it is repaired (trustroll repair).
  await assertIntact(store, (await loadState(store)).state);
  // A revision committed but never published (its run stopped, or failed, in between) goes out
  // first, so the endpoint starts on the latest revision; it is rolled like any other version.
  await publishPending({
    store,
    gateway: endpoint,
    notifier: localNotifier(paths, io),
    clock: systemClock,
    log,
    roll: { domains: [] },
  });
  const { state } = await loadState(store);
  // The index of the latest state, in case a run stopped between its commit and the index's publish.
  if (latestPublished(state)?.version)
    await publishIndex(store, state, log, { verify: true }).catch((error: Error) =>
      log.error('revocation index not published', { error: error.message }),
    );
  // `status` follows the endpoints of this run only: those of an earlier run in the other mode go.
  if (targets) {
    await rm(singleStatusFile(paths).path, { force: true });
    const removed = await forgetRemovedTargets(
      paths,
      targets.targets.map((t) => t.id),
    );
    if (removed.length > 0)
      log.info('targets removed from the targets file are forgotten', { removed: removed.join(', ') });
  } else await clearTargetStatus(paths);
  await startEndpoints(played, state, latestPublished(state)?.version);
  // The report of the state as it is, for each request; the domain it shows is the endpoint.
  const reportServer = flags.report
    ? new ReportServer({
        host: '127.0.0.1',
        port: flags.reportPort,
        log,
        report: async () => {
          const state = (await states.get()).loaded.state;
          // The clients the endpoint refused for their certificate (none yet: no file).
          const refusals = await reportRefusals(
            join(layout(paths).endpoint, 'refusals.log'),
            store,
            state,
            true,
          );
          const rollouts = targets ? await localRolloutSources(layout(paths).endpoint) : undefined;
          return buildReport(state, {
            now: new Date(),
            store: paths.dataDir,
            revoked: await revokedCas(store, state),
            domains: await domainStatus({
              store,
              gateway: byDomain(played.map((p) => p.endpoint)),
              roll: { domains: played.map((p) => p.target?.resource ?? flags.domain) },
            }),
            ...(refusals ? { refusals } : {}),
            // With --targets: what each target endpoint serves, and the last rollout.
            ...(rollouts ? { rollouts } : {}),
          });
        },
      })
    : undefined;
  try {
    await reportServer?.start();
  } catch (error) {
    for (const p of played) await p.endpoint.stop();
    throw error;
  }
  const deps: IngestDeps = {
    store,
    label: paths.dataDir,
    gateway: endpoint,
    notifier: localNotifier(paths, io),
    clock: systemClock,
    log,
    // One machine, one endpoint: no 30 s API Gateway pacing, quick status polls.
    config: {
      expiringDays: flags.expiringDays,
      // With --targets, ingest does not roll: the rollout below takes each version to every target.
      roll: { domains: targets ? [] : [flags.domain], minUpdateIntervalMs: 0, pollIntervalMs: 100 },
    },
  };
  printWelcome(
    io,
    flags,
    paths,
    played,
    material.caPath,
    demo?.dir,
    latestPublished(state)?.version,
    reportServer?.url,
  );

  /** Versions the endpoint rolled back: it stays on the previous one until a newer version exists. */
  const lastRollout = targets ? await readRollout(paths) : undefined;
  const refused = flags.retryRefused ? new Set<string>() : refusedBy(lastRollout);
  const rollTargets = targets
    ? rolloutRunner(targets, {
        gateway: new LocalTargetGateway(
          new Map(played.map((p) => [p.target!.id, p.endpoint])),
          material.caPem,
        ),
        deps,
        io,
        paths,
        refused,
        latest: async () => latestPublished((await states.get()).loaded.state)?.version,
        revisionOf: async (version) =>
          (await states.get()).loaded.state.history.find((r) => r.version === version)?.revision,
        ...(lastRollout ? { last: lastRollout } : {}),
        ...(flags.retryRefused ? { retryRefused: true } : {}),
        truststore: async (version) =>
          (await readTruststoreVersion(store, version, (await states.get()).loaded.state)).body,
        // A rollout this folder's up was running when it stopped goes on from its record.
        ...(lastRollout?.status === 'running' ? { resume: lastRollout } : {}),
      })
    : undefined;
  const remember = (roll: RollReport | undefined) => {
    for (const d of roll?.domains ?? []) {
      if (d.outcome !== 'rolled-back' || refused.has(d.to)) continue;
      refused.add(d.to);
      log.warn('the endpoint stays on its previous truststore version until a newer one is published', {
        refused: d.to,
        serving: d.from,
        newWarnings: d.newWarnings,
      });
    }
  };

  const loop: StepLoop = new StepLoop(
    [
      new InboxWatcher('inbox', {
        list: () => store.list(KEYS.inbox),
        folder: paths.inboxDir,
        debounceMs: flags.debounceMs,
        pollMs: flags.pollMs,
        wake: () => loop.wake(),
        onBatch: async (keys) => {
          const report = await ingestUploads(
            keys.map((key) => ({ key })),
            deps,
          );
          remember(report.roll);
          io.out(summarize(report));
        },
      }),
      new InboxWatcher('requests', {
        list: () => store.list(REQUESTS_PREFIX),
        folder: requestsDir(paths),
        debounceMs: flags.debounceMs,
        pollMs: flags.pollMs,
        wake: () => loop.wake(),
        onBatch: async (keys) => {
          for (const r of await handleRemovalRequests(
            keys.map((key) => ({ key })),
            { ...deps, roll: deps.config.roll },
          )) {
            remember(r.roll);
            io.out(`removal request ${printable(r.key)}: ${r.outcome} — ${printable(r.message)}\n`);
          }
        },
      }),
      new Reconcile(states, {
        pollMs: flags.pollMs,
        wake: () => loop.wake(),
        /**
         * Keeps the endpoint on the latest version even when another process (`trustroll
         * ingest`) published it. A version the endpoint rolled back (it brought new warnings) is
         * not tried again until a newer one is published, as on AWS.
         */
        reconcile: async (state) => {
          const latest = latestPublished(state);
          // A writer that stopped between its state commit and the index's publish (`revoke`,
          // `unrevoke` or `rules` killed) left the index behind the state: the endpoint would
          // go on deciding from the older one. Publishing it again is one HEAD when it is current.
          if (latest?.version)
            await publishIndex(store, state, log).catch((error: Error) =>
              log.error('revocation index not published', { error: error.message }),
            );
          if (rollTargets) return rollTargets(latest);
          const current = (await endpoint.describe(flags.domain)).truststoreVersion;
          if (!latest?.version || latest.version === current || refused.has(latest.version)) return true;
          const roll = await rollDomains(
            latest.version,
            { ...deps, config: deps.config.roll },
            { revision: latest.revision },
          );
          remember(roll);
          return !roll.domains.some((d) => d.outcome === 'failed');
        },
      }),
      new IndexWatch(versions.folderOf(REVOCATION_KEYS.index), {
        pollMs: flags.pollMs,
        wake: () => loop.wake(),
        refresh: async () => {
          for (const p of played) await p.endpoint.refreshIndex();
        },
      }),
    ],
    (step, error) => log.error('pipeline step failed', { step, error: error.message }),
  );

  const scan = async () => {
    try {
      await scanExpiry({ store, clock: systemClock, log, notifier: deps.notifier });
    } catch (error) {
      log.error('expiry scan failed', { error: (error as Error).message });
    }
  };
  await scan();
  const scanTimer = flags.scanHours > 0 ? setInterval(scan, flags.scanHours * 3_600_000) : undefined;

  loop.start();
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  if (scanTimer) clearInterval(scanTimer);
  io.out('\nstopping: finishing the current step…\n');
  await loop.stop();
  await reportServer?.stop();
  for (const p of played) await p.endpoint.stop();
  io.out('stopped.\n');
  return 0;
};

/**
 * The state as last read, read again only when the store says it changed (its stamp): an idle
 * `up` does not parse the state of a large truststore over and over.
 */
class StateCache {
  private cached: { readonly stamp: string; readonly loaded: LoadedState } | undefined;
  constructor(
    private readonly store: ObjectStore,
    private readonly versions: VersionedFolderStore,
  ) {}

  /** The folder the state's versions are written to: watched, to learn of a write at once. */
  get folder(): string {
    return this.versions.folderOf(KEYS.state);
  }

  private stampOf(): Promise<string> {
    return this.versions.stamp(KEYS.state);
  }

  /** The stamp is read first: a state read after it is at least as new as what it stamps. */
  async get(): Promise<{ readonly stamp: string; readonly loaded: LoadedState }> {
    const stamp = await this.stampOf();
    if (this.cached?.stamp !== stamp) this.cached = { stamp, loaded: await loadState(this.store) };
    return this.cached;
  }
}

/**
 * The endpoint's reconciliation step: runs when the state changed (an event on its folder, or its
 * stamp seen changed by the fallback poll), or to retry a roll that failed (with backoff).
 */
class Reconcile implements Step {
  readonly name = 'endpoint';
  private readonly watch: FolderWatch;
  private dirty = true;
  private lastLook = 0;
  private reconciled: string | undefined;
  private readonly backoff = new Backoff();

  constructor(
    private readonly states: StateCache,
    private readonly options: {
      readonly pollMs: number;
      readonly wake: () => void;
      /** True when the endpoint is where it should be (nothing to do, or rolled). */
      readonly reconcile: (state: TruststoreState) => Promise<boolean>;
    },
  ) {
    this.watch = new FolderWatch(states.folder, () => {
      this.dirty = true;
      options.wake();
    });
  }

  due(): number {
    const fallback = this.lastLook + fallbackMs(this.options.pollMs, this.watch.active);
    return Math.max(this.backoff.retryAt, this.dirty || this.backoff.failing ? 0 : fallback);
  }

  async run(now: number): Promise<void> {
    this.dirty = false;
    this.lastLook = now;
    await this.watch.sync();
    const { stamp, loaded } = await this.states.get();
    if (stamp === this.reconciled && !this.backoff.failing) return;
    let ok: boolean;
    try {
      ok = await this.options.reconcile(loaded.state);
    } catch (error) {
      this.backoff.failed();
      throw error;
    }
    if (!ok) {
      this.backoff.failed();
      return;
    }
    this.backoff.succeeded();
    this.reconciled = stamp;
  }

  close(): void {
    this.watch.close();
  }
}

/**
 * Keeps the endpoint's revocation index current: `revoke`, `unrevoke` and `rules` (from another
 * process, or on the same folder) publish a new index without a new truststore version. Events on
 * the index's folder say when to look, and a poll of its stamp (no read of the index) catches
 * what events miss, or all of it while the folder does not exist yet.
 */
class IndexWatch implements Step {
  readonly name = 'revocation index';
  private readonly watch: FolderWatch;
  private dirty = true;
  private lastLook = 0;

  constructor(
    folder: string,
    private readonly options: {
      readonly pollMs: number;
      readonly wake: () => void;
      readonly refresh: () => Promise<void>;
    },
  ) {
    this.watch = new FolderWatch(folder, () => {
      this.dirty = true;
      options.wake();
    });
  }

  due(): number {
    return this.dirty ? 0 : this.lastLook + fallbackMs(this.options.pollMs, this.watch.active);
  }

  async run(now: number): Promise<void> {
    this.dirty = false;
    this.lastLook = now;
    await this.watch.sync();
    await this.options.refresh();
  }

  close(): void {
    this.watch.close();
  }
}

const printWelcome = (
  io: Io,
  flags: UpFlags,
  paths: LocalPaths,
  played: readonly { readonly target?: Target; readonly endpoint: LocalEndpoint }[],
  caPath: string,
  demoDir: string | undefined,
  version: string | undefined,
  reportUrl: string | undefined,
) => {
  const l = layout(paths);
  const url = `https://localhost:${played[0]!.endpoint.port}/`;
  const lines = [
    'trustroll is running in local mode',
    `  inbox      ${paths.inboxDir}/<partner>/   drop CA certificates here (PEM, DER or PKCS#7)`,
    ...played.map(({ target, endpoint }) =>
      target
        ? `  endpoint   https://localhost:${endpoint.port}/   target ${target.id} (wave ${target.wave}): mutual TLS like the custom domain ${target.resource}; truststore version ${endpoint.servedVersion ?? 'none yet'}`
        : `  endpoint   ${url}   mutual TLS like the custom domain ${flags.domain}; truststore version ${version ?? 'none yet'}`,
    ),
    `  outbox     ${l.outbox}   notifications, one JSON line each (also shown below)`,
    `  archive    ${l.archive}/, rejected: ${l.rejected}/ (each upload with a .report.json)`,
    ...(reportUrl
      ? [
          `  report     ${reportUrl}   the truststore as a page (also report.json, truststore.csv), made afresh for each request`,
        ]
      : []),
  ];
  if (demoDir) {
    const curl = (who: string) =>
      `curl --cacert ${caPath} --cert ${demoDir}/${who}.pem --key ${demoDir}/${who}.key ${url}`;
    lines.push(
      '',
      `Try it with the demo PKI in ${demoDir}/:`,
      `  mkdir -p ${paths.inboxDir}/acme && cp ${demoDir}/acme-ca-bundle.pem ${paths.inboxDir}/acme/`,
      `  ${curl('acme-client')}`,
      `  ${curl('stranger-client')}      # refused: unknown CA`,
      `  cp ${demoDir}/acme-client-as-ca.pem ${paths.inboxDir}/acme/     # rejected: a client certificate, not a CA`,
      `  mkdir -p ${paths.inboxDir}/acme/crl && cp ${demoDir}/${DEMO_CRL} ${paths.inboxDir}/acme/crl/   # the CA revokes the demo client: 403`,
    );
  }
  lines.push('', 'Ctrl-C stops.', '');
  io.out(`${lines.join('\n')}\n`);
};

/**
 * One `trustroll up` per data folder: a second one would take over the endpoint's status file
 * (and `status` would follow it, not the endpoint still serving). Refused while the first runs.
 */
const aloneOn = async (paths: LocalPaths): Promise<void> => {
  const files = [singleStatusFile(paths), ...(await targetStatusFiles(paths)).map((t) => t.file)];
  for (const file of files) {
    const status = await file.read().catch(() => undefined);
    if (!status || EndpointStatusFile.gone(status) !== false) continue;
    const { pid } = status as { pid?: number };
    if (pid === process.pid) continue;
    throw new UsageError(
      `another trustroll up (process ${pid}) is running with the data folder ${paths.dataDir}: stop it first (Ctrl-C), or give this one its own --data-dir`,
    );
  }
};

const singleStatusFile = (paths: LocalPaths): EndpointStatusFile =>
  new EndpointStatusFile(join(layout(paths).endpoint, 'status.json'));

/** Routes a domain to the endpoint that plays it (the report shows every endpoint). */
const byDomain = (endpoints: readonly LocalEndpoint[]): DomainGateway => {
  const find = async (domain: string) => {
    for (const e of endpoints) {
      const state = await e.describe(domain).catch(() => undefined);
      if (state) return e;
    }
    return endpoints[0]!;
  };
  return {
    describe: async (domain) => (await find(domain)).describe(domain),
    roll: async (domain, version) => (await find(domain)).roll(domain, version),
  };
};

/**
 * Starts every endpoint. One endpoint starts on the latest version. Target endpoints start where
 * they were (the version their status file names, when it was published), or on none: the
 * rollout then takes them to the latest, canary first, so a restart never skips the canary.
 */
const startEndpoints = async (
  played: readonly {
    readonly target?: Target;
    readonly endpoint: LocalEndpoint;
    readonly status: EndpointStatusFile;
  }[],
  state: TruststoreState,
  latest: string | undefined,
): Promise<void> => {
  const published = new Set(state.history.flatMap((r) => (r.version ? [r.version] : [])));
  const started: LocalEndpoint[] = [];
  try {
    for (const p of played) {
      const before = p.target ? (await p.status.read().catch(() => undefined))?.truststoreVersion : latest;
      await p.endpoint.start(before && published.has(before) ? before : undefined);
      started.push(p.endpoint);
    }
  } catch (error) {
    for (const e of started) await e.stop();
    throw error;
  }
};

/**
 * The rollout of each new version to the targets (`--targets`), as `reconcile` runs it: every
 * target already on the latest: nothing; a version refused before: nothing until a newer one; a
 * version some target cannot take (its limits): refused as a whole, said, nothing rolled; else
 * `runRollout`, wave after wave. A rollout that stopped (rolled back, or failed) refuses its
 * version: it is not tried again until a newer one is published, as for one endpoint.
 */
export const rolloutRunner = (
  config: RolloutConfig,
  ctx: {
    readonly gateway: TargetGateway;
    readonly deps: Pick<IngestDeps, 'clock' | 'log' | 'notifier'>;
    readonly io: Pick<Io, 'out'>;
    readonly paths: LocalPaths;
    readonly refused: Set<string>;
    readonly latest: () => Promise<string | undefined>;
    readonly revisionOf: (version: string) => Promise<number | undefined>;
    readonly truststore: (version: string) => Promise<Uint8Array>;
    readonly resume?: Rollout;
    /** The last rollout's record (an earlier run of up): the version it verified, if any. */
    readonly last?: Rollout;
    /** `up --retry-refused`: a version refused by a resumed rollout is tried again too. */
    readonly retryRefused?: boolean;
  },
) => {
  let resume = ctx.resume;
  let last = ctx.last;
  /** The last rollout that ended: a superseded one hands its unverified targets' "before" on. */
  let previous = ctx.last;
  const { deps, refused } = ctx;
  /** The newest version verified on a target (and not refused since): where targets converge. */
  let verified: { revision: number; version: string } | undefined;
  const noteVerified = async (rollout: Rollout): Promise<void> => {
    const candidates =
      rollout.status === 'succeeded' ||
      (rollout.status === 'superseded' && rollout.targets.some((t) => t.phase === 'rolled'))
        ? [rollout.version]
        : // A stopped rollout took its targets back to the versions they served, verified before.
          rollout.targets.flatMap((t) => (t.phase === 'rolled-back' && t.from ? [t.from] : []));
    for (const version of candidates) {
      const revision = await ctx.revisionOf(version);
      if (revision === undefined || refused.has(version)) continue;
      if (!verified || revision > verified.revision) verified = { revision, version };
    }
  };
  const save = (r: Rollout) => writeRollout(ctx.paths, r);
  // A refused version supersedes nothing: the convergence to the verified version runs to its end.
  const latestVersion = async () => {
    const v = await ctx.latest();
    return v !== undefined && refused.has(v) ? undefined : v;
  };
  const run = async (start: Rollout): Promise<Rollout> => {
    const rollout = await runRollout(
      start,
      { config, gateway: ctx.gateway, clock: deps.clock, log: deps.log, notifier: deps.notifier },
      { latestVersion, save },
    );
    ctx.io.out(rolloutSummary(rollout));
    previous = rollout;
    if (rollout.status === 'rolled-back' || rollout.status === 'failed') {
      refused.add(rollout.version);
      if (verified?.version === rollout.version) verified = undefined;
      deps.log.warn('the targets stay on their previous truststore versions until a newer one is published', {
        refused: rollout.version,
        reason: rollout.reason,
      });
    }
    await noteVerified(rollout);
    return rollout;
  };
  /**
   * After a stopped rollout, targets behind the newest verified version (a superseded rollout
   * that never reached them, a target new in the file) are taken to it, canary first like any
   * version: the targets never stay on mixed versions while a verified one exists.
   */
  const converge = async (): Promise<void> => {
    // Each round after a rollout that stopped; a convergence that stops too (a target fails the
    // version verified elsewhere) refuses that version as well, and the next round takes the
    // targets to the one verified before it — a round at most per version, three in all.
    for (let round = 0; round < 3 && verified && !refused.has(verified.version); round++) {
      const target = verified;
      // The rollout that stopped (its version refused): the convergence record names it.
      const stopped = previous && refused.has(previous.version) ? previous : undefined;
      // After a convergence (not refused itself), the refused rollout it followed is still the one.
      const after: Rollout['after'] = !stopped
        ? previous?.after
        : {
            version: stopped.version,
            revision: stopped.revision,
            status: stopped.status,
            ...(stopped.status === 'succeeded'
              ? {}
              : { wave: stopped.waves[Math.min(stopped.wave, stopped.waves.length - 1)]! }),
            ...(stopped.reason ? { reason: stopped.reason } : {}),
          };
      const serving = await Promise.all(config.targets.map((t) => ctx.gateway.describe(t)));
      const behind: string[] = [];
      for (const [i, s] of serving.entries()) {
        const v = s.truststoreVersion;
        if (v === target.version) continue;
        const revision = v === undefined ? undefined : await ctx.revisionOf(v);
        // Behind it, or on a version refused since (newer or not: it was not verified everywhere).
        if (revision === undefined || revision < target.revision || refused.has(v!))
          behind.push(config.targets[i]!.id);
      }
      if (behind.length === 0) return;
      deps.log.warn('targets behind the last verified truststore version are rolled to it', {
        version: target.version,
        behind,
      });
      const end = await run({
        ...startRollout(config, target, deps.clock.now(), previous),
        ...(after ? { after } : {}),
      });
      if (end.status === 'succeeded') return;
    }
  };
  return async (
    latest: { readonly revision: number; readonly version?: string } | undefined,
  ): Promise<boolean> => {
    if (last) {
      await noteVerified(last);
      last = undefined;
    }
    // First what the last up left running (its roll back, if it was rolling back, included).
    if (resume) {
      // Targets taken out of the file since are forgotten (README): not failed, not waited for.
      const ids = new Set(config.targets.map((t) => t.id));
      const record = { ...resume, targets: resume.targets.filter((t) => ids.has(t.id)) };
      resume = undefined;
      const end = await run(record);
      // up --retry-refused: what the resumed rollout refused (it was rolling back) is tried again.
      if (ctx.retryRefused && refused.delete(end.version))
        deps.log.info('the version the resumed rollout refused is tried again (--retry-refused)', {
          version: end.version,
        });
    }
    const version = latest?.version;
    if (!latest || !version || refused.has(version)) {
      await converge();
      return true;
    }
    const serving = await Promise.all(config.targets.map((t) => ctx.gateway.describe(t)));
    if (serving.every((s) => s.truststoreVersion === version)) return true;
    const refusals = checkLimits(config, { version, truststore: await ctx.truststore(version) });
    if (refusals.length > 0) {
      refused.add(version);
      deps.log.error('truststore version refused by the targets', {
        version,
        refusals: refusals.map((r) => `${r.target}: ${r.finding.code}`),
      });
      await deps.notifier
        .publish(limitsRefusedNotification({ revision: latest.revision, version }, refusals))
        .catch((error: Error) => deps.log.error('notification failed', { error: error.message }));
      return true;
    }
    const end = await run(
      startRollout(config, { revision: latest.revision, version }, deps.clock.now(), previous),
    );
    if (end.status === 'rolled-back' || end.status === 'failed') await converge();
    return true;
  };
};

/**
 * The versions an earlier run of `up` refused, from the last rollout's record: its own version when
 * it stopped, and the version whose stop it followed (a convergence's `after`), so that a restart
 * never rolls a refused version to the canary again.
 */
export const refusedBy = (last: Rollout | undefined): Set<string> => {
  const stopped = (status: string) => status === 'rolled-back' || status === 'failed';
  const refused = new Set<string>();
  if (last && stopped(last.status)) refused.add(last.version);
  if (last?.after && stopped(last.after.status)) refused.add(last.after.version);
  return refused;
};

/** One line per target of an ended rollout, for the console. */
export const rolloutSummary = (r: Rollout): string =>
  `${[
    `rollout of truststore version ${r.version} (revision ${r.revision}): ${r.status}${r.reason ? ` — ${r.reason}` : ''}`,
    ...r.targets.map(
      (t) =>
        `  ${t.wave.padEnd(10)} ${t.id.padEnd(16)} ${t.phase}${t.from ? ` (from ${t.from})` : ''}${t.error ? `: ${t.error}` : ''}`,
    ),
  ]
    .map((line) => printable(line))
    .join('\n')}\n`;

import { ConflictError, NotFoundError, ThrottledError, UpstreamError } from '../errors.js';
import { notification } from '../pipeline/notifications.js';
import type { Clock, Log, Notification, Notifier, ObjectStore } from '../ports.js';
import {
  type ElbCrl,
  type ElbRevocationPlan,
  type LedgerCrl,
  ledgerKey,
  sameCrl,
} from './elb-revocations.js';
import type { Rollout, RolloutConfig, Target, TargetRun } from './model.js';
import { elbCrlFindings } from './targets.js';

/**
 * A CRL sync: a CRL accepted by ingest changes the state's revocation generation but no truststore
 * version, so no rollout starts; without a sync an ELB trust store would get that CRL only with the
 * next version's rollout, and let the clients it revokes in until then. A sync gives every ELB
 * trust store target the CRLs the state holds for the CAs of the version it serves (its ledger's),
 * without ModifyTrustStore, and never touches an API Gateway domain. On AWS it is an execution of
 * the rollout state machine with the input `{ "revocations": { revision, generation } }`, started
 * by ingest under a name made of both (one per change, never twice); its record is
 * `rollouts/crl-<revision>-<generation>.json`, a Rollout with `kind: 'crl-sync'`.
 */

/** A state's revocation change that a sync carries to the trust stores. */
export interface RevocationChange {
  readonly revision: number;
  readonly generation: number;
}

/** The record id (and `rollouts/<id>.json`) of the sync of a revocation change. */
export const crlSyncId = (change: RevocationChange): string => `crl-${change.revision}-${change.generation}`;

/** What a sync needs of the targets: an ELB trust store's revocation files, without its bundle. */
export interface RevocationSyncGateway {
  /**
   * Brings the trust store's revocation files in step with `crls` while it serves `version`
   * (ConflictError when its ledger names another version). Throws RevocationRefusedError when ELB
   * refuses a file, ThrottledError / UpstreamError / ConflictError for what a retry may mend.
   */
  syncRevocations(
    target: Target,
    version: string,
    crls: readonly ElbCrl[],
  ): Promise<{ readonly added: number; readonly removed: number }>;
}

export interface CrlSyncDeps {
  /** The ELB ledger (`rollouts/trust-stores/`): which version each trust store serves, with which CRLs. */
  readonly store: Pick<ObjectStore, 'get'>;
  readonly gateway: RevocationSyncGateway;
  readonly revocations: (version: string) => Promise<ElbRevocationPlan>;
  readonly notifier: Notifier;
  readonly clock: Clock;
  readonly log: Log;
  readonly config: RolloutConfig;
}

/**
 * A new sync of `change` to the ELB trust store targets of `config` (API Gateway targets are not in
 * it), nothing done yet. `version`: the latest published version when it starts (said in status;
 * each trust store gets the CRLs of the version it serves).
 */
export const startCrlSync = (
  config: RolloutConfig,
  change: RevocationChange,
  version: string,
  now: Date,
): Rollout => {
  const at = now.toISOString();
  const targets = config.waves.flatMap((wave) =>
    config.targets
      .filter((t) => t.wave === wave && t.kind === 'elb-trust-store')
      .map(
        (t): TargetRun => ({
          id: t.id,
          wave,
          kind: t.kind,
          resource: t.resource,
          ...(t.region === undefined ? {} : { region: t.region }),
          ...(t.account === undefined ? {} : { account: t.account }),
          phase: 'pending',
          warningsBefore: [],
          newWarnings: [],
          attempts: 0,
        }),
      ),
  );
  return {
    schema: 1,
    id: crlSyncId(change),
    kind: 'crl-sync',
    revision: change.revision,
    generation: change.generation,
    version,
    startedAt: at,
    updatedAt: at,
    status: 'running',
    wave: 0,
    waves: [...config.waves],
    targets,
    lastUpdateByAccount: {},
  };
};

/** Errors a later attempt may mend: the step throws them, and the state machine runs it again. */
const transient = (error: unknown): boolean => {
  if (error instanceof ThrottledError || error instanceof ConflictError) return true;
  if (!(error instanceof UpstreamError)) return false;
  // An upstream 4xx (AccessDenied, a validation error) stays what it is; 5xx and the network do not.
  const status = (error.cause as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata
    ?.httpStatusCode;
  return status === undefined || status >= 500;
};

const readLedger = async (
  store: Pick<ObjectStore, 'get'>,
  arn: string,
): Promise<{ version: string; crls: readonly LedgerCrl[] } | undefined> => {
  try {
    const entry = JSON.parse(new TextDecoder().decode((await store.get(ledgerKey(arn))).body)) as {
      version?: unknown;
      crls?: readonly LedgerCrl[];
    };
    return typeof entry.version === 'string' ? { version: entry.version, crls: entry.crls ?? [] } : undefined;
  } catch (error) {
    if (error instanceof NotFoundError || error instanceof SyntaxError) return undefined;
    throw error;
  }
};

/**
 * Runs a CRL sync to its end in one step (every ELB call answers at once: nothing to wait for).
 * For each ELB trust store target, in wave order:
 * 1. Its ledger says which version it serves; none (trustroll never rolled it): `skipped`, its
 *    first rollout gives it its CRLs.
 * 2. The CRLs the state holds for that version's CAs (`revocations`), checked against ELB's quotas
 *    (elbCrlFindings): a set it cannot take is `failed`, naming the limit, and nothing is sent.
 * 3. The same set as the ledger's: `unchanged`. Otherwise the files are brought in step (the new
 *    ones added, the superseded ones trustroll added removed, files of others never touched):
 *    `rolled`, with `from` its version and what it cannot enforce.
 * 4. A failure a retry may mend (throttled, a 5xx, the ledger changed) is thrown: the state
 *    machine retries the step, and each target already in step is `unchanged` the next time. Any
 *    other failure (a quota, a file ELB refuses, access denied) is `failed`; the others go on.
 * 5. Ends `succeeded`, or `failed` with one `truststore.crls-not-synced` alert per failed target.
 */
export const stepCrlSync = async (sync: Rollout, deps: CrlSyncDeps): Promise<Rollout> => {
  if (sync.status !== 'running') return sync;
  const byId = new Map(deps.config.targets.map((t) => [t.id, t]));
  const runs: TargetRun[] = [];
  for (const run of sync.targets) {
    if (run.phase !== 'pending') {
      runs.push(run);
      continue;
    }
    const target = byId.get(run.id);
    const done = (patch: Partial<TargetRun>): void => {
      runs.push({ ...run, ...patch, since: deps.clock.now().toISOString() });
    };
    if (target?.kind !== 'elb-trust-store') {
      done({
        phase: 'failed',
        error: `target ${run.id} is not an ELB trust store of the targets configuration any more`,
      });
      continue;
    }
    const ledger = await readLedger(deps.store, target.resource);
    if (!ledger) {
      done({
        phase: 'skipped',
        error:
          'trustroll never gave it a truststore version (no ledger): its first rollout gives it its CRLs',
      });
      continue;
    }
    try {
      const plan = await deps.revocations(ledger.version);
      const refused = elbCrlFindings(plan.crls);
      if (refused.length > 0) {
        done({
          phase: 'failed',
          from: ledger.version,
          error: `its CRLs break ELB's quotas, none was sent: ${refused.map((f) => `${f.code}: ${f.message}`).join(' ')}`,
        });
        continue;
      }
      const notEnforced = plan.notEnforced.length > 0 ? { notEnforced: plan.notEnforced } : {};
      const same =
        plan.crls.length === ledger.crls.length &&
        plan.crls.every((c) => ledger.crls.some((h) => sameCrl(h, c)));
      if (same) {
        done({ phase: 'unchanged', from: ledger.version, ...notEnforced });
        continue;
      }
      const { added, removed } = await deps.gateway.syncRevocations(target, ledger.version, plan.crls);
      deps.log.info('trust store CRLs synced', { target: run.id, version: ledger.version, added, removed });
      done({ phase: 'rolled', from: ledger.version, ...notEnforced });
    } catch (error) {
      if (transient(error)) throw error;
      const message = (error as Error).message;
      deps.log.error('trust store CRLs not synced', { target: run.id, error: message });
      done({ phase: 'failed', from: ledger.version, error: message });
    }
  }
  const failed = runs.filter((r) => r.phase === 'failed');
  const ended: Rollout = {
    ...sync,
    updatedAt: deps.clock.now().toISOString(),
    status: failed.length > 0 ? 'failed' : 'succeeded',
    targets: runs,
    ...(failed.length > 0
      ? { reason: `${failed.map((r) => r.id).join(', ')}: CRLs not given (${failed[0]!.error})` }
      : {}),
  };
  deps.log[failed.length > 0 ? 'warn' : 'info']('crl sync ended', {
    sync: sync.id,
    status: ended.status,
    phases: Object.fromEntries(runs.map((r) => [r.id, r.phase])),
  });
  for (const n of crlSyncNotifications(ended, deps.config)) {
    try {
      await deps.notifier.publish(n);
    } catch (error) {
      deps.log.error('notification failed', { id: n.id, error: (error as Error).message });
    }
  }
  return ended;
};

/**
 * One `truststore.crls-not-synced` (error) per trust store a sync could not give its CRLs: the
 * clients the new CRLs revoke are still let in by its load balancers, so it is said at once.
 */
export const crlSyncNotifications = (sync: Rollout, config: RolloutConfig): Notification[] =>
  sync.targets
    .filter((r) => r.phase === 'failed')
    .map((r) => {
      const resource = config.targets.find((t) => t.id === r.id)?.resource ?? r.resource ?? r.id;
      return notification(
        'truststore.crls-not-synced',
        'error',
        `${r.id}:${sync.id}`,
        `${r.id} did not get the CRLs accepted in revision ${sync.revision}`,
        [
          `The CRLs the state holds since revision ${sync.revision} (revocation generation ${sync.generation}) could not be given to ${r.id} (${resource}), an ELB trust store${r.from ? ` serving truststore version ${r.from}` : ''}: ${r.error}.`,
          'It keeps the revocation files it had: the clients the new CRLs revoke are still let in by its load balancers.',
          'Fix what is named (a quota: fewer or smaller CRLs; access: the target role), then start the sync again (aws stepfunctions start-execution with the input {"revocations": {"revision": …, "generation": …}}) or publish a new version: its rollout gives the trust store its CRLs.',
        ],
      );
    });

import type { DomainState } from '../ports.js';

/**
 * A rollout: one truststore version taken to every target, wave after wave. The record is plain
 * JSON: it is the payload a Step Functions execution carries from step to step on AWS, the object
 * `rollouts/<id>.json` that `trustroll status` reads, and what the local driver keeps in memory.
 * Every step reads it, acts, and returns a new one: a step that fails is run again from the last
 * record, and every action it takes can be repeated without harm (an update to the version a
 * target already serves changes nothing).
 */

/** What trustroll can roll a truststore version to. */
export const TARGET_KINDS = ['apigateway-rest', 'apigateway-http', 'elb-trust-store'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

export interface Target {
  /** Unique in the configuration, stable: the name people read in status, logs and alerts. */
  readonly id: string;
  readonly kind: TargetKind;
  /** The custom domain name (API Gateway), or the trust store's ARN (ELB). */
  readonly resource: string;
  /** The wave it is rolled in (a name from `RolloutConfig.waves`). */
  readonly wave: string;
  /** AWS region of the target. Default: the pipeline's own. */
  readonly region?: string;
  /** The AWS account that owns the target: API Gateway paces update calls per account. Default: the pipeline's own. */
  readonly account?: string;
  /** Role to assume in `account` (cross-account), with its external id. */
  readonly roleArn?: string;
  readonly externalId?: string;
  /** A request made through the target after its roll; its failure is a failed verification. */
  readonly probe?: ProbeSpec;
  /** Local mode only: the port of the local endpoint that plays this target (0: a free one). */
  readonly port?: number;
}

export interface ProbeSpec {
  /** `https://…` through the target (mutual TLS with the client certificate below). */
  readonly url: string;
  /** The HTTP status a client of a trusted partner gets. Default 200. */
  readonly expectStatus?: number;
  /** Client certificate and key (PEM files locally; where the deployed prober reads them on AWS). */
  readonly clientCert: string;
  readonly clientKey: string;
}

export interface RolloutSettings {
  /** Pause between reads of a target that is still updating. Default 5 s (local: 100 ms). */
  readonly pollIntervalMs: number;
  /** A target not AVAILABLE again this long after its update failed its roll. Default 5 min. */
  readonly updateTimeoutMs: number;
  /** Minimum pause between two update calls in one account (API Gateway: one per 30 s). */
  readonly minUpdateIntervalMs: number;
  /** Attempts per update call when throttled or in conflict. Default 6. */
  readonly maxAttempts: number;
}

export interface RolloutConfig {
  /** Wave names in the order they are rolled, e.g. ['canary', 'rest']. */
  readonly waves: readonly string[];
  readonly targets: readonly Target[];
  readonly settings: RolloutSettings;
  /**
   * The pipeline's own account id (on AWS, from the construct): a target that names it is paced
   * with the targets that name none — one account, one pace. Unknown locally.
   */
  readonly ownAccount?: string;
}

export type TargetPhase =
  /** Not started: its wave has not come yet. */
  | 'pending'
  /** Waiting for the target to be AVAILABLE before its update (it was updating already). */
  | 'waiting'
  /** Update requested (or about to be, paced); waiting for AVAILABLE on the new version. */
  | 'updating'
  /** AVAILABLE on the new version; warnings compared and the probe being run. */
  | 'verifying'
  | 'rolled'
  /** Already on the version: nothing done. */
  | 'unchanged'
  /** Being taken back to `from` (its verification failed, or a later target's did). */
  | 'rolling-back'
  | 'rolled-back'
  /** Could not be rolled (or rolled back): `error` says why; the rollout stops. */
  | 'failed'
  /** Never started: the rollout stopped, or was superseded, before its wave. */
  | 'skipped';

export interface TargetRun {
  readonly id: string;
  readonly wave: string;
  /**
   * What and where the target is, copied from the configuration when the rollout starts, so that
   * a record is read on its own (the report, `status`). Absent in records written before.
   */
  readonly kind?: TargetKind;
  readonly resource?: string;
  readonly region?: string;
  readonly account?: string;
  /** The target has a probe: `rolled` then means its probe passed on the version. */
  readonly probe?: true;
  readonly phase: TargetPhase;
  /** The version it served before (undefined: none, or unknown for a kind that does not say). */
  readonly from?: string;
  /** Warnings the target reported before its update (API Gateway's truststoreWarnings). */
  readonly warningsBefore: readonly string[];
  /** Warnings the new version brought. */
  readonly newWarnings: readonly string[];
  /** Update attempts made in the current phase (throttling, conflicts). */
  readonly attempts: number;
  /** When the current phase started (ISO): the update timeout counts from here. */
  readonly since?: string;
  /**
   * When the update call of the current phase ('updating', 'rolling-back') was accepted (ISO);
   * absent while it is still to be made (paced, or backing off until `retryAt`).
   */
  readonly requestedAt?: string;
  /** Not before this moment (ISO): the back-off after a throttled or conflicting update call. */
  readonly retryAt?: string;
  /**
   * `from` and `warningsBefore` were carried over from the superseded rollout that updated this
   * target without verifying it: what it serves now is unverified, and is not taken as "before".
   */
  readonly carried?: true;
  /** The target may serve the new version unchecked (it did not come back AVAILABLE in time). */
  readonly unconfirmed?: true;
  /**
   * Revocations the target cannot enforce with the new version (an ELB trust store takes only the
   * CAs' CRLs: not revocations by hand, not identity rules), one phrase each; said in status and in
   * the rollout's alert, never claimed enforced.
   */
  readonly notEnforced?: readonly string[];
  readonly error?: string;
}

export type RolloutStatus =
  | 'running'
  /** Every target rolled or unchanged. */
  | 'succeeded'
  /** A target failed its verification: the rollout stopped and the rolled targets were rolled back. */
  | 'rolled-back'
  /** A failure that left something unconfirmed or not rolled back: a person must look (`error`). */
  | 'failed'
  /** A newer version's rollout took over: this one stopped where it was, nothing rolled back. */
  | 'superseded';

/** Every status and phase, keyed by the types: one left out (or one too many) does not compile. */
const STATUSES: Readonly<Record<RolloutStatus, true>> = {
  running: true,
  succeeded: true,
  'rolled-back': true,
  failed: true,
  superseded: true,
};
const PHASES: Readonly<Record<TargetPhase, true>> = {
  pending: true,
  waiting: true,
  updating: true,
  verifying: true,
  rolled: true,
  unchanged: true,
  'rolling-back': true,
  'rolled-back': true,
  failed: true,
  skipped: true,
};

/** Whether a value read from a record (JSON, maybe edited by hand) is a rollout status. */
export const isRolloutStatus = (v: unknown): v is RolloutStatus =>
  typeof v === 'string' && Object.hasOwn(STATUSES, v);

/** Whether a value read from a record is a target phase. */
export const isTargetPhase = (v: unknown): v is TargetPhase =>
  typeof v === 'string' && Object.hasOwn(PHASES, v);

export interface Rollout {
  readonly schema: 1;
  /**
   * `<revision>-<version>`: one rollout per published version (Step Functions execution name);
   * `crl-<revision>-<generation>` for a CRL sync (`kind`).
   */
  readonly id: string;
  /**
   * `crl-sync`: not a version's rollout but the CRLs of a state's revocation generation given to
   * the ELB trust stores on the version they serve (shared/rollout/crl-sync.ts). Absent: a rollout.
   */
  readonly kind?: 'crl-sync';
  /** A CRL sync's revocation generation (with `revision`, what it is named after). */
  readonly generation?: number;
  readonly revision: number;
  readonly version: string;
  readonly startedAt: string;
  readonly updatedAt: string;
  readonly status: RolloutStatus;
  /** Index into the waves of the configuration: the wave being rolled. */
  readonly wave: number;
  readonly waves: readonly string[];
  readonly targets: readonly TargetRun[];
  /** The last update call per account (ISO), for API Gateway's pace of one call per 30 s. */
  readonly lastUpdateByAccount: Readonly<Record<string, string>>;
  /** Why it stopped, when it did not succeed. */
  readonly reason?: string;
  /**
   * Locally (`trustroll up --targets`), a rollout that takes the targets to the newest verified
   * version after a newer version's rollout stopped: that rollout, as it ended (its version was
   * refused). Status and the report say so, not only that this rollout succeeded.
   */
  readonly after?: {
    readonly version: string;
    readonly revision: number;
    readonly status: RolloutStatus;
    /** The wave it stopped in. */
    readonly wave?: string;
    readonly reason?: string;
  };
}

/** What an update call tells besides success. */
export interface UpdateOutcome {
  /** Revocations the target cannot enforce with this version (see TargetRun.notEnforced). */
  readonly notEnforced?: readonly string[];
}

/** What a target kind says about itself: API Gateway's DomainState, or a trust store's. */
export type TargetState = DomainState;

/** The effects a rollout needs, per target (each adapter routes by the target's kind, region, account). */
export interface TargetGateway {
  describe(target: Target): Promise<TargetState>;
  /**
   * Points the target at `version` (with what goes with it: an ELB trust store's CRLs). `restore`:
   * a roll back to the version it served before, with what went with it then. Throws
   * ThrottledError / ConflictError to be retried later, RevocationRefusedError when the target
   * took the version but refused its revocation files (a failed verification: it is rolled back).
   */
  update(
    target: Target,
    version: string,
    options?: { readonly restore?: boolean },
    // biome-ignore lint/suspicious/noConfusingVoidType: a gateway with nothing to tell returns nothing (the local one, fakes)
  ): Promise<UpdateOutcome | void>;
  /** Runs the target's probe; `ok: false` with what was seen. Only called for targets with a probe. */
  probe(target: Target): Promise<{ readonly ok: boolean; readonly detail: string }>;
  /**
   * The warnings the target would report for `version` were it rolled to it now (the local
   * endpoint judges it; API Gateway judges a version only when a domain is updated to it, so its
   * gateway has none): a warning the version served before would bring now too (a CA of it expired
   * since) is not new.
   */
  warningsNow?(target: Target, version: string): Promise<readonly string[]>;
}

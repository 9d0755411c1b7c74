/**
 * The ports of the core: what a use-case needs from the world. Adapters implement them for AWS
 * (shared/adapters/aws) and for one machine (shared/adapters/local); tests use in-memory fakes.
 */
import type { Severity } from './finding.js';

export interface StoredObject {
  readonly body: Uint8Array;
  /** Version id (S3 object version, or the local store's). */
  readonly version: string;
  readonly etag: string;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface PutOptions {
  /** Write only if the current ETag still equals this (compare-and-set). */
  readonly ifMatch?: string;
  /** Write only if the key does not exist yet. */
  readonly ifNoneMatch?: '*';
  readonly contentType?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  /**
   * Version ids recorded elsewhere (the state's history, lost versions included) that this write
   * must not be given: a store that numbers its versions numbers it above them, even when its
   * own record of the ids it gave is gone. S3's version ids are never reused; it ignores this.
   */
  readonly usedVersions?: readonly string[];
}

export interface ObjectSummary {
  readonly key: string;
  readonly size: number;
  readonly etag: string;
  readonly version?: string;
}

export interface ObjectStore {
  /** Reads an object; `version` pins one version. Throws NotFoundError when absent. */
  get(key: string, opts?: { readonly version?: string }): Promise<StoredObject>;
  /**
   * Writes an object. With `ifMatch` / `ifNoneMatch` the write happens only if the condition still
   * holds, else ConflictError. Returns the new version id and ETag.
   */
  put(key: string, body: Uint8Array, opts?: PutOptions): Promise<{ version: string; etag: string }>;
  /** Deletes the current object (a delete marker where versioned); absent keys are not an error. */
  delete(key: string): Promise<void>;
  /**
   * Destroys an object for good: version `upTo` and every older version and delete marker of
   * `key` (every version without `upTo`), so no noncurrent copy of its bytes is left behind.
   * Newer versions stay: they are uploads of their own. Absent keys and versions are not an error.
   */
  destroy(key: string, opts?: { readonly upTo?: string }): Promise<void>;
  /** Lists current objects under a prefix. */
  list(prefix: string): Promise<ObjectSummary[]>;
  /**
   * Size, version and ETag of the current object (or of `version`) without reading it.
   * Throws NotFoundError.
   */
  head(
    key: string,
    opts?: { readonly version?: string },
  ): Promise<
    ObjectSummary & { readonly version: string; readonly metadata?: Readonly<Record<string, string>> }
  >;
  /** Copies the current object to another key (server-side where the store can). */
  copy(from: string, to: string): Promise<void>;
  /**
   * Every version id of a key, oldest first, delete markers flagged. Stores that keep one
   * version (a plain folder) do not offer it; `trustroll repair` needs it.
   */
  versions?(key: string): Promise<{ readonly version: string; readonly deleted: boolean }[]>;
}

export type DomainStatus = 'AVAILABLE' | 'UPDATING' | 'PENDING' | 'FAILED' | string;

export interface DomainState {
  readonly name: string;
  readonly status: DomainStatus;
  readonly truststoreUri?: string;
  readonly truststoreVersion?: string;
  /** `truststoreWarnings` as API Gateway reports them after an update. */
  readonly warnings: readonly string[];
}

/** An API Gateway custom domain (or the local endpoint that plays one). */
export interface DomainGateway {
  /** Current status, truststore version and warnings. Throws NotFoundError for unknown domains. */
  describe(domain: string): Promise<DomainState>;
  /** Points the domain at a truststore version. Throws ThrottledError when asked to slow down. */
  roll(domain: string, version: string): Promise<void>;
}

/** Every kind of notification (the SNS `eventType` attribute subscribers filter on). */
export const EVENT_TYPES = [
  'upload.accepted',
  'upload.rejected',
  'upload.private-key',
  'upload.pending',
  'truststore.rolled',
  'truststore.roll-failed',
  'truststore.roll-superseded',
  'truststore.revocations-not-enforced',
  'truststore.crls-not-synced',
  'truststore.pruned',
  'truststore.removed',
  'truststore.restored',
  'truststore.promoted',
  'truststore.drift',
  'ca.expiring',
  'ca.expired',
  'crl.accepted',
  'crl.rejected',
  'crl.stale',
  'revocation.changed',
  'handshake.refused',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface Notification {
  /** Stable id: the same event re-sent (a retried run) carries the same id, so it can be deduplicated. */
  readonly id: string;
  readonly eventType: EventType;
  readonly severity: Severity;
  readonly partner?: string;
  /** At most 100 characters (SNS e-mail subject). */
  readonly subject: string;
  /** Plain text a person can act on from an e-mail. */
  readonly body: string;
}

export interface Notifier {
  /**
   * Sends it, or throws: a notification that failed stays in the state's outbox for the next run.
   * `DeferredDelivery` says the channel cannot be reached from here (the CLI on an S3 store): it
   * stays in the outbox for the pipeline's next run to send, and nothing failed.
   */
  publish(notification: Notification): Promise<void>;
}

/** Thrown by a notifier that leaves its notifications to the pipeline's next run (see `Notifier`). */
export class DeferredDelivery extends Error {
  override readonly name = 'DeferredDelivery';
}

export interface Clock {
  now(): Date;
  sleep(ms: number): Promise<void>;
}

export interface Log {
  debug(message: string, data?: Record<string, unknown>): void;
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };

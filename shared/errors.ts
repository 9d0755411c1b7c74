/**
 * The small error hierarchy of trustroll. Bad input is usually a finding; these are for the cases
 * where an operation cannot go on. Each carries the underlying error (an SDK error, an fs error)
 * as `cause`.
 */

/** The caller gave something unusable (a malformed key, an unknown option); the message says what to fix. */
export class InputError extends Error {
  override readonly name: string = 'InputError';
}

/**
 * A change of the CA set that would make the truststore fail trustroll's own lint: refused before
 * anything is committed, so no version failing lint is ever published.
 */
export class LintRefusedError extends InputError {
  override readonly name = 'LintRefusedError';
}

/** A compare-and-set lost a race: re-read and try again. */
export class ConflictError extends Error {
  override readonly name = 'ConflictError';
}

/** The object, version or domain does not exist. */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

/** A dependency (S3, API Gateway, SNS, the file system) failed. */
export class UpstreamError extends Error {
  override readonly name: string = 'UpstreamError';
}

/**
 * A target took the update call but refused what goes with the version (an ELB trust store
 * refusing a CRL file: invalid content, too many revoked entries, the object not found): a failed
 * verification of that target, which the rollout rolls back.
 */
export class RevocationRefusedError extends Error {
  override readonly name = 'RevocationRefusedError';
}

/** A dependency asked us to slow down (API Gateway's one update per 30 s); retry after a pause. */
export class ThrottledError extends UpstreamError {
  override readonly name = 'ThrottledError';
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * The store does not hold what trustroll wrote (a truncated state, a truststore version deleted by
 * hand). Nothing more is written until it is repaired by an explicit command; the message names
 * what is damaged, where, and what to do.
 */
export class DamagedStoreError extends Error {
  override readonly name = 'DamagedStoreError';
}

/**
 * A read refused for good (the file's permissions, S3's 403 for a foreign KMS key or a policy), as
 * opposed to one that may work when retried (throttled, a 5xx, too many open files).
 */
export const readRefused = (error: UpstreamError): boolean => {
  const cause = error.cause as { code?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return ['EACCES', 'EPERM'].includes(cause?.code ?? '') || cause?.$metadata?.httpStatusCode === 403;
};

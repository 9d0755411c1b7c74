import { ConflictError, NotFoundError, ThrottledError, UpstreamError } from '../../errors.js';

interface SdkError {
  readonly name?: string;
  readonly Code?: string;
  readonly message?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
  readonly $response?: { readonly headers?: Record<string, string> };
}

/**
 * Maps an AWS SDK error to the port's error hierarchy, keeping the SDK error as `cause`:
 * 404/NoSuchKey/TrustStoreNotFoundException → NotFoundError, 412/409 (precondition, conditional conflict, ConflictException)
 * → ConflictError, 429/TooManyRequests/Throttling → ThrottledError, anything else → UpstreamError.
 */
export const mapAwsError = (error: unknown, what: string): Error => {
  const e = error as SdkError;
  const status = e.$metadata?.httpStatusCode;
  const name = e.name ?? e.Code ?? '';
  const message = `${what}: ${name || 'error'}${e.message ? ` (${e.message})` : ''}`;
  if (
    [
      'NoSuchKey',
      'NotFound',
      'NoSuchVersion',
      'NotFoundException',
      'NoSuchBucket',
      'TrustStoreNotFoundException',
      'StateMachineDoesNotExist',
    ].includes(name) ||
    status === 404
  ) {
    return new NotFoundError(message, { cause: error });
  }
  if (
    ['PreconditionFailed', 'ConditionalRequestConflict', 'ConflictException'].includes(name) ||
    status === 412 ||
    status === 409
  ) {
    return new ConflictError(message, { cause: error });
  }
  // ELB and STS (query protocol) say `Throttling`.
  if (
    ['TooManyRequestsException', 'ThrottlingException', 'Throttling', 'SlowDown'].includes(name) ||
    status === 429
  ) {
    const retryAfter = Number(e.$response?.headers?.['retry-after']);
    return new ThrottledError(message, Number.isFinite(retryAfter) ? retryAfter * 1000 : undefined, {
      cause: error,
    });
  }
  return new UpstreamError(message, { cause: error });
};

import type { SQSRecord } from 'aws-lambda';
import { RUN_REQUEST } from '../../shared/adapters/aws/run-requests.js';
import { InputError, NotFoundError } from '../../shared/errors.js';
import type { ObjectStore } from '../../shared/ports.js';

/** The EventBridge "Object Created" event S3 sends, as it arrives in an SQS message body. */
interface ObjectCreated {
  readonly 'detail-type'?: string;
  readonly source?: string;
  readonly detail?: {
    readonly bucket?: { readonly name?: string };
    readonly object?: { readonly key?: string; readonly 'version-id'?: string };
    /** The S3 request id of the write (the `x-amz-request-id` the uploader was answered with). */
    readonly 'request-id'?: string;
  };
}

export type ParsedRecord =
  | {
      readonly ok: true;
      readonly kind: 'object';
      readonly messageId: string;
      /** The object the event names: the key as sent, or its URL-decoded form (see keyForms). */
      readonly keys: readonly string[];
      readonly version?: string;
      readonly s3RequestId?: string;
    }
  | { readonly ok: true; readonly kind: 'run'; readonly messageId: string; readonly from: string }
  | { readonly ok: false; readonly messageId: string; readonly reason: string };

/** Decodes a key the way classic S3 event notifications encode it (URL encoding, space as "+"). */
export const decodeS3Key = (key: string): string => decodeURIComponent(key.replace(/\+/g, ' '));

/**
 * The keys an S3 event's `key` may stand for. AWS documents URL-encoding for classic S3 event
 * notifications, while its EventBridge "Object Created" examples show keys raw; a real key may
 * hold "+" or "%" itself. So both forms are candidates, as sent first, and the event's version id
 * tells which one names the object (resolveObjectKey).
 */
export const keyForms = (key: string): string[] => {
  let decoded: string | undefined;
  try {
    decoded = decodeS3Key(key);
  } catch {
    // Not valid URL encoding ("100%.pem"): only the key as sent can be the object.
  }
  return decoded === undefined || decoded === key ? [key] : [key, decoded];
};

/** Parses one SQS record: an S3 → EventBridge "Object Created" event, or a trustroll roll request. */
export const parseRecord = (record: SQSRecord, bucket: string): ParsedRecord => {
  let event: ObjectCreated;
  try {
    event = JSON.parse(record.body) as ObjectCreated;
  } catch {
    return { ok: false, messageId: record.messageId, reason: 'body is not JSON' };
  }
  if (!event || typeof event !== 'object' || Array.isArray(event)) {
    return { ok: false, messageId: record.messageId, reason: 'body is not a JSON object' };
  }
  if (event.source === RUN_REQUEST.source && event['detail-type'] === RUN_REQUEST.detailType) {
    const from = (event.detail as { from?: unknown } | undefined)?.from;
    return {
      ok: true,
      kind: 'run',
      messageId: record.messageId,
      from: typeof from === 'string' ? from : '?',
    };
  }
  const key = event.detail?.object?.key;
  if (
    event['detail-type'] !== 'Object Created' ||
    event.source !== 'aws.s3' ||
    typeof key !== 'string' ||
    !key
  ) {
    return { ok: false, messageId: record.messageId, reason: 'not an S3 "Object Created" event' };
  }
  if (event.detail?.bucket?.name !== bucket) {
    return {
      ok: false,
      messageId: record.messageId,
      reason: `event for bucket ${event.detail?.bucket?.name}, not ${bucket}`,
    };
  }
  const version = event.detail.object?.['version-id'];
  const requestId = event.detail['request-id'];
  return {
    ok: true,
    kind: 'object',
    messageId: record.messageId,
    keys: keyForms(key),
    ...(typeof version === 'string' && version ? { version } : {}),
    ...(typeof requestId === 'string' && requestId ? { s3RequestId: requestId } : {}),
  };
};

/**
 * The one key of `keys` that names the object: the first whose `version` exists (the current
 * object when the event carries no version). When none does (the version was handled and
 * destroyed already, or never existed), the key as sent: ingest then finds nothing to do.
 */
export const resolveObjectKey = async (
  keys: readonly string[],
  version: string | undefined,
  store: Pick<ObjectStore, 'head'>,
): Promise<string> => {
  if (keys.length > 1) {
    for (const key of keys) {
      try {
        await store.head(key, version ? { version } : {});
        return key;
      } catch (error) {
        if (!(error instanceof NotFoundError || error instanceof InputError)) throw error;
      }
    }
  }
  return keys[0]!;
};

/**
 * The correlation id of an ingest run: the S3 request ids of the writes that started it,
 * comma-separated (an uploader who kept the `x-amz-request-id` of its PutObject finds the run
 * with it), as Powertools' own path for S3 events takes the request ids of the records.
 */
export const batchCorrelationId = (records: readonly ParsedRecord[]): string | undefined => {
  const ids = [
    ...new Set(records.flatMap((r) => (r.ok && r.kind === 'object' && r.s3RequestId ? [r.s3RequestId] : []))),
  ];
  return ids.length > 0 ? ids.join(',') : undefined;
};

/**
 * What EventBridge Scheduler sends the expiry scan (the construct's schedule target input):
 * its context attributes, so that each attempt can be told apart in the logs.
 */
export interface ScanEvent {
  readonly 'execution-id'?: string;
  readonly 'scheduled-time'?: string;
  readonly 'attempt-number'?: string;
}

import type { SQSRecord } from 'aws-lambda';
import type { UploadRef } from '../../shared/pipeline/ingest.js';

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
      readonly messageId: string;
      readonly upload: UploadRef;
      readonly s3RequestId?: string;
    }
  | { readonly ok: false; readonly messageId: string; readonly reason: string };

/** S3 event keys are URL-encoded, with spaces as "+": decode them before using them as keys. */
export const decodeS3Key = (key: string): string => decodeURIComponent(key.replace(/\+/g, ' '));

/** Parses one SQS record carrying an S3 → EventBridge "Object Created" event. */
export const parseRecord = (record: SQSRecord, bucket: string): ParsedRecord => {
  let event: ObjectCreated;
  try {
    event = JSON.parse(record.body) as ObjectCreated;
  } catch {
    return { ok: false, messageId: record.messageId, reason: 'body is not JSON' };
  }
  const key = event.detail?.object?.key;
  if (event['detail-type'] !== 'Object Created' || event.source !== 'aws.s3' || !key) {
    return { ok: false, messageId: record.messageId, reason: 'not an S3 "Object Created" event' };
  }
  if (event.detail?.bucket?.name !== bucket) {
    return {
      ok: false,
      messageId: record.messageId,
      reason: `event for bucket ${event.detail?.bucket?.name}, not ${bucket}`,
    };
  }
  let decoded: string;
  try {
    decoded = decodeS3Key(key);
  } catch {
    return {
      ok: false,
      messageId: record.messageId,
      reason: `object key "${key}" is not valid URL encoding`,
    };
  }
  const version = event.detail.object?.['version-id'];
  const requestId = event.detail['request-id'];
  return {
    ok: true,
    messageId: record.messageId,
    upload: { key: decoded, ...(version ? { version } : {}) },
    ...(typeof requestId === 'string' && requestId ? { s3RequestId: requestId } : {}),
  };
};

/**
 * The correlation id of an ingest run: the S3 request ids of the writes that started it,
 * comma-separated (an uploader who kept the `x-amz-request-id` of its PutObject finds the run
 * with it), as Powertools' own path for S3 events takes the request ids of the records.
 */
export const batchCorrelationId = (records: readonly ParsedRecord[]): string | undefined => {
  const ids = [...new Set(records.flatMap((r) => (r.ok && r.s3RequestId ? [r.s3RequestId] : [])))];
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

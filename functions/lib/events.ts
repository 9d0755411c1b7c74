import type { SQSRecord } from 'aws-lambda';
import type { UploadRef } from '../../shared/pipeline/ingest.js';

/** The EventBridge "Object Created" event S3 sends, as it arrives in an SQS message body. */
interface ObjectCreated {
  readonly 'detail-type'?: string;
  readonly source?: string;
  readonly detail?: {
    readonly bucket?: { readonly name?: string };
    readonly object?: { readonly key?: string; readonly 'version-id'?: string };
  };
}

export type ParsedRecord =
  | { readonly ok: true; readonly messageId: string; readonly upload: UploadRef }
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
  return { ok: true, messageId: record.messageId, upload: { key: decoded, ...(version ? { version } : {}) } };
};

import type { Message } from '@aws-sdk/client-sqs';
import type { Context, SQSRecord } from 'aws-lambda';

/**
 * Lambda's side of the integration tests: invocation contexts and SQS event records in the
 * shapes AWS documents (the Lambda SQS event, the EventBridge "Object Created" event of S3).
 */

/** A context whose remaining time counts down from `budgetMs`, as Lambda's does. */
export const lambdaContext = (budgetMs: number, name = 'trustroll-ingest'): Context => {
  const start = Date.now();
  return {
    functionName: name,
    functionVersion: '$LATEST',
    awsRequestId: `req-${start}`,
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${name}`,
    memoryLimitInMB: '512',
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: 'stream',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, budgetMs - (Date.now() - start)),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  } as Context;
};

/**
 * The EventBridge "Object Created" event S3 sends (AWS's documented example shape), with the key
 * as given: raw, as the EventBridge examples show it, or URL-encoded, as classic notifications do.
 */
export const objectCreated = (bucket: string, key: string, versionId: string | undefined, id: string) => ({
  version: '0',
  id: `evt-${id}`,
  'detail-type': 'Object Created',
  source: 'aws.s3',
  account: '123456789012',
  time: '2026-12-02T12:00:00Z',
  region: 'us-east-1',
  resources: [`arn:aws:s3:::${bucket}`],
  detail: {
    version: '0',
    bucket: { name: bucket },
    object: { key, size: 100, etag: 'x', ...(versionId ? { 'version-id': versionId } : {}), sequencer: '00' },
    'request-id': `req-${id}`,
    requester: '123456789012',
    'source-ip-address': '203.0.113.7',
    reason: 'PutObject',
  },
});

/** How classic S3 event notifications encode a key: URL encoding, spaces as "+". */
export const encodeS3Key = (key: string) => encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');

/** One record of the Lambda SQS event for a FIFO queue, around a body. */
export const sqsRecord = (
  messageId: string,
  body: unknown,
  queueArn = 'arn:aws:sqs:us-east-1:123456789012:trustroll.fifo',
): SQSRecord => ({
  messageId,
  receiptHandle: `rh-${messageId}`,
  body: typeof body === 'string' ? body : JSON.stringify(body),
  attributes: {
    ApproximateReceiveCount: '1',
    SentTimestamp: String(Date.now()),
    SenderId: 'AIDAEXAMPLE',
    ApproximateFirstReceiveTimestamp: String(Date.now()),
    MessageGroupId: 'truststore',
    SequenceNumber: '18849496460467696128',
    MessageDeduplicationId: messageId,
  },
  messageAttributes: {},
  md5OfBody: '',
  eventSource: 'aws:sqs',
  eventSourceARN: queueArn,
  awsRegion: 'us-east-1',
});

/** What Lambda's event source mapping makes of a message it received from the queue. */
export const recordOf = (m: Message, queueArn?: string): SQSRecord => ({
  ...sqsRecord(m.MessageId!, m.Body!, queueArn),
  receiptHandle: m.ReceiptHandle!,
  attributes: { ...sqsRecord(m.MessageId!, '').attributes, ...(m.Attributes as object) },
});

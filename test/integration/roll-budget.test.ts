import { PutObjectCommand } from '@aws-sdk/client-s3';
import { DeleteMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { rollWorstCaseMs } from '../../shared/pipeline/roll.js';
import { root } from '../fixtures/pki.js';
import { deniedCalls, SynthesizedStack } from './access.js';
import { emulator, fifoQueue, receiveAll, topicWithQueue, versionedBucket } from './aws.js';
import { lambdaContext, objectCreated, recordOf, sqsRecord } from './lambda.js';
import { AwsRecorder } from './recorder.js';

/**
 * Twelve domains, with API Gateway's waits shortened by configuration: no invocation may run
 * past its time budget, and every domain must end on the latest version, through follow-up
 * roll requests on the ingest queue.
 */
const aws = emulator();
const recorder = new AwsRecorder(aws.endpoint);
const DOMAINS = Array.from({ length: 12 }, (_, i) => `d${String(i + 1).padStart(2, '0')}.example.com`);
/** What each invocation gets from Lambda, and how long the fake domains stay UPDATING. */
const BUDGET_MS = 16_000;
const UPDATING_MS = 1_000;
const TIMING = {
  TRUSTROLL_UPDATE_TIMEOUT_MS: '3000',
  TRUSTROLL_POLL_INTERVAL_MS: '100',
  TRUSTROLL_MIN_UPDATE_INTERVAL_MS: '100',
  TRUSTROLL_UPDATE_ATTEMPTS: '1',
};
let bucket: string;
let stack: SynthesizedStack;
let queue: { url: string; arn: string };
let handler: (e: SQSEvent, c: unknown) => Promise<SQSBatchResponse>;

beforeAll(async () => {
  bucket = await versionedBucket(aws.s3);
  const topic = await topicWithQueue(aws);
  queue = await fifoQueue(aws.sqs);
  await recorder.start();
  stack = new SynthesizedStack(
    { domains: DOMAINS.map((name, i) => ({ name, type: i % 2 === 0 ? 'REST' : 'HTTP' })) },
    { bucket, topicArn: topic.topicArn, queue },
  );
  for (const [i, name] of DOMAINS.entries())
    recorder.apiGateway.add(name, i % 2 === 0 ? 'REST' : 'HTTP', {
      uri: `s3://${bucket}/truststore/truststore.pem`,
    });
  recorder.apiGateway.updatingMs = UPDATING_MS;
  Object.assign(process.env, stack.environment('ingest'), TIMING, {
    TRUSTROLL_AWS_ENDPOINT: recorder.endpoint,
    AWS_REGION: 'us-east-1',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  });
  vi.resetModules();
  handler = (await import('../../functions/ingest/handler.js')).handler as never;
});

afterAll(async () => {
  await recorder.stop();
});

describe('rolling many domains within Lambda time budgets', () => {
  it('never runs an invocation past its budget, and ends with every domain on the latest version', async () => {
    const worstCase = rollWorstCaseMs({
      updateTimeoutMs: 3000,
      pollIntervalMs: 100,
      minUpdateIntervalMs: 100,
      maxAttempts: 1,
    });
    // One domain's worst case fits into a budget; twelve rolls do not fit into what is left of it.
    expect(worstCase).toBeLessThan(BUDGET_MS / 2);
    expect(DOMAINS.length * UPDATING_MS).toBeGreaterThan(BUDGET_MS - worstCase);

    const ca = await root('CN=Budget Root,O=Budget', { now: new Date() });
    const written = await aws.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'inbox/budget/root.pem', Body: ca.pem }),
    );
    let records = [
      sqsRecord('first', objectCreated(bucket, 'inbox/budget/root.pem', written.VersionId, 'b1')),
    ];
    const invocations: { ms: number; budget: number }[] = [];
    while (records.length > 0) {
      expect(invocations.length).toBeLessThan(12);
      recorder.take();
      const started = Date.now();
      const result = await handler({ Records: records }, lambdaContext(BUDGET_MS));
      invocations.push({ ms: Date.now() - started, budget: BUDGET_MS });
      expect(result.batchItemFailures).toEqual([]);
      expect(await deniedCalls(stack, 'ingest', recorder.take())).toEqual([]);
      // What the event source mapping delivers next: the follow-up roll requests.
      const messages = await receiveAll(aws.sqs, queue.url);
      for (const m of messages)
        await aws.sqs.send(
          new DeleteMessageCommand({ QueueUrl: queue.url, ReceiptHandle: m.ReceiptHandle! }),
        );
      records = messages.map((m) => recordOf(m, queue.arn));
      for (const r of records)
        expect(JSON.parse(r.body)).toMatchObject({ source: 'trustroll', 'detail-type': 'Run Requested' });
    }
    expect(invocations.length).toBeGreaterThan(1);
    for (const i of invocations) expect(i.ms).toBeLessThan(i.budget);
    const latest = recorder.apiGateway.domains.get(DOMAINS[0]!)!.versions.at(-1);
    expect(latest).toBeTruthy();
    for (const name of DOMAINS) expect(recorder.apiGateway.domains.get(name)!.versions).toEqual([latest]);
  }, 120_000);
});

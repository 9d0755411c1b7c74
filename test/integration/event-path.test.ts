import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import {
  GetObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketNotificationConfigurationCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFunctions } from '../../scripts/build-functions.js';
import { readInput } from '../../shared/pki/read.js';
import { root } from '../fixtures/pki.js';
import { deniedCalls, SynthesizedStack } from './access.js';
import { emulator, receiveAll, topicWithQueue, unique, versionedBucket } from './aws.js';
import { lambdaContext, recordOf } from './lambda.js';
import { AwsRecorder } from './recorder.js';

/**
 * The event path over the wire: the bucket's EventBridge notifications, the rule and its FIFO
 * target are set up in the emulator from the synthesized template (not retyped); real objects are
 * uploaded; the messages that arrive are fed to the bundled ingest handler, as Lambda would.
 */
const aws = emulator();
const recorder = new AwsRecorder(aws.endpoint);
const outdir = mkdtempSync(join(tmpdir(), 'trustroll-event-path-'));
let bucket: string;
let stack: SynthesizedStack;
let queue: { url: string; arn: string };
let handler: (e: SQSEvent, c: unknown) => Promise<SQSBatchResponse>;

const KEYS = [
  'inbox/acme/a b+c%d:e.pem',
  'inbox/acme/ca#2026 (renewal).pem',
  'inbox/Müller GmbH/Zertifikat ✓.pem',
  'inbox/acme/a+b%2Bc.pem',
];

beforeAll(async () => {
  bucket = await versionedBucket(aws.s3);
  const topic = await topicWithQueue(aws);
  await recorder.start();
  // The ingest queue as the template declares it (FIFO, content-based deduplication).
  const name = `${unique('uploads')}.fifo`;
  const probe = new SynthesizedStack(
    { domains: [{ name: 'api.example.com' }] },
    {
      bucket,
      topicArn: topic.topicArn,
      queue: { url: '', arn: '' },
    },
  );
  const queueProps = Object.values(probe.resources).find(
    (r) => r.Type === 'AWS::SQS::Queue' && r.Properties?.ContentBasedDeduplication === true,
  )!.Properties!;
  const { QueueUrl } = await aws.sqs.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: {
        FifoQueue: String(queueProps.FifoQueue),
        ContentBasedDeduplication: String(queueProps.ContentBasedDeduplication),
      },
    }),
  );
  const arn = (await aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] })))
    .Attributes!.QueueArn!;
  queue = { url: QueueUrl!, arn };
  stack = new SynthesizedStack(
    { domains: [{ name: 'api.example.com' }] },
    { bucket, topicArn: topic.topicArn, queue },
  );

  // S3 → EventBridge, as the construct's notification resource configures the bucket.
  const notifications = Object.values(stack.resources).find(
    (r) => r.Type === 'Custom::S3BucketNotifications',
  )!;
  await aws.s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: bucket,
      NotificationConfiguration: notifications.Properties!.NotificationConfiguration as never,
    }),
  );
  // The rule and its target, from the template.
  const events = new EventBridgeClient({
    endpoint: aws.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  const rule = Object.values(stack.resources).find((r) => r.Type === 'AWS::Events::Rule')!;
  const pattern = stack.resolve(rule.Properties!.EventPattern);
  const ruleName = unique('uploads');
  await events.send(new PutRuleCommand({ Name: ruleName, EventPattern: JSON.stringify(pattern) }));
  const [target] = stack.resolve(rule.Properties!.Targets) as {
    Id: string;
    Arn: string;
    SqsParameters: object;
  }[];
  expect(target!.Arn).toBe(queue.arn);
  await events.send(
    new PutTargetsCommand({
      Rule: ruleName,
      Targets: [{ Id: target!.Id, Arn: target!.Arn, SqsParameters: target!.SqsParameters as never }],
    }),
  );

  // The bundled handler (the very bytes the construct deploys: test/infra/bundling.test.ts).
  const built = await buildFunctions(outdir, ['REST']);
  recorder.apiGateway.add('api.example.com', 'REST', { uri: `s3://${bucket}/truststore/truststore.pem` });
  Object.assign(process.env, stack.environment('ingest'), {
    TRUSTROLL_AWS_ENDPOINT: recorder.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    TRUSTROLL_MIN_UPDATE_INTERVAL_MS: '0',
    TRUSTROLL_POLL_INTERVAL_MS: '100',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  });
  handler = (await import(pathToFileURL(built.ingest!).href)).handler;
}, 180_000);

afterAll(async () => {
  await recorder.stop();
  rmSync(outdir, { recursive: true, force: true });
});

/** Lambda's event source mapping: batches of up to 10 from the queue, failures left for a retry. */
const deliver = async (): Promise<number> => {
  let batches = 0;
  for (;;) {
    const messages = await receiveAll(aws.sqs, queue.url);
    if (messages.length === 0) return batches;
    for (let i = 0; i < messages.length; i += 10) {
      const batch = messages.slice(i, i + 10);
      recorder.take();
      const result = await handler(
        { Records: batch.map((m) => recordOf(m, queue.arn)) },
        lambdaContext(900_000),
      );
      expect(await deniedCalls(stack, 'ingest', recorder.take())).toEqual([]);
      expect(result.batchItemFailures).toEqual([]);
      for (const m of batch)
        await aws.sqs.send(
          new DeleteMessageCommand({ QueueUrl: queue.url, ReceiptHandle: m.ReceiptHandle! }),
        );
      batches++;
    }
  }
};

describe('S3 → EventBridge → SQS FIFO → bundled ingest handler', () => {
  it('delivers raw keys in the truststore message group, and the bundle ingests each one', async () => {
    const written: Record<string, string> = {};
    for (const [i, key] of KEYS.entries()) {
      const ca = await root(`CN=Wire Root ${i},O=Wire`, { now: new Date() });
      written[key] = (await aws.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: ca.pem })))
        .VersionId!;
    }
    // An object outside inbox/ and requests/ matches no rule.
    await aws.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'notes/readme.txt', Body: 'x' }));
    const arrived = await receiveAll(aws.sqs, queue.url);
    expect(arrived.map((m) => JSON.parse(m.Body!).detail.object.key).sort()).toEqual([...KEYS].sort());
    expect(new Set(arrived.map((m) => m.Attributes?.MessageGroupId))).toEqual(new Set(['truststore']));
    // Received but not handled: back to the queue for the event source mapping below.
    for (const m of arrived)
      await aws.sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: queue.url,
          ReceiptHandle: m.ReceiptHandle!,
          VisibilityTimeout: 0,
        }),
      );

    expect(await deliver()).toBeGreaterThan(0);
    for (const key of KEYS) {
      const listed = await aws.s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: `archive/${key.slice('inbox/'.length)}@` }),
      );
      const reportKey = (listed.Contents ?? []).map((o) => o.Key!).find((k) => k.endsWith('.report.json'))!;
      const report = JSON.parse(
        await (
          await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: reportKey }))
        ).Body!.transformToString(),
      );
      expect(report).toMatchObject({ key, version: written[key], outcome: 'accepted' });
    }
    const inbox = await aws.s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: 'inbox/' }));
    expect([...(inbox.Versions ?? []), ...(inbox.DeleteMarkers ?? [])]).toEqual([]);
    const truststore = await aws.s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: 'truststore/truststore.pem' }),
    );
    const served = readInput({
      name: 't',
      bytes: await truststore.Body!.transformToByteArray(),
    }).certificates;
    expect(served).toHaveLength(KEYS.length);
    expect(recorder.apiGateway.domains.get('api.example.com')!.versions.at(-1)).toBe(truststore.VersionId);
    // The archive and reports the handler wrote raise no event of their own.
    expect(await receiveAll(aws.sqs, queue.url)).toEqual([]);
    const listed = await aws.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'archive/' }));
    expect(listed.KeyCount).toBe(KEYS.length * 2);
  });
});

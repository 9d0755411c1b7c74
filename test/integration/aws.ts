import { CreateBucketCommand, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { inject } from 'vitest';

/** Clients pointed at the moto server the global setup started, with fake credentials. */
export const emulator = () => {
  const endpoint = inject('motoEndpoint');
  process.env.AWS_ACCESS_KEY_ID = 'testing';
  process.env.AWS_SECRET_ACCESS_KEY = 'testing';
  process.env.AWS_REGION = 'us-east-1';
  const common = {
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  };
  return {
    endpoint,
    s3: new S3Client({ ...common, forcePathStyle: true }),
    sns: new SNSClient(common),
    sqs: new SQSClient(common),
  };
};

let counter = 0;
export const unique = (prefix: string) => `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`;

export const versionedBucket = async (s3: S3Client): Promise<string> => {
  const bucket = unique('trustroll-test');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(
    new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }),
  );
  return bucket;
};

/** A topic with an SQS queue subscribed (optionally filtered), to read what was published. */
export const topicWithQueue = async (
  clients: ReturnType<typeof emulator>,
  filterPolicy?: Record<string, string[]>,
): Promise<{ topicArn: string; queueUrl: string }> => {
  const { TopicArn } = await clients.sns.send(new CreateTopicCommand({ Name: unique('alerts') }));
  const queueUrl = await subscribedQueue(clients, TopicArn!, filterPolicy);
  return { topicArn: TopicArn!, queueUrl };
};

export const subscribedQueue = async (
  clients: ReturnType<typeof emulator>,
  topicArn: string,
  filterPolicy?: Record<string, string[]>,
): Promise<string> => {
  const { QueueUrl } = await clients.sqs.send(new CreateQueueCommand({ QueueName: unique('inbox') }));
  const attrs = await clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  await clients.sns.send(
    new SubscribeCommand({
      TopicArn: topicArn,
      Protocol: 'sqs',
      Endpoint: attrs.Attributes!.QueueArn!,
      ...(filterPolicy ? { Attributes: { FilterPolicy: JSON.stringify(filterPolicy) } } : {}),
    }),
  );
  return QueueUrl!;
};

export interface Received {
  readonly Subject: string;
  readonly Message: string;
  readonly MessageAttributes: Record<string, { Type: string; Value: string }>;
}

/**
 * Drains the queue: SNS envelopes as they arrived in SQS, each deleted once received. (Received but
 * not deleted, a message comes back after the visibility timeout: on a slow machine a later drain,
 * 30 s on, would count an old alert twice.)
 */
export const drain = async (sqs: SQSClient, queueUrl: string): Promise<Received[]> => {
  const out: Received[] = [];
  for (;;) {
    const r = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if (!r.Messages?.length) return out;
    for (const m of r.Messages) out.push(JSON.parse(m.Body!) as Received);
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: r.Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
      }),
    );
  }
};

/** A FIFO queue with content-based deduplication, like the construct's ingest queue. */
export const fifoQueue = async (sqs: SQSClient): Promise<{ url: string; arn: string }> => {
  const { QueueUrl } = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${unique('uploads')}.fifo`,
      Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'true' },
    }),
  );
  const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
  return { url: QueueUrl!, arn: attrs.Attributes!.QueueArn! };
};

/** Every message waiting in a queue, received once each (with the attributes Lambda sees). */
export const receiveAll = async (sqs: SQSClient, queueUrl: string) => {
  const out: import('@aws-sdk/client-sqs').Message[] = [];
  for (;;) {
    const r = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        VisibilityTimeout: 300,
        AttributeNames: ['All'],
      }),
    );
    if (!r.Messages?.length) return out;
    out.push(...r.Messages);
  }
};

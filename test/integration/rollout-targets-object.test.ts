import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Target } from '../../shared/rollout/model.js';
import { deniedCalls, REGION, SynthesizedStack } from './access.js';
import { emulator, fifoQueue, topicWithQueue, versionedBucket } from './aws.js';
import { type AwsCall, AwsRecorder } from './recorder.js';

/**
 * A targets file too large for Lambda's 4 KB environment: the construct has a custom resource
 * write it into the bucket at deploy time and names the object in TRUSTROLL_TARGETS_KEY. Here the
 * object is put as that custom resource's template asks (moto), the rollout step function starts
 * cold against it, and its one read is evaluated against the IAM the template grants.
 */
const aws = emulator();
const recorder = new AwsRecorder(aws.endpoint);
const targets: Target[] = Array.from({ length: 40 }, (_, i) => ({
  id: `api-${i}`,
  kind: 'apigateway-rest',
  resource: `api-${i}.partners.example.com`,
  wave: i < 2 ? 'canary' : 'rest',
}));

let stack: SynthesizedStack;
let env: Record<string, string>;
let bucket: string;

/** The S3 call the custom resource makes at deploy (its `Create`, resolved as CloudFormation would). */
const deployTimePut = (): { action: string; parameters: Record<string, string> } => {
  const [resource] = Object.values(stack.resources).filter((r) => r.Type === 'Custom::AWS');
  return JSON.parse(stack.resolve(resource!.Properties!.Create!) as string);
};

beforeAll(async () => {
  bucket = await versionedBucket(aws.s3);
  const topic = await topicWithQueue(aws);
  const queue = await fifoQueue(aws.sqs);
  await recorder.start();
  stack = new SynthesizedStack({ targets }, { bucket, topicArn: topic.topicArn, queue });
  env = stack.environment('rollout');
});

afterAll(async () => {
  await recorder.stop();
  for (const k of Object.keys(env ?? {})) delete process.env[k];
});

describe('a targets file too large for the environment', () => {
  it('is written by the deploy, read once by the step function at cold start, and that read is allowed', async () => {
    expect(env.TRUSTROLL_TARGETS).toBeUndefined();
    const put = deployTimePut();
    expect(put.action).toBe('putObject');
    expect(put.parameters.Bucket).toBe(bucket);
    expect(put.parameters.Key).toBe(env.TRUSTROLL_TARGETS_KEY);
    expect(JSON.parse(put.parameters.Body!).targets).toHaveLength(40);
    await aws.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: put.parameters.Key, Body: put.parameters.Body }),
    );

    Object.assign(process.env, env, {
      TRUSTROLL_AWS_ENDPOINT: recorder.endpoint,
      AWS_REGION: REGION,
      POWERTOOLS_LOG_LEVEL: 'WARN',
      POWERTOOLS_METRICS_DISABLED: 'true',
    });
    recorder.take();
    vi.resetModules();
    const rollout = await import('../../functions/rollout/handler.js');
    expect(typeof rollout.stepHandler).toBe('function');
    const calls: AwsCall[] = recorder.take();
    expect(calls).toEqual([
      expect.objectContaining({ service: 's3', operation: 'GetObject', key: env.TRUSTROLL_TARGETS_KEY }),
    ]);
    expect(await deniedCalls(stack, 'rollout', calls)).toEqual([]);
    expect(await deniedCalls(stack.without('s3:GetObject'), 'rollout', calls)).toEqual([
      expect.stringContaining('needs s3:GetObject'),
    ]);
  });

  it('stops the cold start with the reason when the object is not a targets file', async () => {
    await aws.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: env.TRUSTROLL_TARGETS_KEY, Body: '{"waves": [' }),
    );
    vi.resetModules();
    await expect(import('../../functions/rollout/handler.js')).rejects.toThrow(
      /trustroll rollout is misconfigured: .*config\/targets-/,
    );
  });
});

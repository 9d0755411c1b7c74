import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import middy from '@middy/core';
import { S3ObjectStore } from '../../shared/adapters/aws/s3-store.js';
import { SnsNotifier } from '../../shared/adapters/aws/sns-notifier.js';
import { AwsTargets } from '../../shared/adapters/aws/targets.js';
import { type Clock, systemClock } from '../../shared/ports.js';
import {
  type DurableStepEvent,
  type DurableStepOutput,
  durableStep,
} from '../../shared/rollout/durable-step.js';
import { elbRevocationPlan } from '../../shared/rollout/elb-revocations.js';
import type { RolloutConfig } from '../../shared/rollout/model.js';
import { parseRolloutConfigText } from '../../shared/rollout/targets.js';
import { KEYS } from '../../shared/truststore/state.js';
import { clientOptions, powertoolsLog, s3Options } from '../lib/clients.js';
import { ConfigError } from '../lib/config-error.js';
import { checkedTargets, readRolloutConfig } from '../lib/rollout-config.js';

const env = process.env;
const config = readRolloutConfig(env);
const logger = new Logger({ serviceName: 'trustroll' });
const log = powertoolsLog(logger);
const store = new S3ObjectStore(new S3Client(s3Options(env)), config.bucket);
const notifier = new SnsNotifier(new SNSClient(clientOptions(env)), config.topicArn);

/** The targets, from the environment or (a large file) the bucket, read once per cold start. */
const read: RolloutConfig = config.targets ?? (await readTargetsObject(config.targetsKey!));
const targets: RolloutConfig = /^\d{12}$/.test(env.TRUSTROLL_ACCOUNT ?? '')
  ? { ...read, ownAccount: env.TRUSTROLL_ACCOUNT! }
  : read;

async function readTargetsObject(key: string): Promise<RolloutConfig> {
  try {
    const text = new TextDecoder().decode((await store.get(key)).body);
    return checkedTargets(parseRolloutConfigText(text, { source: `s3://${config.bucket}/${key}` }));
  } catch (error) {
    throw new ConfigError(`trustroll rollout is misconfigured: ${(error as Error).message}.`, {
      cause: error,
    });
  }
}

/** The CRLs an ELB trust store gets with a version, and what it cannot enforce. */
const revocations = (version: string) => elbRevocationPlan(store, version);

const gateway = new AwsTargets({
  truststoreUri: `s3://${config.bucket}/${KEYS.truststore}`,
  region: config.region,
  store,
  clientOptions: clientOptions(env),
  revocations,
});

/**
 * One step of a rollout (a Step Functions task of the construct's state machine): the use-case
 * `durableStep` over the pipeline's bucket, topic and targets. The state machine retries a step
 * that fails, from the same input.
 */
export const stepHandler =
  (clock: Clock) =>
  (event: DurableStepEvent): Promise<DurableStepOutput> =>
    durableStep(event, {
      store,
      gateway,
      notifier,
      clock,
      log,
      config: targets,
      revocations,
      revocationSync: gateway,
      // The report again when a rollout ends: its rollouts section says how it ended.
      report: { label: `s3://${config.bucket}/`, thresholds: config.expiryThresholds },
    });

/** The step with Lambda's clock (tests drive `stepHandler` with a fake one). */
export const lambdaHandler = stepHandler(systemClock);

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger, { clearState: true }));

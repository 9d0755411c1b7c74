import { Logger } from '@aws-lambda-powertools/logger';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { apiGatewayDomains } from '../../shared/adapters/aws/api-gateway.js';
import { SFNClient, SfnRollouts } from '../../shared/adapters/aws/rollout-executions.js';
import { SqsRunRequests } from '../../shared/adapters/aws/run-requests.js';
import { S3ObjectStore } from '../../shared/adapters/aws/s3-store.js';
import { SnsNotifier } from '../../shared/adapters/aws/sns-notifier.js';
import { type DomainGateway, systemClock } from '../../shared/ports.js';
import { KEYS } from '../../shared/truststore/state.js';
import { clientOptions, powertoolsLog, s3Options } from './clients.js';
import { type FunctionConfig, readConfig } from './config.js';
import { pipelineMetrics } from './metrics.js';

export { powertoolsLog } from './clients.js';

/**
 * What every handler needs, built once per cold start: configuration (validated, failing the init
 * with a clear message), logger, metrics, the S3 store, the SNS notifier, the roll requests and,
 * with a rollout state machine, the starter of its executions.
 * `TRUSTROLL_AWS_ENDPOINT` points the clients at an emulator (tests).
 */
export const wire = (env: NodeJS.ProcessEnv = process.env) => {
  const config: FunctionConfig = readConfig(env);
  const logger = new Logger({ serviceName: 'trustroll' });
  const metrics = pipelineMetrics(env);
  const common = clientOptions(env);
  const store = new S3ObjectStore(new S3Client(s3Options(env)), config.bucket);
  const notifier = new SnsNotifier(new SNSClient(common), config.topicArn);
  const runRequests = config.queueUrl
    ? new SqsRunRequests(new SQSClient(common), config.queueUrl)
    : undefined;
  const rollouts = config.stateMachineArn
    ? new SfnRollouts(new SFNClient(common), config.stateMachineArn)
    : undefined;
  return {
    config,
    logger,
    metrics,
    store,
    notifier,
    runRequests,
    rollouts,
    clock: systemClock,
    log: powertoolsLog(logger),
    common,
  };
};

export type Wiring = ReturnType<typeof wire>;

/** The API Gateway domains of the configuration (only the SDK clients their kinds need). */
export const wireGateway = (w: Wiring): DomainGateway =>
  apiGatewayDomains(w.config.domains, `s3://${w.config.bucket}/${KEYS.truststore}`, w.common);

/**
 * Asks for an ingest run through the queue (see SqsRunRequests). Without a queue configured
 * nothing could do that work: an error, not a silence.
 */
export const requestRun = async (
  w: Wiring,
  request: { reason: string; from: string; domains?: readonly string[]; version?: string },
): Promise<void> => {
  if (!w.runRequests)
    throw new Error(`an ingest run is needed (${request.reason}) but TRUSTROLL_QUEUE_URL is not set`);
  await w.runRequests.request({ ...request, at: w.clock.now() });
  w.logger.info('ingest run requested', { ...request });
};

import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { apiGatewayDomains } from '../../shared/adapters/aws/api-gateway.js';
import { SqsRollRequests } from '../../shared/adapters/aws/roll-requests.js';
import { S3ObjectStore } from '../../shared/adapters/aws/s3-store.js';
import { SnsNotifier } from '../../shared/adapters/aws/sns-notifier.js';
import { type DomainGateway, type Log, systemClock } from '../../shared/ports.js';
import { KEYS } from '../../shared/truststore/state.js';
import { type FunctionConfig, readConfig } from './config.js';

/** The Log port over Powertools Logger: constant messages, details as attributes. */
export const powertoolsLog = (logger: Logger): Log => ({
  debug: (message, data) => logger.debug(message, data ?? {}),
  info: (message, data) => logger.info(message, data ?? {}),
  warn: (message, data) => logger.warn(message, data ?? {}),
  error: (message, data) => logger.error(message, data ?? {}),
});

/**
 * What every handler needs, built once per cold start: configuration (validated, failing the init
 * with a clear message), logger, metrics, the S3 store, the SNS notifier and the roll requests.
 * `TRUSTROLL_AWS_ENDPOINT` points the clients at an emulator (tests).
 */
export const wire = (env: NodeJS.ProcessEnv = process.env) => {
  const config: FunctionConfig = readConfig(env);
  const logger = new Logger({ serviceName: 'trustroll' });
  const metrics = new Metrics({ namespace: 'trustroll', serviceName: 'trustroll' });
  const endpoint = env.TRUSTROLL_AWS_ENDPOINT;
  // A call that hangs must not eat the invocation's time budget (the roll reserves its worst case).
  const requestHandler = { connectionTimeout: 5_000, requestTimeout: 30_000 };
  const common = { requestHandler, ...(endpoint ? { endpoint } : {}) };
  const store = new S3ObjectStore(
    new S3Client({ ...common, ...(endpoint ? { forcePathStyle: true } : {}) }),
    config.bucket,
  );
  const notifier = new SnsNotifier(new SNSClient(common), config.topicArn);
  const rollRequests = config.queueUrl
    ? new SqsRollRequests(new SQSClient(common), config.queueUrl)
    : undefined;
  return {
    config,
    logger,
    metrics,
    store,
    notifier,
    rollRequests,
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
 * Hands the domains a run could not roll in time to a follow-up run (a roll request on the ingest
 * queue). Without a queue configured nothing could finish them: that is an error, not a silence.
 */
export const requestFollowUp = async (
  w: Wiring,
  domains: readonly string[],
  version: string | undefined,
  from: string,
): Promise<void> => {
  if (!w.rollRequests) {
    throw new Error(`domains ${domains.join(', ')} wait for a roll but TRUSTROLL_QUEUE_URL is not set`);
  }
  await w.rollRequests.request({ domains, ...(version ? { version } : {}), from, at: w.clock.now() });
  w.logger.info('follow-up roll requested', { domains, version });
};

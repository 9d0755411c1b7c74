import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { apiGatewayDomains } from '../../shared/adapters/aws/api-gateway.js';
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
 * with a clear message), logger, metrics, the S3 store and the SNS notifier.
 * `TRUSTROLL_AWS_ENDPOINT` points the clients at an emulator (tests).
 */
export const wire = (env: NodeJS.ProcessEnv = process.env) => {
  const config: FunctionConfig = readConfig(env);
  const logger = new Logger({ serviceName: 'trustroll' });
  const metrics = new Metrics({ namespace: 'trustroll', serviceName: 'trustroll' });
  const endpoint = env.TRUSTROLL_AWS_ENDPOINT;
  const common = endpoint ? { endpoint } : {};
  const store = new S3ObjectStore(
    new S3Client({ ...common, ...(endpoint ? { forcePathStyle: true } : {}) }),
    config.bucket,
  );
  const notifier = new SnsNotifier(new SNSClient(common), config.topicArn);
  return { config, logger, metrics, store, notifier, clock: systemClock, log: powertoolsLog(logger), common };
};

export type Wiring = ReturnType<typeof wire>;

/** The API Gateway domains of the configuration (only the SDK clients their kinds need). */
export const wireGateway = (w: Wiring): DomainGateway =>
  apiGatewayDomains(w.config.domains, `s3://${w.config.bucket}/${KEYS.truststore}`, w.common);

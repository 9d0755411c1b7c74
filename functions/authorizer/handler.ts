import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { S3Client } from '@aws-sdk/client-s3';
import middy from '@middy/core';
import type {
  APIGatewayAuthorizerResult,
  APIGatewayRequestAuthorizerEvent,
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerWithContextResult,
} from 'aws-lambda';
import { S3ObjectStore } from '../../shared/adapters/aws/s3-store.js';
import { systemClock } from '../../shared/ports.js';
import { Door, type DoorOutcome } from '../../shared/revocation/authorizer.js';
import { readAuthorizerConfig } from '../lib/authorizer-config.js';
import { powertoolsLog, s3Options } from '../lib/clients.js';
import { METRIC, pipelineMetrics } from '../lib/metrics.js';

// Only the S3 client: this function runs before every API request, so its cold start is the
// API's, and it reads one object (the revocation index) and nothing else.
const config = readAuthorizerConfig(process.env);
const logger = new Logger({ serviceName: 'trustroll' });
const metrics = pipelineMetrics(process.env);
const door = new Door(
  {
    store: new S3ObjectStore(new S3Client(s3Options(process.env)), config.bucket),
    clock: systemClock,
    log: powertoolsLog(logger),
  },
  config,
);
// The index is read during the init phase, not by the first request; a failure is logged and
// retried by the requests (which fail closed meanwhile), never a failed init.
await door.warm();

type RestEvent = APIGatewayRequestAuthorizerEvent;
type HttpEvent = APIGatewayRequestAuthorizerEventV2;
type Context = Record<string, string>;

/**
 * API Gateway's Lambda authorizer (REQUEST type) for REST APIs and HTTP APIs (payload format
 * 2.0, simple responses): the client certificate of the mTLS handshake and the route, decided
 * by the door (revoked? stale CRL? the partner's pins and routes?). REST gets an IAM policy for
 * the method (an explicit Deny: API Gateway answers 403), HTTP APIs `isAuthorized`. The
 * integration receives the partner and the certificate as `$context.authorizer.*`.
 */
export const lambdaHandler = async (
  event: RestEvent | HttpEvent,
): Promise<APIGatewayAuthorizerResult | APIGatewaySimpleAuthorizerWithContextResult<Context>> => {
  const http = isHttpEvent(event);
  const pem = http
    ? event.requestContext?.authentication?.clientCert?.clientCertPem
    : event.requestContext?.identity?.clientCert?.clientCertPem;
  const route = http
    ? httpRoute(event)
    : event.httpMethod && event.path
      ? `${event.httpMethod} ${event.path}`
      : undefined;
  const outcome = await door.decide(pem ?? undefined, route);
  report(outcome, route, http ? 'HTTP' : 'REST');
  const context = contextOf(outcome);
  if (http) return { isAuthorized: outcome.decision === 'allow', context };
  return {
    principalId: outcome.context?.certSha256 || 'unknown-client',
    policyDocument: {
      Version: '2012-10-17',
      Statement: [
        {
          Action: 'execute-api:Invoke',
          Effect: outcome.decision === 'allow' ? 'Allow' : 'Deny',
          Resource: event.methodArn,
        },
      ],
    },
    context,
  };
};

/** Payload format 2.0 says so; a REST REQUEST event has no `version`. */
const isHttpEvent = (event: RestEvent | HttpEvent): event is HttpEvent =>
  (event as HttpEvent).version === '2.0';

/** `METHOD /path` of an HTTP API request: the raw path, else the route key unless it is `$default`. */
const httpRoute = (event: HttpEvent): string | undefined => {
  const method = event.requestContext?.http?.method;
  if (method && event.rawPath) return `${method} ${event.rawPath}`;
  if (event.routeKey && event.routeKey !== '$default') return event.routeKey;
  return undefined;
};

/**
 * What the integration reads as `$context.authorizer.<name>` (strings only: API Gateway's rule).
 * A deny carries its reason codes and what is known of the client, for the access log.
 */
const contextOf = (outcome: DoorOutcome): Context => {
  const c = outcome.context;
  if (outcome.decision === 'allow') return c ? { ...c } : {};
  return {
    reason: outcome.reasons.map((r) => r.code).join(','),
    ...(c ? { certSha256: c.certSha256, subject: c.subject, partner: c.partner } : {}),
  };
};

const report = (outcome: DoorOutcome, route: string | undefined, api: 'REST' | 'HTTP') => {
  const details = {
    api,
    route,
    partner: outcome.partner,
    certSha256: outcome.context?.certSha256,
    subject: outcome.context?.subject,
    indexVersion: outcome.indexVersion,
    reasons: outcome.reasons,
  };
  if (outcome.decision === 'allow') {
    metrics.addMetric(METRIC.authorizerAllow, MetricUnit.Count, 1);
    if (outcome.reasons.length > 0) logger.warn('client allowed with notes', details);
    else logger.debug('client allowed', details);
  } else {
    metrics.addMetric(METRIC.authorizerDeny, MetricUnit.Count, 1);
    if (outcome.reasons.some((r) => r.code === 'cert.missing' || r.code === 'index.unavailable'))
      logger.error('client denied', details);
    else logger.info('client denied', details);
  }
};

export const handler = middy(lambdaHandler)
  .use(injectLambdaContext(logger, { clearState: true }))
  .use(logMetrics(metrics, { captureColdStartMetric: true }));

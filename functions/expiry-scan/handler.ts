import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { type ScanReport, scanExpiry } from '../../shared/pipeline/scan.js';
import { KEYS } from '../../shared/truststore/state.js';
import { invocationDeadline, rollSettings } from '../lib/config.js';
import type { ScanEvent } from '../lib/events.js';
import { requestFollowUp, wire, wireGateway } from '../lib/wiring.js';

const w = wire();
// The scan reads the domains to report drift; it rolls them only after pruning.
const gateway = w.config.domains.length > 0 ? wireGateway(w) : undefined;

/**
 * The daily schedule (EventBridge Scheduler) → one expiry scan of the truststore. When it prunes,
 * the domains it had no time to roll go to the ingest function as a roll request.
 */
export const lambdaHandler = async (
  event: ScanEvent | null | undefined,
  context: Pick<Context, 'getRemainingTimeInMillis'>,
): Promise<Omit<ScanReport, 'entries' | 'alerts'> & { alerts: number }> => {
  const deadline = invocationDeadline(context.getRemainingTimeInMillis(), w.clock.now());
  // The Scheduler execution id tells the attempts of one scheduled run apart (a retry gets a new one).
  const executionId = event?.['execution-id'];
  if (typeof executionId === 'string' && executionId) w.logger.setCorrelationId(executionId);
  w.logger.info('expiry scan started', {
    scheduledTime: event?.['scheduled-time'],
    attempt: event?.['attempt-number'],
  });
  const report = await scanExpiry({
    store: w.store,
    clock: w.clock,
    log: w.log,
    notifier: w.notifier,
    ...(gateway ? { gateway } : {}),
    config: {
      thresholds: w.config.expiryThresholds,
      prune: w.config.pruneExpired,
      truststoreUri: `s3://${w.config.bucket}/${KEYS.truststore}`,
      roll: { ...rollSettings(w.config), deadline },
    },
  });
  const deferred = report.roll?.deferred ?? [];
  if (deferred.length > 0) await requestFollowUp(w, deferred, report.version, 'expiry-scan');
  w.metrics.addMetric('CertificatesInTruststore', MetricUnit.Count, report.certificates);
  if (report.nearestExpiryDays !== undefined) {
    w.metrics.addMetric('DaysToNearestExpiry', MetricUnit.Count, report.nearestExpiryDays);
  }
  const { entries: _entries, alerts, ...summary } = report;
  return { ...summary, alerts: alerts.length };
};

export const handler = middy(lambdaHandler)
  .use(injectLambdaContext(w.logger, { clearState: true }))
  .use(logMetrics(w.metrics, { captureColdStartMetric: true }));

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { type ScanReport, scanExpiry } from '../../shared/pipeline/scan.js';
import { crlSyncId } from '../../shared/rollout/crl-sync.js';
import { hasRecord } from '../../shared/rollout/records.js';
import { KEYS } from '../../shared/truststore/state.js';
import { rollSettings } from '../lib/config.js';
import type { ScanEvent } from '../lib/events.js';
import { emitPartnerExpiry, emitRoll, METRIC } from '../lib/metrics.js';
import { requestRun, wire, wireGateway } from '../lib/wiring.js';

const w = wire();
// The scan reads the domains to report drift; the ingest function rolls them.
const gateway = w.config.domains.length > 0 ? wireGateway(w) : undefined;

/**
 * The daily schedule (EventBridge Scheduler) → one expiry scan of the truststore. The scan never
 * updates a domain itself (its 5-minute timeout is shorter than one roll's worst case): after a
 * prune, and when uploads waiting for their issuer are due, it asks the ingest function for a run.
 */
export const lambdaHandler = async (
  event: ScanEvent | null | undefined,
): Promise<Omit<ScanReport, 'entries' | 'alerts'> & { alerts: number }> => {
  // The Scheduler execution id tells the attempts of one scheduled run apart (a retry gets a new one).
  const executionId = event?.['execution-id'];
  if (typeof executionId === 'string' && executionId) w.logger.setCorrelationId(executionId);
  w.logger.info('expiry scan started', {
    scheduledTime: event?.['scheduled-time'],
    attempt: event?.['attempt-number'],
  });
  const report = await scanExpiry({
    store: w.store,
    label: `s3://${w.config.bucket}/`,
    clock: w.clock,
    log: w.log,
    notifier: w.notifier,
    ...(gateway ? { gateway } : {}),
    config: {
      thresholds: w.config.expiryThresholds,
      prune: w.config.pruneExpired,
      truststoreUri: `s3://${w.config.bucket}/${KEYS.truststore}`,
      roll: rollSettings(w.config),
      rollAfterPrune: false,
    },
  });
  const reasons = [
    // A pruned version is rolled by the ingest function: inline, or by starting its rollout.
    ...(report.pruned.length > 0 && (w.config.domains.length > 0 || w.config.stateMachineArn)
      ? ['pruned']
      : []),
    ...(report.pendingDue > 0 ? ['pending window ended'] : []),
    // The ingest function starts a CRL sync a run of it committed (its retries and every later
    // run look too); should none come, the daily scan asks for one: a sync is late by a day at most.
    ...(w.config.crlSync && report.crlChange && !(await hasRecord(w.store, crlSyncId(report.crlChange)))
      ? ['CRL sync not started']
      : []),
    // Likewise the rollout of the latest version (StartExecution failed until the batch's message
    // went to the dead-letter queue): the run asked for starts it (once: its execution name).
    ...(w.config.stateMachineArn &&
    report.release &&
    !(await hasRecord(w.store, `${report.release.revision}-${report.release.version}`))
      ? ['rollout not started']
      : []),
  ];
  if (reasons.length > 0) {
    await requestRun(w, {
      reason: reasons.join(', '),
      from: 'expiry-scan',
      ...(report.version ? { version: report.version } : {}),
    });
  }
  w.metrics.addMetric(METRIC.certificates, MetricUnit.Count, report.certificates);
  w.metrics.addMetric(METRIC.truststoreBytes, MetricUnit.Bytes, report.truststoreBytes);
  if (report.nearestExpiryDays !== undefined) {
    w.metrics.addMetric(METRIC.daysToNearestExpiry, MetricUnit.Count, report.nearestExpiryDays);
  }
  emitPartnerExpiry(w.metrics, report.entries);
  emitRoll(w.metrics, report.roll);
  const { entries: _entries, alerts, ...summary } = report;
  return { ...summary, alerts: alerts.length };
};

export const handler = middy(lambdaHandler)
  .use(injectLambdaContext(w.logger, { clearState: true }))
  .use(logMetrics(w.metrics, { captureColdStartMetric: true }));

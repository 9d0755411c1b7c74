import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { ScheduledEvent } from 'aws-lambda';
import { type ScanReport, scanExpiry } from '../../shared/pipeline/scan.js';
import { wire } from '../lib/wiring.js';

const w = wire();

/** The daily schedule (EventBridge Scheduler) → one expiry scan of the truststore. */
export const lambdaHandler = async (_event: ScheduledEvent): Promise<Omit<ScanReport, 'entries'>> => {
  const report = await scanExpiry({ store: w.store, clock: w.clock, log: w.log });
  w.metrics.addMetric('CertificatesInTruststore', MetricUnit.Count, report.certificates);
  if (report.nearestExpiryDays !== undefined) {
    w.metrics.addMetric('DaysToNearestExpiry', MetricUnit.Count, report.nearestExpiryDays);
  }
  const { entries: _entries, ...summary } = report;
  return summary;
};

export const handler = middy(lambdaHandler)
  .use(injectLambdaContext(w.logger, { clearState: true }))
  .use(logMetrics(w.metrics, { captureColdStartMetric: true }));

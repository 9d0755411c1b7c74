import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { ingestUploads } from '../../shared/pipeline/ingest.js';
import { handleRemovalRequests, REQUESTS_PREFIX } from '../../shared/pipeline/lifecycle.js';
import { rollSettings } from '../lib/config.js';
import { batchCorrelationId, parseRecord } from '../lib/events.js';
import { wire, wireGateway } from '../lib/wiring.js';

const w = wire();
const gateway = wireGateway(w);
const roll = rollSettings(w.config);

/**
 * SQS (FIFO) batch of S3 "Object Created" events from EventBridge → one ingest run for the batch.
 * Records that could not be finished are reported as batch item failures; on a FIFO queue, every
 * record after the first failure is reported too, so order within the message group holds.
 */
export const lambdaHandler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const parsed = event.Records.map((r) => parseRecord(r, w.config.bucket));
  const correlationId = batchCorrelationId(parsed);
  if (correlationId) w.logger.setCorrelationId(correlationId);
  w.logger.info('batch received', {
    records: parsed.map((p) =>
      p.ok
        ? { messageId: p.messageId, key: p.upload.key, version: p.upload.version, s3RequestId: p.s3RequestId }
        : { messageId: p.messageId, unusable: p.reason },
    ),
  });
  for (const p of parsed)
    if (!p.ok) w.logger.error('unusable record', { messageId: p.messageId, reason: p.reason });
  // Removal requests (requests/) come through the same queue, after the uploads of the batch.
  const isRequest = (p: (typeof parsed)[number]) => p.ok && p.upload.key.startsWith(REQUESTS_PREFIX);
  const uploadRecords = parsed.filter((p) => p.ok && !isRequest(p));
  const uploads = uploadRecords.flatMap((p) => (p.ok ? [p.upload] : []));
  const requests = parsed.flatMap((p) => (p.ok && isRequest(p) ? [p.upload.key] : []));
  const failed = new Set(parsed.filter((p) => !p.ok).map((p) => p.messageId));
  try {
    const report = await ingestUploads(uploads, {
      store: w.store,
      gateway,
      notifier: w.notifier,
      clock: w.clock,
      log: w.log,
      config: {
        expiringDays: w.config.expiringDays,
        maxUploadBytes: w.config.maxUploadBytes,
        pendingWindowMs: w.config.pendingWindowMs,
        roll,
      },
    });
    const count = (outcome: string) => report.uploads.filter((u) => u.outcome === outcome).length;
    w.metrics.addMetric('UploadsAccepted', MetricUnit.Count, count('accepted'));
    w.metrics.addMetric('UploadsRejected', MetricUnit.Count, count('rejected') + count('private-key'));
    w.metrics.addMetric('CertificatesInTruststore', MetricUnit.Count, report.certificates);
    if (report.nearestExpiryDays !== undefined) {
      w.metrics.addMetric('DaysToNearestExpiry', MetricUnit.Count, report.nearestExpiryDays);
    }
    // An upload left in the inbox (its move failed) is retried: the next run finishes the move.
    // report.uploads starts with this batch's uploads (uploads waiting for their issuer follow).
    for (const [i, u] of report.uploads.slice(0, uploadRecords.length).entries()) {
      if (u.outcome !== 'missing' && u.outcome !== 'pending' && !u.movedTo)
        failed.add(uploadRecords[i]!.messageId);
    }
    if (requests.length > 0) {
      const handled = await handleRemovalRequests(requests, {
        store: w.store,
        gateway,
        notifier: w.notifier,
        clock: w.clock,
        log: w.log,
        roll,
      });
      w.logger.info('removal requests handled', { outcomes: handled.map((h) => `${h.key}: ${h.outcome}`) });
    }
    w.logger.info('ingest finished', {
      changed: report.changed,
      revision: report.revision,
      errors: report.errors,
    });
  } catch (error) {
    w.logger.error('ingest failed', { error: error as Error });
    return { batchItemFailures: event.Records.map((r) => ({ itemIdentifier: r.messageId })) };
  }
  const first = event.Records.findIndex((r) => failed.has(r.messageId));
  const retry = first < 0 ? [] : event.Records.slice(first);
  return { batchItemFailures: retry.map((r) => ({ itemIdentifier: r.messageId })) };
};

export const handler = middy(lambdaHandler)
  .use(injectLambdaContext(w.logger, { clearState: true }))
  .use(logMetrics(w.metrics, { captureColdStartMetric: true }));

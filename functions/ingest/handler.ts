import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { ingestUploads, type UploadRef } from '../../shared/pipeline/ingest.js';
import { handleRemovalRequests, REQUESTS_PREFIX } from '../../shared/pipeline/lifecycle.js';
import { invocationDeadline, rollSettings } from '../lib/config.js';
import { batchCorrelationId, parseRecord, resolveObjectKey } from '../lib/events.js';
import { requestFollowUp, wire, wireGateway } from '../lib/wiring.js';

const w = wire();
const gateway = wireGateway(w);
const roll = rollSettings(w.config);

/**
 * SQS (FIFO) batch of S3 "Object Created" events from EventBridge, and of roll requests, → one
 * ingest run for the batch. Records that could not be finished are reported as batch item
 * failures; on a FIFO queue, every record after the first failure is reported too, so order within
 * the message group holds. Domains whose roll did not fit into this invocation are handed to a
 * follow-up run through the queue.
 */
export const lambdaHandler = async (
  event: SQSEvent,
  context: Pick<Context, 'getRemainingTimeInMillis'>,
): Promise<SQSBatchResponse> => {
  const deadline = invocationDeadline(context.getRemainingTimeInMillis(), w.clock.now());
  const parsed = event.Records.map((r) => parseRecord(r, w.config.bucket));
  const correlationId = batchCorrelationId(parsed);
  if (correlationId) w.logger.setCorrelationId(correlationId);
  for (const p of parsed)
    if (!p.ok) w.logger.error('unusable record', { messageId: p.messageId, reason: p.reason });
  const failed = new Set(parsed.filter((p) => !p.ok).map((p) => p.messageId));
  try {
    const objects: { messageId: string; ref: UploadRef }[] = [];
    for (const p of parsed) {
      if (!p.ok || p.kind !== 'object') continue;
      const key = await resolveObjectKey(p.keys, p.version, w.store);
      objects.push({ messageId: p.messageId, ref: { key, ...(p.version ? { version: p.version } : {}) } });
    }
    w.logger.info('batch received', {
      records: parsed.map((p) =>
        !p.ok
          ? { messageId: p.messageId, unusable: p.reason }
          : p.kind === 'roll'
            ? { messageId: p.messageId, rollRequestedBy: p.from }
            : {
                messageId: p.messageId,
                key: objects.find((o) => o.messageId === p.messageId)?.ref.key,
                version: p.version,
                s3RequestId: p.s3RequestId,
              },
      ),
    });
    // Removal requests (requests/) come through the same queue, after the uploads of the batch.
    const uploadRecords = objects.filter((o) => !o.ref.key.startsWith(REQUESTS_PREFIX));
    const requests = objects.filter((o) => o.ref.key.startsWith(REQUESTS_PREFIX)).map((o) => o.ref);
    const report = await ingestUploads(
      uploadRecords.map((o) => o.ref),
      {
        store: w.store,
        gateway,
        notifier: w.notifier,
        clock: w.clock,
        log: w.log,
        config: {
          expiringDays: w.config.expiringDays,
          maxUploadBytes: w.config.maxUploadBytes,
          pendingWindowMs: w.config.pendingWindowMs,
          roll: { ...roll, deadline },
        },
      },
    );
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
    const deferred = new Set(report.roll?.deferred ?? []);
    if (requests.length > 0) {
      const handled = await handleRemovalRequests(requests, {
        store: w.store,
        gateway,
        notifier: w.notifier,
        clock: w.clock,
        log: w.log,
        roll: { ...roll, deadline },
      });
      for (const h of handled) for (const d of h.roll?.deferred ?? []) deferred.add(d);
      w.logger.info('removal requests handled', { outcomes: handled.map((h) => `${h.key}: ${h.outcome}`) });
    }
    if (deferred.size > 0) await requestFollowUp(w, [...deferred], report.version, 'ingest');
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

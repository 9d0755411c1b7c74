import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { type BatchItem, handleBatch } from '../../shared/pipeline/batch.js';
import { REQUESTS_PREFIX } from '../../shared/pipeline/lifecycle.js';
import { crlSyncId } from '../../shared/rollout/crl-sync.js';
import { hasRecord } from '../../shared/rollout/records.js';
import { KEYS } from '../../shared/truststore/state.js';
import { invocationDeadline, rollSettings } from '../lib/config.js';
import { batchCorrelationId, parseRecord, resolveObjectKey } from '../lib/events.js';
import { emitRoll, METRIC } from '../lib/metrics.js';
import { requestRun, wire, wireGateway } from '../lib/wiring.js';

const w = wire();

const gateway = wireGateway(w);
const roll = rollSettings(w.config);

/**
 * SQS (FIFO) batch of S3 "Object Created" events from EventBridge (uploads in inbox/, removal
 * requests in requests/) and of run requests → the batch handled in queue order (handleBatch).
 * Records that could not be finished are reported as batch item failures; on a FIFO queue, every
 * record after the first failure is reported too, so order within the message group holds.
 * Records that can never be used (not an event of this bucket's inbox or requests) are logged and
 * counted, not retried: a retry could not make them usable, and would hold the message group.
 * Domains whose roll did not fit into this invocation are handed to a follow-up run.
 */
export const lambdaHandler = async (
  event: SQSEvent,
  context: Pick<Context, 'getRemainingTimeInMillis'>,
): Promise<SQSBatchResponse> => {
  const deadline = invocationDeadline(context.getRemainingTimeInMillis(), w.clock.now());
  const parsed = event.Records.map((r) => parseRecord(r, w.config.bucket));
  const correlationId = batchCorrelationId(parsed);
  if (correlationId) w.logger.setCorrelationId(correlationId);
  const failed = new Set<string>();
  try {
    const unusable = parsed.flatMap((p) => (p.ok ? [] : [{ messageId: p.messageId, reason: p.reason }]));
    const items: { messageId: string; item: BatchItem }[] = [];
    for (const p of parsed) {
      if (!p.ok) continue;
      if (p.kind === 'run') {
        items.push({ messageId: p.messageId, item: { kind: 'run' } });
        continue;
      }
      const key = await resolveObjectKey(p.keys, p.version, w.store);
      const ref = { key, ...(p.version ? { version: p.version } : {}) };
      if (key.startsWith(KEYS.inbox)) items.push({ messageId: p.messageId, item: { kind: 'upload', ref } });
      else if (key.startsWith(REQUESTS_PREFIX))
        items.push({ messageId: p.messageId, item: { kind: 'request', ref } });
      else
        unusable.push({
          messageId: p.messageId,
          reason: `object ${key} is outside ${KEYS.inbox} and ${REQUESTS_PREFIX}`,
        });
    }
    w.logger.info('batch received', {
      records: parsed.map((p) => {
        if (!p.ok) return { messageId: p.messageId, unusable: p.reason };
        if (p.kind === 'run') return { messageId: p.messageId, runRequestedBy: p.from };
        const item = items.find((i) => i.messageId === p.messageId)?.item;
        return {
          messageId: p.messageId,
          key: item && item.kind !== 'run' ? item.ref.key : undefined,
          version: p.version,
          s3RequestId: p.s3RequestId,
        };
      }),
    });
    for (const u of unusable) w.logger.error('unusable record', u);
    w.metrics.addMetric(METRIC.unusableRecords, MetricUnit.Count, unusable.length);
    if (items.length === 0) return { batchItemFailures: [] };
    const result = await handleBatch(
      items.map((i) => i.item),
      {
        store: w.store,
        label: `s3://${w.config.bucket}/`,
        expiryThresholds: w.config.expiryThresholds,
        gateway,
        notifier: w.notifier,
        clock: w.clock,
        log: w.log,
        config: {
          expiringDays: w.config.expiringDays,
          maxUploadBytes: w.config.maxUploadBytes,
          maxCrlBytes: w.config.maxCrlBytes,
          pendingWindowMs: w.config.pendingWindowMs,
          roll: { ...roll, deadline },
        },
      },
    );
    for (const [i, done] of result.done.entries()) if (!done) failed.add(items[i]!.messageId);
    const count = (outcome: string) => result.uploads.filter((u) => u.outcome === outcome).length;
    w.metrics.addMetric(METRIC.uploadsAccepted, MetricUnit.Count, count('accepted'));
    w.metrics.addMetric(METRIC.uploadsRejected, MetricUnit.Count, count('rejected') + count('private-key'));
    w.metrics.addMetric(METRIC.certificates, MetricUnit.Count, result.ingest.certificates);
    w.metrics.addMetric(METRIC.truststoreBytes, MetricUnit.Bytes, result.ingest.truststoreBytes);
    // A report that could not be written fails nothing (it is logged where it failed): counted.
    w.metrics.addMetric(METRIC.reportsNotPublished, MetricUnit.Count, result.ingest.reportError ? 1 : 0);
    if (result.ingest.nearestExpiryDays !== undefined) {
      w.metrics.addMetric(METRIC.daysToNearestExpiry, MetricUnit.Count, result.ingest.nearestExpiryDays);
    }
    emitRoll(w.metrics, result.roll);
    if (result.requests.length > 0)
      w.logger.info('removal requests handled', {
        outcomes: result.requests.map((h) => `${h.key}: ${h.outcome}`),
      });
    // With a rollout state machine, the version goes to the targets in a durable execution (one
    // per release: a retried run starts none twice), not in this invocation.
    if (w.rollouts && result.version && result.revision !== undefined) {
      const release = { revision: result.revision, version: result.version };
      // A release whose rollout has a record ran already (it may have been rolled back): never
      // again, even once its execution name is free again (Step Functions keeps names 90 days).
      if (await hasRecord(w.store, `${release.revision}-${release.version}`))
        w.logger.info('rollout already ran', { ...release });
      else {
        const { started, name } = await w.rollouts.start(release);
        w.logger.info(started ? 'rollout started' : 'rollout already started', {
          ...release,
          execution: name,
        });
      }
    }
    // A CRL accepted without a new version: the ELB trust stores get it by a CRL sync, an execution
    // of the same state machine named for the CRLs' last change (a retried run starts none twice).
    // Every batch looks: a run that committed a CRL and stopped before starting its sync (a crash,
    // a timeout, a throttled StartExecution) leaves it to the next run, its own retry included.
    if (w.rollouts && w.config.crlSync && result.revocation) {
      const change = result.revocation;
      if (await hasRecord(w.store, crlSyncId(change))) w.logger.debug('crl sync already ran', { ...change });
      else {
        const { started, name } = await w.rollouts.startCrlSync(change);
        w.logger.info(started ? 'crl sync started' : 'crl sync already started', {
          ...change,
          execution: name,
        });
      }
    }
    const deferred = result.roll?.deferred ?? [];
    if (deferred.length > 0) {
      await requestRun(w, {
        reason: 'roll deferred',
        from: 'ingest',
        domains: deferred,
        ...(result.version ? { version: result.version } : {}),
      });
    }
    w.logger.info('ingest finished', {
      changed: result.ingest.changed,
      revision: result.ingest.revision,
      errors: result.errors,
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

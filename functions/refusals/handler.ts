import { gunzipSync } from 'node:zlib';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { CloudWatchLogsDecodedData, CloudWatchLogsEvent } from 'aws-lambda';
import { loadState } from '../../shared/pipeline/state-store.js';
import { parseAccessLog } from '../../shared/refusals/access-log.js';
import { alertRefusals } from '../../shared/refusals/alerts.js';
import { explainRefusals, ServedTruststores } from '../../shared/refusals/explain.js';
import { recordRecentRefusals } from '../../shared/refusals/recent.js';
import { METRIC } from '../lib/metrics.js';
import { wire } from '../lib/wiring.js';

const w = wire();

/**
 * A CloudWatch Logs subscription on the API stages' access logs (the construct's
 * `watchRefusals`) → each refused mutual TLS handshake explained against the truststore version
 * published at the time, and its partner alerted once per certificate and reason
 * (`handshake.refused`). API Gateway logs the client certificate only for a refused handshake; the
 * subscription filter passes only those lines.
 */
export const lambdaHandler = async (
  event: CloudWatchLogsEvent,
): Promise<{ refusals: number; alerted: number }> => {
  const data = JSON.parse(
    gunzipSync(Buffer.from(event.awslogs.data, 'base64')).toString('utf8'),
  ) as CloudWatchLogsDecodedData;
  // CloudWatch Logs checks the destination with a control message when the subscription is made.
  if (data.messageType !== 'DATA_MESSAGE') return { refusals: 0, alerted: 0 };
  w.logger.appendKeys({ logGroup: data.logGroup, logStream: data.logStream });
  const log = parseAccessLog(data.logEvents.map((e) => e.message).join('\n'));
  if (log.other > 0)
    w.logger.warn('log lines not in the access-log format', {
      count: log.other,
      examples: log.otherExamples,
    });
  if (log.refusals.length === 0) return { refusals: 0, alerted: 0 };
  const { state } = await loadState(w.store);
  const refusals = await explainRefusals(log.refusals, new ServedTruststores(w.store, state));
  for (const r of refusals)
    w.logger.info('handshake refused', {
      requestId: r.requestId,
      domainName: r.domainName,
      partner: r.partner,
      code: r.code,
      certSha256: r.certSha256,
      version: r.version,
    });
  const { alerted } = await alertRefusals(
    { store: w.store, notifier: w.notifier, log: w.log, clock: w.clock },
    refusals,
  );
  // For the report the pipeline publishes (reports/index.html): what was understood of each, for
  // 30 days. Recorded after the alerts: a failure here is retried with the whole batch, whose
  // alerts were recorded as sent and go out once.
  await recordRecentRefusals({ store: w.store, log: w.log, clock: w.clock }, refusals);
  w.metrics.addMetric(METRIC.handshakesRefused, MetricUnit.Count, refusals.length);
  return { refusals: refusals.length, alerted };
};

export const handler = middy(lambdaHandler)
  .use(injectLambdaContext(w.logger, { clearState: true }))
  .use(logMetrics(w.metrics, { captureColdStartMetric: true }));

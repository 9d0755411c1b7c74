import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { METRIC } from '../shared/metric-names.js';
import { MAX_TRUSTSTORE_BYTES } from '../shared/truststore/rules/truststore.too-large.js';

/** Days to the nearest CA expiry at which an alarm goes to the alerts topic. */
export const EXPIRY_ALARM_DAYS = [30, 14, 7] as const;

/**
 * The metrics one pipeline's handlers emit (namespace `trustroll`, dimensions `service` and
 * `pipeline`: the construct's path, which the handlers get as `TRUSTROLL_PIPELINE`).
 */
export const pipelineMetric =
  (pipeline: string) =>
  (name: string, statistic: string, period: Duration): cloudwatch.Metric =>
    new cloudwatch.Metric({
      namespace: 'trustroll',
      metricName: name,
      dimensionsMap: { service: 'trustroll', pipeline },
      statistic,
      period,
    });

const DAY = Duration.days(1);
const HOUR = Duration.hours(1);
const thresholds = (label: string): cloudwatch.HorizontalAnnotation[] =>
  EXPIRY_ALARM_DAYS.map((days) => ({ value: days, label: `${days} ${label}` }));

export interface DashboardParts {
  /** The construct's path (the `pipeline` dimension). */
  readonly pipeline: string;
  readonly ingest: lambda.IFunction;
  readonly scan: lambda.IFunction;
  readonly deadLetters: sqs.IQueue;
  readonly scanFailures: sqs.IQueue;
}

/**
 * The construct's CloudWatch dashboard: uploads accepted and rejected, days to the nearest
 * expiry (overall and per partner), truststore size against API Gateway's limit, rolls and
 * roll-backs, dead letters and failures. `addAuthorizer` adds the authorizer's allow/deny once the
 * function exists.
 */
export const truststoreDashboard = (scope: Construct, id: string, parts: DashboardParts) => {
  const trustrollMetric = pipelineMetric(parts.pipeline);
  const dashboard = new cloudwatch.Dashboard(scope, id, {
    defaultInterval: Duration.days(14),
  });
  const days = trustrollMetric(METRIC.daysToNearestExpiry, 'Minimum', DAY);
  dashboard.addWidgets(
    new cloudwatch.TextWidget({
      markdown:
        '## trustroll\nUploads, expiry, truststore size and rolls of this pipeline. Expiry alarms at ' +
        `${EXPIRY_ALARM_DAYS.join(' / ')} days go to the alerts topic; \`trustroll report\` shows the CAs behind the numbers.`,
      width: 24,
      height: 2,
    }),
  );
  dashboard.addWidgets(
    new cloudwatch.SingleValueWidget({
      title: 'Days to the nearest CA expiry',
      metrics: [days.with({ label: 'days (minimum, last day)' })],
      width: 6,
      height: 6,
    }),
    new cloudwatch.GraphWidget({
      title: 'Days to the nearest expiry, per partner',
      left: [
        new cloudwatch.MathExpression({
          expression: `SEARCH('{trustroll,partner,pipeline,service} MetricName="${METRIC.daysToExpiry}" pipeline="${parts.pipeline}"', 'Minimum', 86400)`,
          label: '',
          period: DAY,
        }),
      ],
      leftAnnotations: thresholds('days'),
      leftYAxis: { min: 0, label: 'days', showUnits: false },
      width: 18,
      height: 6,
    }),
  );
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Uploads',
      left: [
        trustrollMetric(METRIC.uploadsAccepted, 'Sum', HOUR).with({ label: 'accepted' }),
        trustrollMetric(METRIC.uploadsRejected, 'Sum', HOUR).with({ label: 'rejected' }),
      ],
      stacked: false,
      width: 8,
      height: 6,
    }),
    new cloudwatch.GraphWidget({
      title: `Truststore size and headroom (API Gateway limit ${MAX_TRUSTSTORE_BYTES / 1000} KB)`,
      left: [
        trustrollMetric(METRIC.truststoreBytes, 'Maximum', HOUR).with({ label: 'bytes', id: 'size' }),
        new cloudwatch.MathExpression({
          expression: `${MAX_TRUSTSTORE_BYTES} - size`,
          usingMetrics: { size: trustrollMetric(METRIC.truststoreBytes, 'Maximum', HOUR) },
          label: 'headroom (bytes)',
          period: HOUR,
        }),
      ],
      leftAnnotations: [
        { value: MAX_TRUSTSTORE_BYTES, label: 'API Gateway limit' },
        { value: MAX_TRUSTSTORE_BYTES * 0.8, label: '80%: lint warns' },
      ],
      leftYAxis: { min: 0, showUnits: false },
      width: 8,
      height: 6,
    }),
    new cloudwatch.GraphWidget({
      title: 'CAs in the truststore',
      left: [trustrollMetric(METRIC.certificates, 'Maximum', HOUR).with({ label: 'CAs' })],
      leftYAxis: { min: 0, showUnits: false },
      width: 8,
      height: 6,
    }),
  );
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Domain rolls',
      left: [
        trustrollMetric(METRIC.domainsRolled, 'Sum', HOUR).with({ label: 'rolled' }),
        trustrollMetric(METRIC.domainsRolledBack, 'Sum', HOUR).with({ label: 'rolled back' }),
        trustrollMetric(METRIC.domainRollsFailed, 'Sum', HOUR).with({ label: 'failed' }),
      ],
      width: 8,
      height: 6,
    }),
    new cloudwatch.GraphWidget({
      title: 'Dead letters and failed scans',
      left: [
        parts.deadLetters
          .metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' })
          .with({ label: 'uploads in the dead-letter queue' }),
        parts.scanFailures
          .metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' })
          .with({ label: 'failed scans' }),
        trustrollMetric(METRIC.unusableRecords, 'Sum', HOUR).with({ label: 'unusable queue records' }),
      ],
      width: 8,
      height: 6,
    }),
    new cloudwatch.GraphWidget({
      title: 'Function errors',
      left: [
        parts.ingest.metricErrors({ period: HOUR }).with({ label: 'ingest errors' }),
        parts.scan.metricErrors({ period: HOUR }).with({ label: 'expiry scan errors' }),
      ],
      width: 8,
      height: 6,
    }),
  );
  return {
    dashboard,
    /** The refused handshakes the refusals subscriber explained (called when it is created). */
    addRefusals: (fn: lambda.IFunction) =>
      dashboard.addWidgets(
        new cloudwatch.GraphWidget({
          title: 'Refused mutual TLS handshakes',
          left: [trustrollMetric(METRIC.handshakesRefused, 'Sum', HOUR).with({ label: 'refused' })],
          right: [fn.metricErrors({ period: HOUR }).with({ label: 'subscriber errors' })],
          width: 24,
          height: 6,
        }),
      ),
    /** The durable rollouts (with `targets`): executions by outcome, and the step's errors. */
    addRollouts: (machine: sfn.IStateMachine, step: lambda.IFunction) =>
      dashboard.addWidgets(
        new cloudwatch.GraphWidget({
          title: 'Rollouts',
          left: [
            machine.metricStarted({ period: HOUR }).with({ label: 'started' }),
            machine.metricSucceeded({ period: HOUR }).with({ label: 'succeeded' }),
            machine.metricFailed({ period: HOUR }).with({ label: 'did not succeed' }),
          ],
          right: [step.metricErrors({ period: HOUR }).with({ label: 'step errors (retried)' })],
          width: 24,
          height: 6,
        }),
      ),
    /** The authorizer's decisions (called when the authorizer function is created). */
    addAuthorizer: (fn: lambda.IFunction) =>
      dashboard.addWidgets(
        new cloudwatch.GraphWidget({
          title: 'Authorizer decisions',
          left: [
            trustrollMetric(METRIC.authorizerAllow, 'Sum', Duration.minutes(5)).with({ label: 'allow' }),
            trustrollMetric(METRIC.authorizerDeny, 'Sum', Duration.minutes(5)).with({ label: 'deny' }),
          ],
          right: [fn.metricErrors({ period: Duration.minutes(5) }).with({ label: 'errors' })],
          width: 24,
          height: 6,
        }),
      ),
  };
};

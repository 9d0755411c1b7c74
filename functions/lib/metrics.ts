import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRIC } from '../../shared/metric-names.js';
import type { RollReport } from '../../shared/pipeline/roll.js';

export { METRIC } from '../../shared/metric-names.js';

/**
 * The handlers' metrics: namespace `trustroll`, dimensions `service` and, deployed by the
 * construct, `pipeline` (the construct's path, e.g. `trustroll-prod/Pipeline`), so that two
 * deployments in one account and region (dev and prod) keep their numbers, dashboards and alarms
 * apart.
 */
export const pipelineMetrics = (env: NodeJS.ProcessEnv): Metrics => {
  const metrics = new Metrics({ namespace: 'trustroll', serviceName: 'trustroll' });
  const pipeline = env.TRUSTROLL_PIPELINE?.trim();
  if (pipeline) metrics.setDefaultDimensions({ pipeline: pipeline.slice(0, 250) });
  return metrics;
};

/**
 * A partner name as a CloudWatch dimension value, which must be ASCII and at most 1,024
 * characters (an EMF document with another one is dropped): accents are taken off (`Müller` →
 * `Muller`), any other character outside printable ASCII becomes `_`.
 */
export const partnerDimension = (partner: string): string => {
  const ascii = partner
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^\x20-\x7e]/g, '_')
    .trim()
    .slice(0, 250);
  return ascii === '' ? '_' : ascii;
};

/** Per partner, the days to its nearest CA expiry: one EMF document each, dimension `partner`. */
export const emitPartnerExpiry = (
  metrics: Metrics,
  entries: readonly { readonly partner: string; readonly days: number }[],
): void => {
  const nearest = new Map<string, number>();
  for (const e of entries) {
    const key = partnerDimension(e.partner);
    nearest.set(key, Math.min(nearest.get(key) ?? Number.POSITIVE_INFINITY, e.days));
  }
  for (const [partner, days] of [...nearest].sort(([a], [b]) => a.localeCompare(b))) {
    const single = metrics.singleMetric();
    single.addDimension('partner', partner);
    single.addMetric(METRIC.daysToExpiry, MetricUnit.Count, days);
  }
};

/** What a roll did, per outcome (only when a roll ran). */
export const emitRoll = (metrics: Metrics, roll: RollReport | undefined): void => {
  if (!roll) return;
  const count = (outcome: string) => roll.domains.filter((d) => d.outcome === outcome).length;
  metrics.addMetric(METRIC.domainsRolled, MetricUnit.Count, count('rolled'));
  metrics.addMetric(METRIC.domainsRolledBack, MetricUnit.Count, count('rolled-back'));
  metrics.addMetric(METRIC.domainRollsFailed, MetricUnit.Count, count('failed'));
};

import { PROBE_PREFIX } from '../../shared/adapters/aws/targets.js';
import type { RolloutConfig } from '../../shared/rollout/model.js';
import { parseRolloutConfigText } from '../../shared/rollout/targets.js';
import { ConfigError } from './config-error.js';

/** The rollout step function's configuration, from environment variables, validated at cold start. */
export interface RolloutFunctionConfig {
  readonly bucket: string;
  readonly topicArn: string;
  /** The pipeline's own region (Lambda's AWS_REGION): the default region of a target. */
  readonly region: string;
  /** The targets JSON, inline (TRUSTROLL_TARGETS); or undefined with `targetsKey`. */
  readonly targets?: RolloutConfig;
  /** An object of the bucket holding the targets JSON (TRUSTROLL_TARGETS_KEY), read at cold start. */
  readonly targetsKey?: string;
  /** The expiry scan's thresholds, marked on the report a rollout publishes when it ends. */
  readonly expiryThresholds: readonly number[];
}

/**
 * Reads and checks every variable, then reports all problems at once: TRUSTROLL_BUCKET,
 * TRUSTROLL_TOPIC_ARN, AWS_REGION (required); the targets (`{ waves, targets, settings? }`, see
 * shared/rollout/targets.ts) either inline in TRUSTROLL_TARGETS or in the bucket object named by
 * TRUSTROLL_TARGETS_KEY (Lambda's environment holds 4 KB in all: a large configuration goes there),
 * exactly one of them; TRUSTROLL_EXPIRY_THRESHOLDS (`60,30,14,7,3,1`, for the report it publishes
 * when a rollout ends). A probe's client certificate and key must be objects under `probes/`.
 */
export const readRolloutConfig = (env: NodeJS.ProcessEnv): RolloutFunctionConfig => {
  const problems: string[] = [];
  const required = (name: string): string => {
    const value = env[name]?.trim();
    if (!value) problems.push(`${name} is required`);
    return value ?? '';
  };
  const bucket = required('TRUSTROLL_BUCKET');
  const topicArn = required('TRUSTROLL_TOPIC_ARN');
  const region = required('AWS_REGION');
  if (topicArn && !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]+$/.test(topicArn))
    problems.push(`TRUSTROLL_TOPIC_ARN must be an SNS topic ARN; got "${topicArn}"`);
  const inline = env.TRUSTROLL_TARGETS?.trim();
  const targetsKey = env.TRUSTROLL_TARGETS_KEY?.trim();
  let targets: RolloutConfig | undefined;
  if (inline && targetsKey) problems.push('set TRUSTROLL_TARGETS or TRUSTROLL_TARGETS_KEY, not both');
  else if (!inline && !targetsKey)
    problems.push(
      'TRUSTROLL_TARGETS (the targets JSON) or TRUSTROLL_TARGETS_KEY (its object in the bucket) is required',
    );
  else if (inline) {
    try {
      targets = checkedTargets(parseRolloutConfigText(inline, { source: 'in TRUSTROLL_TARGETS' }));
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  const thresholdsRaw = env.TRUSTROLL_EXPIRY_THRESHOLDS?.trim() || '60,30,14,7,3,1';
  const expiryThresholds = thresholdsRaw.split(',').map((t) => Number(t.trim()));
  if (expiryThresholds.some((t) => !Number.isInteger(t) || t < 1))
    problems.push(
      `TRUSTROLL_EXPIRY_THRESHOLDS must be whole numbers of days (at least 1), comma-separated; got "${thresholdsRaw}"`,
    );
  if (problems.length > 0)
    throw new ConfigError(`trustroll rollout is misconfigured: ${problems.join('; ')}.`);
  return {
    bucket,
    topicArn,
    region,
    ...(targets ? { targets } : {}),
    ...(targetsKey ? { targetsKey } : {}),
    expiryThresholds,
  };
};

/** The checks only the AWS step adds to the targets file: where a probe's certificate is kept. */
export const checkedTargets = (config: RolloutConfig): RolloutConfig => {
  const problems = config.targets.flatMap((t) =>
    t.probe
      ? [t.probe.clientCert, t.probe.clientKey]
          .filter((k) => !k.startsWith(PROBE_PREFIX))
          .map(
            (k) =>
              `target ${t.id}: probe file "${k}" must be an object key under ${PROBE_PREFIX} of the pipeline's bucket on AWS`,
          )
      : [],
  );
  if (problems.length > 0) throw new ConfigError(problems.join('; '));
  return config;
};

import { bundledApis, type ManagedDomain } from '../../shared/adapters/aws/api-gateway.js';
import { DOMAIN_KINDS, parseDomainSpec } from '../../shared/adapters/aws/domains.js';

/** Lambda configuration, from environment variables, validated once at cold start. */
export interface FunctionConfig {
  readonly bucket: string;
  readonly topicArn: string;
  readonly domains: readonly ManagedDomain[];
  readonly expiringDays: number;
  readonly maxUploadBytes: number;
  readonly minUpdateIntervalMs: number;
  readonly pollIntervalMs: number;
  readonly updateTimeoutMs: number;
  readonly expiryThresholds: readonly number[];
  readonly pruneExpired: boolean;
  readonly pendingWindowMs: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Reads and checks every variable, then reports all problems at once:
 * TRUSTROLL_BUCKET, TRUSTROLL_TOPIC_ARN (required); TRUSTROLL_DOMAINS (`name[:REST|HTTP],…`,
 * default none); TRUSTROLL_EXPIRING_DAYS (30); TRUSTROLL_MAX_UPLOAD_BYTES (2097152);
 * TRUSTROLL_MIN_UPDATE_INTERVAL_MS (30000); TRUSTROLL_POLL_INTERVAL_MS (5000);
 * TRUSTROLL_UPDATE_TIMEOUT_MS (240000); TRUSTROLL_EXPIRY_THRESHOLDS (`60,30,14,7,3,1`);
 * TRUSTROLL_PRUNE_EXPIRED (`false`); TRUSTROLL_PENDING_WINDOW_HOURS (24).
 */
export const readConfig = (env: NodeJS.ProcessEnv): FunctionConfig => {
  const problems: string[] = [];
  const required = (name: string): string => {
    const value = env[name]?.trim();
    if (!value) problems.push(`${name} is required`);
    return value ?? '';
  };
  const number = (name: string, fallback: number, min: number): number => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) {
      problems.push(`${name} must be a whole number of at least ${min}; got "${raw}"`);
      return fallback;
    }
    return value;
  };
  const bucket = required('TRUSTROLL_BUCKET');
  const topicArn = required('TRUSTROLL_TOPIC_ARN');
  if (topicArn && !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]+$/.test(topicArn)) {
    problems.push(`TRUSTROLL_TOPIC_ARN must be an SNS topic ARN; got "${topicArn}"`);
  }
  const domains: ManagedDomain[] = [];
  for (const item of (env.TRUSTROLL_DOMAINS ?? '')
    .split(',')
    .map((d) => d.trim())
    .filter(Boolean)) {
    const parsed = parseDomainSpec(item);
    for (const p of parsed.problems) problems.push(`TRUSTROLL_DOMAINS: ${p}`);
    domains.push(parsed.domain);
  }
  const bundled = bundledApis();
  for (const kind of DOMAIN_KINDS) {
    const names = domains.filter((d) => d.kind === kind).map((d) => d.name);
    if (names.length > 0 && !bundled[kind]) {
      problems.push(
        `TRUSTROLL_DOMAINS: ${names.join(', ')} ${names.length > 1 ? 'are' : 'is'} ${kind} but this bundle was built without the ${kind} API client; ` +
          `redeploy with the domain in the construct's domains (or npm run build:functions -- --apis REST,HTTP)`,
      );
    }
  }
  const thresholdsRaw = env.TRUSTROLL_EXPIRY_THRESHOLDS?.trim() || '60,30,14,7,3,1';
  const expiryThresholds = thresholdsRaw.split(',').map((t) => Number(t.trim()));
  if (expiryThresholds.some((t) => !Number.isInteger(t) || t < 1)) {
    problems.push(
      `TRUSTROLL_EXPIRY_THRESHOLDS must be whole numbers of days (at least 1), comma-separated; got "${thresholdsRaw}"`,
    );
  }
  const prune = (env.TRUSTROLL_PRUNE_EXPIRED ?? 'false').trim().toLowerCase();
  if (prune !== 'true' && prune !== 'false')
    problems.push(`TRUSTROLL_PRUNE_EXPIRED must be true or false; got "${prune}"`);
  const config: FunctionConfig = {
    bucket,
    topicArn,
    domains,
    expiringDays: number('TRUSTROLL_EXPIRING_DAYS', 30, 0),
    maxUploadBytes: number('TRUSTROLL_MAX_UPLOAD_BYTES', 2 * 1024 * 1024, 1024),
    minUpdateIntervalMs: number('TRUSTROLL_MIN_UPDATE_INTERVAL_MS', 30_000, 0),
    pollIntervalMs: number('TRUSTROLL_POLL_INTERVAL_MS', 5_000, 0),
    updateTimeoutMs: number('TRUSTROLL_UPDATE_TIMEOUT_MS', 240_000, 1_000),
    expiryThresholds,
    pruneExpired: prune === 'true',
    pendingWindowMs: number('TRUSTROLL_PENDING_WINDOW_HOURS', 24, 0) * 3_600_000,
  };
  if (problems.length > 0) {
    throw new ConfigError(`trustroll is misconfigured: ${problems.join('; ')}.`);
  }
  return config;
};

/** How the configured domains are rolled (the use-cases' roll settings). */
export const rollSettings = (config: FunctionConfig) => ({
  domains: config.domains.map((d) => d.name),
  minUpdateIntervalMs: config.minUpdateIntervalMs,
  pollIntervalMs: config.pollIntervalMs,
  updateTimeoutMs: config.updateTimeoutMs,
});

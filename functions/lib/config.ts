import { bundledApis, type ManagedDomain } from '../../shared/adapters/aws/api-gateway.js';
import { DOMAIN_KINDS, parseDomainSpec } from '../../shared/adapters/aws/domains.js';
import { rollWorstCaseMs } from '../../shared/pipeline/roll.js';
import { ConfigError } from './config-error.js';

/** Lambda configuration, from environment variables, validated once at cold start. */
export interface FunctionConfig {
  readonly bucket: string;
  readonly topicArn: string;
  /** The ingest queue: rolls that did not fit into an invocation continue from a message there. */
  readonly queueUrl?: string;
  /**
   * The rollout state machine (the construct's `targets`): each published version is rolled to the
   * targets by one execution of it, started by the ingest function, instead of inline.
   */
  readonly stateMachineArn?: string;
  /**
   * The targets include ELB trust stores (TRUSTROLL_CRL_SYNC, set by the construct): a CRL
   * accepted without a new version starts a CRL sync, an execution of the same state machine.
   */
  readonly crlSync?: boolean;
  readonly domains: readonly ManagedDomain[];
  readonly expiringDays: number;
  readonly maxUploadBytes: number;
  readonly maxCrlBytes: number;
  readonly minUpdateIntervalMs: number;
  readonly pollIntervalMs: number;
  readonly updateTimeoutMs: number;
  readonly updateAttempts: number;
  readonly expiryThresholds: readonly number[];
  readonly pruneExpired: boolean;
  readonly pendingWindowMs: number;
}

export { ConfigError } from './config-error.js';

/**
 * Reads and checks every variable, then reports all problems at once:
 * TRUSTROLL_BUCKET, TRUSTROLL_TOPIC_ARN (required); TRUSTROLL_DOMAINS (`name[:REST|HTTP],…`,
 * default none); TRUSTROLL_EXPIRING_DAYS (30); TRUSTROLL_MAX_UPLOAD_BYTES (2097152);
 * TRUSTROLL_MAX_CRL_BYTES (52428800, for uploads under inbox/<partner>/crl/);
 * TRUSTROLL_MIN_UPDATE_INTERVAL_MS (30000); TRUSTROLL_POLL_INTERVAL_MS (5000);
 * TRUSTROLL_UPDATE_TIMEOUT_MS (240000); TRUSTROLL_UPDATE_ATTEMPTS (6);
 * TRUSTROLL_EXPIRY_THRESHOLDS (`60,30,14,7,3,1`); TRUSTROLL_PRUNE_EXPIRED (`false`);
 * TRUSTROLL_PENDING_WINDOW_HOURS (24); TRUSTROLL_QUEUE_URL (required with domains);
 * TRUSTROLL_STATE_MACHINE_ARN (the rollout state machine; not with domains, which it replaces);
 * TRUSTROLL_CRL_SYNC (`false`; `true`: its targets include ELB trust stores, needs the state machine).
 * The roll settings must keep one domain's worst case (`rollWorstCaseMs`) within
 * MAX_ROLL_WORST_CASE_MS, so that a fresh invocation always has time to roll a domain.
 */
export const readConfig = (env: NodeJS.ProcessEnv): FunctionConfig => {
  const problems: string[] = [];
  const required = (name: string): string => {
    const value = env[name]?.trim();
    if (!value) problems.push(`${name} is required`);
    return value ?? '';
  };
  const number = (name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(
        `${name} must be a whole number ${max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`}; got "${raw}"`,
      );
      return fallback;
    }
    return value;
  };
  const bucket = required('TRUSTROLL_BUCKET');
  const topicArn = required('TRUSTROLL_TOPIC_ARN');
  if (topicArn && !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]+$/.test(topicArn)) {
    problems.push(`TRUSTROLL_TOPIC_ARN must be an SNS topic ARN; got "${topicArn}"`);
  }
  const queueUrl = env.TRUSTROLL_QUEUE_URL?.trim();
  if (queueUrl && !/^https?:\/\/\S+\.fifo$/.test(queueUrl)) {
    problems.push(`TRUSTROLL_QUEUE_URL must be the URL of the FIFO ingest queue; got "${queueUrl}"`);
  }
  const stateMachineArn = env.TRUSTROLL_STATE_MACHINE_ARN?.trim();
  if (
    stateMachineArn &&
    !/^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[\w-]{1,80}$/.test(stateMachineArn)
  )
    problems.push(
      `TRUSTROLL_STATE_MACHINE_ARN must be a Step Functions state machine ARN; got "${stateMachineArn}"`,
    );
  const crlSync = (env.TRUSTROLL_CRL_SYNC ?? 'false').trim().toLowerCase();
  if (crlSync !== 'true' && crlSync !== 'false')
    problems.push(`TRUSTROLL_CRL_SYNC must be true or false; got "${crlSync}"`);
  else if (crlSync === 'true' && !stateMachineArn)
    problems.push(
      'TRUSTROLL_CRL_SYNC needs TRUSTROLL_STATE_MACHINE_ARN: a CRL sync is an execution of the rollout state machine',
    );
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
  if (stateMachineArn && domains.length > 0)
    problems.push(
      'TRUSTROLL_DOMAINS and TRUSTROLL_STATE_MACHINE_ARN exclude each other: with a rollout state machine, the domains are targets of its rollouts and are not rolled inline',
    );
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
  if (domains.length > 0 && !queueUrl) {
    problems.push(
      'TRUSTROLL_QUEUE_URL is required with TRUSTROLL_DOMAINS: rolls that do not fit into one invocation continue from a message on that queue',
    );
  }
  const config: FunctionConfig = {
    bucket,
    topicArn,
    ...(queueUrl ? { queueUrl } : {}),
    ...(stateMachineArn ? { stateMachineArn } : {}),
    ...(crlSync === 'true' ? { crlSync: true } : {}),
    domains,
    expiringDays: number('TRUSTROLL_EXPIRING_DAYS', 30, 0),
    maxUploadBytes: number('TRUSTROLL_MAX_UPLOAD_BYTES', 2 * 1024 * 1024, 1024),
    maxCrlBytes: number('TRUSTROLL_MAX_CRL_BYTES', 50 * 1024 * 1024, 1024),
    minUpdateIntervalMs: number('TRUSTROLL_MIN_UPDATE_INTERVAL_MS', 30_000, 0),
    // Below 100 ms the status reads of an UPDATING domain would hammer API Gateway.
    pollIntervalMs: number('TRUSTROLL_POLL_INTERVAL_MS', 5_000, 100),
    updateTimeoutMs: number('TRUSTROLL_UPDATE_TIMEOUT_MS', 240_000, 1_000),
    updateAttempts: number('TRUSTROLL_UPDATE_ATTEMPTS', 6, 1),
    expiryThresholds,
    pruneExpired: prune === 'true',
    pendingWindowMs: number('TRUSTROLL_PENDING_WINDOW_HOURS', 24, 0, 24 * 366) * 3_600_000,
  };
  const worstCase = rollWorstCaseMs(rollSettings(config));
  if (worstCase > MAX_ROLL_WORST_CASE_MS) {
    problems.push(
      `one domain's roll could take ${Math.ceil(worstCase / 1000)} s with these TRUSTROLL_UPDATE_TIMEOUT_MS, TRUSTROLL_POLL_INTERVAL_MS, TRUSTROLL_MIN_UPDATE_INTERVAL_MS and TRUSTROLL_UPDATE_ATTEMPTS; ` +
        `keep it within ${MAX_ROLL_WORST_CASE_MS / 1000} s so that it always fits into one Lambda invocation (at most 900 s)`,
    );
  }
  if (problems.length > 0) {
    throw new ConfigError(`trustroll is misconfigured: ${problems.join('; ')}.`);
  }
  return config;
};

/**
 * The longest one domain's roll may take (rollWorstCaseMs). Lambda stops an invocation at 900 s;
 * with the 5% reserve of invocationDeadline (45 s), this leaves a fresh invocation 75 s for its
 * batch before the first update call must start.
 */
export const MAX_ROLL_WORST_CASE_MS = 780_000;

/** How the configured domains are rolled (the use-cases' roll settings). */
export const rollSettings = (config: FunctionConfig) => ({
  domains: config.domains.map((d) => d.name),
  minUpdateIntervalMs: config.minUpdateIntervalMs,
  pollIntervalMs: config.pollIntervalMs,
  updateTimeoutMs: config.updateTimeoutMs,
  maxAttempts: config.updateAttempts,
});

/**
 * When a handler must be done with its rolls: the invocation's end, less a twentieth of its
 * remaining time (45 s of a fresh 15-minute invocation) for the moves, alerts and the follow-up
 * request that come after the roll, and for API calls slower than usual.
 */
export const invocationDeadline = (remainingMs: number, now: Date): Date =>
  new Date(now.getTime() + remainingMs - remainingMs / 20);

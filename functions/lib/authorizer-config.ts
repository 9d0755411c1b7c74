import { DEFAULT_DOOR_SETTINGS, type DoorSettings } from '../../shared/revocation/authorizer.js';
import { ConfigError } from './config-error.js';

/** The authorizer's configuration, from environment variables, validated once at cold start. */
export interface AuthorizerConfig extends DoorSettings {
  readonly bucket: string;
}

/** The most an index may be used while its checks fail: a day. */
const MAX_AGE_LIMIT_SECONDS = 86_400;

/**
 * Reads and checks every variable, then reports all problems at once: TRUSTROLL_BUCKET
 * (required); TRUSTROLL_INDEX_REFRESH_SECONDS (60: how often the index's version is checked,
 * 1 to 3600); TRUSTROLL_INDEX_MAX_AGE_SECONDS (15 × the refresh: how long the last index read
 * stays in use while checks fail, at least the refresh, at most a day); TRUSTROLL_INDEX_UNAVAILABLE
 * (`deny` | `allow`, default deny); TRUSTROLL_STALE_CRL (`deny` | `allow`, default deny);
 * TRUSTROLL_CRL_GRACE_SECONDS (86400).
 */
export const readAuthorizerConfig = (env: NodeJS.ProcessEnv): AuthorizerConfig => {
  const problems: string[] = [];
  const bucket = env.TRUSTROLL_BUCKET?.trim() ?? '';
  if (!bucket) problems.push('TRUSTROLL_BUCKET is required');
  const number = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max}; got "${raw}"`);
      return fallback;
    }
    return value;
  };
  const choice = (name: string, fallback: 'deny' | 'allow'): 'deny' | 'allow' => {
    const raw = env[name]?.trim().toLowerCase();
    if (!raw) return fallback;
    if (raw === 'deny' || raw === 'allow') return raw;
    problems.push(`${name} must be deny or allow; got "${env[name]}"`);
    return fallback;
  };
  const refreshSeconds = number(
    'TRUSTROLL_INDEX_REFRESH_SECONDS',
    DEFAULT_DOOR_SETTINGS.refreshSeconds,
    1,
    3_600,
  );
  const maxAgeSeconds = number(
    'TRUSTROLL_INDEX_MAX_AGE_SECONDS',
    Math.min(refreshSeconds * 15, MAX_AGE_LIMIT_SECONDS),
    1,
    MAX_AGE_LIMIT_SECONDS,
  );
  if (maxAgeSeconds < refreshSeconds)
    problems.push(
      `TRUSTROLL_INDEX_MAX_AGE_SECONDS (${maxAgeSeconds}) must be at least TRUSTROLL_INDEX_REFRESH_SECONDS (${refreshSeconds}): the index would expire between two checks`,
    );
  const config: AuthorizerConfig = {
    bucket,
    refreshSeconds,
    maxAgeSeconds,
    indexUnavailable: choice('TRUSTROLL_INDEX_UNAVAILABLE', DEFAULT_DOOR_SETTINGS.indexUnavailable),
    staleCrl: choice('TRUSTROLL_STALE_CRL', DEFAULT_DOOR_SETTINGS.staleCrl),
    graceSeconds: number('TRUSTROLL_CRL_GRACE_SECONDS', DEFAULT_DOOR_SETTINGS.graceSeconds, 0, 365 * 86_400),
  };
  if (problems.length > 0)
    throw new ConfigError(`trustroll authorizer is misconfigured: ${problems.join('; ')}.`);
  return config;
};

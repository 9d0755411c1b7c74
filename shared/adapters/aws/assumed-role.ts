import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mapAwsError } from './errors.js';

export { STSClient };

/** The credentials an SDK client signs with (what `AwsCredentialIdentity` holds). */
export interface TemporaryCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly expiration: Date;
}

/**
 * How long credentials are asked for. From Lambda, assuming another role is role chaining, which
 * AWS caps at one hour; a step takes seconds, so the minimum (15 minutes) is plenty.
 */
export const SESSION_SECONDS = 900;

/** Credentials this close to their expiry are not used for a new call: a call may take a while. */
export const REFRESH_BEFORE_MS = 120_000;

/**
 * Credentials of a role in another account, from STS `AssumeRole` with the external id the
 * account's owner set in the role's trust policy (the confused-deputy guard AWS documents for
 * third parties), cached until two minutes before they expire. Calls made while an
 * `AssumeRole` is under way share it. A role that cannot be assumed is an UpstreamError naming it.
 */
export class AssumedRoleCredentials {
  private cached: TemporaryCredentials | undefined;
  private pending: Promise<TemporaryCredentials> | undefined;

  constructor(
    private readonly sts: STSClient,
    readonly roleArn: string,
    readonly externalId: string | undefined,
    private readonly now: () => Date = () => new Date(),
    /** Shown in the other account's CloudTrail as the session that made each call. */
    readonly sessionName = 'trustroll-rollout',
  ) {}

  /** A credential provider for an SDK client's `credentials` option. */
  readonly provider = (): Promise<TemporaryCredentials> => this.get();

  async get(): Promise<TemporaryCredentials> {
    const fresh = this.cached && this.cached.expiration.getTime() - REFRESH_BEFORE_MS > this.now().getTime();
    if (fresh) return this.cached!;
    this.pending ??= this.assume().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async assume(): Promise<TemporaryCredentials> {
    try {
      const out = await this.sts.send(
        new AssumeRoleCommand({
          RoleArn: this.roleArn,
          RoleSessionName: this.sessionName,
          DurationSeconds: SESSION_SECONDS,
          ...(this.externalId ? { ExternalId: this.externalId } : {}),
        }),
      );
      const c = out.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
        throw new Error('STS answered AssumeRole without credentials');
      }
      this.cached = {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        sessionToken: c.SessionToken,
        expiration: new Date(c.Expiration),
      };
      return this.cached;
    } catch (error) {
      throw mapAwsError(error, `assuming role ${this.roleArn}`);
    }
  }
}

import { createHash } from 'node:crypto';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mapAwsError } from './errors.js';

export { SFNClient };

/**
 * The Step Functions execution name of the rollout of one release: the same release always gets
 * the same name, so an ingest run that is retried (or two runs that see the same version) start
 * one execution, not two (names are unique per state machine for 90 days). S3 version ids may
 * hold `/`, `+` and `.`, which an execution name may not: the version is named by its SHA-256.
 */
export const executionName = (release: { readonly revision: number; readonly version: string }): string =>
  `rollout-${release.revision}-${createHash('sha256').update(release.version).digest('hex').slice(0, 32)}`;

/**
 * Starts the durable rollout of a release on AWS: one execution of the construct's state machine,
 * whose first step makes the rollout record from the release (functions/rollout/handler.ts).
 */
export class SfnRollouts {
  constructor(
    private readonly sfn: SFNClient,
    readonly stateMachineArn: string,
  ) {}

  /** `started: false` when the execution of this release exists already (a retried run). */
  async start(release: { readonly revision: number; readonly version: string }): Promise<{
    readonly started: boolean;
    readonly name: string;
  }> {
    const name = executionName(release);
    try {
      await this.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name,
          input: JSON.stringify({ release: { revision: release.revision, version: release.version } }),
        }),
      );
      return { started: true, name };
    } catch (error) {
      // The same name with the same input is no error; the same name that ended (or another
      // input) is ExecutionAlreadyExists: the rollout of this release was started before.
      if ((error as { name?: string }).name === 'ExecutionAlreadyExists') return { started: false, name };
      throw mapAwsError(error, `starting the rollout ${name} on ${this.stateMachineArn}`);
    }
  }
}

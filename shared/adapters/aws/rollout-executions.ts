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
 * The execution name of the CRL sync of one revocation change (shared/rollout/crl-sync.ts): one
 * per state revision and revocation generation, so a retried ingest run starts it once.
 */
export const crlSyncExecutionName = (change: {
  readonly revision: number;
  readonly generation: number;
}): string => `crl-sync-${change.revision}-${change.generation}`;

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
    return this.execute(executionName(release), {
      release: { revision: release.revision, version: release.version },
    });
  }

  /**
   * Starts the CRL sync of a revocation change: an execution of the same state machine whose input
   * is `{ "revocations": { revision, generation } }` (only ELB trust stores, only their CRLs).
   * `started: false` when it was started before (a retried run).
   */
  async startCrlSync(change: { readonly revision: number; readonly generation: number }): Promise<{
    readonly started: boolean;
    readonly name: string;
  }> {
    return this.execute(crlSyncExecutionName(change), {
      revocations: { revision: change.revision, generation: change.generation },
    });
  }

  private async execute(
    name: string,
    input: unknown,
  ): Promise<{ readonly started: boolean; readonly name: string }> {
    try {
      await this.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name,
          input: JSON.stringify(input),
        }),
      );
      return { started: true, name };
    } catch (error) {
      // The same name with the same input is no error; the same name that ended (or another
      // input) is ExecutionAlreadyExists: this execution was started before.
      if ((error as { name?: string }).name === 'ExecutionAlreadyExists') return { started: false, name };
      throw mapAwsError(error, `starting the execution ${name} on ${this.stateMachineArn}`);
    }
  }
}

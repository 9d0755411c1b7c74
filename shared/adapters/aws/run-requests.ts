import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { mapAwsError } from './errors.js';

/**
 * The message group of the ingest queue: every truststore change, S3 event or run request, goes
 * through this one group, so they are handled one batch at a time, in order. The construct's
 * EventBridge target uses the same id.
 */
export const MESSAGE_GROUP = 'truststore';

/** How a run request is told apart from an S3 event in the ingest queue. */
export const RUN_REQUEST = { source: 'trustroll', detailType: 'Run Requested' } as const;

export interface RunRequest {
  /**
   * Why a run is needed: `roll deferred` (domains a run had no time for), `pruned` (the scan
   * changed the truststore), `pending window ended` (uploads waiting for their issuer are due).
   */
  readonly reason: string;
  /** The domains not rolled yet, when known (a run rolls every configured domain anyway). */
  readonly domains?: readonly string[];
  /** The truststore version they are due to get. */
  readonly version?: string;
  /** Who asked: `ingest`, `expiry-scan`. */
  readonly from: string;
  readonly at: Date;
}

/**
 * Asks the ingest function for a run through its queue. Any run judges the uploads waiting for
 * their issuer and makes every configured domain serve the latest version, so a roll that did not
 * fit into one invocation continues in the next, and the scan hands its work to the one function
 * that rolls. The message is shaped like the EventBridge events beside it: one parser reads the queue.
 */
export class SqsRunRequests {
  constructor(
    private readonly sqs: SQSClient,
    readonly queueUrl: string,
  ) {}

  async request(r: RunRequest): Promise<void> {
    const body = {
      source: RUN_REQUEST.source,
      'detail-type': RUN_REQUEST.detailType,
      time: r.at.toISOString(),
      detail: {
        reason: r.reason,
        from: r.from,
        ...(r.domains ? { domains: r.domains } : {}),
        ...(r.version ? { version: r.version } : {}),
      },
    };
    try {
      await this.sqs.send(
        new SendMessageCommand({
          QueueUrl: this.queueUrl,
          MessageBody: JSON.stringify(body),
          MessageGroupId: MESSAGE_GROUP,
          // Two requests are never one: a follow-up that defers again asks again.
          MessageDeduplicationId: `run-${r.at.getTime()}-${Math.random().toString(36).slice(2, 10)}`,
        }),
      );
    } catch (error) {
      throw mapAwsError(error, `requesting an ingest run on ${this.queueUrl}`);
    }
  }
}

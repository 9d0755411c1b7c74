import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { mapAwsError } from './errors.js';

/**
 * The message group of the ingest queue: every truststore change, S3 event or roll request, goes
 * through this one group, so they are handled one batch at a time, in order. The construct's
 * EventBridge target uses the same id.
 */
export const MESSAGE_GROUP = 'truststore';

/** How a roll request is told apart from an S3 event in the ingest queue. */
export const ROLL_REQUEST = { source: 'trustroll', detailType: 'Roll Requested' } as const;

export interface RollRequest {
  /** The domains not rolled yet (the follow-up rolls every configured domain to the latest version). */
  readonly domains: readonly string[];
  /** The truststore version they were due to get. */
  readonly version?: string;
  /** Who asked: `ingest`, `expiry-scan`. */
  readonly from: string;
  readonly at: Date;
}

/**
 * Asks for a follow-up run through the ingest queue: a roll that did not fit into one Lambda
 * invocation continues in the next one, which rolls the domains left (every run makes all
 * configured domains serve the latest version). The message is shaped like the EventBridge events
 * beside it, so one parser reads the queue.
 */
export class SqsRollRequests {
  constructor(
    private readonly sqs: SQSClient,
    readonly queueUrl: string,
  ) {}

  async request(r: RollRequest): Promise<void> {
    const body = {
      source: ROLL_REQUEST.source,
      'detail-type': ROLL_REQUEST.detailType,
      time: r.at.toISOString(),
      detail: { domains: r.domains, ...(r.version ? { version: r.version } : {}), from: r.from },
    };
    try {
      await this.sqs.send(
        new SendMessageCommand({
          QueueUrl: this.queueUrl,
          MessageBody: JSON.stringify(body),
          MessageGroupId: MESSAGE_GROUP,
          // Two requests are never one: a follow-up that defers again asks again.
          MessageDeduplicationId: `roll-${r.at.getTime()}-${Math.random().toString(36).slice(2, 10)}`,
        }),
      );
    } catch (error) {
      throw mapAwsError(error, `requesting a follow-up roll on ${this.queueUrl}`);
    }
  }
}

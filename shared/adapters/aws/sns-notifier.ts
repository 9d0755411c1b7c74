import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { Notification, Notifier } from '../../ports.js';
import { mapAwsError } from './errors.js';

/** SNS allows 256 KB per message; leave room for attributes and the JSON envelope of subscribers. */
export const MAX_BODY_BYTES = 200 * 1024;

/**
 * SNS e-mail subjects must be ASCII, without line breaks, under 100 characters: accents are
 * dropped (é → e), anything else non-ASCII becomes "?".
 */
export const snsSubject = (subject: string): string => {
  const ascii = subject
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^\x20-\x7e]/g, '?')
    .trim();
  return ascii.length <= 99 ? ascii : `${ascii.slice(0, 96)}...`;
};

/** Keeps whole lines up to the limit and says how many were left out; never cuts mid-line. */
export const fitBody = (body: string, maxBytes = MAX_BODY_BYTES): string => {
  if (Buffer.byteLength(body) <= maxBytes) return body;
  const lines = body.split('\n');
  const kept: string[] = [];
  let bytes = 0;
  const reserve = 200;
  for (const line of lines) {
    const size = Buffer.byteLength(line) + 1;
    if (bytes + size > maxBytes - reserve) break;
    kept.push(line);
    bytes += size;
  }
  const left = lines.length - kept.length;
  return `${kept.join('\n')}\n… and ${left} more line${left === 1 ? '' : 's'} (see the report in the bucket).\n`;
};

/**
 * The Notifier port over an SNS topic. Message attributes `eventType`, `severity`, `partner`
 * and `id` let subscriptions filter (a partner's e-mail subscription gets only its partner).
 */
export class SnsNotifier implements Notifier {
  constructor(
    private readonly sns: SNSClient,
    readonly topicArn: string,
  ) {}

  async publish(n: Notification): Promise<void> {
    try {
      await this.sns.send(
        new PublishCommand({
          TopicArn: this.topicArn,
          Subject: snsSubject(n.subject),
          Message: fitBody(n.body),
          MessageAttributes: {
            eventType: { DataType: 'String', StringValue: n.eventType },
            severity: { DataType: 'String', StringValue: n.severity },
            partner: { DataType: 'String', StringValue: n.partner ?? '-' },
            id: { DataType: 'String', StringValue: n.id },
          },
        }),
      );
    } catch (error) {
      throw mapAwsError(error, `publishing ${n.eventType} to ${this.topicArn}`);
    }
  }
}

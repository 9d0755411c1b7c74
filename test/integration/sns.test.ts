import { describe, expect, it } from 'vitest';
import { fitBody, SnsNotifier, snsSubject } from '../../shared/adapters/aws/sns-notifier.js';
import { notification } from '../../shared/pipeline/notifications.js';
import { drain, emulator, subscribedQueue, topicWithQueue } from './aws.js';

const aws = emulator();

describe('SnsNotifier against the emulator', () => {
  it('publishes with eventType, severity and partner attributes that reach a subscribed queue', async () => {
    const { topicArn, queueUrl } = await topicWithQueue(aws);
    await new SnsNotifier(aws.sns, topicArn).publish(
      notification(
        'upload.rejected',
        'error',
        'inbox/acme/x.pem@1',
        'upload rejected: acme/x.pem (cert.not-ca)',
        ['line'],
        'acme',
      ),
    );
    const [m] = await drain(aws.sqs, queueUrl);
    expect(m!.Subject).toBe('[trustroll] upload rejected: acme/x.pem (cert.not-ca)');
    expect(m!.Message).toBe('line\n');
    expect(m!.MessageAttributes.eventType!.Value).toBe('upload.rejected');
    expect(m!.MessageAttributes.severity!.Value).toBe('error');
    expect(m!.MessageAttributes.partner!.Value).toBe('acme');
    expect(m!.MessageAttributes.id!.Value).toBe('upload.rejected:inbox/acme/x.pem@1');
  });

  it('lets a partner-filtered subscription receive only that partner', async () => {
    const { topicArn, queueUrl: team } = await topicWithQueue(aws);
    const acmeOnly = await subscribedQueue(aws, topicArn, { partner: ['acme'] });
    const sns = new SnsNotifier(aws.sns, topicArn);
    await sns.publish(notification('upload.accepted', 'info', 'a', 'for acme', ['a'], 'acme'));
    await sns.publish(notification('upload.accepted', 'info', 'b', 'for beta', ['b'], 'beta'));
    expect((await drain(aws.sqs, team)).map((m) => m.Subject).sort()).toEqual([
      '[trustroll] for acme',
      '[trustroll] for beta',
    ]);
    expect((await drain(aws.sqs, acmeOnly)).map((m) => m.Subject)).toEqual(['[trustroll] for acme']);
  });
});

describe('SNS limits', () => {
  it('keeps subjects ASCII, one line and under 100 characters', () => {
    expect(snsSubject('upload rejected: Müller GmbH/Zertifikat €.pem')).toBe(
      'upload rejected: Muller GmbH/Zertifikat ?.pem',
    );
    expect(snsSubject('x'.repeat(150))).toHaveLength(99);
  });

  it('truncates a long body at a line boundary and says how many lines were left out', () => {
    const lines = Array.from(
      { length: 5000 },
      (_, i) => `- CN=Partner CA ${i},O=Partner sha256 ${'ab'.repeat(32)}`,
    );
    const body = fitBody(`${lines.join('\n')}\n`, 50_000);
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(50_000);
    const kept = body.split('\n');
    const last = kept.at(-2)!;
    expect(last).toMatch(/^… and \d+ more lines \(see the report in the bucket\)\.$/);
    const shown = kept.slice(0, -2);
    expect(shown.every((l) => lines.includes(l))).toBe(true);
    expect(Number(/and (\d+) more/.exec(last)![1]) + shown.length).toBe(5001);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, readConfig } from '../../../functions/lib/config.js';
import { batchCorrelationId, decodeS3Key, parseRecord } from '../../../functions/lib/events.js';

const base = {
  TRUSTROLL_BUCKET: 'b-bucket',
  TRUSTROLL_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:trustroll-alerts',
};

describe('Lambda configuration', () => {
  it('reads domains with their API type and applies documented defaults', () => {
    const config = readConfig({ ...base, TRUSTROLL_DOMAINS: 'api.example.com, Mtls.Example.org:http' });
    expect(config.domains).toEqual([
      { name: 'api.example.com', kind: 'REST' },
      { name: 'mtls.example.org', kind: 'HTTP' },
    ]);
    expect(config).toMatchObject({
      expiringDays: 30,
      minUpdateIntervalMs: 30_000,
      maxUploadBytes: 2 * 1024 * 1024,
    });
  });

  it('reports every problem at once, saying what to fix', () => {
    const read = () =>
      readConfig({
        TRUSTROLL_TOPIC_ARN: 'not-an-arn',
        TRUSTROLL_DOMAINS: 'api.example.com:SOAP',
        TRUSTROLL_EXPIRING_DAYS: 'soon',
      });
    expect(read).toThrow(ConfigError);
    expect(read).toThrow(
      /TRUSTROLL_BUCKET is required; TRUSTROLL_TOPIC_ARN must be an SNS topic ARN; got "not-an-arn"; TRUSTROLL_DOMAINS: "api.example.com:SOAP" must end in :REST or :HTTP; TRUSTROLL_EXPIRING_DAYS must be a whole number/,
    );
  });
});

describe('Lambda configuration against what the bundle carries', () => {
  afterEach(() => {
    delete process.env.TRUSTROLL_BUNDLE_HTTP_API;
  });

  it('refuses an HTTP API domain when the bundle was built without the apigatewayv2 client, saying how to fix it', () => {
    // What esbuild's define makes of a bundle built for REST domains only.
    process.env.TRUSTROLL_BUNDLE_HTTP_API = 'false';
    const read = () => readConfig({ ...base, TRUSTROLL_DOMAINS: 'api.example.com,mtls.example.org:HTTP' });
    expect(read).toThrow(ConfigError);
    expect(read).toThrow(
      /TRUSTROLL_DOMAINS: mtls\.example\.org is HTTP but this bundle was built without the HTTP API client; redeploy with the domain in the construct's domains/,
    );
    expect(readConfig({ ...base, TRUSTROLL_DOMAINS: 'api.example.com' }).domains).toHaveLength(1);
  });
});

describe('S3 event keys', () => {
  it('are URL-decoded, with + as space, so unicode and spaces survive', () => {
    expect(decodeS3Key('inbox/M%C3%BCller+GmbH/ca+b%C3%BCndel.pem')).toBe('inbox/Müller GmbH/ca bündel.pem');
    expect(decodeS3Key('inbox/acme/a%2Bb.pem')).toBe('inbox/acme/a+b.pem');
  });
});

describe('correlation id of an ingest batch', () => {
  const record = (messageId: string, requestId?: string) =>
    parseRecord(
      {
        messageId,
        body: JSON.stringify({
          'detail-type': 'Object Created',
          source: 'aws.s3',
          detail: {
            bucket: { name: 'b-bucket' },
            object: { key: 'inbox/acme/ca.pem' },
            ...(requestId ? { 'request-id': requestId } : {}),
          },
        }),
      } as never,
      'b-bucket',
    );

  it('is the S3 request ids of the records, each once, in batch order', () => {
    expect(record('m1', 'R1')).toMatchObject({ ok: true, s3RequestId: 'R1' });
    expect(batchCorrelationId([record('m1', 'R2'), record('m2', 'R1'), record('m3', 'R2')])).toBe('R2,R1');
  });

  it('is absent when no record names its request', () => {
    expect(batchCorrelationId([record('m1'), { ok: false, messageId: 'm2', reason: 'x' }])).toBeUndefined();
  });
});

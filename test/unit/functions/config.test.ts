import { afterEach, describe, expect, it } from 'vitest';
import {
  ConfigError,
  MAX_ROLL_WORST_CASE_MS,
  readConfig,
  rollSettings,
} from '../../../functions/lib/config.js';
import {
  batchCorrelationId,
  decodeS3Key,
  keyForms,
  parseRecord,
  resolveObjectKey,
} from '../../../functions/lib/events.js';
import { rollWorstCaseMs } from '../../../shared/pipeline/roll.js';
import { MemoryStore } from '../../fakes/memory-store.js';

const base = {
  TRUSTROLL_BUCKET: 'b-bucket',
  TRUSTROLL_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:trustroll-alerts',
  TRUSTROLL_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/trustroll-uploads.fifo',
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
      maxCrlBytes: 50 * 1024 * 1024,
    });
  });

  it('starts CRL syncs only when told so (TRUSTROLL_CRL_SYNC), and only with the state machine they run on', () => {
    const machine = 'arn:aws:states:eu-west-1:123456789012:stateMachine:Rollout';
    expect(readConfig({ ...base, TRUSTROLL_STATE_MACHINE_ARN: machine }).crlSync).toBeUndefined();
    expect(
      readConfig({ ...base, TRUSTROLL_STATE_MACHINE_ARN: machine, TRUSTROLL_CRL_SYNC: 'true' }).crlSync,
    ).toBe(true);
    expect(() => readConfig({ ...base, TRUSTROLL_CRL_SYNC: 'true' })).toThrow(
      'TRUSTROLL_CRL_SYNC needs TRUSTROLL_STATE_MACHINE_ARN',
    );
    expect(() =>
      readConfig({ ...base, TRUSTROLL_STATE_MACHINE_ARN: machine, TRUSTROLL_CRL_SYNC: 'yes' }),
    ).toThrow('TRUSTROLL_CRL_SYNC must be true or false; got "yes"');
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
      /TRUSTROLL_BUCKET is required; TRUSTROLL_TOPIC_ARN must be an SNS topic ARN; got "not-an-arn"; TRUSTROLL_DOMAINS: "api.example.com:SOAP" must end in :REST or :HTTP; TRUSTROLL_QUEUE_URL is required with TRUSTROLL_DOMAINS: .*; TRUSTROLL_EXPIRING_DAYS must be a whole number/,
    );
  });

  it('keeps the default roll of one domain within what a fresh invocation can always finish', () => {
    const config = readConfig({ ...base, TRUSTROLL_DOMAINS: 'api.example.com' });
    // Two waits of 240 s + 5 s polls, 30 s pacing, and five retries of at least the 30 s pace
    // (back-offs 2, 4, 8, 16, 32 s): 245 + 30 + 152 + 245 = 672 s.
    expect(rollWorstCaseMs(rollSettings(config))).toBe(672_000);
    expect(rollWorstCaseMs(rollSettings(config))).toBeLessThanOrEqual(MAX_ROLL_WORST_CASE_MS);
  });

  it('refuses roll settings whose worst case could outlast a Lambda invocation, naming the settings', () => {
    const read = () =>
      readConfig({ ...base, TRUSTROLL_DOMAINS: 'api.example.com', TRUSTROLL_UPDATE_TIMEOUT_MS: '400000' });
    expect(read).toThrow(
      /one domain's roll could take 992 s with these TRUSTROLL_UPDATE_TIMEOUT_MS.*within 780 s/,
    );
    // A long pace counts once per retry too (the back-offs alone would say 442 s here).
    expect(() =>
      readConfig({
        ...base,
        TRUSTROLL_DOMAINS: 'api.example.com',
        TRUSTROLL_MIN_UPDATE_INTERVAL_MS: '120000',
        TRUSTROLL_UPDATE_TIMEOUT_MS: '60000',
      }),
    ).toThrow(/could take 850 s/);
    expect(() => readConfig({ ...base, TRUSTROLL_POLL_INTERVAL_MS: '0' })).toThrow(
      /TRUSTROLL_POLL_INTERVAL_MS must be a whole number of at least 100; got "0"/,
    );
    expect(() => readConfig({ ...base, TRUSTROLL_PENDING_WINDOW_HOURS: '3000000000' })).toThrow(
      /TRUSTROLL_PENDING_WINDOW_HOURS must be a whole number from 0 to 8784; got "3000000000"/,
    );
    expect(() => readConfig({ ...base, TRUSTROLL_QUEUE_URL: 'https://example.com/queue' })).toThrow(
      /TRUSTROLL_QUEUE_URL must be the URL of the FIFO ingest queue/,
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

  it('stand for the key as sent or its decoded form, as sent first; invalid encoding leaves one', () => {
    expect(keyForms('inbox/acme/a b+c%d:e.pem')).toEqual(['inbox/acme/a b+c%d:e.pem']);
    expect(keyForms('inbox/acme/a+b%2Bc.pem')).toEqual(['inbox/acme/a+b%2Bc.pem', 'inbox/acme/a b+c.pem']);
    expect(keyForms('inbox/acme/plain.pem')).toEqual(['inbox/acme/plain.pem']);
  });

  it('resolve to the form whose version the event names, whichever form the event used', async () => {
    const store = new MemoryStore();
    const raw = await store.put('inbox/acme/a+b%2Bc.pem', new Uint8Array([1]));
    const decoded = await store.put('inbox/acme/a b+c.pem', new Uint8Array([2]));
    const forms = keyForms('inbox/acme/a+b%2Bc.pem');
    expect(await resolveObjectKey(forms, raw.version, store)).toBe('inbox/acme/a+b%2Bc.pem');
    expect(await resolveObjectKey(forms, decoded.version, store)).toBe('inbox/acme/a b+c.pem');
    // A version already handled (destroyed) names nothing: the key as sent, where ingest finds nothing.
    expect(await resolveObjectKey(forms, 'v999', store)).toBe('inbox/acme/a+b%2Bc.pem');
  });
});

describe('roll requests in the ingest queue', () => {
  it('are told apart from S3 events and carry who asked', () => {
    const body = JSON.stringify({
      source: 'trustroll',
      'detail-type': 'Run Requested',
      detail: { domains: ['api.example.com'], from: 'expiry-scan' },
    });
    expect(parseRecord({ messageId: 'm1', body } as never, 'b-bucket')).toEqual({
      ok: true,
      kind: 'run',
      messageId: 'm1',
      from: 'expiry-scan',
    });
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
    expect(record('m1', 'R1')).toMatchObject({ ok: true, kind: 'object', s3RequestId: 'R1' });
    expect(batchCorrelationId([record('m1', 'R2'), record('m2', 'R1'), record('m3', 'R2')])).toBe('R2,R1');
  });

  it('is absent when no record names its request', () => {
    expect(batchCorrelationId([record('m1'), { ok: false, messageId: 'm2', reason: 'x' }])).toBeUndefined();
  });
});

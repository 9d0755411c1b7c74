import { APIGatewayClient, GetDomainNameCommand, UpdateDomainNameCommand } from '@aws-sdk/client-api-gateway';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { readInput } from '../../shared/pki/read.js';
import { partnerChain, pemOf, root } from '../fixtures/pki.js';
import { drain, emulator, topicWithQueue, versionedBucket } from './aws.js';

/**
 * The Lambda handlers over the wire: S3 and SNS are the emulator (moto), API Gateway — which no
 * emulator implements for mTLS domains — is aws-sdk-client-mock. Events have the exact shape that
 * S3 → EventBridge → SQS delivers, with URL-encoded keys.
 */
const aws = emulator();
const apigw = mockClient(APIGatewayClient);
let bucket: string;
let queueUrl: string;
let handlers: {
  ingest: (e: SQSEvent, c: Context) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;
  scan: (
    e: unknown,
    c: Context,
  ) => Promise<{ certificates: number; nearestExpiryDays?: number; alerts: number }>;
};
let domainVersion: string | undefined;

const context = {
  functionName: 'trustroll-ingest',
  awsRequestId: 'req-1',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:x',
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;

const s3Key = (key: string) => encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
const record = (id: string, key: string, version?: string, bucketName = bucket): SQSRecord =>
  ({
    messageId: id,
    receiptHandle: `rh-${id}`,
    body: JSON.stringify({
      version: '0',
      id: `evt-${id}`,
      'detail-type': 'Object Created',
      source: 'aws.s3',
      account: '123456789012',
      time: '2026-11-28T12:00:00Z',
      region: 'us-east-1',
      resources: [`arn:aws:s3:::${bucketName}`],
      detail: {
        version: '0',
        bucket: { name: bucketName },
        object: {
          key: s3Key(key),
          size: 100,
          etag: 'x',
          ...(version ? { 'version-id': version } : {}),
          sequencer: '00',
        },
        'request-id': `req-${id}`,
        requester: '123456789012',
        reason: 'PutObject',
      },
    }),
    attributes: {
      MessageGroupId: 'truststore',
      SequenceNumber: '1',
      ApproximateReceiveCount: '1',
      SentTimestamp: '0',
      SenderId: 'x',
      ApproximateFirstReceiveTimestamp: '0',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:trustroll.fifo',
    awsRegion: 'us-east-1',
  }) as SQSRecord;

beforeAll(async () => {
  bucket = await versionedBucket(aws.s3);
  const topic = await topicWithQueue(aws);
  queueUrl = topic.queueUrl;
  Object.assign(process.env, {
    TRUSTROLL_BUCKET: bucket,
    TRUSTROLL_TOPIC_ARN: topic.topicArn,
    TRUSTROLL_DOMAINS: 'api.example.com:REST',
    TRUSTROLL_AWS_ENDPOINT: aws.endpoint,
    TRUSTROLL_MIN_UPDATE_INTERVAL_MS: '0',
    TRUSTROLL_POLL_INTERVAL_MS: '0',
    POWERTOOLS_LOG_LEVEL: 'INFO',
    // As Lambda sets it for on-demand functions: Powertools counts cold starts only then.
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
  });
  apigw.on(GetDomainNameCommand).callsFake(() => ({
    domainName: 'api.example.com',
    domainNameStatus: 'AVAILABLE',
    mutualTlsAuthentication: {
      truststoreUri: `s3://${bucket}/truststore/truststore.pem`,
      ...(domainVersion ? { truststoreVersion: domainVersion } : {}),
      truststoreWarnings: [],
    },
  }));
  apigw.on(UpdateDomainNameCommand).callsFake((input) => {
    domainVersion = input.patchOperations[0].value;
    return {};
  });
  vi.resetModules();
  const ingest = await import('../../functions/ingest/handler.js');
  const scan = await import('../../functions/expiry-scan/handler.js');
  handlers = { ingest: ingest.handler as never, scan: scan.handler as never };
});

afterAll(() => {
  apigw.restore();
});

/**
 * The Powertools log lines and EMF metric documents of the current test (JSON lines on
 * stdout/stderr, kept out of the output).
 */
let logs: Record<string, unknown>[] = [];
let metrics: Record<string, unknown>[] = [];
beforeEach(() => {
  logs = [];
  metrics = [];
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (...a: unknown[]) => boolean;
    vi.spyOn(stream, 'write').mockImplementation(((chunk: unknown, ...rest: unknown[]) => {
      try {
        const line = JSON.parse(String(chunk));
        if (line && typeof line === 'object' && 'level' in line && 'service' in line) {
          logs.push(line);
          return true;
        }
        if (line && typeof line === 'object' && '_aws' in line) {
          metrics.push(line);
          return true;
        }
      } catch {}
      return write(chunk, ...rest);
    }) as never);
  }
});
afterEach(() => {
  vi.restoreAllMocks();
});
const logged = (message: string) => logs.filter((l) => l.message === message);
/** The value of each metric, from the EMF documents of the current test (one per invocation). */
const metricValues = () => {
  const values: Record<string, unknown> = {};
  for (const doc of metrics) {
    const aws = doc._aws as { CloudWatchMetrics: { Namespace: string; Metrics: { Name: string }[] }[] };
    for (const m of aws.CloudWatchMetrics[0]!.Metrics)
      values[`${aws.CloudWatchMetrics[0]!.Namespace}/${m.Name}`] = doc[m.Name];
  }
  return values;
};

const put = (key: string, body: string) =>
  aws.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
const keys = async (prefix: string) =>
  ((await aws.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? [])
    .map((o) => o.Key!)
    .sort();

describe('ingest handler (SQS FIFO batch of EventBridge S3 events)', () => {
  it('ingests the batch in one run: new truststore version, moves, SNS alerts, one REST domain roll', async () => {
    const partner = await partnerChain('Müller');
    const good = await put('inbox/Müller GmbH/ca bündel.pem', pemOf(partner.root, partner.intermediate));
    const bad = await put('inbox/acme/leaf only.pem', partner.client.pem);
    const result = await handlers.ingest(
      {
        Records: [
          record('m1', 'inbox/Müller GmbH/ca bündel.pem', good.VersionId),
          record('m2', 'inbox/acme/leaf only.pem', bad.VersionId),
        ],
      },
      context,
    );
    expect(result.batchItemFailures).toEqual([]);

    const truststore = await aws.s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: 'truststore/truststore.pem' }),
    );
    const certs = readInput({ name: 't', bytes: await truststore.Body!.transformToByteArray() }).certificates;
    expect(certs.map((c) => c.cert.subject.text).sort()).toEqual([
      'CN=Müller Issuing CA,O=Müller',
      'CN=Müller Root CA,O=Müller',
    ]);
    expect(truststore.VersionId).toBeTruthy();
    expect(await keys('inbox/')).toEqual([]);
    expect(await keys('archive/')).toEqual([
      'archive/Müller GmbH/ca bündel.pem',
      'archive/Müller GmbH/ca bündel.pem.report.json',
    ]);
    expect(await keys('rejected/')).toEqual([
      'rejected/acme/leaf only.pem',
      'rejected/acme/leaf only.pem.report.json',
    ]);

    const updates = apigw.commandCalls(UpdateDomainNameCommand);
    expect(updates).toHaveLength(1);
    expect(updates[0]!.args[0].input).toEqual({
      domainName: 'api.example.com',
      patchOperations: [
        { op: 'replace', path: '/mutualTlsAuthentication/truststoreVersion', value: truststore.VersionId },
      ],
    });

    const messages = await drain(aws.sqs, queueUrl);
    const byType = Object.fromEntries(messages.map((m) => [m.MessageAttributes.eventType!.Value, m]));
    expect(Object.keys(byType).sort()).toEqual(['truststore.rolled', 'upload.accepted', 'upload.rejected']);
    expect(byType['upload.accepted']!.MessageAttributes.partner!.Value).toBe('Müller GmbH');
    expect(byType['upload.rejected']!.MessageAttributes.severity!.Value).toBe('error');
    expect(byType['upload.accepted']!.Subject).toMatch(
      /^\[trustroll\] upload accepted: Muller GmbH\/ca bundel\.pem/,
    );

    // Every log line of the run, the use-case's included, carries the S3 request ids of the batch.
    expect(logged('batch received')[0]).toMatchObject({
      correlation_id: 'req-m1,req-m2',
      records: [
        { messageId: 'm1', key: 'inbox/Müller GmbH/ca bündel.pem', s3RequestId: 'req-m1' },
        { messageId: 'm2', key: 'inbox/acme/leaf only.pem', s3RequestId: 'req-m2' },
      ],
    });
    expect(logged('state committed')).toHaveLength(1);
    expect(logs.every((l) => l.correlation_id === 'req-m1,req-m2')).toBe(true);

    // EMF: one upload accepted, one rejected, two CAs served; the partner CAs expire in about a year.
    const values = metricValues();
    expect(values).toMatchObject({
      'trustroll/UploadsAccepted': 1,
      'trustroll/UploadsRejected': 1,
      'trustroll/CertificatesInTruststore': 2,
      'trustroll/ColdStart': 1,
    });
    expect(values['trustroll/DaysToNearestExpiry']).toBeGreaterThan(300);
  });

  it('treats a redelivered event as a duplicate: no new version, no alert', async () => {
    const before = await aws.s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: 'truststore/truststore.pem' }),
    );
    const result = await handlers.ingest(
      { Records: [record('m3', 'inbox/Müller GmbH/ca bündel.pem')] },
      context,
    );
    expect(result.batchItemFailures).toEqual([]);
    const after = await aws.s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: 'truststore/truststore.pem' }),
    );
    expect(after.VersionId).toBe(before.VersionId);
    expect(await drain(aws.sqs, queueUrl)).toEqual([]);
    // The correlation id is this invocation's, not the one before.
    expect(logged('batch received')[0]).toMatchObject({ correlation_id: 'req-m3' });
  });

  it('reports an unusable record and every later record of the FIFO batch as failures', async () => {
    const partner = await partnerChain('Later');
    const ok = await put('inbox/later/ca.pem', pemOf(partner.root, partner.intermediate));
    const junk = { ...record('m4', 'x'), body: 'not json' } as SQSRecord;
    const result = await handlers.ingest(
      {
        Records: [
          record('m5', 'inbox/later/ca.pem', ok.VersionId),
          junk,
          record('m6', 'inbox/later/ca.pem', ok.VersionId),
        ],
      },
      context,
    );
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'm4' }, { itemIdentifier: 'm6' }]);
    expect(await keys('archive/later/')).toEqual([
      'archive/later/ca.pem',
      'archive/later/ca.pem.report.json',
    ]);
  });
});

describe('ingest handler: removal requests dropped into requests/', () => {
  it('removes the CAs the request names, rolls, and archives the request with a report', async () => {
    const req = await put(
      'requests/offboard later.json',
      JSON.stringify({ partner: 'later', reason: 'offboarded', requestedBy: 'ops' }),
    );
    const result = await handlers.ingest(
      { Records: [record('r1', 'requests/offboard later.json', req.VersionId)] },
      context,
    );
    expect(result.batchItemFailures).toEqual([]);
    const truststore = await aws.s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: 'truststore/truststore.pem' }),
    );
    const names = readInput({
      name: 't',
      bytes: await truststore.Body!.transformToByteArray(),
    }).certificates.map((c) => c.cert.subject.text);
    expect(names.some((n) => n.includes('Later'))).toBe(false);
    expect(await keys('requests/')).toEqual([]);
    expect(await keys('archive/requests/')).toEqual([
      'archive/requests/offboard_later.json',
      'archive/requests/offboard_later.json.report.json',
    ]);
    const messages = await drain(aws.sqs, queueUrl);
    expect(messages.map((m) => m.MessageAttributes.eventType!.Value)).toContain('truststore.removed');
    expect(apigw.commandCalls(UpdateDomainNameCommand).at(-1)!.args[0].input.patchOperations![0]!.value).toBe(
      truststore.VersionId,
    );
  });
});

describe('expiry-scan handler (scheduled event)', () => {
  it('alerts a CA crossing a threshold over SNS, with attributes, and remembers it in the state in S3', async () => {
    const soonRoot = await root('CN=Soon Root,O=Soon', {
      notAfter: new Date(Date.now() + 10 * 86_400_000),
      now: new Date(),
    });
    const upload = await put('inbox/soon/root.pem', soonRoot.pem);
    expect(
      (await handlers.ingest({ Records: [record('s1', 'inbox/soon/root.pem', upload.VersionId)] }, context))
        .batchItemFailures,
    ).toEqual([]);
    await drain(aws.sqs, queueUrl);

    // The input the construct's schedule sends (its context attributes, filled in by the Scheduler).
    const scheduled = (executionId: string) => ({
      'execution-id': executionId,
      'scheduled-time': '2026-12-01T06:00:00Z',
      'attempt-number': '1',
    });
    logs = [];
    const result = await handlers.scan(scheduled('exec-1'), context);
    expect(logged('expiry scan started')[0]).toMatchObject({
      correlation_id: 'exec-1',
      scheduledTime: '2026-12-01T06:00:00Z',
    });
    expect(logs.every((l) => l.correlation_id === 'exec-1')).toBe(true);
    expect(metricValues()).toMatchObject({
      'trustroll/CertificatesInTruststore': 3,
      'trustroll/DaysToNearestExpiry': 9,
    });
    // Müller's two CAs and the soon-expiring root (Later's were removed by the request above).
    expect(result.certificates).toBe(3);
    expect(result.nearestExpiryDays).toBe(9);
    const messages = await drain(aws.sqs, queueUrl);
    const soon = messages.filter((m) => m.MessageAttributes.partner?.Value === 'soon');
    expect(soon).toHaveLength(1);
    expect(soon[0]!.MessageAttributes.eventType!.Value).toBe('ca.expiring');
    expect(soon[0]!.MessageAttributes.severity!.Value).toBe('warning');
    expect(soon[0]!.Subject).toMatch(/CA expires in 9 days: CN=Soon Root,O=Soon \(soon\)/);

    const state = JSON.parse(
      await (
        await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'state/truststore.json' }))
      ).Body!.transformToString(),
    );
    const fingerprint = readInput({ name: 'r', bytes: soonRoot.der }).certificates[0]!.cert.fingerprint;
    expect(state.expiryAlerts[fingerprint].level).toBe(14);

    // The same day again (a retried Lambda): nothing new.
    await handlers.scan(scheduled('exec-2'), context);
    expect(
      (await drain(aws.sqs, queueUrl)).filter((m) => m.MessageAttributes.partner?.Value === 'soon'),
    ).toEqual([]);
  });
});

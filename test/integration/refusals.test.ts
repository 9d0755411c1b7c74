import { gzipSync } from 'node:zlib';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { S3ObjectStore } from '../../shared/adapters/aws/s3-store.js';
import { ingestUploads } from '../../shared/pipeline/ingest.js';
import { publishReport } from '../../shared/pipeline/report.js';
import { loadState } from '../../shared/pipeline/state-store.js';
import { parseCertificate } from '../../shared/pki/certificate.js';
import { ALERTED_KEY } from '../../shared/refusals/alerts.js';
import { RECENT_KEY } from '../../shared/refusals/recent.js';
import { FakeClock, FakeGateway, MemoryNotifier, memoryLog } from '../fakes/fakes.js';
import { accessLogLine, requestTime } from '../fixtures/access-log.js';
import { type Issued, leaf, partnerChain, pemOf, root, toBytes } from '../fixtures/pki.js';
import { deniedCalls, SynthesizedStack } from './access.js';
import { drain, emulator, fifoQueue, topicWithQueue, versionedBucket } from './aws.js';
import { lambdaContext } from './lambda.js';
import { type AwsCall, AwsRecorder } from './recorder.js';

/**
 * The refusals subscriber over the wire: a CloudWatch Logs subscription event in the shape AWS
 * documents (base64 of gzipped JSON, `DATA_MESSAGE` with `logEvents`), whose messages are
 * access-log lines of the format the construct configures, built from that format; S3 and SNS
 * are the emulator, and every request is checked against the IAM the template grants the role.
 */
const aws = emulator();
const recorder = new AwsRecorder(aws.endpoint);
type Handler = (event: unknown, context: unknown) => Promise<{ refusals: number; alerted: number }>;

let handler: Handler;
let stack: SynthesizedStack;
let bucket: string;
let alerts: string;
let acme: { root: Issued; intermediate: Issued; client: Issued };
const calls: AwsCall[] = [];

beforeAll(async () => {
  await recorder.start();
  acme = await partnerChain('Door');
  bucket = await versionedBucket(aws.s3);
  const topic = await topicWithQueue(aws);
  alerts = topic.queueUrl;
  const queue = await fifoQueue(aws.sqs);
  const store = new S3ObjectStore(aws.s3, bucket);
  const { version } = await store.put('inbox/acme/ca.pem', toBytes(pemOf(acme.root, acme.intermediate)));
  await ingestUploads([{ key: 'inbox/acme/ca.pem', version }], {
    store,
    gateway: new FakeGateway(),
    notifier: new MemoryNotifier(),
    clock: new FakeClock(Date.now() - 60_000),
    log: memoryLog(),
    config: { roll: { domains: [] } },
  });
  stack = new SynthesizedStack({}, { bucket, topicArn: topic.topicArn, queue });
  Object.assign(process.env, stack.environment('refusals'), {
    TRUSTROLL_AWS_ENDPOINT: recorder.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
  });
  vi.resetModules();
  handler = (await import('../../functions/refusals/handler.js')).handler as unknown as Handler;
}, 120_000);
afterAll(async () => {
  await recorder.stop();
});

// Powertools' log lines and metrics are kept out of the test output.
beforeEach(() => {
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (...a: unknown[]) => boolean;
    vi.spyOn(stream, 'write').mockImplementation(((chunk: unknown, ...rest: unknown[]) =>
      /^\{.*("level"|"_aws")/.test(String(chunk)) ? true : write(chunk, ...rest)) as never);
  }
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** The event CloudWatch Logs sends a Lambda subscription (AWS's documented shape). */
const subscriptionEvent = (messages: string[], messageType = 'DATA_MESSAGE') => ({
  awslogs: {
    data: gzipSync(
      JSON.stringify({
        messageType,
        owner: '123456789012',
        logGroup: 'API-Gateway-Access-Logs_api/prod',
        logStream: 'a1b2c3d4',
        subscriptionFilters: ['RefusalsSubscription'],
        logEvents: messages.map((message, i) => ({
          id: `3719${i}`.padEnd(56, '0'),
          timestamp: Date.now(),
          message,
        })),
      }),
    ).toString('base64'),
  },
});

const refusedLine = (client: Issued, id: string) => {
  const now = new Date();
  return accessLogLine({
    requestId: id,
    requestTime: requestTime(now),
    requestTimeEpoch: String(now.getTime()),
    domainName: 'api.example.com',
    status: '403',
    error: 'Forbidden',
    sourceIp: '198.51.100.4',
    clientCertPem: client.pem,
    subjectDN: client.cert.subject,
    issuerDN: client.cert.issuer,
    serialNumber: client.cert.serialNumber,
    notBefore: 'Jun  1 00:00:00 2026 GMT',
    notAfter: 'Jun  1 00:00:00 2027 GMT',
  });
};

const invoke = async (event: unknown) => {
  recorder.take();
  const result = await handler(event, lambdaContext(60_000, 'trustroll-refusals'));
  const made = recorder.take();
  calls.push(...made);
  expect(await deniedCalls(stack, 'refusals', made)).toEqual([]);
  return result;
};

describe('the refusals subscriber', () => {
  it('explains refused handshakes, alerts the partner once per certificate and reason, and the operators for strangers', async () => {
    const now = new Date();
    const expired = await leaf('CN=expired.door.example', acme.intermediate, {
      now,
      notBefore: new Date(now.getTime() - 400 * 86_400_000),
      notAfter: new Date(now.getTime() - 86_400_000),
    });
    const stranger = await leaf('CN=stranger', await root('CN=Nobody Root'), { now });

    const first = await invoke(
      subscriptionEvent([
        refusedLine(expired, 'r1'),
        refusedLine(expired, 'r2'),
        refusedLine(stranger, 'r3'),
      ]),
    );
    expect(first).toEqual({ refusals: 3, alerted: 2 });
    const sent = await drain(aws.sqs, alerts);
    expect(sent).toHaveLength(2);
    const partnerAlert = sent.find((m) => m.MessageAttributes.partner?.Value === 'acme')!;
    expect(partnerAlert.MessageAttributes.eventType!.Value).toBe('handshake.refused');
    expect(partnerAlert.Subject).toBe('[trustroll] handshake refused: acme, expired');
    expect(partnerAlert.Message).toContain('CN=expired.door.example');
    expect(partnerAlert.Message).toContain(`sha256 ${parseCertificate(expired.der).fingerprint}`);
    const operators = sent.find((m) => m !== partnerAlert)!;
    // No partner: the operators' subscription (no filter) gets it, no partner's does.
    expect(operators.MessageAttributes.partner!.Value).toBe('-');
    expect(operators.Subject).toBe('[trustroll] handshake refused: unknown, issuer-unknown');
    expect(operators.Message).toMatch(/Could not find issuer .*CN=Nobody Root/);

    // The same refusals again (another request, a redelivered batch): nothing new to say.
    expect(
      await invoke(subscriptionEvent([refusedLine(expired, 'r4'), refusedLine(stranger, 'r5')])),
    ).toEqual({
      refusals: 2,
      alerted: 0,
    });
    expect(await drain(aws.sqs, alerts)).toEqual([]);

    // What is kept: which certificate and reason was alerted, never the certificate itself.
    const kept = await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: ALERTED_KEY }));
    const record = await kept.Body!.transformToString();
    expect(Object.keys(JSON.parse(record).alerted)).toEqual(
      expect.arrayContaining([`${parseCertificate(expired.der).fingerprint}|expired`]),
    );
    expect(record).not.toContain('BEGIN CERTIFICATE');

    // For the report: the refusals of the last 30 days, what was understood of each (the
    // redelivered r4/r5 are new requests, so 5 in all), never a certificate.
    const recent = await (
      await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: RECENT_KEY }))
    ).Body!.transformToString();
    expect(recent).not.toContain('BEGIN CERTIFICATE');
    const held = JSON.parse(recent).refusals as { requestId: string; partner: string; code: string }[];
    expect(held.map((r) => r.requestId).sort()).toEqual(['r1', 'r2', 'r3', 'r4', 'r5']);
    expect(held.find((r) => r.requestId === 'r1')).toMatchObject({ partner: 'acme', code: 'expired' });
    // The same lines delivered again (a retried batch) are not counted twice.
    await invoke(subscriptionEvent([refusedLine(expired, 'r1')]));
    await drain(aws.sqs, alerts);
    const again = JSON.parse(
      await (
        await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: RECENT_KEY }))
      ).Body!.transformToString(),
    );
    expect(again.refusals).toHaveLength(5);
    // The report the pipeline publishes shows them (here made as the scan and ingest make it).
    const store = new S3ObjectStore(aws.s3, bucket);
    const { state } = await loadState(store);
    expect(await publishReport(store, state, new Date(), memoryLog())).toBeUndefined();
    const page = await (
      await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'reports/index.html' }))
    ).Body!.transformToString();
    expect(page).toContain('Refused handshakes (5)');
    expect(page).toContain('CN=expired.door.example');
  });

  it("answers CloudWatch Logs' control message without reading anything", async () => {
    expect(
      await invoke(
        subscriptionEvent(['CWL CONTROL MESSAGE: Checking health of destination'], 'CONTROL_MESSAGE'),
      ),
    ).toEqual({
      refusals: 0,
      alerted: 0,
    });
  });

  it('made only calls its role allows (S3 reads of state and truststore, the alerted record, SNS)', () => {
    const ops = new Set(calls.map((c) => c.operation));
    expect([...ops].sort()).toEqual(expect.arrayContaining(['GetObject', 'PutObject', 'Publish']));
  });
});

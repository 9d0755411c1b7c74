import {
  GetObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { DeleteMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { readInput } from '../../shared/pki/read.js';
import { partnerChain, pemOf, privateKeyPem, root } from '../fixtures/pki.js';
import { deniedCalls, SynthesizedStack } from './access.js';
import { drain, emulator, fifoQueue, receiveAll, topicWithQueue, versionedBucket } from './aws.js';
import { encodeS3Key, lambdaContext, objectCreated, recordOf, sqsRecord } from './lambda.js';
import { type AwsCall, AwsRecorder } from './recorder.js';

/**
 * The Lambda handlers over the wire, configured by the environment the synthesized stack gives
 * them: S3, SNS and SQS are the emulator (moto), API Gateway a fake over HTTP (no emulator has
 * mutual TLS domains). Every AWS request a handler makes is recorded and must be allowed by the
 * IAM the same template grants its role (the access test).
 */
const aws = emulator();
const recorder = new AwsRecorder(aws.endpoint);
let bucket: string;
let alerts: string;
let stack: SynthesizedStack;
let uri: string;
let queue: { url: string; arn: string };
const allCalls: { fn: 'ingest' | 'scan'; calls: AwsCall[] }[] = [];
let handlers: {
  ingest: (e: SQSEvent, c: unknown) => Promise<SQSBatchResponse>;
  scan: (
    e: unknown,
    c: unknown,
  ) => Promise<{ certificates: number; nearestExpiryDays?: number; alerts: number }>;
};

/** Invokes a handler as Lambda would (15 minutes ahead), then checks its calls against the IAM. */
const invoke = async <T>(fn: 'ingest' | 'scan', event: unknown): Promise<T> => {
  recorder.take();
  const result = await (handlers[fn] as (e: unknown, c: unknown) => Promise<T>)(
    event,
    lambdaContext(900_000, `trustroll-${fn}`),
  );
  const calls = recorder.take();
  allCalls.push({ fn, calls });
  expect(await deniedCalls(stack, fn, calls)).toEqual([]);
  return result;
};
const ingest = (...records: ReturnType<typeof sqsRecord>[]) =>
  invoke<SQSBatchResponse>('ingest', { Records: records });
const event = (id: string, key: string, version?: string, form: 'raw' | 'encoded' = 'raw') =>
  sqsRecord(id, objectCreated(bucket, form === 'raw' ? key : encodeS3Key(key), version, id));

beforeAll(async () => {
  bucket = await versionedBucket(aws.s3);
  const topic = await topicWithQueue(aws);
  alerts = topic.queueUrl;
  queue = await fifoQueue(aws.sqs);
  await recorder.start();
  stack = new SynthesizedStack(
    {
      domains: [{ name: 'api.example.com' }, { name: 'http.example.com', type: 'HTTP' }],
      customDomain: {
        domainName: 'custom.example.com',
        certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abc',
      },
      alertEmails: ['ops@example.com'],
    },
    { bucket, topicArn: topic.topicArn, queue },
  );
  const env = stack.environment('ingest');
  uri = `s3://${bucket}/truststore/truststore.pem`;
  // Each domain the function is told to roll exists, with mutual TLS on our truststore.
  for (const spec of env.TRUSTROLL_DOMAINS!.split(',')) {
    const [name, kind] = spec.split(':') as [string, 'REST' | 'HTTP'];
    recorder.apiGateway.add(name, kind, { uri });
  }
  Object.assign(process.env, env, {
    TRUSTROLL_AWS_ENDPOINT: recorder.endpoint,
    AWS_REGION: 'us-east-1',
    // API Gateway's pace and polls, shortened: the fake is AVAILABLE at once.
    TRUSTROLL_MIN_UPDATE_INTERVAL_MS: '0',
    TRUSTROLL_POLL_INTERVAL_MS: '100',
    // An upload waiting for its issuer is due at once (the scan test below asks for its judgment).
    TRUSTROLL_PENDING_WINDOW_HOURS: '0',
    POWERTOOLS_LOG_LEVEL: 'INFO',
    // As Lambda sets it for on-demand functions: Powertools counts cold starts only then.
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
  });
  vi.resetModules();
  const ingestModule = await import('../../functions/ingest/handler.js');
  const scanModule = await import('../../functions/expiry-scan/handler.js');
  handlers = { ingest: ingestModule.handler as never, scan: scanModule.handler as never };
});

afterAll(async () => {
  await recorder.stop();
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
    .map((o) => o.Key!.replace(/@[0-9a-f]{10}(?=\.(pem|report\.json)$)/, '@tag'))
    .sort();
/** The report kept for one version of an upload (each upload has a path of its own). */
const reportOf = async (uploadKey: string, version: string | undefined, folder = 'archive') => {
  const prefix = `${folder}/${uploadKey.slice('inbox/'.length)}@`;
  const listed = await aws.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  for (const key of (listed.Contents ?? []).map((o) => o.Key!).filter((k) => k.endsWith('.report.json'))) {
    const report = JSON.parse(
      await (await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString(),
    );
    if (report.version === version) return report;
  }
  throw new Error(`no report of ${uploadKey} version ${version} under ${prefix}`);
};
/** Every version and delete marker under a prefix, the noncurrent ones included. */
const versions = async (prefix: string) => {
  const out = await aws.s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix }));
  return [...(out.Versions ?? []), ...(out.DeleteMarkers ?? [])].map((v) => ({
    key: v.Key!,
    version: v.VersionId!,
  }));
};
const truststoreVersion = async () =>
  (await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'truststore/truststore.pem' }))).VersionId;

describe('ingest handler (SQS FIFO batch of EventBridge S3 events)', () => {
  it('ingests the batch in one run: new truststore version, moves, SNS alerts, every configured domain rolled', async () => {
    const partner = await partnerChain('Müller');
    const good = await put('inbox/Müller GmbH/ca bündel.pem', pemOf(partner.root, partner.intermediate));
    const bad = await put('inbox/acme/leaf only.pem', partner.client.pem);
    const result = await ingest(
      event('m1', 'inbox/Müller GmbH/ca bündel.pem', good.VersionId, 'encoded'),
      event('m2', 'inbox/acme/leaf only.pem', bad.VersionId),
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
    // No version of a judged upload is left in the inbox either.
    expect(await versions('inbox/')).toEqual([]);
    expect(await keys('archive/')).toEqual([
      'archive/Müller GmbH/ca bündel.pem@tag.pem',
      'archive/Müller GmbH/ca bündel.pem@tag.report.json',
    ]);
    expect(await keys('rejected/')).toEqual([
      'rejected/acme/leaf only.pem@tag.pem',
      'rejected/acme/leaf only.pem@tag.report.json',
    ]);

    // The report of the new version, beside it (its PutObject calls are checked against the IAM above).
    expect(await keys('reports/')).toEqual(['reports/index.html', 'reports/truststore.csv']);
    const page = await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'reports/index.html' }));
    expect(page.ContentType).toMatch(/^text\/html/);
    expect(await page.Body!.transformToString()).toContain(
      `<title>Truststore report: s3://${bucket}/, revision`,
    );
    const csv = await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'reports/truststore.csv' }));
    expect(csv.ContentType).toMatch(/^text\/csv/);
    expect(
      (await csv.Body!.transformToString()).split('\r\n').filter((l) => l.startsWith('Müller GmbH,')),
    ).toHaveLength(2);

    // The REST and HTTP API domains and the domain the construct created, each rolled once.
    for (const name of ['api.example.com', 'http.example.com', 'custom.example.com'])
      expect(recorder.apiGateway.domains.get(name)!.versions).toEqual([truststore.VersionId]);

    const messages = await drain(aws.sqs, alerts);
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
    const served = await aws.s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: 'truststore/truststore.pem' }),
    );
    expect(values['trustroll/TruststoreBytes']).toBe((await served.Body!.transformToByteArray()).length);
    // The batch rolled the three domains; the dashboard and alarms read this pipeline's dimension.
    expect(values).toMatchObject({
      'trustroll/DomainsRolled': 3,
      'trustroll/DomainsRolledBack': 0,
      'trustroll/DomainRollsFailed': 0,
    });
    const batchDoc = metrics.find((d) => 'UploadsAccepted' in d)!;
    expect(batchDoc).toMatchObject({ service: 'trustroll', pipeline: 'Access/Pipeline' });
  });

  it('treats a redelivered event as a duplicate: no new version, no alert', async () => {
    const before = await truststoreVersion();
    const result = await ingest(event('m3', 'inbox/Müller GmbH/ca bündel.pem'));
    expect(result.batchItemFailures).toEqual([]);
    expect(await truststoreVersion()).toBe(before);
    expect(await drain(aws.sqs, alerts)).toEqual([]);
    // The correlation id is this invocation's, not the one before.
    expect(logged('batch received')[0]).toMatchObject({ correlation_id: 'req-m3' });
  });

  it('logs and counts records that can never be used, without holding up the rest of the batch', async () => {
    const partner = await partnerChain('Later');
    const ok = await put('inbox/later/ca.pem', pemOf(partner.root, partner.intermediate));
    const before = await truststoreVersion();
    const result = await ingest(
      event('m5', 'inbox/later/ca.pem', ok.VersionId),
      sqsRecord('m4', 'not json'),
      sqsRecord('m7', 'null'),
      // An event naming an object outside inbox/ and requests/ (the published truststore).
      event('m8', 'truststore/truststore.pem', before),
      // The same upload's event twice in one batch: judged once, alerted once.
      event('m6', 'inbox/later/ca.pem', ok.VersionId),
    );
    // Retrying them could never make them usable, and would hold the FIFO message group.
    expect(result.batchItemFailures).toEqual([]);
    expect(logged('unusable record').map((l) => l.messageId)).toEqual(['m4', 'm7', 'm8']);
    expect(metricValues()['trustroll/UnusableRecords']).toBe(3);
    expect(await keys('archive/later/')).toEqual([
      'archive/later/ca.pem@tag.pem',
      'archive/later/ca.pem@tag.report.json',
    ]);
    // The truststore's own versions are untouched: nothing outside the inbox is judged or destroyed.
    const published = await aws.s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: 'truststore/truststore.pem', VersionId: before }),
    );
    expect(published.VersionId).toBe(before);
    const accepted = (await drain(aws.sqs, alerts)).filter(
      (m) => m.MessageAttributes.eventType!.Value === 'upload.accepted',
    );
    expect(accepted).toHaveLength(1);
    expect(logged('moving upload failed')).toEqual([]);
  });

  it('carries out a removal request before the uploads that came after it in the queue', async () => {
    const ca = await root('CN=Order Root,O=Order', { now: new Date() });
    const early = await put('inbox/order/old.pem', ca.pem);
    expect((await ingest(event('o1', 'inbox/order/old.pem', early.VersionId))).batchItemFailures).toEqual([]);
    const again = await root('CN=Order Root 2,O=Order', { now: new Date() });
    const request = await put(
      'requests/offboard order.json',
      JSON.stringify({ partner: 'order', reason: 'contract renewed', requestedBy: 'ops' }),
    );
    const late = await put('inbox/order/new.pem', again.pem);
    const result = await ingest(
      event('o2', 'requests/offboard order.json', request.VersionId),
      event('o3', 'inbox/order/new.pem', late.VersionId),
    );
    expect(result.batchItemFailures).toEqual([]);
    const truststore = readInput({
      name: 't',
      bytes: await (
        await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'truststore/truststore.pem' }))
      ).Body!.transformToByteArray(),
    }).certificates.map((c) => c.cert.subject.text);
    // The old CA was removed by the request; the upload after it stays.
    expect(truststore).toContain('CN=Order Root 2,O=Order');
    expect(truststore).not.toContain('CN=Order Root,O=Order');
    await drain(aws.sqs, alerts);
  });

  it.each([
    ['a space, a plus and a percent', 'inbox/keys/a b+c%d.pem'],
    ['a colon and a hash', 'inbox/keys/ca:2026#1.pem'],
    ['unicode', 'inbox/keys/Zertifikat für Ümlaut ✓.pem'],
    ['something that decodes to another key', 'inbox/keys/a+b%2Bc.pem'],
  ])(
    'finds an upload whose key holds %s, whether the event sends the key raw or URL-encoded',
    async (_, key) => {
      for (const form of ['raw', 'encoded'] as const) {
        const ca = await root(`CN=${form} ${key.slice(-12)},O=Keys`, { now: new Date() });
        const written = await put(key, ca.pem);
        const result = await ingest(event(`k-${form}`, key, written.VersionId, form));
        expect(result.batchItemFailures).toEqual([]);
        expect(logged('batch received').at(-1)).toMatchObject({ records: [{ key }] });
        const report = await reportOf(key, written.VersionId);
        expect(report).toMatchObject({ key, version: written.VersionId, outcome: 'accepted' });
        expect(await versions(key)).toEqual([]);
      }
      await drain(aws.sqs, alerts);
    },
  );

  it('destroys a private-key upload for good: no version anywhere in the bucket holds the key', async () => {
    const partner = await partnerChain('Leaky');
    const key = privateKeyPem(partner.client);
    const secret = key.split('\n')[1]!;
    // An earlier version of the same name, replaced before it was judged, holds a key too.
    await put('inbox/leaky/oops.pem', `${key}`);
    const written = await put('inbox/leaky/oops.pem', `${partner.client.pem}${key}`);
    const result = await ingest(event('pk1', 'inbox/leaky/oops.pem', written.VersionId));
    expect(result.batchItemFailures).toEqual([]);
    const all = await aws.s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    expect(all.Versions!.length).toBeGreaterThan(5);
    for (const v of all.Versions ?? []) {
      const body = await (
        await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: v.Key!, VersionId: v.VersionId! }))
      ).Body!.transformToString('latin1');
      expect(body.includes(secret), `${v.Key} version ${v.VersionId}`).toBe(false);
    }
    expect(await versions('inbox/leaky/')).toEqual([]);
    const messages = await drain(aws.sqs, alerts);
    expect(messages.map((m) => m.MessageAttributes.eventType!.Value)).toEqual(['upload.private-key']);
    expect(messages[0]!.MessageAttributes.severity!.Value).toBe('critical');
  });

  it('refuses to roll a configured domain that has no mutual TLS, alerts, and rolls the others', async () => {
    const domain = recorder.apiGateway.domains.get('http.example.com')!;
    const saved = domain.mtls;
    delete domain.mtls;
    try {
      const ca = await root('CN=Plain Check Root,O=Plain', { now: new Date() });
      const written = await put('inbox/plain/root.pem', ca.pem);
      const result = await ingest(event('nm1', 'inbox/plain/root.pem', written.VersionId));
      expect(result.batchItemFailures).toEqual([]);
      const latest = await truststoreVersion();
      // Not switched to mutual TLS: no update call ever reached it.
      expect(domain.mtls).toBeUndefined();
      expect(domain.versions).not.toContain(latest);
      expect(recorder.apiGateway.domains.get('api.example.com')!.versions.at(-1)).toBe(latest);
      const failed = (await drain(aws.sqs, alerts)).filter(
        (m) => m.MessageAttributes.eventType!.Value === 'truststore.roll-failed',
      );
      expect(failed).toHaveLength(1);
      expect(failed[0]!.Subject).toMatch(/http\.example\.com not rolled/);
      expect(failed[0]!.Message).toMatch(/http\.example\.com has no mutual TLS configured/);
    } finally {
      if (saved) domain.mtls = saved;
    }
  });

  it('does not lose an event for a version that was replaced before it was judged', async () => {
    const first = await root('CN=First Cut Root,O=Cut', { now: new Date() });
    const second = await root('CN=Second Cut Root,O=Cut', { now: new Date() });
    const v1 = await put('inbox/cut/root.pem', first.pem);
    const v2 = await put('inbox/cut/root.pem', second.pem);
    // The older event finds a newer version: nothing to do for it, and its bytes are not kept.
    expect((await ingest(event('c1', 'inbox/cut/root.pem', v1.VersionId))).batchItemFailures).toEqual([]);
    expect((await versions('inbox/cut/')).map((v) => v.version)).toEqual([v2.VersionId]);
    // The newer version's own event admits it.
    expect((await ingest(event('c2', 'inbox/cut/root.pem', v2.VersionId))).batchItemFailures).toEqual([]);
    expect(await versions('inbox/cut/')).toEqual([]);
    expect(await keys('archive/cut/')).toEqual([
      'archive/cut/root.pem@tag.pem',
      'archive/cut/root.pem@tag.report.json',
    ]);
    await drain(aws.sqs, alerts);
  });
});

describe('ingest handler: removal requests dropped into requests/', () => {
  it('removes the CAs the request names, rolls, and archives the request with a report; no version stays', async () => {
    const req = await put(
      'requests/offboard later.json',
      JSON.stringify({ partner: 'later', reason: 'offboarded', requestedBy: 'ops' }),
    );
    const result = await ingest(event('r1', 'requests/offboard later.json', req.VersionId));
    expect(result.batchItemFailures).toEqual([]);
    const truststore = await aws.s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: 'truststore/truststore.pem' }),
    );
    const names = readInput({
      name: 't',
      bytes: await truststore.Body!.transformToByteArray(),
    }).certificates.map((c) => c.cert.subject.text);
    expect(names.some((n) => n.includes('Later'))).toBe(false);
    expect(await versions('requests/')).toEqual([]);
    // The request is kept as its report (with the parsed request), never as its raw bytes.
    expect(await keys('archive/requests/offboard_later')).toEqual([
      'archive/requests/offboard_later.json@tag.report.json',
    ]);
    const messages = await drain(aws.sqs, alerts);
    expect(messages.map((m) => m.MessageAttributes.eventType!.Value)).toContain('truststore.removed');
    expect(recorder.apiGateway.domains.get('api.example.com')!.versions.at(-1)).toBe(truststore.VersionId);
  });
});

describe('expiry-scan handler (scheduled event)', () => {
  it('alerts a CA crossing a threshold over SNS, with attributes, and remembers it in the state in S3', async () => {
    const soonRoot = await root('CN=Soon Root,O=Soon', {
      notAfter: new Date(Date.now() + 10 * 86_400_000),
      now: new Date(),
    });
    const upload = await put('inbox/soon/root.pem', soonRoot.pem);
    expect((await ingest(event('s1', 'inbox/soon/root.pem', upload.VersionId))).batchItemFailures).toEqual(
      [],
    );
    await drain(aws.sqs, alerts);

    // The input the construct's schedule sends (its context attributes, filled in by the Scheduler).
    const scheduled = (executionId: string) => ({
      'execution-id': executionId,
      'scheduled-time': '2026-12-01T06:00:00Z',
      'attempt-number': '1',
    });
    logs = [];
    const result = await invoke<{ certificates: number; nearestExpiryDays?: number }>(
      'scan',
      scheduled('exec-1'),
    );
    expect(logged('expiry scan started')[0]).toMatchObject({
      correlation_id: 'exec-1',
      scheduledTime: '2026-12-01T06:00:00Z',
    });
    expect(logs.every((l) => l.correlation_id === 'exec-1')).toBe(true);
    expect(metricValues()).toMatchObject({ 'trustroll/DaysToNearestExpiry': 9 });
    // One document per partner, dimension `partner` (ASCII: CloudWatch drops other dimension values).
    const perPartner = Object.fromEntries(
      metrics.filter((d) => 'DaysToExpiry' in d).map((d) => [d.partner, d.DaysToExpiry]),
    );
    expect(perPartner).toMatchObject({ soon: 9, 'Muller GmbH': expect.any(Number) });
    expect(perPartner['Muller GmbH']).toBeGreaterThan(300);
    for (const d of metrics.filter((m) => 'DaysToExpiry' in m))
      expect(
        (d._aws as { CloudWatchMetrics: { Dimensions: string[][] }[] }).CloudWatchMetrics[0]!.Dimensions,
      ).toEqual([['service', 'pipeline', 'partner']]);
    expect(result.nearestExpiryDays).toBe(9);
    const messages = await drain(aws.sqs, alerts);
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

    // The report is made afresh by each scan: the days left as of the scan, the domains as read.
    const page = await (
      await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'reports/index.html' }))
    ).Body!.transformToString();
    expect(page).toContain('CN=Soon Root,O=Soon');
    expect(page).toContain('api.example.com');
    expect(page).toContain('http.example.com');
    const csv = await (
      await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'reports/truststore.csv' }))
    ).Body!.transformToString();
    expect(csv.split('\n').find((l) => l.includes('CN=Soon Root'))).toMatch(/,9,/);

    // The same day again (a retried Lambda): nothing new.
    await invoke('scan', scheduled('exec-2'));
    expect(
      (await drain(aws.sqs, alerts)).filter((m) => m.MessageAttributes.partner?.Value === 'soon'),
    ).toEqual([]);
  });
});

describe('expiry-scan handler: uploads whose pending window ended', () => {
  it('asks the ingest function for a run through its queue, and that run rejects the waiting upload', async () => {
    const lonely = await partnerChain('Lonely');
    const held = await put('inbox/lonely/int.pem', lonely.intermediate.pem);
    expect((await ingest(event('p1', 'inbox/lonely/int.pem', held.VersionId))).batchItemFailures).toEqual([]);
    expect(await keys('inbox/lonely/')).toEqual(['inbox/lonely/int.pem']);
    await drain(aws.sqs, alerts);
    await new Promise((r) => setTimeout(r, 20));

    await invoke('scan', { 'execution-id': 'exec-p', 'scheduled-time': '2026-12-02T06:00:00Z' });
    const requests = await receiveAll(aws.sqs, queue.url);
    expect(requests.map((m) => JSON.parse(m.Body!))).toEqual([
      expect.objectContaining({
        source: 'trustroll',
        'detail-type': 'Run Requested',
        detail: expect.objectContaining({ reason: 'pending window ended', from: 'expiry-scan' }),
      }),
    ]);
    for (const m of requests)
      await aws.sqs.send(new DeleteMessageCommand({ QueueUrl: queue.url, ReceiptHandle: m.ReceiptHandle! }));

    // What the event source mapping delivers next: the run request.
    expect((await ingest(...requests.map((m) => recordOf(m, queue.arn)))).batchItemFailures).toEqual([]);
    expect(await versions('inbox/lonely/')).toEqual([]);
    expect(await keys('rejected/lonely/')).toEqual([
      'rejected/lonely/int.pem@tag.pem',
      'rejected/lonely/int.pem@tag.report.json',
    ]);
    const rejected = (await drain(aws.sqs, alerts)).filter(
      (m) => m.MessageAttributes.eventType!.Value === 'upload.rejected',
    );
    expect(rejected).toHaveLength(1);
  });
});

describe('the access test itself', () => {
  it('recorded every kind of call the handlers make, and none went unchecked', () => {
    const operations = new Set(allCalls.flatMap((c) => c.calls.map((x) => `${x.service}:${x.operation}`)));
    for (const op of [
      's3:GetObject',
      's3:HeadObject',
      's3:PutObject',
      's3:ListObjectVersions',
      's3:DeleteObject',
      'sns:Publish',
      'sqs:SendMessage',
      'apigateway:GetDomainName',
      'apigateway:UpdateDomainName',
    ])
      expect(operations).toContain(op);
  });

  it.each([
    ['s3:ListBucket', /s3:(GetObject|HeadObject) needs s3:ListBucket on arn:aws:s3:::/],
    [
      'apigateway:AddCertificateToDomain',
      /apigateway:UpdateDomainName needs apigateway:AddCertificateToDomain/,
    ],
    ['s3:DeleteObjectVersion', /s3:DeleteObject needs s3:DeleteObjectVersion on arn:aws:s3:::[^ ]+\/inbox\//],
    ['s3:GetObjectVersion', /needs s3:GetObjectVersion/],
  ])('fails, naming the call, when the template lacks %s', async (action, message) => {
    const weaker = stack.without(action);
    const denied = (await Promise.all(allCalls.map((c) => deniedCalls(weaker, c.fn, c.calls)))).flat();
    expect(
      denied.some((d) => message.test(d)),
      denied.slice(0, 3).join('\n'),
    ).toBe(true);
  });
});

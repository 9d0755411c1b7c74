import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { APIGatewayAuthorizerResult, APIGatewaySimpleAuthorizerWithContextResult } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { S3ObjectStore } from '../../shared/adapters/aws/s3-store.js';
import { ingestUploads } from '../../shared/pipeline/ingest.js';
import { revokeCertificate } from '../../shared/pipeline/revocation.js';
import { parseCertificate } from '../../shared/pki/certificate.js';
import type { ObjectStore } from '../../shared/ports.js';
import { REVOCATION_KEYS } from '../../shared/revocation/state.js';
import { FakeClock, FakeGateway, MemoryNotifier, memoryLog } from '../fakes/fakes.js';
import { type Issued, partnerChain, pemOf, toBytes } from '../fixtures/pki.js';
import { deniedCalls, SynthesizedStack } from './access.js';
import { emulator, fifoQueue, topicWithQueue, versionedBucket } from './aws.js';
import { httpAuthorizerEvent, lambdaContext, restAuthorizerEvent } from './lambda.js';
import { type AwsCall, AwsRecorder } from './recorder.js';

/**
 * The authorizer handler over the wire: S3 is the emulator (moto), every request it makes is
 * recorded and must be allowed by the IAM the synthesized template grants its role, and it is
 * configured by that template's environment. Events are AWS's documented examples with a real
 * client certificate in them. Time is the test's (`Date` faked, timers real): the refresh
 * interval passes when the test says so.
 */
const aws = emulator();
const recorder = new AwsRecorder(aws.endpoint);
type Rest = APIGatewayAuthorizerResult;
type Http = APIGatewaySimpleAuthorizerWithContextResult<Record<string, string>>;
type Handler = (event: unknown, context: unknown) => Promise<Rest | Http>;

let acme: { root: Issued; intermediate: Issued; client: Issued };
let other: { root: Issued; intermediate: Issued; client: Issued };
let queue: { url: string; arn: string };
let topicArn: string;
beforeAll(async () => {
  await recorder.start();
  acme = await partnerChain('Gate');
  other = await partnerChain('Stranger');
  queue = await fifoQueue(aws.sqs);
  topicArn = (await topicWithQueue(aws)).topicArn;
});
afterAll(async () => {
  await recorder.stop();
  vi.useRealTimers();
});

/** The JSON log lines of the current test (kept out of the output). */
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
const metricNames = () =>
  metrics.flatMap((doc) =>
    (doc._aws as { CloudWatchMetrics: { Metrics: { Name: string }[] }[] }).CloudWatchMetrics[0]!.Metrics.map(
      (m) => m.Name,
    ),
  );

/** A bucket, the stack that names it, and the authorizer started on it (a cold start). */
const start = async (prepare: (store: S3ObjectStore) => Promise<void> = async () => {}) => {
  const bucket = await versionedBucket(aws.s3);
  const store = new S3ObjectStore(aws.s3, bucket);
  await prepare(store);
  const stack = new SynthesizedStack({}, { bucket, topicArn, queue });
  Object.assign(process.env, stack.environment('authorizer'), {
    TRUSTROLL_AWS_ENDPOINT: recorder.endpoint,
    AWS_REGION: 'us-east-1',
    POWERTOOLS_LOG_LEVEL: 'DEBUG',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
  });
  recorder.take();
  vi.resetModules();
  const handler = (await import('../../functions/authorizer/handler.js')).handler as unknown as Handler;
  const coldStart = recorder.take();
  const all: AwsCall[] = [...coldStart];
  /** Invokes the handler as API Gateway would; returns its answer and the AWS calls it made. */
  const invoke = async <T extends Rest | Http>(event: unknown) => {
    recorder.take();
    const result = (await handler(event, lambdaContext(10_000, 'trustroll-authorizer'))) as T;
    const calls = recorder.take();
    all.push(...calls);
    return { result, calls };
  };
  return { bucket, store, stack, coldStart, invoke, all };
};

/** One ingest run of a partner's CA bundle: the state, the truststore and the index published. */
const ingest = async (store: ObjectStore, partner: string, chain: { root: Issued; intermediate: Issued }) => {
  const key = `inbox/${partner}/ca.pem`;
  const { version } = await store.put(key, toBytes(pemOf(chain.root, chain.intermediate)));
  await ingestUploads([{ key, version }], {
    store,
    gateway: new FakeGateway(),
    notifier: new MemoryNotifier(),
    clock: new FakeClock(Date.now()),
    log: memoryLog(),
    config: { roll: { domains: [] } },
  });
};

// The test's time starts at the real time: the SDK signs with it, and a signature time far off the
// server's makes the SDK retry an error response once to correct its clock.
let T0 = Date.now();
const at = (ms: number) => vi.setSystemTime(T0 + ms);
const s3Ops = (calls: readonly AwsCall[]) =>
  calls.map(
    (c) => `${c.operation} ${'key' in c ? c.key : ''}${'versionId' in c && c.versionId ? '@version' : ''}`,
  );

describe('the authorizer handler over S3', () => {
  beforeEach(() => {
    T0 = Date.now();
    vi.useFakeTimers({ toFake: ['Date'], now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('loads the index at cold start, allows a known client with its context (REST and HTTP) and calls S3 no more until the refresh', async () => {
    const gate = await start((store) => ingest(store, 'gate', acme));
    expect(s3Ops(gate.coldStart)).toEqual([
      `HeadObject ${REVOCATION_KEYS.index}`,
      `GetObject ${REVOCATION_KEYS.index}@version`,
    ]);
    const client = parseCertificate(acme.client.der);
    const context = {
      partner: 'gate',
      certSha256: client.fingerprint,
      issuerSha256: parseCertificate(acme.intermediate.der).fingerprint,
      serial: client.serial,
      subject: 'CN=client.gate.example,O=Gate',
      notAfter: client.notAfter.toISOString(),
    };

    const rest = await gate.invoke<Rest>(restAuthorizerEvent(acme.client.pem));
    expect(rest.result).toEqual({
      principalId: client.fingerprint,
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Action: 'execute-api:Invoke',
            Effect: 'Allow',
            Resource: 'arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/request',
          },
        ],
      },
      context,
    });
    for (const value of Object.values(rest.result.context ?? {})) expect(typeof value).toBe('string');
    const http = await gate.invoke<Http>(httpAuthorizerEvent(acme.client.pem));
    expect(http.result).toEqual({ isAuthorized: true, context });
    expect([...rest.calls, ...http.calls]).toEqual([]);

    at(59_000);
    expect((await gate.invoke(restAuthorizerEvent(acme.client.pem))).calls).toEqual([]);
    at(60_000);
    // The refresh: one HEAD, and no GET while the version is the same.
    expect(s3Ops((await gate.invoke(restAuthorizerEvent(acme.client.pem))).calls)).toEqual([
      `HeadObject ${REVOCATION_KEYS.index}`,
    ]);
    expect(metricNames()).toContain('AuthorizerAllow');
    expect(await deniedCalls(gate.stack, 'authorizer', gate.all)).toEqual([]);
    // The access test itself: without its one S3 statement, the same calls are refused.
    expect(await deniedCalls(gate.stack.without('s3:GetObjectVersion'), 'authorizer', gate.all)).toEqual([
      expect.stringMatching(
        /^authorizer s3:HeadObject needs s3:GetObject on .*\/revocation\/index\.trx: ImplicitlyDenied$/,
      ),
      expect.stringMatching(
        /^authorizer s3:GetObject needs s3:GetObjectVersion on .*\/revocation\/index\.trx: ImplicitlyDenied$/,
      ),
    ]);
  });

  it('enforces a revocation only once it is published and the refresh interval has passed', async () => {
    const gate = await start((store) => ingest(store, 'gate', acme));
    const allowed = async () =>
      (
        (await gate.invoke<Rest>(restAuthorizerEvent(acme.client.pem, { method: 'POST', path: '/orders' })))
          .result.policyDocument.Statement[0] as { Effect: string }
      ).Effect;
    expect(await allowed()).toBe('Allow');

    // The state is committed first, the index published after it: a check in between (the
    // refresh interval passed) still finds the old index, so the client is still allowed.
    let between: string | undefined;
    const store = new S3ObjectStore(aws.s3, gate.bucket);
    const publishing: ObjectStore = Object.create(store, {
      put: {
        value: async (key: string, body: Uint8Array, opts?: object) => {
          if (key === REVOCATION_KEYS.index) {
            at(61_000);
            between = await allowed();
          }
          return store.put(key, body, opts);
        },
      },
    });
    const client = parseCertificate(acme.client.der);
    const revoked = await revokeCertificate(
      { store: publishing, log: memoryLog(), clock: { now: () => new Date(T0) } },
      {
        issuer: parseCertificate(acme.intermediate.der).fingerprint,
        serial: client.serial,
        reason: 'keyCompromise',
        by: 'ops@example.com',
      },
    );
    expect(revoked.version).toBeTruthy();
    expect(between).toBe('Allow');

    // Published now; the last check was at 61 s: until 121 s the old index decides.
    at(120_999);
    expect(await allowed()).toBe('Allow');
    at(121_000);
    const denied = await gate.invoke<Rest>(
      restAuthorizerEvent(acme.client.pem, { method: 'POST', path: '/orders' }),
    );
    expect(s3Ops(denied.calls)).toEqual([
      `HeadObject ${REVOCATION_KEYS.index}`,
      `GetObject ${REVOCATION_KEYS.index}@version`,
    ]);
    expect(denied.result.policyDocument.Statement[0]).toMatchObject({
      Effect: 'Deny',
      Resource: 'arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/POST/orders',
    });
    expect(denied.result.context).toEqual({
      reason: 'cert.revoked',
      certSha256: client.fingerprint,
      subject: 'CN=client.gate.example,O=Gate',
      partner: 'gate',
    });
    const http = await gate.invoke<Http>(httpAuthorizerEvent(acme.client.pem));
    expect(http.result).toMatchObject({ isAuthorized: false, context: { reason: 'cert.revoked' } });
    expect(logged('client denied').at(-1)).toMatchObject({
      level: 'INFO',
      api: 'HTTP',
      route: 'POST /my/path',
      partner: 'gate',
      reasons: [
        { code: 'cert.revoked', message: expect.stringMatching(/revoked by .*by hand \(keyCompromise/) },
      ],
    });
    expect(metricNames()).toContain('AuthorizerDeny');
    expect(await deniedCalls(gate.stack, 'authorizer', gate.all)).toEqual([]);
  });

  it('denies a client of a CA the truststore does not hold, and a request without a client certificate', async () => {
    const gate = await start((store) => ingest(store, 'gate', acme));
    const stranger = await gate.invoke<Http>(httpAuthorizerEvent(other.client.pem));
    expect(stranger.result).toMatchObject({
      isAuthorized: false,
      context: { reason: 'issuer.unknown', partner: '' },
    });
    const none = await gate.invoke<Rest>(restAuthorizerEvent(undefined));
    expect(none.result).toMatchObject({
      principalId: 'unknown-client',
      policyDocument: { Statement: [{ Effect: 'Deny' }] },
      context: { reason: 'cert.missing' },
    });
    expect(logged('client denied').at(-1)).toMatchObject({
      level: 'ERROR',
      reasons: [{ code: 'cert.missing', message: expect.stringMatching(/is mutual TLS on/) }],
    });
  });

  it('fails closed when no index was published, and decides once one is', async () => {
    const empty = await start();
    expect(s3Ops(empty.coldStart)).toEqual([`HeadObject ${REVOCATION_KEYS.index}`]);
    expect(logged('revocation index check failed')[0]).toMatchObject({
      level: 'WARN',
      reason: expect.stringMatching(/no revocation index at revocation\/index\.trx/),
    });
    const rest = await empty.invoke<Rest>(restAuthorizerEvent(acme.client.pem));
    expect(rest.result.policyDocument.Statement[0]).toMatchObject({ Effect: 'Deny' });
    expect(rest.result.context).toMatchObject({ reason: 'index.unavailable' });
    const http = await empty.invoke<Http>(httpAuthorizerEvent(acme.client.pem));
    expect(http.result).toMatchObject({ isAuthorized: false, context: { reason: 'index.unavailable' } });
    // A failed check is retried sooner than the refresh interval, never per request.
    expect([...rest.calls, ...http.calls]).toEqual([]);

    await ingest(new S3ObjectStore(aws.s3, empty.bucket), 'gate', acme);
    at(5_000);
    expect((await empty.invoke<Http>(httpAuthorizerEvent(acme.client.pem))).result.isAuthorized).toBe(true);
    expect(await deniedCalls(empty.stack, 'authorizer', empty.all)).toEqual([]);
  });

  it('keeps the last good index when a new version is unreadable, then fails closed past its max age', async () => {
    const gate = await start((store) => ingest(store, 'gate', acme));
    await aws.s3.send(
      new PutObjectCommand({
        Bucket: gate.bucket,
        Key: REVOCATION_KEYS.index,
        Body: 'not an index',
        Metadata: { sha256: 'f'.repeat(64) },
      }),
    );
    at(60_000);
    const kept = await gate.invoke<Http>(httpAuthorizerEvent(acme.client.pem));
    expect(kept.result.isAuthorized).toBe(true);
    expect(logged('revocation index check failed')[0]).toMatchObject({
      reason: expect.stringMatching(/does not hold what was published/),
      keeping: expect.any(String),
    });
    expect(logged('client allowed with notes')).toEqual([]);
    // The defaults: checked every 60 s, the last index usable 900 s after it was last confirmed.
    at(900_000);
    expect((await gate.invoke<Http>(httpAuthorizerEvent(acme.client.pem))).result.isAuthorized).toBe(true);
    at(900_001);
    const closed = await gate.invoke<Http>(httpAuthorizerEvent(acme.client.pem));
    expect(closed.result).toMatchObject({ isAuthorized: false, context: { reason: 'index.unavailable' } });
    expect(await deniedCalls(gate.stack, 'authorizer', gate.all)).toEqual([]);
  });
});

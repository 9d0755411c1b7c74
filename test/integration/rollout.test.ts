import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ListExecutionsCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run } from '../../cli/main.js';
import { ledgerKey } from '../../shared/adapters/aws/elb-trust-stores.js';
import { crlSyncExecutionName, executionName } from '../../shared/adapters/aws/rollout-executions.js';
import type { Rollout, Target } from '../../shared/rollout/model.js';
import { rolloutKey } from '../../shared/rollout/records.js';
import { FakeClock } from '../fakes/fakes.js';
import { crl, partnerChain, pemOf, root } from '../fixtures/pki.js';
import { ACCOUNT, deniedCalls, REGION, SynthesizedStack } from './access.js';
import { aslProblems, type Execution, runMachine } from './asl.js';
import { drain, emulator, fifoQueue, topicWithQueue, versionedBucket } from './aws.js';
import { lambdaContext, objectCreated, sqsRecord } from './lambda.js';
import { type AwsCall, AwsRecorder } from './recorder.js';

/**
 * The durable rollout over the wire: the ingest function starts one Step Functions execution per
 * published version (moto), and the rollout step function (functions/rollout/handler.ts), driven
 * step after step as the state machine would with a fake clock for its Wait states, rolls the
 * version to API Gateway domains in two regions, an ELB trust store (a fake over HTTP: moto has
 * none) and a domain of another account through an assumed role (moto's STS). Every request each
 * function makes is evaluated against the IAM the synthesized template grants its role.
 */
const aws = emulator();
const recorder = new AwsRecorder(aws.endpoint);
const sfn = new SFNClient({
  endpoint: aws.endpoint,
  region: REGION,
  credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
});
const TRUST_STORE = `arn:aws:elasticloadbalancing:eu-west-1:${ACCOUNT}:truststore/partners/0123456789abcdef`;
const ROLE = 'arn:aws:iam::210987654321:role/trustroll-target';
const targets: Target[] = [
  { id: 'canary-api', kind: 'apigateway-rest', resource: 'canary.example.com', wave: 'canary' },
  {
    id: 'eu-http',
    kind: 'apigateway-http',
    resource: 'mtls.example.eu',
    wave: 'rest',
    region: 'eu-central-1',
  },
  { id: 'alb', kind: 'elb-trust-store', resource: TRUST_STORE, wave: 'rest', region: 'eu-west-1' },
  {
    id: 'partner-account',
    kind: 'apigateway-rest',
    resource: 'api.other.example.com',
    wave: 'rest',
    region: 'us-west-2',
    account: '210987654321',
    roleArn: ROLE,
    externalId: 'trustroll-3f9a',
  },
];

let bucket: string;
let alerts: string;
let stack: SynthesizedStack;
let uri: string;
let stateMachineArn: string;
/** The ingest function's queue: where run requests (the scan's among them) go. */
let runQueue: string;
let ingest: (e: SQSEvent, c: unknown) => Promise<SQSBatchResponse>;
let step: (event: unknown) => Promise<{ rollout: Rollout; waitSeconds: number; done: boolean }>;
const clock = new FakeClock(Date.parse('2026-12-03T05:00:00Z'));

beforeAll(async () => {
  bucket = await versionedBucket(aws.s3);
  const topic = await topicWithQueue(aws);
  alerts = topic.queueUrl;
  const queue = await fifoQueue(aws.sqs);
  runQueue = queue.url;
  await recorder.start();
  stack = new SynthesizedStack({ targets }, { bucket, topicArn: topic.topicArn, queue });
  uri = `s3://${bucket}/truststore/truststore.pem`;
  const ingestEnv = stack.environment('ingest');
  stateMachineArn = ingestEnv.TRUSTROLL_STATE_MACHINE_ARN!;
  // The state machine exists in the emulator under the name the template's ARN resolves to.
  await sfn.send(
    new CreateStateMachineCommand({
      name: stateMachineArn.split(':').pop()!,
      definition: JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Succeed' } } }),
      roleArn: `arn:aws:iam::${ACCOUNT}:role/states`,
    }),
  );
  for (const t of targets.filter((x) => x.kind !== 'elb-trust-store'))
    recorder.apiGateway.add(t.resource, t.kind === 'apigateway-http' ? 'HTTP' : 'REST', {
      uri,
      version: 'v0',
    });
  recorder.elb.add(TRUST_STORE);
  Object.assign(process.env, ingestEnv, stack.environment('rollout'), {
    TRUSTROLL_AWS_ENDPOINT: recorder.endpoint,
    AWS_REGION: REGION,
    POWERTOOLS_LOG_LEVEL: 'WARN',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  vi.resetModules();
  ingest = (await import('../../functions/ingest/handler.js')).handler as never;
  const rollout = await import('../../functions/rollout/handler.js');
  step = rollout.stepHandler(clock) as never;
});

afterAll(async () => {
  await recorder.stop();
  for (const k of ['TRUSTROLL_STATE_MACHINE_ARN', 'TRUSTROLL_TARGETS']) delete process.env[k];
});

/** The scan as the schedule invokes it, with its own environment from the template. */
const scanHandler = async () => {
  Object.assign(process.env, stack.environment('scan'));
  vi.resetModules();
  return (await import('../../functions/expiry-scan/handler.js')).handler as unknown as (
    e: unknown,
    c: unknown,
  ) => Promise<unknown>;
};

/** `trustroll status --store s3://<bucket>` (no --domain: the last rollout's record). */
const status = async (...extra: string[]) => {
  let out = '';
  let err = '';
  const code = await run(['status', '--store', `s3://${bucket}`, '--region', REGION, ...extra], {
    out: (t) => (out += t),
    err: (t) => (err += t),
    stdin: async () => new Uint8Array(),
  });
  return { code, out, err };
};

const truststoreVersion = async () =>
  (await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'truststore/truststore.pem' }))).VersionId!;

/**
 * Runs the state machine the template defines (resolved as CloudFormation would), as Step
 * Functions runs it: its one Task invokes the rollout function (here its handler, with the fake
 * clock), each Wait advances the clock. `invoke` may be wrapped to make a step fail.
 */
const execute = async (
  input: unknown,
  wrap: (invoke: (payload: unknown) => Promise<unknown>) => (payload: unknown) => Promise<unknown> = (i) => i,
): Promise<Execution & { steps: number }> => {
  const [machine] = Object.values(stack.resources).filter(
    (r) => r.Type === 'AWS::StepFunctions::StateMachine',
  );
  const definition = JSON.parse(stack.resolve(machine!.Properties!.DefinitionString!) as string);
  expect(aslProblems(definition)).toEqual([]);
  const [rolloutId] = Object.entries(stack.resources).find(
    ([, r]) =>
      r.Type === 'AWS::Lambda::Function' &&
      JSON.stringify(r.Properties?.Environment ?? {}).includes('TRUSTROLL_TARGETS'),
  )!;
  const functionArn = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${rolloutId.toLowerCase()}`;
  let steps = 0;
  const invoke = wrap(async (payload) => {
    steps++;
    // What crosses Step Functions is JSON, both ways.
    return JSON.parse(JSON.stringify(await step(JSON.parse(JSON.stringify(payload)))));
  });
  const execution = await runMachine(definition, input as never, {
    invoke: async (arn, payload) => {
      expect(arn).toBe(functionArn);
      return (await invoke(payload)) as never;
    },
    wait: (seconds) => clock.advance(seconds * 1000),
  });
  return { ...execution, steps };
};

describe('the durable rollout on AWS', () => {
  let release: { revision: number; version: string };
  let ingestCalls: AwsCall[];
  let acme: Awaited<ReturnType<typeof partnerChain>>;

  it('starts one execution per published version from the ingest function, named for the release, and rolls nothing inline', async () => {
    const partner = await partnerChain('acme');
    acme = partner;
    const put = await aws.s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'inbox/acme/ca.pem',
        Body: pemOf(partner.root, partner.intermediate),
      }),
    );
    recorder.take();
    const result = await ingest(
      { Records: [sqsRecord('m1', objectCreated(bucket, 'inbox/acme/ca.pem', put.VersionId, 'm1'))] },
      lambdaContext(900_000),
    );
    expect(result.batchItemFailures).toEqual([]);
    ingestCalls = recorder.take();
    const version = await truststoreVersion();
    const starts = ingestCalls.filter((c) => c.service === 'states');
    expect(starts).toHaveLength(1);
    const start = starts[0] as Extract<AwsCall, { service: 'states' }>;
    release = JSON.parse(start.input!).release;
    expect(release.version).toBe(version);
    expect(start).toMatchObject({
      operation: 'StartExecution',
      stateMachineArn,
      name: executionName(release),
    });
    expect(ingestCalls.filter((c) => c.service === 'apigateway')).toEqual([]);
    expect(await deniedCalls(stack, 'ingest', ingestCalls)).toEqual([]);

    // A run that sees the same version again (a retried batch, a run request) starts no second one.
    recorder.take();
    await ingest(
      {
        Records: [
          sqsRecord('m2', {
            source: 'trustroll',
            'detail-type': 'Run Requested',
            detail: { reason: 'test', from: 'test' },
          }),
        ],
      },
      lambdaContext(900_000),
    );
    expect(await deniedCalls(stack, 'ingest', recorder.take())).toEqual([]);
    const executions = await sfn.send(new ListExecutionsCommand({ stateMachineArn }));
    expect(executions.executions?.map((e) => e.name)).toEqual([executionName(release)]);
    const input = await sfn.send(
      new DescribeExecutionCommand({ executionArn: executions.executions![0]!.executionArn }),
    );
    expect(JSON.parse(input.input!)).toEqual({ release });
  });

  it('rolls the version to every target, wave after wave, step after step, as the state machine drives it', async () => {
    recorder.take();
    // The execution as ingest started it (its input), run by the synthesized definition.
    const execution = await execute({ release });
    expect(execution.status).toBe('SUCCEEDED');
    expect(execution.steps).toBeGreaterThan(2);
    expect(execution.path).toContain('RolloutPause');
    expect(execution.path.slice(-2)).toEqual(['RolloutDone', 'RolloutSucceeded']);
    const out = (execution as Extract<Execution, { status: 'SUCCEEDED' }>).output as unknown as {
      rollout: Rollout;
      done: boolean;
    };
    expect(out.done).toBe(true);
    expect(out.rollout.status).toBe('succeeded');
    expect(out.rollout.targets.map((t) => [t.id, t.phase])).toEqual(targets.map((t) => [t.id, 'rolled']));
    for (const t of targets.filter((x) => x.kind !== 'elb-trust-store'))
      expect(recorder.apiGateway.domains.get(t.resource)!.versions, t.id).toEqual([release.version]);
    expect(recorder.elb.trustStores.get(TRUST_STORE)!.bundles).toEqual([
      { bucket, key: 'truststore/truststore.pem', version: release.version },
    ]);
    const calls = recorder.take();

    // Each target in its region; the other account's domain as its role, assumed with the external id.
    const updates = calls.flatMap((c) =>
      c.service === 'apigateway' && c.operation === 'UpdateDomainName'
        ? [[c.domain, c.region, c.assumedRole ?? 'own'] as const]
        : [],
    );
    expect(updates.sort()).toEqual([
      ['api.other.example.com', 'us-west-2', ROLE],
      ['canary.example.com', REGION, 'own'],
      ['mtls.example.eu', 'eu-central-1', 'own'],
    ]);
    const assume = calls.filter((c) => c.service === 'sts');
    expect(assume.length).toBeGreaterThan(0);
    expect(assume[0]).toMatchObject({ operation: 'AssumeRole', roleArn: ROLE, externalId: 'trustroll-3f9a' });
    expect(
      calls.find((c) => c.service === 'elasticloadbalancing' && c.operation === 'ModifyTrustStore'),
    ).toMatchObject({
      region: 'eu-west-1',
    });

    // The record of every step is in the bucket, the last one as the execution ended.
    const record = await aws.s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: rolloutKey(out.rollout.id) }),
    );
    expect(JSON.parse(await record.Body!.transformToString())).toEqual(out.rollout);
    const ledger = await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: ledgerKey(TRUST_STORE) }));
    expect(JSON.parse(await ledger.Body!.transformToString())).toMatchObject({
      version: release.version,
      uri,
    });

    // The access test: every request of the step function, allowed by its synthesized IAM; and
    // the test can fail (without ModifyTrustStore in the template, the ELB update is refused).
    expect(await deniedCalls(stack, 'rollout', calls)).toEqual([]);
    expect(
      await deniedCalls(stack.without('elasticloadbalancing:ModifyTrustStore'), 'rollout', calls),
    ).toEqual([expect.stringContaining('needs elasticloadbalancing:ModifyTrustStore')]);
    expect(await deniedCalls(stack.without('states:StartExecution'), 'ingest', ingestCalls)).toEqual([
      expect.stringContaining('needs states:StartExecution'),
    ]);
    // The step that ended the rollout published the report again: it says how the rollout ended.
    const page = await (
      await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'reports/index.html' }))
    ).Body!.transformToString();
    expect(page).toContain('<span class="st ok">completed</span>');
    expect(page).toContain(
      `<p>Every target (4) serves truststore version ${release.version}, the latest.</p>`,
    );
    expect(
      calls.filter((c) => c.service === 's3' && c.operation === 'PutObject' && c.key?.startsWith('reports/')),
    ).toHaveLength(2);
    expect(await deniedCalls(stack.without('s3:PutObject', 'reports/'), 'rollout', calls)).toEqual([
      expect.stringContaining('reports/'),
      expect.stringContaining('reports/'),
    ]);
    // trustroll status of the store shows the rollout from its record.
    const shown = await status();
    expect(shown.code).toBe(0);
    expect(shown.out).toContain(
      `last rollout: truststore version ${release.version} (revision ${release.revision}), succeeded\n`,
    );
    expect(shown.out).toMatch(/^ {2}rest partner-account: rolled \(from v0\)$/m);
  });

  it("publishes the rollouts on the scan's report from the records, as its IAM allows", async () => {
    // The scan as the schedule invokes it, with its own environment from the template.
    const scan = await scanHandler();
    recorder.take();
    await scan(
      { 'execution-id': 'exec-r', 'scheduled-time': '2026-12-03T06:00:00Z' },
      lambdaContext(300_000),
    );
    const calls = recorder.take();
    const html = await (
      await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'reports/index.html' }))
    ).Body!.transformToString();
    expect(html).toContain(`Read from <code>s3://${bucket}/rollouts/</code>`);
    expect(html).toContain(
      `<p>Every target (4) serves truststore version ${release.version}, the latest.</p>`,
    );
    expect(html.match(/<span class="st ok">rolled<\/span>/g)).toHaveLength(targets.length);
    expect(html).toContain('region eu-central-1');
    expect(html).toContain('account 210987654321');
    // The scan read the record, and may: without its grant on rollouts/* the read is refused.
    expect(
      calls.some(
        (c) => c.service === 's3' && c.operation === 'GetObject' && /^rollouts\/\d+-/.test(c.key ?? ''),
      ),
    ).toBe(true);
    expect(await deniedCalls(stack, 'scan', calls)).toEqual([]);
    const withoutGrant = await deniedCalls(stack.without('s3:GetObject', 'rollouts/*'), 'scan', calls);
    expect(withoutGrant).toEqual([expect.stringContaining('rollouts/')]);
  });

  it('starts no execution for a release whose rollout ran already (its record), whatever Step Functions still remembers', async () => {
    recorder.take();
    await ingest(
      {
        Records: [
          sqsRecord('m-again', {
            source: 'trustroll',
            'detail-type': 'Run Requested',
            detail: { reason: 'test', from: 'test' },
          }),
        ],
      },
      lambdaContext(900_000),
    );
    const calls = recorder.take();
    expect(calls.filter((c) => c.service === 'states')).toEqual([]);
    expect(
      calls.some(
        (c) => c.service === 's3' && c.operation === 'HeadObject' && /^rollouts\//.test(c.key ?? ''),
      ),
    ).toBe(true);
    expect(await deniedCalls(stack, 'ingest', calls)).toEqual([]);
  });

  it('ends superseded, touching no target, when a newer version was published meanwhile', async () => {
    recorder.take();
    const older = await step({ release: { revision: release.revision - 1, version: 'an-older-version' } });
    expect(older.done).toBe(true);
    expect(older.rollout.status).toBe('superseded');
    const calls = recorder.take();
    expect(calls.filter((c) => c.service === 'apigateway' && c.operation === 'UpdateDomainName')).toEqual([]);
    expect(await deniedCalls(stack, 'rollout', calls)).toEqual([]);
  });

  it('waits, touching no target, while another rollout holds the targets, and goes on once that one ended', async () => {
    const put = (key: string, value: unknown) =>
      aws.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(value) }));
    const holder = {
      ...(await step({ release: { revision: 0, version: 'other' } })).rollout,
      id: 'holder',
      status: 'running',
      updatedAt: clock.now().toISOString(),
    };
    await put('rollouts/holder.json', holder);
    await put('rollouts/active.json', { id: 'holder' });
    recorder.take();
    const waiting = await step({ release });
    expect(waiting).toMatchObject({ done: false, waitSeconds: 15 });
    expect(waiting.rollout.targets.every((t) => t.phase === 'pending')).toBe(true);
    const calls = recorder.take();
    expect(calls.filter((c) => ['apigateway', 'elasticloadbalancing', 'sts'].includes(c.service))).toEqual(
      [],
    );
    expect(await deniedCalls(stack, 'rollout', calls)).toEqual([]);
    // Still held a step later.
    clock.advance(15_000);
    expect((await step({ rollout: waiting.rollout })).waitSeconds).toBe(15);
    // The holder ends (superseded, say): the waiting rollout takes the targets and runs.
    await put('rollouts/holder.json', { ...holder, status: 'superseded' });
    let out = await step({ rollout: waiting.rollout });
    for (let steps = 1; !out.done && steps < 500; steps++) {
      clock.advance(out.waitSeconds * 1000);
      out = await step({ rollout: out.rollout });
    }
    expect(out.rollout.status).toBe('succeeded');
    const active = await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'rollouts/active.json' }));
    // It holds the targets, and names the holder before it (whose last calls paced its first).
    expect(JSON.parse(await active.Body!.transformToString())).toEqual({
      id: out.rollout.id,
      previous: 'holder',
    });
    // A holder whose record stopped moving for 30 minutes (its execution died) is taken over.
    await put('rollouts/holder.json', holder);
    await put('rollouts/active.json', { id: 'holder' });
    clock.advance(31 * 60_000);
    const taken = await step({ release });
    expect(taken.rollout.targets.some((t) => t.phase !== 'pending') || taken.done).toBe(true);
    expect(await deniedCalls(stack, 'rollout', recorder.take())).toEqual([]);
  });

  it('carries a record too large for a Step Functions payload as a reference, and steps on from the bucket', async () => {
    // API Gateway reports one warning per CA it cannot use: 1,000 of them on every domain, the
    // same before and after (so none is new), make a record of several hundred KB.
    const many = Array.from(
      { length: 1000 },
      (_, i) => `Certificate CN=Old CA ${i},O=Legacy expired on 2020-01-01`,
    );
    recorder.apiGateway.warningsFor = () => many;
    try {
      const other = { revision: release.revision, version: release.version };
      await aws.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'rollouts/active.json', Body: '{}' }));
      let out = await step({ release: other });
      let sawRef = false;
      for (let steps = 1; !out.done && steps < 500; steps++) {
        const size = Buffer.byteLength(JSON.stringify(out));
        expect(size).toBeLessThan(64 * 1024 + 1024);
        if (!('targets' in out.rollout)) sawRef = true;
        clock.advance(out.waitSeconds * 1000);
        // As the state machine does: the step's output is the next step's input.
        out = await step(JSON.parse(JSON.stringify(out)));
      }
      expect(out.done).toBe(true);
      expect(out.rollout.status).toBe('succeeded');
      const record = JSON.parse(
        await (
          await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: rolloutKey(out.rollout.id) }))
        ).Body!.transformToString(),
      ) as Rollout;
      expect(Buffer.byteLength(JSON.stringify(record))).toBeGreaterThan(64 * 1024);
      expect(record.status).toBe('succeeded');
      expect(sawRef || !('targets' in out.rollout)).toBe(true);
      expect(await deniedCalls(stack, 'rollout', recorder.take())).toEqual([]);
    } finally {
      recorder.apiGateway.warningsFor = () => [];
    }
  });

  it('rolls back what it rolled when a target fails, each ELB trust store to the version its ledger recorded', async () => {
    const v1 = release.version;
    const other = await partnerChain('globex');
    const put = await aws.s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'inbox/globex/ca.pem',
        Body: pemOf(other.root, other.intermediate),
      }),
    );
    await ingest(
      { Records: [sqsRecord('m3', objectCreated(bucket, 'inbox/globex/ca.pem', put.VersionId, 'm3'))] },
      lambdaContext(900_000),
    );
    const v2 = await truststoreVersion();
    expect(v2).not.toBe(v1);
    const start = recorder.take().find((c) => c.service === 'states') as Extract<
      AwsCall,
      { service: 'states' }
    >;
    const next = JSON.parse(start.input!).release as { revision: number; version: string };
    expect(next.version).toBe(v2);
    // globex's CRL too: the ELB trust store gets it with v2, and loses it again on the roll back.
    const crlPut = await aws.s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'inbox/globex/crl/a.crl',
        Body: await crl(other.intermediate, [other.client], { crlNumber: 1 }),
      }),
    );
    await ingest(
      {
        Records: [sqsRecord('m4', objectCreated(bucket, 'inbox/globex/crl/a.crl', crlPut.VersionId, 'm4'))],
      },
      lambdaContext(900_000),
    );
    // The ingest function keeps the CRL (its record set, and its PEM under revocation/crls/) as its IAM allows.
    const kept = recorder.take();
    expect(
      kept.some(
        (c) => c.service === 's3' && c.operation === 'PutObject' && c.key?.startsWith('revocation/crls/'),
      ),
    ).toBe(true);
    expect(await deniedCalls(stack, 'ingest', kept)).toEqual([]);
    // The other account's domain now serves someone else's truststore: trustroll refuses to roll it.
    recorder.apiGateway.domains.get('api.other.example.com')!.mtls = {
      uri: 's3://someone-else/ca.pem',
      version: 'x',
    };

    const execution = await execute({ release: next });
    // The execution fails at the end, its cause the record (no Catch: redrive resumes a failed step).
    expect(execution).toMatchObject({ status: 'FAILED', error: 'RolloutNotSucceeded' });
    const out = { rollout: JSON.parse((execution as { cause: string }).cause) as Rollout };
    expect(['rolled-back', 'failed']).toContain(out.rollout.status);
    const phase = Object.fromEntries(out.rollout.targets.map((t) => [t.id, t.phase]));
    expect(phase['partner-account']).toBe('failed');
    expect(phase['canary-api']).toBe('rolled-back');
    expect(recorder.apiGateway.domains.get('canary.example.com')!.versions).toEqual([v1, v2, v1]);
    // The ELB trust store had been given the new version in the same wave: its ledger said what it
    // served before, so it went back to that, and the ledger says so again.
    const bundles = recorder.elb.trustStores.get(TRUST_STORE)!.bundles.map((b) => b.version);
    expect(bundles).toEqual([v1, v2, v1]);
    expect(phase.alb).toBe('rolled-back');
    const ledger = await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: ledgerKey(TRUST_STORE) }));
    expect(JSON.parse(await ledger.Body!.transformToString()).version).toBe(v1);
    // The CRL went in with v2 and out with the roll back: the trust store holds no file of trustroll's.
    const calls = recorder.take();
    const elbOps = calls.flatMap((c) =>
      c.service === 'elasticloadbalancing' && c.operation.includes('Revocations') ? [c.operation] : [],
    );
    expect(elbOps).toEqual([
      'DescribeTrustStoreRevocations',
      'AddTrustStoreRevocations',
      'DescribeTrustStoreRevocations',
      'RemoveTrustStoreRevocations',
    ]);
    const added = calls.find(
      (c) => c.service === 'elasticloadbalancing' && c.operation === 'AddTrustStoreRevocations',
    ) as Extract<AwsCall, { service: 'elasticloadbalancing' }>;
    expect(added.revocation).toEqual({
      bucket,
      key: expect.stringMatching(/^revocation\/crls\/[0-9a-f]{64}\.pem$/),
      version: expect.any(String),
    });
    expect(recorder.elb.trustStores.get(TRUST_STORE)!.revocations.size).toBe(0);
    expect(await deniedCalls(stack, 'rollout', calls)).toEqual([]);
    // The grants are what allows them (the test can fail): without them, the calls are refused.
    expect(
      await deniedCalls(
        stack.without('elasticloadbalancing:DescribeTrustStoreRevocations'),
        'rollout',
        calls,
      ),
    ).toContainEqual(
      expect.stringContaining('needs elasticloadbalancing:DescribeTrustStoreRevocations on *'),
    );
    const withoutRevocations = await deniedCalls(
      stack.without('elasticloadbalancing:AddTrustStoreRevocations'),
      'rollout',
      calls,
    );
    for (const action of ['AddTrustStoreRevocations', 'RemoveTrustStoreRevocations'])
      expect(withoutRevocations).toContainEqual(
        expect.stringContaining(`needs elasticloadbalancing:${action} on ${TRUST_STORE}`),
      );
  });

  it('rolls a version to no target, and alerts, when a target cannot take it (an ELB trust store holds 25 CAs at most)', async () => {
    const roots = await Promise.all(
      Array.from({ length: 26 }, (_, i) => root(`CN=Initech Root ${i + 1},O=Initech`)),
    );
    const put = await aws.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'inbox/initech/roots.pem', Body: pemOf(...roots) }),
    );
    await ingest(
      { Records: [sqsRecord('m4', objectCreated(bucket, 'inbox/initech/roots.pem', put.VersionId, 'm4'))] },
      lambdaContext(900_000),
    );
    const start = recorder.take().find((c) => c.service === 'states') as Extract<
      AwsCall,
      { service: 'states' }
    >;
    const big = JSON.parse(start.input!).release as { revision: number; version: string };
    expect(big.version).toBe(await truststoreVersion());
    await drain(aws.sqs, alerts);

    // The first attempt is throttled by Lambda: the Task's retry runs the step again.
    let throttled = 0;
    const execution = await execute({ release: big }, (invoke) => async (payload) => {
      if (throttled++ === 0)
        throw Object.assign(new Error('Rate exceeded'), { name: 'Lambda.TooManyRequestsException' });
      return invoke(payload);
    });
    expect(execution).toMatchObject({
      status: 'FAILED',
      error: 'RolloutNotSucceeded',
      path: ['RolloutStep', 'RolloutDone', 'RolloutNotSucceeded'],
      steps: 1,
    });
    expect(throttled).toBe(2);
    const out = { rollout: JSON.parse((execution as { cause: string }).cause) as Rollout };
    expect(out.rollout.status).toBe('failed');
    expect(out.rollout.reason).toMatch(/refused by the limits of alb: elb\.too-many-cas/);
    expect(out.rollout.targets.every((t) => t.phase === 'skipped')).toBe(true);
    const calls = recorder.take();
    expect(calls.filter((c) => ['apigateway', 'elasticloadbalancing', 'sts'].includes(c.service))).toEqual(
      [],
    );
    expect(await deniedCalls(stack, 'rollout', calls)).toEqual([]);
    const alerted = (await drain(aws.sqs, alerts)).map((m) => m.MessageAttributes.eventType!.Value);
    expect(alerted).toEqual(['truststore.roll-failed']);
  });

  it('fails an execution whose input no step can take at once, without retrying (a retry cannot mend it)', async () => {
    const execution = await execute({
      rollout: { id: 'gone', revision: 1, version: 'v', status: 'running', ref: 'rollouts/gone.json' },
    });
    expect(execution).toMatchObject({
      status: 'FAILED',
      error: 'InputError',
      steps: 1,
      path: ['RolloutStep'],
    });
    expect((execution as { cause: string }).cause).toContain('is missing or unreadable');
  });

  it('has trustroll status say the last rollout failed, and exit 1', async () => {
    const failed = await status('--json');
    expect(failed.code).toBe(1);
    const json = JSON.parse(failed.out);
    expect(json.rollout.status).toBe('failed');
    expect(json.rolloutOfLatest).toBe(true);
    expect(json.latestVersion).toBe(json.rollout.version);
  });
  it('gives an accepted CRL to the ELB trust store at once: ingest starts one CRL sync, which adds it without ModifyTrustStore and touches no domain', async () => {
    // Whatever version the trust store serves (its ledger), and nothing holding the targets.
    await aws.s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'rollouts/active.json',
        Body: JSON.stringify({ id: 'none' }),
      }),
    );
    const ledgerBefore = JSON.parse(
      await (
        await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: ledgerKey(TRUST_STORE) }))
      ).Body!.transformToString(),
    );
    const crlBytes = await crl(acme.intermediate, [acme.client], { crlNumber: 5 });
    const put = await aws.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'inbox/acme/crl/now.crl', Body: crlBytes }),
    );
    const versionBefore = await truststoreVersion();
    recorder.take();
    const result = await ingest(
      {
        Records: [
          sqsRecord('m-crl', objectCreated(bucket, 'inbox/acme/crl/now.crl', put.VersionId, 'm-crl')),
        ],
      },
      lambdaContext(900_000),
    );
    expect(result.batchItemFailures).toEqual([]);
    const calls = recorder.take();
    // No new truststore version, so no rollout: one execution, the CRL sync, named for the change.
    expect(await truststoreVersion()).toBe(versionBefore);
    const starts = calls.filter((c) => c.service === 'states') as Extract<AwsCall, { service: 'states' }>[];
    expect(starts).toHaveLength(1);
    const change = JSON.parse(starts[0]!.input!).revocations as { revision: number; generation: number };
    expect(Number.isInteger(change.revision) && Number.isInteger(change.generation)).toBe(true);
    expect(starts[0]).toMatchObject({
      operation: 'StartExecution',
      stateMachineArn,
      name: crlSyncExecutionName(change),
    });
    expect(await deniedCalls(stack, 'ingest', calls)).toEqual([]);
    // Status before the sync ran: the trust store is behind, and no sync has reached it.
    const behind = await status();
    expect(behind.code).toBe(1);
    expect(behind.out).toContain(`REVOCATIONS BEHIND: ELB trust store ${TRUST_STORE}`);
    expect(behind.out).toContain('no CRL sync has given them to it');

    // A retried run (or a run request) starts no second sync: before the sync's first step wrote
    // its record, the run asks again under the same name, which Step Functions takes as the same.
    recorder.take();
    await ingest(
      {
        Records: [
          sqsRecord('m-crl-again', {
            source: 'trustroll',
            'detail-type': 'Run Requested',
            detail: { reason: 'test', from: 'test' },
          }),
        ],
      },
      lambdaContext(900_000),
    );
    expect(
      recorder
        .take()
        .filter((c) => c.service === 'states')
        .map((c) => (c as { name?: string }).name),
    ).toEqual([crlSyncExecutionName(change)]);
    const syncs = async () =>
      ((await sfn.send(new ListExecutionsCommand({ stateMachineArn }))).executions ?? [])
        .map((e) => e.name!)
        .filter((n) => n.startsWith('crl-sync-'));
    expect((await syncs()).filter((n) => n === crlSyncExecutionName(change))).toHaveLength(1);
    // The same CRL again changes no revocation generation: no sync either.
    const again = await aws.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'inbox/acme/crl/again.crl', Body: crlBytes }),
    );
    await ingest(
      {
        Records: [
          sqsRecord(
            'm-crl-same',
            objectCreated(bucket, 'inbox/acme/crl/again.crl', again.VersionId, 'm-crl-same'),
          ),
        ],
      },
      lambdaContext(900_000),
    );
    const sameCalls = recorder.take();
    expect(JSON.stringify(sameCalls)).toContain('inbox/acme/crl/again.crl');
    expect(sameCalls.filter((c) => c.service === 'states').map((c) => (c as { name?: string }).name)).toEqual(
      [crlSyncExecutionName(change)],
    );
    expect((await syncs()).filter((n) => n === crlSyncExecutionName(change))).toHaveLength(1);

    // The execution as ingest started it, run by the synthesized definition.
    const execution = await execute({ revocations: change });
    expect(execution).toMatchObject({ status: 'SUCCEEDED', steps: 1 });
    expect(execution.path).toEqual(['RolloutStep', 'RolloutDone', 'RolloutSucceeded']);
    const out = (execution as Extract<Execution, { status: 'SUCCEEDED' }>).output as unknown as {
      rollout: Rollout;
    };
    expect(out.rollout).toMatchObject({
      id: `crl-${change.revision}-${change.generation}`,
      kind: 'crl-sync',
    });
    expect(out.rollout.targets.map((t) => [t.id, t.phase])).toEqual([['alb', 'rolled']]);
    const syncCalls = recorder.take();
    expect(syncCalls.filter((c) => c.service === 'apigateway')).toEqual([]);
    expect(syncCalls.filter((c) => c.service === 'elasticloadbalancing').map((c) => c.operation)).toEqual(
      expect.arrayContaining(['DescribeTrustStoreRevocations', 'AddTrustStoreRevocations']),
    );
    expect(
      syncCalls.some((c) => c.service === 'elasticloadbalancing' && c.operation === 'ModifyTrustStore'),
    ).toBe(false);
    const held = [...recorder.elb.trustStores.get(TRUST_STORE)!.revocations.values()];
    expect(held.some((r) => r.key.startsWith('revocation/crls/') && r.bucket === bucket)).toBe(true);
    const ledger = JSON.parse(
      await (
        await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: ledgerKey(TRUST_STORE) }))
      ).Body!.transformToString(),
    );
    expect(ledger.version).toBe(ledgerBefore.version);
    expect(ledger.crls.length).toBeGreaterThan(0);
    // The access test: the sync's calls, allowed by the rollout role; without the Add grant, refused.
    expect(await deniedCalls(stack, 'rollout', syncCalls)).toEqual([]);
    expect(
      await deniedCalls(stack.without('elasticloadbalancing:AddTrustStoreRevocations'), 'rollout', syncCalls),
    ).toEqual([expect.stringContaining('needs elasticloadbalancing:AddTrustStoreRevocations')]);
    // Nothing behind any more.
    expect((await status()).out).not.toContain('REVOCATIONS BEHIND');
  });
  it('ends a CRL sync that ELB refuses failed, alerted, and said by status, with the trust store left as it was', async () => {
    const before = new Map(recorder.elb.trustStores.get(TRUST_STORE)!.revocations);
    const put = await aws.s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'inbox/acme/crl/later.crl',
        Body: await crl(acme.intermediate, [acme.client], { crlNumber: 6 }),
      }),
    );
    await drain(aws.sqs, alerts);
    recorder.take();
    await ingest(
      {
        Records: [
          sqsRecord('m-crl-6', objectCreated(bucket, 'inbox/acme/crl/later.crl', put.VersionId, 'm-crl-6')),
        ],
      },
      lambdaContext(900_000),
    );
    const start = recorder.take().find((c) => c.service === 'states') as Extract<
      AwsCall,
      { service: 'states' }
    >;
    const input = JSON.parse(start.input!);
    expect(Object.keys(input)).toEqual(['revocations']);
    recorder.elb.refuseRevocations.add(TRUST_STORE);
    try {
      const execution = await execute(input);
      expect(execution).toMatchObject({ status: 'FAILED', error: 'RolloutNotSucceeded', steps: 1 });
      expect(execution.path).toEqual(['RolloutStep', 'RolloutDone', 'RolloutNotSucceeded']);
      const record = JSON.parse((execution as { cause: string }).cause) as Rollout;
      expect(record).toMatchObject({ kind: 'crl-sync', status: 'failed' });
      expect(record.targets[0]).toMatchObject({ id: 'alb', phase: 'failed' });
      expect(record.targets[0]!.error).toContain('InvalidRevocationContent');
    } finally {
      recorder.elb.refuseRevocations.delete(TRUST_STORE);
    }
    // Nothing of the trust store changed: the files it had, it has.
    expect(recorder.elb.trustStores.get(TRUST_STORE)!.revocations).toEqual(before);
    const alerted = (await drain(aws.sqs, alerts)).map((m) => m.MessageAttributes.eventType!.Value);
    expect(alerted).toContain('truststore.crls-not-synced');
    expect(await deniedCalls(stack, 'rollout', recorder.take())).toEqual([]);
    const shown = await status();
    expect(shown.code).toBe(1);
    expect(shown.out).toContain(
      `the CRL sync crl-${input.revocations.revision}-${input.revocations.generation} (revision ${input.revocations.revision}, revocation generation ${input.revocations.generation}) failed for it`,
    );
    expect(shown.out).not.toContain("the next version's rollout\n");
  });

  /** An upload of `acme`'s intermediate's CRL numbered `n` (a new CRL: a revocation change). */
  const uploadCrl = async (name: string, n: number) => {
    const put = await aws.s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `inbox/acme/crl/${name}`,
        Body: await crl(acme.intermediate, [acme.client], { crlNumber: n }),
      }),
    );
    return sqsRecord(
      `m-${name}`,
      objectCreated(bucket, `inbox/acme/crl/${name}`, put.VersionId, `m-${name}`),
    );
  };
  const states = (calls: readonly AwsCall[]) =>
    calls.filter((c): c is Extract<AwsCall, { service: 'states' }> => c.service === 'states');
  const revocationOf = async () =>
    JSON.parse(
      await (
        await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'state/truststore.json' }))
      ).Body!.transformToString(),
    ).revocation as { generation: number; crlChange?: { revision: number; generation: number } };

  it('starts the CRL sync a run committed but could not start (Step Functions down after the commit): its retry starts it, though the CRL is no longer new to it', async () => {
    const record = await uploadCrl('outage.crl', 7);
    recorder.take();
    recorder.outages.add('states');
    let failed: SQSBatchResponse;
    try {
      failed = await ingest({ Records: [record] }, lambdaContext(900_000));
    } finally {
      recorder.outages.delete('states');
    }
    // The CRL is committed and the upload archived, but the batch failed: SQS delivers it again.
    expect(failed.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    const first = recorder.take();
    expect(first.some((c) => c.service === 'states' && c.status === 503)).toBe(true);
    const { crlChange, generation } = await revocationOf();
    expect(crlChange?.generation).toBe(generation);
    const change = crlChange!;
    expect(
      first.some(
        (c) => c.service === 's3' && c.operation === 'DeleteObject' && c.key === 'inbox/acme/crl/outage.crl',
      ),
    ).toBe(true);
    expect((await status()).out).toContain(`REVOCATIONS BEHIND: ELB trust store ${TRUST_STORE}`);

    // The retry: the upload is gone from the inbox (a duplicate), and the sync is started anyway.
    const retried = await ingest({ Records: [record] }, lambdaContext(900_000));
    expect(retried.batchItemFailures).toEqual([]);
    const calls = recorder.take();
    expect(states(calls).map((c) => [c.operation, c.name, JSON.parse(c.input!)])).toEqual([
      ['StartExecution', crlSyncExecutionName(change), { revocations: change }],
    ]);
    expect(await deniedCalls(stack, 'ingest', calls)).toEqual([]);
    const execution = await execute({ revocations: change });
    expect(execution).toMatchObject({ status: 'SUCCEEDED', steps: 1 });
    expect((await status()).out).not.toContain('REVOCATIONS BEHIND');
    // Its record written, no later run asks Step Functions again.
    await ingest({ Records: [record] }, lambdaContext(900_000));
    expect(states(recorder.take())).toEqual([]);
  });

  it('has the daily scan ask for a run when no run came to start a committed CRL sync (the retries ran out)', async () => {
    const record = await uploadCrl('lost.crl', 8);
    recorder.outages.add('states');
    try {
      await ingest({ Records: [record] }, lambdaContext(900_000));
    } finally {
      recorder.outages.delete('states');
    }
    const change = (await revocationOf()).crlChange!;
    await drain(aws.sqs, runQueue);
    // The message went to the dead-letter queue: no retry. The scan, as the schedule invokes it.
    const scan = await scanHandler();
    recorder.take();
    await scan(
      { 'execution-id': 'exec-crl', 'scheduled-time': '2026-12-04T06:00:00Z' },
      lambdaContext(300_000),
    );
    const scanCalls = recorder.take();
    expect(states(scanCalls)).toEqual([]);
    expect(await deniedCalls(stack, 'scan', scanCalls)).toEqual([]);
    const requested = await drain(aws.sqs, runQueue);
    expect(requested).toEqual([
      expect.objectContaining({
        'detail-type': 'Run Requested',
        detail: expect.objectContaining({ reason: 'CRL sync not started', from: 'expiry-scan' }),
      }),
    ]);
    // The run it asked for starts the sync.
    await ingest({ Records: [sqsRecord('m-run-crl', requested[0]!)] }, lambdaContext(900_000));
    const calls = recorder.take();
    expect(states(calls).map((c) => c.name)).toEqual([crlSyncExecutionName(change)]);
    expect(await deniedCalls(stack, 'ingest', calls)).toEqual([]);
    // Once the sync ran, the scan asks for nothing more.
    expect(await execute({ revocations: change })).toMatchObject({ status: 'SUCCEEDED' });
    await scan(
      { 'execution-id': 'exec-crl-2', 'scheduled-time': '2026-12-05T06:00:00Z' },
      lambdaContext(300_000),
    );
    expect(await drain(aws.sqs, runQueue)).toEqual([]);
  });

  it("has the daily scan ask for a run when a version's rollout was never started (StartExecution failed until the message was dead-lettered)", async () => {
    const beta = await partnerChain('Beta');
    const put = await aws.s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'inbox/beta/ca.pem',
        Body: pemOf(beta.root, beta.intermediate),
      }),
    );
    recorder.outages.add('states');
    try {
      const failed = await ingest(
        {
          Records: [sqsRecord('m-beta', objectCreated(bucket, 'inbox/beta/ca.pem', put.VersionId, 'm-beta'))],
        },
        lambdaContext(900_000),
      );
      expect(failed.batchItemFailures).toHaveLength(1);
    } finally {
      recorder.outages.delete('states');
    }
    const version = await truststoreVersion();
    await drain(aws.sqs, runQueue);
    const scan = await scanHandler();
    recorder.take();
    await scan(
      { 'execution-id': 'exec-rel', 'scheduled-time': '2026-12-06T06:00:00Z' },
      lambdaContext(300_000),
    );
    expect(await deniedCalls(stack, 'scan', recorder.take())).toEqual([]);
    const requested = await drain(aws.sqs, runQueue);
    expect(requested).toEqual([
      expect.objectContaining({
        detail: expect.objectContaining({ reason: 'rollout not started', version }),
      }),
    ]);
    await ingest({ Records: [sqsRecord('m-run-rel', requested[0]!)] }, lambdaContext(900_000));
    const calls = recorder.take();
    const started = states(calls).filter(
      (c) => c.operation === 'StartExecution' && c.name?.startsWith('rollout-'),
    );
    expect(started).toHaveLength(1);
    const release = JSON.parse(started[0]!.input!).release as { revision: number; version: string };
    expect(release.version).toBe(version);
    expect(started[0]!.name).toBe(executionName(release));
    expect(await deniedCalls(stack, 'ingest', calls)).toEqual([]);
  });
});

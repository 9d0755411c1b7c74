import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { buildApp, TrustrollStack } from '../../infra/app.js';
import { TruststorePipeline, type TruststorePipelineProps } from '../../infra/truststore-pipeline.js';
import type { Target } from '../../shared/rollout/model.js';

/** Synthesises without bundling the Lambda code (test/infra/bundling.test.ts bundles for real). */
const app = (context: Record<string, string> = {}) =>
  new App({ context: { 'aws:cdk:bundling-stacks': [], ...context } });

const TRUST_STORE =
  'arn:aws:elasticloadbalancing:eu-west-1:123456789012:truststore/partners/0123456789abcdef';
const ROLE = 'arn:aws:iam::210987654321:role/trustroll-target';
const TARGETS: Target[] = [
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

const build = (props: TruststorePipelineProps = { targets: TARGETS }) => {
  const a = app();
  const stack = new Stack(a, 'Rollout', { env: { account: '123456789012', region: 'us-east-1' } });
  const pipeline = new TruststorePipeline(stack, 'Pipeline', props);
  return { a, stack, pipeline, t: Template.fromStack(stack) };
};

type Statement = { Action: string | string[]; Resource: unknown; Effect: string; Condition?: unknown };
const statementsOf = (t: Template, stack: Stack, role: iam.IRole): Statement[] => {
  const id = stack.getLogicalId(role.node.defaultChild as iam.CfnRole);
  return Object.values(t.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: id }] } })).flatMap(
    (p) =>
      (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
        .Statement,
  );
};
const granting = (statements: Statement[], action: string) =>
  statements.filter((s) => [s.Action].flat().includes(action)).map((s) => s.Resource);

describe('the durable rollout (targets)', () => {
  it('is a state machine Step → Done? → Wait(SecondsPath) → Step, ending in Succeed or Fail', () => {
    const { t } = build();
    const [machine] = Object.values(t.findResources('AWS::StepFunctions::StateMachine'));
    const parts = (machine!.Properties.DefinitionString as { 'Fn::Join': [string, unknown[]] })[
      'Fn::Join'
    ][1];
    const definition = JSON.parse(
      parts
        .map((p) => (typeof p === 'string' ? p : '"REF"'))
        .join('')
        .replace(/""REF""/g, '"REF"'),
    );
    expect(definition.StartAt).toBe('RolloutStep');
    const states = definition.States;
    expect(states.RolloutStep).toMatchObject({ Type: 'Task', Next: 'RolloutDone' });
    expect(
      states.RolloutStep.Retry.map((r: { ErrorEquals: string[]; MaxAttempts: number }) => [
        r.ErrorEquals[0],
        r.MaxAttempts,
      ]),
    ).toEqual([
      ['InputError', 0],
      ['Lambda.ServiceException', 6],
      ['States.ALL', 5],
    ]);
    expect(states.RolloutStep.Retry[1]).toMatchObject({ BackoffRate: 2, JitterStrategy: 'FULL' });
    // No Catch: the execution fails at the step, where RedriveExecution resumes it.
    expect(states.RolloutStep.Catch).toBeUndefined();
    expect(states.RolloutDone.Choices).toEqual([
      { Variable: '$.done', BooleanEquals: false, Next: 'RolloutPause' },
      {
        Or: [
          { Variable: '$.rollout.status', StringEquals: 'succeeded' },
          { Variable: '$.rollout.status', StringEquals: 'superseded' },
        ],
        Next: 'RolloutSucceeded',
      },
    ]);
    expect(states.RolloutDone.Default).toBe('RolloutNotSucceeded');
    expect(states.RolloutPause).toEqual({
      Type: 'Wait',
      Comment: expect.any(String),
      SecondsPath: '$.waitSeconds',
      Next: 'RolloutStep',
    });
    expect(states.RolloutSucceeded.Type).toBe('Succeed');
    expect(states.RolloutNotSucceeded).toMatchObject({
      Type: 'Fail',
      CausePath: 'States.JsonToString($.rollout)',
    });
    expect(machine!.Properties).toMatchObject({
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: true },
    });
  });

  it('gives the step function the targets, validated, in its environment', () => {
    const { t, stack, pipeline } = build();
    const fn =
      t.findResources('AWS::Lambda::Function')[
        stack.getLogicalId(pipeline.rolloutFunction!.node.defaultChild as never)
      ]!;
    const targets = JSON.parse(fn.Properties.Environment.Variables.TRUSTROLL_TARGETS);
    expect(targets.waves).toEqual(['canary', 'rest']);
    expect(targets.targets.map((x: Target) => x.id)).toEqual(TARGETS.map((x) => x.id));
    expect(targets.settings.minUpdateIntervalMs).toBe(30_000);
    // Its own account, so that a target naming it is paced with those naming none.
    expect(fn.Properties.Environment.Variables.TRUSTROLL_ACCOUNT).toBe(stack.account);
  });

  it('puts a targets file too large for the environment into the bucket at deploy, and lets the step read that one object', () => {
    const many: Target[] = Array.from({ length: 40 }, (_, i) => ({
      id: `api-${i}`,
      kind: 'apigateway-rest',
      resource: `api-${i}.partners.example.com`,
      wave: i < 2 ? 'canary' : 'rest',
    }));
    const { t, stack, pipeline } = build({ targets: many });
    const fn =
      t.findResources('AWS::Lambda::Function')[
        stack.getLogicalId(pipeline.rolloutFunction!.node.defaultChild as never)
      ]!;
    const variables = fn.Properties.Environment.Variables;
    expect(variables.TRUSTROLL_TARGETS).toBeUndefined();
    const key = variables.TRUSTROLL_TARGETS_KEY as string;
    expect(key).toMatch(/^config\/targets-[0-9a-f]{16}\.json$/);
    // Lambda's 4 KB covers every variable together.
    expect(JSON.stringify(variables).length).toBeLessThan(4096);
    const [put] = Object.values(t.findResources('Custom::AWS'));
    const create = JSON.stringify(put!.Properties.Create);
    expect(create).toContain('"action\\":\\"putObject\\"');
    expect(create).toContain(key);
    expect(create).toContain('api-39.partners.example.com');
    const s = statementsOf(t, stack, pipeline.rolloutFunction!.role!);
    expect(JSON.stringify(granting(s, 's3:GetObject'))).toContain(`/${key}`);
    // The deploy-time writer may put that one object and nothing else.
    const [writer, ...others] = Object.entries(t.findResources('AWS::IAM::Policy'))
      .filter(([id]) => id.includes('RolloutTargetsObject'))
      .map(([, p]) => p);
    expect(others).toEqual([]);
    const statements = writer!.Properties.PolicyDocument.Statement as Statement[];
    expect(statements.map((x) => x.Action)).toEqual(['s3:PutObject']);
    expect(JSON.stringify(statements[0]!.Resource)).toContain(`/${key}`);
    // Another targets file is another object (and so a new configuration of the function).
    const other = build({ targets: [...many].reverse() });
    const otherKey =
      other.t.findResources('AWS::Lambda::Function')[
        other.stack.getLogicalId(other.pipeline.rolloutFunction!.node.defaultChild as never)
      ]!.Properties.Environment.Variables.TRUSTROLL_TARGETS_KEY;
    expect(otherKey).not.toBe(key);
  });

  it('leaves cdk-nag nothing to report with a targets file too large for the environment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'trustroll-targets-'));
    const file = join(dir, 'targets.json');
    writeFileSync(
      file,
      JSON.stringify({
        waves: ['all'],
        targets: Array.from({ length: 40 }, (_, i) => ({
          id: `api-${i}`,
          kind: 'apigateway-rest',
          resource: `api-${i}.partners.example.com`,
          wave: 'all',
        })),
      }),
    );
    try {
      const a = buildApp(app({ stage: 'big', targets: file }));
      const stack = a.node.children.find((c) => c instanceof TrustrollStack) as TrustrollStack;
      expect(Object.keys(Template.fromStack(stack).findResources('Custom::AWS'))).toHaveLength(1);
      expect(() => a.synth()).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lets the ingest function start executions of its state machine and roll nothing itself', () => {
    const { t, stack, pipeline } = build();
    const ingest = statementsOf(t, stack, pipeline.ingestFunction.role!);
    expect(granting(ingest, 'states:StartExecution')).toEqual([
      { Ref: stack.getLogicalId(pipeline.rolloutStateMachine!.node.defaultChild as never) },
    ]);
    expect(ingest.filter((s) => [s.Action].flat().some((a) => a.startsWith('apigateway:')))).toEqual([]);
  });

  it('tells the ingest function to start CRL syncs only when the targets include an ELB trust store', () => {
    const env = (targets: Target[]) => {
      const { t, stack, pipeline } = build({ targets });
      const id = stack.getLogicalId(pipeline.ingestFunction.node.defaultChild as never);
      return t.toJSON().Resources[id].Properties.Environment.Variables as Record<string, unknown>;
    };
    expect(env(TARGETS).TRUSTROLL_CRL_SYNC).toBe('true');
    expect(env(TARGETS.filter((x) => x.kind !== 'elb-trust-store'))).not.toHaveProperty('TRUSTROLL_CRL_SYNC');
  });

  it('grants the step function each target kind what it needs, where the target is, and nothing for targets of other accounts but the role', () => {
    const { t, stack, pipeline } = build();
    const s = statementsOf(t, stack, pipeline.rolloutFunction!.role!);
    const domain = (region: string, name: string) => ({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:apigateway:${region}::/domainnames/${name}`]],
    });
    expect(granting(s, 'apigateway:PATCH')).toEqual([
      [domain('us-east-1', 'canary.example.com'), domain('eu-central-1', 'mtls.example.eu')],
    ]);
    const mtls = s.find((x) => [x.Action].flat().includes('apigateway:AddCertificateToDomain'))!;
    expect(mtls.Condition).toEqual({
      StringEqualsIfExists: {
        'apigateway:Resource/MtlsTrustStoreUri': expect.anything(),
        'apigateway:Request/MtlsTrustStoreUri': expect.anything(),
      },
    });
    expect(granting(s, 'elasticloadbalancing:ModifyTrustStore')).toEqual([TRUST_STORE]);
    expect(granting(s, 'elasticloadbalancing:DescribeTrustStores')).toEqual(['*']);
    // The revocation files: added and removed on the trust stores only; listed on "*" (no resource type).
    expect(granting(s, 'elasticloadbalancing:AddTrustStoreRevocations')).toEqual([TRUST_STORE]);
    expect(granting(s, 'elasticloadbalancing:RemoveTrustStoreRevocations')).toEqual([TRUST_STORE]);
    expect(granting(s, 'elasticloadbalancing:DescribeTrustStoreRevocations')).toEqual(['*']);
    // The CRLs kept as PEM, which ELB reads with the caller's permissions: that prefix, not revocation/*.
    const reads = JSON.stringify(granting(s, 's3:GetObjectVersion'));
    expect(reads).toContain('/revocation/crls/*');
    expect(reads).not.toMatch(/\/revocation\/\*/);
    expect(granting(s, 'sts:AssumeRole')).toEqual([ROLE]);
    expect(JSON.stringify(s)).not.toContain('api.other.example.com');
  });

  it('grants no revocation action and no CRL read without an ELB trust store target', () => {
    const { t, stack, pipeline } = build({ targets: TARGETS.filter((x) => x.kind !== 'elb-trust-store') });
    const s = JSON.stringify(statementsOf(t, stack, pipeline.rolloutFunction!.role!));
    expect(s).not.toContain('elasticloadbalancing:');
    expect(s).not.toContain('revocation/crls');
  });

  it("lets an ELB target role of another account read the CRLs kept as PEM, and a domain's role not", () => {
    const elbRole = 'arn:aws:iam::210987654321:role/trustroll-alb';
    const other = TRUST_STORE.replace('123456789012', '210987654321');
    const { t } = build({
      targets: [
        ...TARGETS,
        {
          id: 'partner-alb',
          kind: 'elb-trust-store',
          resource: other,
          wave: 'rest',
          region: 'eu-west-1',
          account: '210987654321',
          roleArn: elbRole,
          externalId: 'trustroll-3f9a',
        },
      ],
    });
    const statements = Object.values(t.findResources('AWS::S3::BucketPolicy')).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as Record<string, unknown>[],
    );
    const crls = statements.find((x) => x.Sid === 'TrustStoreRolesOf210987654321');
    expect(crls).toMatchObject({
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:GetObjectVersion'],
      Condition: { ArnEquals: { 'aws:PrincipalArn': [elbRole] } },
    });
    expect(JSON.stringify(crls!.Resource)).toContain('/revocation/crls/*');
  });

  it("lets the other account's target role, and no other principal there, read the truststore", () => {
    const { t } = build();
    const statement = Object.values(t.findResources('AWS::S3::BucketPolicy'))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Record<string, unknown>[])
      .find((x) => x.Sid === 'TargetRolesOf210987654321');
    expect(statement).toMatchObject({
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:GetObjectVersion'],
      Condition: { ArnEquals: { 'aws:PrincipalArn': [ROLE] } },
    });
    expect(JSON.stringify(statement!.Resource)).toContain('/truststore/truststore.pem');
  });

  it('alarms when a rollout does not succeed, and draws the rollouts on the dashboard', () => {
    const { t } = build();
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ExecutionsFailed',
      Namespace: 'AWS/States',
    });
    const [board] = Object.values(t.findResources('AWS::CloudWatch::Dashboard'));
    const body = JSON.stringify(board!.Properties.DashboardBody);
    expect(body).toMatch(/Rollouts.*ExecutionsStarted.*ExecutionsSucceeded.*ExecutionsFailed/);
  });

  it('refuses targets beside domains, and a targets configuration with mistakes, at synth', () => {
    expect(() => build({ targets: TARGETS, domains: [{ name: 'api.example.com' }] })).toThrow(
      /targets and domains exclude each other/,
    );
    expect(() =>
      build({ targets: [{ id: 'x', kind: 'elb-trust-store', resource: 'not-an-arn', wave: 'w' }] }),
    ).toThrow(/not a trust store ARN/);
    // What only the local mode reads: refused, not ignored.
    expect(() =>
      build({
        targets: [
          {
            id: 'canary',
            kind: 'apigateway-rest',
            resource: 'canary.example.com',
            wave: 'w',
            port: 47100,
            probe: {
              url: 'https://canary.example.com/',
              clientCert: 'probe/c.pem',
              clientKey: 'probes/c.key',
            },
          } as never,
        ],
      }),
    ).toThrow(
      /target canary: "port" is for local mode \(trustroll up --targets\) only: leave it out of the construct's targets; target canary: probe file "probe\/c\.pem" must be an object key under probes\//,
    );
  });

  it('makes no state machine without targets (the inline roll of domains stays)', () => {
    const { t, pipeline } = build({ domains: [{ name: 'api.example.com' }] });
    expect(t.findResources('AWS::StepFunctions::StateMachine')).toEqual({});
    expect(pipeline.rolloutFunction).toBeUndefined();
  });

  it('leaves cdk-nag AwsSolutions nothing to report, as the CDK app deploys it with a targets file', () => {
    const a = buildApp(app({ stage: 'targets', targets: 'infra/examples/targets.json' }));
    const stack = a.node.children.find((c) => c instanceof TrustrollStack) as TrustrollStack;
    expect(stack.pipeline.rolloutStateMachine).toBeDefined();
    expect(() => a.synth()).not.toThrow();
  });

  it('fails synthesis when the rollout role is widened, so the cdk-nag gate is real here too', () => {
    const a = buildApp(app({ stage: 'targets', targets: 'infra/examples/targets.json' }));
    const stack = a.node.children.find((c) => c instanceof TrustrollStack) as TrustrollStack;
    stack.pipeline.rolloutFunction!.addToRolePolicy(
      new PolicyStatement({ actions: ['apigateway:*'], resources: ['*'] }),
    );
    expect(() => a.synth()).toThrow();
  });
});

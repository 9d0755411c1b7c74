import { describe, expect, it } from 'vitest';
import { quoted, section, tableRows } from '../docs/readme.js';
import {
  ACCOUNT,
  evaluate,
  evaluateService,
  type Fn,
  REGION,
  SynthesizedStack,
} from '../integration/access.js';

/**
 * Least privilege, evaluated: requests the functions never need must be refused by the policies
 * the construct synthesizes (identity, bucket, topic, queue and key policies together), and the
 * service principals that must reach the topic can. What the functions do need is proven by the
 * recorded calls of the integration tests (test/integration/handlers.test.ts).
 */
const bucket = 'trustroll-access-bucket';
const topicArn = `arn:aws:sns:${REGION}:${ACCOUNT}:trustroll-alerts`;
const uri = `s3://${bucket}/truststore/truststore.pem`;
const physical = {
  bucket,
  topicArn,
  queue: {
    url: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/trustroll-uploads.fifo`,
    arn: `arn:aws:sqs:${REGION}:${ACCOUNT}:trustroll-uploads.fifo`,
  },
};
const stack = new SynthesizedStack(
  { domains: [{ name: 'api.example.com' }, { name: 'http.example.com', type: 'HTTP' }] },
  physical,
);
/** A pipeline with targets: the rollout function and the ingest function that starts it. */
const TRUST_STORE = `arn:aws:elasticloadbalancing:eu-west-1:${ACCOUNT}:truststore/partners/0123456789abcdef`;
const TARGET_ROLE = 'arn:aws:iam::210987654321:role/trustroll-target';
const rolloutStack = new SynthesizedStack(
  {
    targets: [
      {
        id: 'canary',
        kind: 'apigateway-rest',
        resource: 'api.example.com',
        wave: 'canary',
        probe: {
          url: 'https://api.example.com/health',
          clientCert: 'probes/c.pem',
          clientKey: 'probes/k.pem',
        },
      },
      {
        id: 'eu',
        kind: 'apigateway-http',
        resource: 'mtls.example.eu',
        wave: 'rest',
        region: 'eu-central-1',
      },
      { id: 'alb', kind: 'elb-trust-store', resource: TRUST_STORE, wave: 'rest', region: 'eu-west-1' },
      {
        id: 'partner',
        kind: 'apigateway-rest',
        resource: 'api.partner.example',
        wave: 'rest',
        account: '210987654321',
        roleArn: TARGET_ROLE,
        externalId: 'trustroll-3f9a',
      },
    ],
  },
  physical,
);
const domain = (name: string, region = REGION) => `arn:aws:apigateway:${region}::/domainnames/${name}`;
const object = (key: string) => `arn:aws:s3:::${bucket}/${key}`;
const ours = { 'apigateway:Resource/MtlsTrustStoreUri': uri };

describe('the synthesized IAM refuses what the functions never need', () => {
  it.each([
    ['ingest', 'apigateway:PATCH', domain('other.example.com'), {}, 'another domain'],
    ['ingest', 'apigateway:AddCertificateToDomain', domain('other.example.com'), ours, 'another domain'],
    [
      'ingest',
      'apigateway:AddCertificateToDomain',
      domain('api.example.com'),
      { 'apigateway:Resource/MtlsTrustStoreUri': 's3://someone-else/ca.pem' },
      'a domain serving another truststore',
    ],
    [
      'ingest',
      'apigateway:AddCertificateToDomain',
      domain('http.example.com'),
      { ...ours, 'apigateway:Request/MtlsTrustStoreUri': 's3://someone-else/ca.pem' },
      'pointing a domain at another truststore',
    ],
    [
      'ingest',
      's3:DeleteObjectVersion',
      object('truststore/truststore.pem'),
      {},
      'destroying a published truststore',
    ],
    ['ingest', 's3:DeleteObjectVersion', object('archive/acme/ca.pem'), {}, 'destroying the archive'],
    ['ingest', 's3:DeleteObjectVersion', object('state/truststore.json'), {}, 'destroying the state'],
    ['ingest', 's3:DeleteObject', object('truststore/truststore.pem'), {}, 'deleting the truststore'],
    ['ingest', 's3:PutObject', object('inbox/acme/ca.pem'), {}, 'writing into the inbox'],
    ['ingest', 's3:GetObject', object('archive/acme/ca.pem'), {}, 'reading another prefix'],
    ['ingest', 's3:GetObject', object('reports/index.html'), {}, 'reading the report (it only writes it)'],
    ['ingest', 's3:DeleteObjectVersion', object('reports/index.html'), {}, 'destroying a report'],
    ['ingest', 's3:PutObject', object('reportsx/index.html'), {}, 'writing beside the reports prefix'],
    [
      'ingest',
      's3:ListBucketVersions',
      `arn:aws:s3:::${bucket}`,
      { 's3:prefix': 'truststore/' },
      'listing versions outside the inbox',
    ],
    ['ingest', 's3:GetObject', 'arn:aws:s3:::another-bucket/inbox/x.pem', {}, 'another bucket'],
    ['ingest', 'sns:Publish', `arn:aws:sns:${REGION}:${ACCOUNT}:another-topic`, {}, 'another topic'],
    ['ingest', 'sqs:SendMessage', `arn:aws:sqs:${REGION}:${ACCOUNT}:another-queue.fifo`, {}, 'another queue'],
    ['scan', 's3:PutObject', object('truststore/truststore.pem'), {}, 'publishing without pruning'],
    [
      'scan',
      's3:PutObject',
      object('refusals/recent.json'),
      {},
      'the refusals record (the refusals function keeps it)',
    ],
    [
      'ingest',
      's3:PutObject',
      object('refusals/recent.json'),
      {},
      'the refusals record (the refusals function keeps it)',
    ],
    ['scan', 'apigateway:PATCH', domain('api.example.com'), {}, 'rolling (the ingest function rolls)'],
    ['scan', 'apigateway:AddCertificateToDomain', domain('api.example.com'), ours, 'rolling'],
    ['scan', 'sqs:SendMessage', `arn:aws:sqs:${REGION}:${ACCOUNT}:another-queue.fifo`, {}, 'another queue'],
    ['scan', 's3:DeleteObjectVersion', object('inbox/acme/ca.pem'), {}, 'destroying uploads'],
    ['authorizer', 's3:GetObject', object('state/truststore.json'), {}, 'reading the state'],
    ['authorizer', 's3:GetObjectVersion', object('state/truststore.json'), {}, 'reading an old state'],
    ['authorizer', 's3:GetObject', object('inbox/acme/ca.pem'), {}, 'reading the inbox'],
    ['authorizer', 's3:GetObject', object('truststore/truststore.pem'), {}, 'reading the truststore'],
    ['authorizer', 's3:GetObject', object('revocation/serials/ab.bin'), {}, "reading a CRL's serials"],
    ['authorizer', 's3:GetObject', object('archive/acme/ca.pem'), {}, 'reading the archive'],
    ['authorizer', 's3:GetObject', 'arn:aws:s3:::another-bucket/revocation/index.trx', {}, 'another bucket'],
    [
      'authorizer',
      's3:ListBucket',
      `arn:aws:s3:::${bucket}`,
      { 's3:prefix': 'inbox/' },
      "listing partners' uploads",
    ],
    ['authorizer', 's3:ListBucketVersions', `arn:aws:s3:::${bucket}`, {}, 'listing versions'],
    ['authorizer', 's3:PutObject', object('revocation/index.trx'), {}, 'writing the index'],
    ['authorizer', 's3:PutObject', object('state/truststore.json'), {}, 'writing the state'],
    ['authorizer', 's3:PutObject', object('reports/index.html'), {}, 'writing the report'],
    ['authorizer', 's3:PutObject', object('inbox/acme/ca.pem'), {}, 'writing into the inbox'],
    ['authorizer', 's3:DeleteObject', object('revocation/index.trx'), {}, 'deleting the index'],
    ['authorizer', 's3:DeleteObjectVersion', object('revocation/index.trx'), {}, 'destroying the index'],
    ['authorizer', 'sns:Publish', topicArn, {}, 'alerting'],
    ['authorizer', 'kms:Decrypt', stack.keyArn, {}, "using the topic's key"],
    ['authorizer', 'sqs:SendMessage', physical.queue.arn, {}, 'asking for runs'],
    ['authorizer', 'apigateway:GET', domain('api.example.com'), {}, 'reading domains'],
    ['authorizer', 'apigateway:PATCH', domain('api.example.com'), {}, 'rolling'],
    ['refusals', 's3:GetObject', object('inbox/acme/ca.pem'), {}, "reading partners' uploads"],
    ['refusals', 's3:GetObject', object('revocation/index.trx'), {}, 'reading the revocation index'],
    ['refusals', 's3:PutObject', object('state/truststore.json'), {}, 'writing the state'],
    ['refusals', 's3:PutObject', object('truststore/truststore.pem'), {}, 'publishing a truststore'],
    ['refusals', 's3:DeleteObject', object('refusals/alerted.json'), {}, 'deleting its record'],
    ['refusals', 'sqs:SendMessage', physical.queue.arn, {}, 'asking for runs'],
    ['refusals', 'apigateway:GET', domain('api.example.com'), {}, 'reading domains'],
    ['refusals', 'apigateway:PATCH', domain('api.example.com'), {}, 'rolling'],
  ] as const)('%s may not %s on %s (%o): %s', async (fn, action, resource, context, _why) => {
    expect(await evaluate(stack, fn, { action, resource, context, why: 'negative case' })).not.toBe(
      'Allowed',
    );
  });

  it('allows the same requests on what the functions own (the negative cases are not vacuous)', async () => {
    const allowed = [
      ['apigateway:AddCertificateToDomain', domain('api.example.com'), ours],
      ['apigateway:PATCH', domain('http.example.com'), {}],
      ['s3:DeleteObjectVersion', object('inbox/acme/ca.pem'), {}],
      ['s3:PutObject', object('reports/index.html'), {}],
      ['s3:PutObject', object('reports/truststore.csv'), {}],
      ['s3:ListBucketVersions', `arn:aws:s3:::${bucket}`, { 's3:prefix': 'inbox/acme/ca.pem' }],
      ['sqs:SendMessage', physical.queue.arn, {}],
      ['sns:Publish', topicArn, {}],
    ] as const;
    for (const [action, resource, context] of allowed)
      expect(
        await evaluate(stack, 'ingest', { action, resource, context, why: 'positive case' }),
        action,
      ).toBe('Allowed');
  });

  it('lets the authorizer read the revocation index, any version of it (the negative cases are not vacuous)', async () => {
    for (const action of ['s3:GetObject', 's3:GetObjectVersion'])
      expect(
        await evaluate(stack, 'authorizer', {
          action,
          resource: object('revocation/index.trx'),
          why: 'positive case',
        }),
        action,
      ).toBe('Allowed');
  });

  it('refuses every request made without TLS, even those the role may make', async () => {
    expect(
      await evaluate(stack, 'ingest', {
        action: 's3:GetObject',
        resource: object('state/truststore.json'),
        context: { 'aws:SecureTransport': 'false' },
        why: 'plain HTTP',
      }),
    ).toBe('ExplicitlyDenied');
  });
});

describe('the synthesized IAM of a rollout refuses what its functions never need', () => {
  const otherStore = TRUST_STORE.replace('0123456789abcdef', 'fedcba9876543210');
  it.each([
    ['rollout', 'apigateway:PATCH', domain('other.example.com'), {}, 'another domain'],
    ['rollout', 'apigateway:PATCH', domain('mtls.example.eu'), {}, 'a target domain in the wrong region'],
    [
      'rollout',
      'apigateway:PATCH',
      domain('api.partner.example'),
      {},
      "another account's target without its role",
    ],
    [
      'rollout',
      'apigateway:AddCertificateToDomain',
      domain('api.example.com'),
      { 'apigateway:Request/MtlsTrustStoreUri': 's3://someone-else/ca.pem' },
      'pointing a target at another truststore',
    ],
    ['rollout', 'elasticloadbalancing:ModifyTrustStore', otherStore, {}, 'another trust store'],
    [
      'rollout',
      'elasticloadbalancing:AddTrustStoreRevocations',
      otherStore,
      {},
      'adding revocation files to another trust store',
    ],
    [
      'rollout',
      'elasticloadbalancing:RemoveTrustStoreRevocations',
      otherStore,
      {},
      "taking another trust store's revocation files",
    ],
    [
      'rollout',
      's3:GetObject',
      object('revocation/serials/0a.bin'),
      {},
      'reading revocation objects other than the CRLs kept as PEM',
    ],
    ['rollout', 's3:PutObject', object('revocation/crls/0a.pem'), {}, 'writing a CRL'],
    [
      'rollout',
      'sts:AssumeRole',
      'arn:aws:iam::210987654321:role/admin',
      {},
      'another role of the target account',
    ],
    ['rollout', 's3:PutObject', object('state/truststore.json'), {}, 'writing the state'],
    ['rollout', 's3:PutObject', object('truststore/truststore.pem'), {}, 'publishing a truststore'],
    ['rollout', 's3:GetObject', object('inbox/acme/ca.pem'), {}, "reading partners' uploads"],
    ['rollout', 's3:DeleteObjectVersion', object('rollouts/1-v.json'), {}, 'destroying a record'],
    ['rollout', 'sqs:SendMessage', physical.queue.arn, {}, 'asking for runs'],
    [
      'rollout',
      'states:StartExecution',
      `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:other`,
      {},
      'starting executions',
    ],
    [
      'scan',
      's3:PutObject',
      object('rollouts/1-v.json'),
      {},
      'writing a rollout record (it only reads them)',
    ],
    ['ingest', 'apigateway:PATCH', domain('api.example.com'), {}, 'rolling a target inline'],
    [
      'ingest',
      'states:StartExecution',
      `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:other`,
      {},
      'another state machine',
    ],
    ['ingest', 'elasticloadbalancing:ModifyTrustStore', TRUST_STORE, {}, 'rolling a trust store inline'],
  ] as const)('%s may not %s on %s (%o): %s', async (fn, action, resource, context, _why) => {
    expect(await evaluate(rolloutStack, fn, { action, resource, context, why: 'negative case' })).not.toBe(
      'Allowed',
    );
  });

  it('allows the same requests on what the rollout owns (the negative cases are not vacuous)', async () => {
    const allowed = [
      ['apigateway:PATCH', domain('mtls.example.eu', 'eu-central-1'), {}],
      ['apigateway:AddCertificateToDomain', domain('api.example.com'), ours],
      ['elasticloadbalancing:ModifyTrustStore', TRUST_STORE, {}],
      ['elasticloadbalancing:AddTrustStoreRevocations', TRUST_STORE, {}],
      ['elasticloadbalancing:RemoveTrustStoreRevocations', TRUST_STORE, {}],
      ['elasticloadbalancing:DescribeTrustStoreRevocations', '*', {}],
      ['s3:GetObjectVersion', object('revocation/crls/0a.pem'), {}],
      ['sts:AssumeRole', TARGET_ROLE, {}],
      ['s3:PutObject', object('rollouts/1-v.json'), {}],
      ['s3:GetObject', object('probes/c.pem'), {}],
    ] as const;
    for (const [action, resource, context] of allowed)
      expect(
        await evaluate(rolloutStack, 'rollout', { action, resource, context, why: 'positive case' }),
        action,
      ).toBe('Allowed');
  });
});

describe('CloudWatch alarms and the encrypted topic', () => {
  const alarm = (account: string) => ({
    'aws:SourceAccount': account,
    'aws:SourceArn': `arn:aws:cloudwatch:${REGION}:${account}:alarm:trustroll-dead-letters`,
  });

  it("lets this account's alarms publish, and use the topic's key", async () => {
    expect(
      await evaluateService(stack, 'cloudwatch.amazonaws.com', 'sns:Publish', topicArn, alarm(ACCOUNT)),
    ).toBe('Allowed');
    for (const action of ['kms:GenerateDataKey', 'kms:Decrypt'])
      expect(
        await evaluateService(stack, 'cloudwatch.amazonaws.com', action, stack.keyArn, alarm(ACCOUNT)),
        action,
      ).toBe('Allowed');
  });

  it("refuses another account's alarms, on the topic and on the key", async () => {
    const other = alarm('210987654321');
    expect(await evaluateService(stack, 'cloudwatch.amazonaws.com', 'sns:Publish', topicArn, other)).not.toBe(
      'Allowed',
    );
    expect(
      await evaluateService(stack, 'cloudwatch.amazonaws.com', 'kms:GenerateDataKey', stack.keyArn, other),
    ).not.toBe('Allowed');
  });

  it('refuses another service publishing to the topic', async () => {
    expect(
      await evaluateService(stack, 'events.amazonaws.com', 'sns:Publish', topicArn, {
        'aws:SourceAccount': ACCOUNT,
      }),
    ).not.toBe('Allowed');
  });
});

describe("the README's IAM table", () => {
  const rows = tableRows(
    section('## Deploy to AWS (CDK)').slice(section('## Deploy to AWS (CDK)').indexOf('| who |')),
  );
  /** Rows that name `fn` among who and `action` (or its name without the service) among actions. */
  const rowsFor = (fn: Fn, action: string) =>
    rows.filter(
      ([who, actions]) =>
        who!.split(',').some((w) => w.trim() === fn) &&
        quoted(actions!).some((a) => a === action || a === action.split(':')[1]),
    );

  it.each([
    ['ingest', stack],
    ['scan', stack],
    ['authorizer', stack],
    ['refusals', stack],
    ['rollout', rolloutStack],
    ['ingest', rolloutStack],
    ['scan', rolloutStack],
  ] as const)('lists every action the %s role is granted, on every S3 prefix', (fn, synthesized) => {
    const missing: string[] = [];
    for (const { policy } of synthesized.identityPolicies(fn)) {
      for (const statement of policy.Statement) {
        if (statement.Effect !== 'Allow') continue;
        const actions = [statement.Action].flat() as string[];
        const resources = [statement.Resource].flat() as string[];
        for (const action of actions) {
          const found = rowsFor(fn, action);
          if (found.length === 0) {
            missing.push(action);
            continue;
          }
          const on = found.map((r) => r[2]).join(' ');
          for (const r of resources) {
            const prefix = r.startsWith(`arn:aws:s3:::${bucket}/`)
              ? r.slice(`arn:aws:s3:::${bucket}/`.length)
              : '';
            if (prefix && !quoted(on).includes(prefix)) missing.push(`${action} on ${prefix}`);
          }
        }
      }
    }
    expect(missing).toEqual([]);
  });
});

import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp, TrustrollStack } from '../../infra/app.js';
import { TruststorePipeline } from '../../infra/truststore-pipeline.js';

/** Synthesises without bundling the Lambda code (the bundles are checked by `npx cdk synth` in CI). */
const app = (context: Record<string, string> = {}) =>
  new App({ context: { 'aws:cdk:bundling-stacks': [], ...context } });

const synth = (context: Record<string, string>) => {
  const built = buildApp(app(context));
  const stack = built.node.children.find((c) => c instanceof TrustrollStack) as TrustrollStack;
  return { stack, template: Template.fromStack(stack) };
};

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };
const statementsOf = (template: Template, roleLogicalId: string): Statement[] => {
  const policies = template.findResources('AWS::IAM::Policy', {
    Properties: { Roles: [{ Ref: roleLogicalId }] },
  });
  return Object.values(policies).flatMap(
    (p) =>
      (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
        .Statement,
  );
};
const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]).slice().sort();
const roleId = (stack: Stack, fn: { role?: iam.IRole }) =>
  stack.getLogicalId(fn.role!.node.defaultChild as iam.CfnRole);

let t: Template;
let stack: TrustrollStack;
beforeAll(() => {
  ({ template: t, stack } = synth({
    stage: 'prod',
    domains: 'api.example.com,mtls.example.com:HTTP',
    alertEmail: 'ops@example.com',
    partnerEmails: 'acme=pki@acme.example',
  }));
});

type Widget = { type: string; properties?: { title?: string; metrics?: unknown; annotations?: unknown } };
/** The dashboard's widgets, from its body (a Fn::Join of JSON and references). */
const dashboardWidgets = (template: Template): Widget[] => {
  const [board] = Object.values(template.findResources('AWS::CloudWatch::Dashboard')) as {
    Properties: { DashboardBody: { 'Fn::Join': [string, unknown[]] } };
  }[];
  const body = board!.Properties.DashboardBody['Fn::Join'][1]
    .map((part) => (typeof part === 'string' ? part : 'REF'))
    .join('');
  return (JSON.parse(body) as { widgets: Widget[] }).widgets;
};

const bucketRef = () => ({
  'Fn::GetAtt': [stack.getLogicalId(stack.pipeline.bucket.node.defaultChild as never), 'Arn'],
});
const objects = (prefix: string) => ({ 'Fn::Join': ['', [bucketRef(), `/${prefix}/*`]] });

describe('TruststorePipeline resources', () => {
  it('names the stack after the stage', () => {
    expect(stack.stackName).toBe('trustroll-prod');
  });

  it('has a versioned, encrypted, private bucket with EventBridge on, lifecycle rules and TLS only', () => {
    t.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'bucket/' }),
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            Id: 'old-versions',
            NoncurrentVersionExpiration: { NoncurrentDays: 365 },
            Status: 'Enabled',
          }),
          Match.objectLike({ Id: 'archive', Prefix: 'archive/', ExpirationInDays: 400 }),
        ]),
      },
    });
    t.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: { EventBridgeConfiguration: {} },
    });
    t.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('routes Object Created under inbox/ through EventBridge to a FIFO queue in one message group', () => {
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: {
          bucket: { name: [{ Ref: Match.anyValue() }] },
          object: { key: [{ prefix: 'inbox/' }, { prefix: 'requests/' }] },
        },
      },
      Targets: [Match.objectLike({ SqsParameters: { MessageGroupId: 'truststore' } })],
    });
    t.hasResourceProperties('AWS::SQS::Queue', {
      FifoQueue: true,
      ContentBasedDeduplication: true,
      SqsManagedSseEnabled: true,
      // Six times the 900 s function timeout, as AWS recommends.
      VisibilityTimeout: 5400,
      RedrivePolicy: { maxReceiveCount: 5, deadLetterTargetArn: Match.anyValue() },
    });
    expect(Object.keys(t.findResources('AWS::SQS::Queue', { Properties: { FifoQueue: true } }))).toHaveLength(
      2,
    );
    const queueUrl = { Ref: stack.getLogicalId(stack.pipeline.queue.node.defaultChild as never) };
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ TRUSTROLL_QUEUE_URL: queueUrl }) },
    });
  });

  it('runs both functions on nodejs22.x, ARM64, with log retention and the construct environment', () => {
    const fns = t.findResources('AWS::Lambda::Function', { Properties: { Runtime: 'nodejs22.x' } });
    expect(Object.keys(fns)).toHaveLength(2);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Timeout: 900,
      // CRLs of up to 50 MB in a batch.
      MemorySize: 1024,
      Environment: {
        Variables: Match.objectLike({
          TRUSTROLL_DOMAINS: 'api.example.com:REST,mtls.example.com:HTTP',
          TRUSTROLL_EXPIRING_DAYS: '30',
          TRUSTROLL_EXPIRY_THRESHOLDS: '60,30,14,7,3,1',
          TRUSTROLL_PRUNE_EXPIRED: 'false',
        }),
      },
      LoggingConfig: { LogGroup: Match.anyValue() },
    });
    t.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 90 }, 2);
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('schedules the expiry scan daily with EventBridge Scheduler, passing its context attributes', () => {
    t.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 6 * * ? *)',
      Target: Match.objectLike({
        Arn: {
          'Fn::GetAtt': [stack.getLogicalId(stack.pipeline.scanFunction.node.defaultChild as never), 'Arn'],
        },
      }),
    });
    const [schedule] = Object.values(t.findResources('AWS::Scheduler::Schedule'));
    expect(JSON.parse(schedule!.Properties.Target.Input)).toEqual({
      'execution-id': '<aws.scheduler.execution-id>',
      'scheduled-time': '<aws.scheduler.scheduled-time>',
      'attempt-number': '<aws.scheduler.attempt-number>',
    });
  });

  it('has an encrypted topic with team and partner-filtered e-mail subscriptions', () => {
    t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    t.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      FilterPolicy: Match.absent(),
    });
    t.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'pki@acme.example',
      FilterPolicy: { partner: ['acme'] },
    });
    t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  it('alarms on dead letters, failed scans, function errors and throttles, to the topic', () => {
    const alarms = Object.values(t.findResources('AWS::CloudWatch::Alarm')) as {
      Properties: { MetricName: string; AlarmActions: unknown[] };
    }[];
    expect(alarms.map((a) => a.Properties.MetricName).sort()).toEqual([
      'ApproximateNumberOfMessagesVisible',
      'ApproximateNumberOfMessagesVisible',
      'DaysToNearestExpiry',
      'DaysToNearestExpiry',
      'DaysToNearestExpiry',
      'Errors',
      'Errors',
      'Throttles',
      'Throttles',
      'UnusableRecords',
    ]);
    for (const a of alarms)
      expect(a.Properties.AlarmActions).toEqual([
        { Ref: stack.getLogicalId(stack.pipeline.topic.node.defaultChild as never) },
      ]);
  });

  it("alarms at 30, 14 and 7 days to the nearest expiry, on this pipeline's metric only", () => {
    for (const days of [30, 14, 7])
      t.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'trustroll',
        MetricName: 'DaysToNearestExpiry',
        Dimensions: Match.arrayWith([{ Name: 'pipeline', Value: 'trustroll-prod/Pipeline' }]),
        Statistic: 'Minimum',
        Period: 86_400,
        Threshold: days,
        ComparisonOperator: 'LessThanOrEqualToThreshold',
        TreatMissingData: 'ignore',
      });
    // The handlers emit the dimension the alarms read.
    t.resourcePropertiesCountIs(
      'AWS::Lambda::Function',
      { Environment: { Variables: Match.objectLike({ TRUSTROLL_PIPELINE: 'trustroll-prod/Pipeline' }) } },
      2,
    );
  });

  it('draws a dashboard of uploads, expiry per partner, truststore size and headroom, rolls and dead letters', () => {
    const widgets = dashboardWidgets(t);
    const titles = widgets.map((w) => w.properties?.title).filter(Boolean);
    expect(titles).toEqual([
      'Days to the nearest CA expiry',
      'Days to the nearest expiry, per partner',
      'Uploads',
      'Truststore size and headroom (API Gateway limit 1000 KB)',
      'CAs in the truststore',
      'Domain rolls',
      'Dead letters and failed scans',
      'Function errors',
    ]);
    const metricsOf = (title: string) =>
      JSON.stringify(widgets.find((w) => w.properties?.title === title)?.properties?.metrics);
    expect(metricsOf('Uploads')).toMatch(/"UploadsAccepted".*"UploadsRejected"/);
    expect(metricsOf('Days to the nearest expiry, per partner')).toContain(
      `SEARCH('{trustroll,partner,pipeline,service} MetricName=\\"DaysToExpiry\\" pipeline=\\"trustroll-prod/Pipeline\\"', 'Minimum', 86400)`,
    );
    expect(metricsOf('Truststore size and headroom (API Gateway limit 1000 KB)')).toMatch(
      /"TruststoreBytes".*"expression":"1000000 - size"/,
    );
    expect(metricsOf('Domain rolls')).toMatch(/"DomainsRolled".*"DomainsRolledBack".*"DomainRollsFailed"/);
    expect(metricsOf('Dead letters and failed scans')).toMatch(
      /ApproximateNumberOfMessagesVisible.*UnusableRecords/,
    );
    const perPartner = widgets.find((w) => w.properties?.title === 'Days to the nearest expiry, per partner');
    expect(perPartner?.properties?.annotations).toMatchObject({
      horizontal: [
        { value: 30, label: '30 days' },
        { value: 14, label: '14 days' },
        { value: 7, label: '7 days' },
      ],
    });
    expect(titles).not.toContain('Authorizer decisions');
  });

  it('sends a failed scheduled scan to a queue, from the Scheduler and from the function', () => {
    const failures = {
      'Fn::GetAtt': [stack.getLogicalId(stack.pipeline.scanFailures.node.defaultChild as never), 'Arn'],
    };
    t.hasResourceProperties('AWS::Scheduler::Schedule', {
      Target: Match.objectLike({ DeadLetterConfig: { Arn: failures }, RetryPolicy: Match.objectLike({}) }),
    });
    t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: stack.getLogicalId(stack.pipeline.scanFunction.node.defaultChild as never) },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: failures } },
    });
  });

  it('delivers access logs through a bucket policy, not the LogDeliveryWrite ACL', () => {
    expect(JSON.stringify(t.toJSON())).not.toContain('LogDeliveryWrite');
    t.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'logging.s3.amazonaws.com' },
            Action: 's3:PutObject',
            Condition: Match.objectLike({ ArnLike: { 'aws:SourceArn': bucketRef() } }),
          }),
        ]),
      },
    });
  });
});

describe('least privilege', () => {
  it('gives the ingest role exactly the statements it needs', () => {
    const statements = statementsOf(t, roleId(stack, stack.pipeline.ingestFunction));
    const simplified = statements.map((s) => ({ actions: actions(s), resource: s.Resource }));
    const domainArn = (name: string) => ({
      'Fn::Join': [
        '',
        ['arn:', { Ref: 'AWS::Partition' }, ':apigateway:', { Ref: 'AWS::Region' }, `::/domainnames/${name}`],
      ],
    });
    const byAction = (a: string[]) =>
      simplified.filter((s) => JSON.stringify(s.actions) === JSON.stringify(a)).map((s) => s.resource);
    expect(byAction(['s3:GetObject', 's3:GetObjectVersion'])).toEqual([
      [
        objects('inbox'),
        objects('requests'),
        objects('state'),
        objects('truststore'),
        objects('revocation'),
        objects('refusals'),
      ],
    ]);
    expect(byAction(['s3:PutObject'])).toEqual([
      [
        objects('state'),
        objects('truststore'),
        objects('revocation'),
        objects('archive'),
        objects('rejected'),
        objects('reports'),
      ],
    ]);
    expect(byAction(['s3:DeleteObjectVersion'])).toEqual([[objects('inbox'), objects('requests')]]);
    expect(byAction(['s3:ListBucket'])).toEqual([bucketRef()]);
    expect(byAction(['s3:ListBucketVersions'])).toEqual([bucketRef()]);
    expect(simplified.some((s) => s.actions.includes('s3:DeleteObject'))).toBe(false);
    expect(byAction(['apigateway:GET', 'apigateway:PATCH'])).toEqual([
      [domainArn('api.example.com'), domainArn('mtls.example.com')],
    ]);
    expect(byAction(['apigateway:AddCertificateToDomain', 'apigateway:RemoveCertificateFromDomain'])).toEqual(
      [[domainArn('api.example.com'), domainArn('mtls.example.com')]],
    );
    expect(byAction(['sqs:SendMessage'])).toEqual([
      { 'Fn::GetAtt': [stack.getLogicalId(stack.pipeline.queue.node.defaultChild as never), 'Arn'] },
    ]);
    expect(byAction(['sns:Publish'])).toEqual([
      { Ref: stack.getLogicalId(stack.pipeline.topic.node.defaultChild as never) },
    ]);
    expect(byAction(['kms:Decrypt', 'kms:GenerateDataKey'])).toHaveLength(1);
    expect(byAction(['logs:CreateLogStream', 'logs:PutLogEvents'])).toHaveLength(1);
    // SQS consumption comes from the event source mapping.
    expect(
      byAction([
        'sqs:ChangeMessageVisibility',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'sqs:ReceiveMessage',
      ]),
    ).toHaveLength(1);
    expect(simplified).toHaveLength(12);
  });

  it('gives the scan role read access, state writes, domain reads and run requests only (pruning off)', () => {
    const statements = statementsOf(t, roleId(stack, stack.pipeline.scanFunction)).map((s) => ({
      actions: actions(s),
      resource: s.Resource,
    }));
    const byAction = (a: string[]) =>
      statements.filter((s) => JSON.stringify(s.actions) === JSON.stringify(a)).map((s) => s.resource);
    expect(byAction(['s3:GetObject', 's3:GetObjectVersion'])).toEqual([
      [objects('state'), objects('truststore'), objects('revocation'), objects('refusals')],
    ]);
    // The state, and the report made afresh by each scan; no truststore without pruning.
    expect(byAction(['s3:PutObject'])).toEqual([
      [objects('state'), objects('revocation'), objects('reports')],
    ]);
    expect(byAction(['s3:ListBucket'])).toEqual([bucketRef()]);
    // Reading the domains (drift) only: the scan never updates a domain, the ingest function does.
    expect(byAction(['apigateway:GET'])).toHaveLength(1);
    for (const action of ['apigateway:PATCH', 'apigateway:AddCertificateToDomain', 's3:DeleteObject'])
      expect(statements.some((s) => s.actions.includes(action))).toBe(false);
    // Run requests to the ingest queue (after a prune, for uploads whose pending window ended).
    expect(byAction(['sqs:SendMessage'])).toEqual([
      { 'Fn::GetAtt': [stack.getLogicalId(stack.pipeline.queue.node.defaultChild as never), 'Arn'] },
    ]);
    // The Lambda destination of failed scans.
    expect(byAction(['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'])).toHaveLength(1);
    expect(statements).toHaveLength(9);
  });

  it('uses no wildcard action anywhere in the stack', () => {
    const policies = Object.values(t.findResources('AWS::IAM::Policy')) as {
      Properties: { PolicyDocument: { Statement: Statement[] } };
    }[];
    const all = policies.flatMap((p) => p.Properties.PolicyDocument.Statement.flatMap(actions));
    expect(all.length).toBeGreaterThan(10);
    expect(all.filter((a) => a.includes('*'))).toEqual([]);
  });
});

describe('cdk-nag AwsSolutionsChecks', () => {
  it('reports no error on the stack (each acknowledgment carries a reason)', () => {
    const built = buildApp(app({ stage: 'dev', domains: 'api.example.com' }));
    expect(() => built.synth()).not.toThrow();
  });

  it('fails synthesis when a permission is widened, so the gate is real', () => {
    const a = app();
    const s = new Stack(a, 'Widened');
    const pipeline = new TruststorePipeline(s, 'Pipeline', { domains: [{ name: 'api.example.com' }] });
    pipeline.ingestFunction.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }));
    Validations.of(a).addPlugins(new AwsSolutionsChecks(a));
    expect(() => a.synth()).toThrow();
  });
});

describe('opening the inbox to one partner', () => {
  it("lets a partner's role put objects under inbox/<partner>/ only", () => {
    const a = app();
    const s = new Stack(a, 'Partners');
    const p = new TruststorePipeline(s, 'Pipeline');
    const acme = new iam.Role(s, 'AcmeUploader', { assumedBy: new iam.AccountPrincipal('111122223333') });
    p.grantPartnerUpload('acme', acme);
    const template = Template.fromStack(s);
    const statements = statementsOf(template, s.getLogicalId(acme.node.defaultChild as iam.CfnRole));
    expect(statements).toEqual([
      {
        Effect: 'Allow',
        Action: 's3:PutObject',
        Resource: {
          'Fn::Join': [
            '',
            [{ 'Fn::GetAtt': [s.getLogicalId(p.bucket.node.defaultChild as never), 'Arn'] }, '/inbox/acme/*'],
          ],
        },
      },
    ]);
    expect(() => p.grantPartnerUpload('../truststore', acme)).toThrow(/must be a folder name/);
  });
});

describe('options', () => {
  it('creates the mTLS custom domain when asked (REST, Regional, TLS_1_2, our truststore) and rolls it', () => {
    const { template, stack: s } = synth({
      customDomain: 'api.example.com',
      certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc',
      domains: 'mtls.example.com:HTTP',
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ TRUSTROLL_DOMAINS: 'mtls.example.com:HTTP,api.example.com:REST' }),
      },
    });
    const rolled = statementsOf(template, roleId(s, s.pipeline.ingestFunction)).filter((st) =>
      actions(st).includes('apigateway:PATCH'),
    );
    expect(JSON.stringify(rolled)).toContain('::/domainnames/api.example.com');
    template.hasResourceProperties('AWS::ApiGateway::DomainName', {
      DomainName: 'api.example.com',
      EndpointConfiguration: { Types: ['REGIONAL'] },
      SecurityPolicy: 'TLS_1_2',
      MutualTlsAuthentication: {
        TruststoreUri: {
          'Fn::Join': ['', ['s3://', { Ref: Match.anyValue() }, '/truststore/truststore.pem']],
        },
      },
    });
  });

  it('lets the scan prune (publish) when pruning is on, and still not update a domain', () => {
    const a = app();
    const s = new Stack(a, 'Pruning');
    const p = new TruststorePipeline(s, 'Pipeline', {
      pruneExpired: true,
      domains: [{ name: 'api.example.com' }],
      archiveRetention: Duration.days(30),
    });
    const template = Template.fromStack(s);
    const statements = statementsOf(
      template,
      s.getLogicalId(p.scanFunction.role!.node.defaultChild as iam.CfnRole),
    ).map(actions);
    expect(statements.flat()).not.toContain('apigateway:PATCH');
    expect(statements.flat()).not.toContain('apigateway:AddCertificateToDomain');
    expect(statements).toContainEqual(['sqs:SendMessage']);
    const puts = statementsOf(template, s.getLogicalId(p.scanFunction.role!.node.defaultChild as iam.CfnRole))
      .filter((st) => actions(st).includes('s3:PutObject'))
      .map((st) => JSON.stringify(st.Resource));
    expect(puts.join()).toContain('/truststore/*');
    // A prune publishes a version, and its report with it.
    expect(puts.join()).toContain('/reports/*');
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([Match.objectLike({ Id: 'archive', ExpirationInDays: 30 })]),
      },
    });
  });

  it('refuses a custom domain that is also listed in domains (one would create what the other expects to exist)', () => {
    expect(() =>
      synth({
        domains: 'api.example.com:HTTP',
        customDomain: 'api.example.com',
        certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc',
      }),
    ).toThrow(/customDomain api\.example\.com is also in domains/);
  });

  it('names the bucket, the topic and the truststore URI in the stack outputs', () => {
    const outputs = t.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs).sort()).toEqual([
      'AlertsTopicArn',
      'BucketName',
      'DashboardUrl',
      'TruststoreUri',
    ]);
    expect(outputs.BucketName!.Value).toEqual({ Ref: bucketRef()['Fn::GetAtt'][0] });
  });

  it('refuses bad context with a message saying what to fix', () => {
    expect(() => buildApp(app({ domains: 'api.example.com:SOAP' }))).toThrow(/must end in :REST or :HTTP/);
    expect(() => buildApp(app({ domains: 'api_example.com' }))).toThrow(
      /-c domains: "api_example.com" is not a domain name/,
    );
    expect(() => buildApp(app({ customDomain: 'api.example.com' }))).toThrow(/needs -c certificateArn/);
    expect(() => buildApp(app({ authorizer: 'yes' }))).toThrow(/-c authorizer: "yes" must be true or false/);
    expect(() => buildApp(app({ refusalLogGroups: 'api logs' }))).toThrow(
      /-c refusalLogGroups: "api logs" is not a log group name/,
    );
  });

  it('deploys the authorizer for APIs defined elsewhere, and watches the access logs it is given', () => {
    const { template } = synth({
      stage: 'dev',
      authorizer: 'true',
      refusalLogGroups: '/aws/apigateway/prod-access,http-api-access',
    });
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.AuthorizerFunctionArn!.Value).toEqual({
      'Fn::GetAtt': [expect.stringMatching(/^PipelineAuthorizer/), 'Arn'],
    });
    // API Gateway of this account only, for its authorizers.
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission'))
      .map((p) => (p as { Properties: Record<string, unknown> }).Properties)
      .filter((p) => p.Principal === 'apigateway.amazonaws.com');
    expect(permissions).toEqual([
      expect.objectContaining({
        Action: 'lambda:InvokeFunction',
        FunctionName: { 'Fn::GetAtt': [expect.stringMatching(/^PipelineAuthorizer/), 'Arn'] },
        SourceAccount: { Ref: 'AWS::AccountId' },
      }),
    ]);
    expect(JSON.stringify(permissions[0]!.SourceArn)).toMatch(/":execute-api:".*":\*\/authorizers\/\*"/);
    const filters = Object.values(template.findResources('AWS::Logs::SubscriptionFilter')).map(
      (f) => (f as { Properties: { LogGroupName: string; FilterPattern: string } }).Properties,
    );
    expect(filters.map((f) => f.LogGroupName).sort()).toEqual([
      '/aws/apigateway/prod-access',
      'http-api-access',
    ]);
    expect(filters.every((f) => f.FilterPattern === '{ $.subjectDN != "-" }')).toBe(true);
    // Without the options: neither is made.
    const plain = synth({ stage: 'dev' }).template;
    expect(Object.keys(plain.findResources('AWS::Logs::SubscriptionFilter'))).toEqual([]);
    expect((plain.toJSON().Outputs as Record<string, unknown>).AuthorizerFunctionArn).toBeUndefined();
  });

  it('passes cdk-nag with the authorizer and the refusals subscriber deployed', () => {
    const built = buildApp(app({ stage: 'dev', authorizer: 'true', refusalLogGroups: 'access' }));
    expect(() => built.synth()).not.toThrow();
  });
});

import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArnFormat, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2Authorizers from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as logsDestinations from 'aws-cdk-lib/aws-logs-destinations';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as sfnTasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { MESSAGE_GROUP } from '../shared/adapters/aws/run-requests.js';
import { PROBE_PREFIX } from '../shared/adapters/aws/targets.js';
import { METRIC } from '../shared/metric-names.js';
import { accessLogFormat } from '../shared/refusals/access-log.js';
import { REVOCATION_KEYS } from '../shared/revocation/state.js';
import type { RolloutSettings, Target } from '../shared/rollout/model.js';
import { checkRolloutConfig, DEFAULT_ROLLOUT_SETTINGS } from '../shared/rollout/targets.js';
import { EXPIRY_ALARM_DAYS, pipelineMetric, truststoreDashboard } from './dashboard.js';
import { lambdaBundling } from './lambda-bundling.js';

/** A custom domain whose truststore trustroll keeps current. */
export interface ManagedDomainProps {
  /** The custom domain name, e.g. `api.example.com`. */
  readonly name: string;
  /** REST APIs (apigateway) or HTTP APIs (apigatewayv2). Default: `REST`. */
  readonly type?: 'REST' | 'HTTP';
}

/** A partner who gets the alerts about its own CAs by e-mail (SNS filter policy on `partner`). */
export interface PartnerSubscriptionProps {
  /** The partner's inbox folder name (`inbox/<partner>/`). */
  readonly partner: string;
  readonly email: string;
}

/** Have the construct create the mTLS custom domain itself (REST, Regional, TLS 1.2). */
export interface CustomDomainProps {
  readonly domainName: string;
  /** ACM certificate for the domain, in the stack's region. */
  readonly certificateArn: string;
  /** Needed for imported or private-CA server certificates. Default: none. */
  readonly ownershipVerificationCertificateArn?: string;
}

/**
 * The Lambda authorizer that denies revoked clients (created when `restAuthorizer()` or
 * `httpAuthorizer()` is first called). It reads the published revocation index and nothing else.
 */
export interface AuthorizerFunctionProps {
  /** How often the index's version is checked (one HEAD; never a call per request). Default: 60 s. */
  readonly indexRefresh?: Duration;
  /** How long the last index read stays in use while checks fail. Default: 15 × `indexRefresh`. */
  readonly indexMaxAge?: Duration;
  /** No usable index (none published, unreadable, too old): `deny` everyone, or `allow` undecided. Default: `deny`. */
  readonly indexUnavailable?: 'deny' | 'allow';
  /** A client whose issuer's CRL is past its nextUpdate (plus the grace): `deny` or `allow` (logged). Default: `deny`. */
  readonly staleCrl?: 'deny' | 'allow';
  /** How long after its nextUpdate a CRL still counts as fresh. Default: one day. */
  readonly crlGrace?: Duration;
  /** The function's memory (and with it its CPU). Default: 512 MB. */
  readonly memorySize?: number;
}

/** A REST API authorizer (`restAuthorizer()`). */
export interface RestAuthorizerProps {
  readonly authorizerName?: string;
  /**
   * How long API Gateway caches a decision. Default: none (0). A cached decision is reused for
   * every request with the same identity sources, and the client certificate cannot be one: a
   * TTL needs identity sources that name the client (a header it sends), or a revoked client
   * would ride on another's cached Allow.
   */
  readonly resultsCacheTtl?: Duration;
  /** Request parameters API Gateway requires and caches on. Default: none (required with a cache TTL). */
  readonly identitySources?: readonly string[];
}

/** An HTTP API authorizer (`httpAuthorizer()`): payload format 2.0, simple responses. */
export interface HttpAuthorizerProps {
  readonly authorizerName?: string;
  /** Default: none (0), for the reason given at `RestAuthorizerProps.resultsCacheTtl`. */
  readonly resultsCacheTtl?: Duration;
  /**
   * Default: none. A request that lacks one is refused with 401 without the authorizer being
   * asked (CDK's own default, the Authorization header, would refuse every mTLS client without one).
   */
  readonly identitySource?: readonly string[];
}

export interface TruststorePipelineProps {
  /** Domains to keep on the latest truststore version. Default: none (truststore only). */
  readonly domains?: readonly ManagedDomainProps[];
  /** E-mail addresses that receive every alert. Default: none. */
  readonly alertEmails?: readonly string[];
  /** Partner e-mail subscriptions, filtered to that partner's alerts. Default: none. */
  readonly partnerSubscriptions?: readonly PartnerSubscriptionProps[];
  /** Days before expiry at which a CA is reported. Default: 60, 30, 14, 7, 3, 1. */
  readonly expiryThresholdsDays?: readonly number[];
  /** Warn at upload time about CAs expiring within this many days. Default: 30. */
  readonly expiringDays?: number;
  /** When the expiry scan runs (EventBridge Scheduler expression). Default: daily at 06:00 UTC. */
  readonly scanSchedule?: scheduler.ScheduleExpression;
  /** Remove expired CAs (and CAs left without a root) in the scan. Default: false. */
  readonly pruneExpired?: boolean;
  /**
   * How long old versions of the state and truststore are kept. A domain pinned to an old version
   * keeps working only while that version exists. Default: 365 days.
   */
  readonly noncurrentVersionRetention?: Duration;
  /** How long archived uploads and their reports are kept. Default: 400 days. */
  readonly archiveRetention?: Duration;
  /** What happens to the bucket and topic key when the stack is deleted. Default: RETAIN. */
  readonly removalPolicy?: RemovalPolicy;
  /** Create the mTLS custom domain too. Default: none (domains are managed, not created). */
  readonly customDomain?: CustomDomainProps;
  /** Lambda log retention. Default: three months. */
  readonly logRetention?: logs.RetentionDays;
  /** The revocation authorizer's settings (see `restAuthorizer()`). Default: see each. */
  readonly authorizer?: AuthorizerFunctionProps;
  /**
   * Targets to roll each published version to, wave after wave, by a Step Functions state
   * machine (a durable rollout: no Lambda waits for a target). API Gateway REST and HTTP domains
   * and ELB trust stores, in any region, in other accounts through a role with an external id.
   * Excludes `domains` (name them as targets). Default: none (the inline roll of `domains`).
   */
  readonly targets?: readonly Target[];
  /** The waves in the order they are rolled. Default: the targets' waves in order of appearance. */
  readonly waves?: readonly string[];
  /** Pace, polls, timeout and attempts of a rollout. Default: shared/rollout/targets.ts DEFAULT_ROLLOUT_SETTINGS. */
  readonly rolloutSettings?: Partial<RolloutSettings>;
}

/**
 * Lambda's environment holds 4 KB in all: a targets JSON up to this size goes into the rollout
 * function's environment; a larger one into the bucket at deploy time (`config/targets-<hash>.json`,
 * written by a custom resource, named by TRUSTROLL_TARGETS_KEY).
 */
export const MAX_TARGETS_ENV_BYTES = 3_000;

/** Where a targets JSON too large for the environment is kept: its SHA-256 in the key, so a changed file is a new object and a new cold start. */
export const targetsObjectKey = (json: string): string =>
  `config/targets-${createHash('sha256').update(json).digest('hex').slice(0, 16)}.json`;

const here = fileURLToPath(new URL('.', import.meta.url));
const entry = (name: string) => join(here, '..', 'functions', name, 'handler.ts');

declare const __TRUSTROLL_PREBUILT__: boolean | undefined;
/**
 * In the installed package (the construct bundled into dist/lib by `npm pack`) the handlers come
 * prebuilt, one bundle per set of API Gateway kinds, with the same settings (dist/lambda/<kinds>/
 * <name>/index.mjs): a CDK app that installs trustroll needs no esbuild and never bundles our
 * sources. From this repository, NodejsFunction bundles the sources at synth time.
 */
const PREBUILT = typeof __TRUSTROLL_PREBUILT__ !== 'undefined' && __TRUSTROLL_PREBUILT__;
export const prebuiltDir = (name: string, kinds: readonly string[]): string =>
  join(here, '..', 'lambda', [...new Set(kinds)].sort().join('+') || 'none', name);

export const TRUSTSTORE_KEY = 'truststore/truststore.pem';

/**
 * The ingest function's timeout: Lambda's maximum. Its rolls are bounded by the invocation's
 * deadline (a domain starts only with its worst case ahead), and the rest continue in a follow-up.
 */
const INGEST_TIMEOUT = Duration.minutes(15);

/**
 * The targets configuration of the props (undefined without targets), checked as the step
 * function checks it at cold start, so that a mistake fails the synth, not the first rollout.
 */
const rolloutConfigOf = (
  props: TruststorePipelineProps,
):
  | { config: { waves: string[]; targets: Target[]; settings: RolloutSettings }; json: string }
  | undefined => {
  if (!props.targets) return undefined;
  const waves = props.waves ?? [...new Set(props.targets.map((t) => t.wave))];
  const raw = {
    waves,
    targets: props.targets,
    settings: { ...DEFAULT_ROLLOUT_SETTINGS, ...props.rolloutSettings },
  };
  const { config, problems } = checkRolloutConfig(JSON.parse(JSON.stringify(raw)));
  const probeProblems = props.targets.flatMap((t) => [
    // A fixed port is the local endpoint's (trustroll up): on AWS it would be ignored, silently.
    ...((t as { port?: unknown }).port === undefined
      ? []
      : [
          `target ${t.id}: "port" is for local mode (trustroll up --targets) only: leave it out of the construct's targets`,
        ]),
    ...(t.probe
      ? [t.probe.clientCert, t.probe.clientKey]
          .filter((k) => !k.startsWith(PROBE_PREFIX))
          .map(
            (k) =>
              `target ${t.id}: probe file "${k}" must be an object key under ${PROBE_PREFIX} of the bucket`,
          )
      : []),
  ]);
  if (!config || problems.length + probeProblems.length > 0)
    throw new Error(`targets: ${[...problems, ...probeProblems].join('; ')}`);
  return { config: raw as never, json: JSON.stringify(raw) };
};

/**
 * trustroll on AWS: a versioned inbox/truststore bucket, S3 → EventBridge → SQS FIFO → ingest
 * Lambda, a daily expiry scan, an encrypted SNS topic with e-mail subscriptions, alarms, and
 * least-privilege roles. Optionally the mTLS custom domain itself.
 *
 * Note for domains it creates: disable the default execute-api endpoint of the APIs mapped to
 * it (`disableExecuteApiEndpoint: true`), or clients can bypass mutual TLS.
 */
export class TruststorePipeline extends Construct {
  readonly bucket: s3.Bucket;
  readonly topic: sns.Topic;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  /** Failed scheduled scans: the Scheduler's dead-letter queue and the function's on-failure destination. */
  readonly scanFailures: sqs.Queue;
  readonly ingestFunction: lambda.Function;
  readonly scanFunction: lambda.Function;
  readonly domainName?: apigateway.DomainName;
  /** With `targets`: the state machine that rolls each version to them, and its step function. */
  readonly rolloutStateMachine?: sfn.StateMachine;
  readonly rolloutFunction?: lambda.Function;
  /** Uploads, expiry per partner, truststore size, rolls, dead letters (and the authorizer's decisions once made). */
  readonly dashboard: cloudwatch.Dashboard;
  private authorizerFn: lambda.Function | undefined;
  private readonly makeAuthorizer: () => lambda.Function;
  private refusalsFn: lambda.Function | undefined;
  private readonly makeRefusals: () => lambda.Function;

  constructor(scope: Construct, id: string, props: TruststorePipelineProps = {}) {
    super(scope, id);
    // Access logs are delivered through a bucket policy (logging.s3.amazonaws.com, this bucket
    // and account only), not the LogDeliveryWrite ACL, which fails where ACLs are disabled.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    const stack = Stack.of(this);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    // A domain the construct creates is rolled like any configured one.
    const created = props.customDomain?.domainName.toLowerCase();
    if (created && (props.domains ?? []).some((d) => d.name.toLowerCase() === created)) {
      throw new Error(
        `customDomain ${created} is also in domains: domains lists existing domains to roll, customDomain creates one (REST) and rolls it. Name it in one of them only.`,
      );
    }
    const domains: readonly ManagedDomainProps[] = [
      ...(props.domains ?? []),
      ...(created ? [{ name: created, type: 'REST' as const }] : []),
    ];
    const retention = props.logRetention ?? logs.RetentionDays.THREE_MONTHS;
    const rollout = rolloutConfigOf(props);
    if (rollout && (props.domains ?? []).length > 0)
      throw new Error(
        'targets and domains exclude each other: with targets, each version is rolled by the rollout state machine; name the domains as targets (kind apigateway-rest or apigateway-http)',
      );

    const accessLogs = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      removalPolicy,
      lifecycleRules: [{ expiration: Duration.days(365) }],
    });
    this.bucket = new s3.Bucket(this, 'Bucket', {
      versioned: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      eventBridgeEnabled: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'bucket/',
      removalPolicy,
      lifecycleRules: [
        {
          id: 'old-versions',
          noncurrentVersionExpiration: props.noncurrentVersionRetention ?? Duration.days(365),
          expiredObjectDeleteMarker: true,
        },
        { id: 'archive', prefix: 'archive/', expiration: props.archiveRetention ?? Duration.days(400) },
        { id: 'incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) },
      ],
    });

    const key = new kms.Key(this, 'TopicKey', {
      enableKeyRotation: true,
      description: 'trustroll alerts topic',
      removalPolicy,
    });
    this.topic = new sns.Topic(this, 'Alerts', {
      masterKey: key,
      enforceSSL: true,
      displayName: 'trustroll',
    });
    // The alarms of this account publish to the encrypted topic: the topic policy enforceSSL makes
    // holds only a Deny, so the service needs an Allow there, and the key's data keys besides.
    const alarmsOfThisAccount = {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: {
        'aws:SourceArn': stack.formatArn({
          service: 'cloudwatch',
          resource: 'alarm',
          resourceName: '*',
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      },
    };
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsOfThisAccount',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: alarmsOfThisAccount,
      }),
    );
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsOfThisAccount',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: alarmsOfThisAccount,
      }),
    );
    for (const email of props.alertEmails ?? [])
      this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    for (const p of props.partnerSubscriptions ?? []) {
      this.topic.addSubscription(
        new subscriptions.EmailSubscription(p.email, {
          filterPolicy: { partner: sns.SubscriptionFilter.stringFilter({ allowlist: [p.partner] }) },
        }),
      );
    }

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      fifo: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new sqs.Queue(this, 'Uploads', {
      fifo: true,
      contentBasedDeduplication: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // Six times the function timeout, as AWS recommends for an SQS event source.
      visibilityTimeout: Duration.seconds(INGEST_TIMEOUT.toSeconds() * 6),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 5 },
    });
    new events.Rule(this, 'UploadCreated', {
      description:
        'Objects created under inbox/ (uploads) and requests/ (removal requests) go to the ingest queue',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [this.bucket.bucketName] },
          object: { key: [{ prefix: 'inbox/' }, { prefix: 'requests/' }] },
        },
      },
      // One message group: truststore changes are serialised and batched.
      targets: [new eventTargets.SqsQueue(this.queue, { messageGroupId: MESSAGE_GROUP })],
    });
    this.scanFailures = new sqs.Queue(this, 'ScanFailures', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });

    const environment = {
      TRUSTROLL_BUCKET: this.bucket.bucketName,
      TRUSTROLL_TOPIC_ARN: this.topic.topicArn,
      TRUSTROLL_QUEUE_URL: this.queue.queueUrl,
      TRUSTROLL_DOMAINS: domains.map((d) => `${d.name}:${d.type ?? 'REST'}`).join(','),
      TRUSTROLL_EXPIRING_DAYS: String(props.expiringDays ?? 30),
      TRUSTROLL_EXPIRY_THRESHOLDS: (props.expiryThresholdsDays ?? [60, 30, 14, 7, 3, 1]).join(','),
      TRUSTROLL_PRUNE_EXPIRED: String(props.pruneExpired ?? false),
      POWERTOOLS_SERVICE_NAME: 'trustroll',
      POWERTOOLS_METRICS_NAMESPACE: 'trustroll',
      TRUSTROLL_PIPELINE: this.node.path,
    };
    const trustrollMetric = pipelineMetric(this.node.path);
    const fn = (
      name: string,
      id: string,
      timeout: Duration,
      options: { environment?: Record<string, string>; kinds?: readonly string[]; memorySize?: number } = {},
    ) => {
      const logGroup = new logs.LogGroup(this, `${id}Logs`, {
        retention,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      const role = new iam.Role(this, `${id}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `trustroll ${name} function`,
      });
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [logGroup.logGroupArn],
        }),
      );
      const kinds = (options.kinds ?? domains.map((d) => d.type ?? 'REST')) as ('REST' | 'HTTP')[];
      const common = {
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: options.memorySize ?? 512,
        timeout,
        role,
        logGroup,
        environment: options.environment ?? environment,
      };
      if (PREBUILT)
        return new lambda.Function(this, id, {
          ...common,
          handler: 'index.handler',
          code: lambda.Code.fromAsset(prebuiltDir(name, kinds)),
        });
      return new nodejs.NodejsFunction(this, id, {
        ...common,
        entry: entry(name),
        handler: 'handler',
        // Only the API Gateway clients the configured domains need are bundled (cold start).
        bundling: lambdaBundling(kinds),
      });
    };

    // 1024 MB: a batch may hold CRLs of up to 50 MB each (a million entries take ~190 MiB of heap
    // to judge, bench "CRL ingest"); CPU scales with it too.
    this.ingestFunction = fn('ingest', 'Ingest', INGEST_TIMEOUT, { memorySize: 1024 });
    this.ingestFunction.addEventSource(
      new SqsEventSource(this.queue, { batchSize: 10, reportBatchItemFailures: true }),
    );
    this.scanFunction = fn('expiry-scan', 'ExpiryScan', Duration.minutes(5));
    // The Scheduler invokes the scan asynchronously: its failures land here after two retries.
    this.scanFunction.configureAsyncInvoke({
      onFailure: new SqsDestination(this.scanFailures),
      retryAttempts: 2,
    });

    const objects = (...prefixes: string[]) => prefixes.map((p) => this.bucket.arnForObjects(`${p}*`));
    const domainArns = domains.map((d) =>
      stack.formatArn({ service: 'apigateway', account: '', resource: '/domainnames', resourceName: d.name }),
    );
    const allow = (
      role: iam.IGrantable,
      actions: string[],
      resources: string[],
      conditions?: Record<string, Record<string, unknown>>,
    ) =>
      role.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions, resources, ...(conditions ? { conditions } : {}) }),
      );
    const truststoreUri = `s3://${this.bucket.bucketName}/${TRUSTSTORE_KEY}`;
    /**
     * Reading and rolling the configured domains. UpdateDomainName on an mTLS domain is also
     * authorized as AddCertificateToDomain / RemoveCertificateFromDomain (Service Authorization
     * Reference); those are limited to domains serving our truststore, and to requests that
     * name no other (the REST patch names only a version; the HTTP API update names the URI too).
     */
    const rollDomains = (fn: lambda.IFunction, update: boolean) => {
      if (domainArns.length === 0) return;
      allow(fn, update ? ['apigateway:GET', 'apigateway:PATCH'] : ['apigateway:GET'], domainArns);
      if (!update) return;
      allow(fn, ['apigateway:AddCertificateToDomain', 'apigateway:RemoveCertificateFromDomain'], domainArns, {
        StringEqualsIfExists: {
          'apigateway:Resource/MtlsTrustStoreUri': truststoreUri,
          'apigateway:Request/MtlsTrustStoreUri': truststoreUri,
        },
      });
    };
    // A read that may find nothing needs ListBucket: without it S3 answers 403, not 404.
    const mayFindNothing = (fn: lambda.IFunction) => allow(fn, ['s3:ListBucket'], [this.bucket.bucketArn]);

    // Ingest: reads uploads, removal requests, state, truststore and the revocation index with the
    // record sets of the CRLs held; writes state, truststore, the revocation index and record
    // sets, archive, rejected; destroys handled uploads and requests (every version), and asks
    // itself for follow-up rolls through its queue.
    allow(
      this.ingestFunction,
      ['s3:GetObject', 's3:GetObjectVersion'],
      objects('inbox/', 'requests/', 'state/', 'truststore/', 'revocation/', 'refusals/'),
    );
    mayFindNothing(this.ingestFunction);
    // reports/: the page and CSV published with every new truststore version (write only).
    allow(
      this.ingestFunction,
      ['s3:PutObject'],
      objects('state/', 'truststore/', 'revocation/', 'archive/', 'rejected/', 'reports/'),
    );
    allow(this.ingestFunction, ['s3:ListBucketVersions'], [this.bucket.bucketArn], {
      StringLike: { 's3:prefix': ['inbox/*', 'requests/*'] },
    });
    allow(this.ingestFunction, ['s3:DeleteObjectVersion'], objects('inbox/', 'requests/'));
    rollDomains(this.ingestFunction, true);
    if (domainArns.length > 0) allow(this.ingestFunction, ['sqs:SendMessage'], [this.queue.queueArn]);
    allow(this.ingestFunction, ['sns:Publish'], [this.topic.topicArn]);
    allow(this.ingestFunction, ['kms:GenerateDataKey', 'kms:Decrypt'], [key.keyArn]);

    // Scan: reads the state, remembers alerted thresholds in it; prunes (publishes the truststore)
    // only when enabled. It never updates a domain (its timeout is shorter than one roll's worst
    // case): after a prune, and when uploads waiting for their issuer are due, it asks the ingest
    // function for a run through the queue.
    allow(
      this.scanFunction,
      ['s3:GetObject', 's3:GetObjectVersion'],
      objects('state/', 'truststore/', 'revocation/', 'refusals/'),
    );
    mayFindNothing(this.scanFunction);
    // reports/: the report made afresh by each scan (days left, drift, recent refusals);
    // revocation/: the index published again when a writer stopped before publishing it.
    allow(
      this.scanFunction,
      ['s3:PutObject'],
      props.pruneExpired
        ? objects('state/', 'truststore/', 'revocation/', 'reports/')
        : objects('state/', 'revocation/', 'reports/'),
    );
    // The scan reads the domains to report drift.
    rollDomains(this.scanFunction, false);
    allow(this.scanFunction, ['sqs:SendMessage'], [this.queue.queueArn]);
    allow(this.scanFunction, ['sns:Publish'], [this.topic.topicArn]);
    allow(this.scanFunction, ['kms:GenerateDataKey', 'kms:Decrypt'], [key.keyArn]);

    new scheduler.Schedule(this, 'DailyScan', {
      description: 'trustroll expiry scan',
      schedule: props.scanSchedule ?? scheduler.ScheduleExpression.cron({ minute: '0', hour: '6' }),
      // The context attributes become the scan's correlation id and log details (functions/lib/events.ts).
      target: new schedulerTargets.LambdaInvoke(this.scanFunction, {
        deadLetterQueue: this.scanFailures,
        retryAttempts: 2,
        input: scheduler.ScheduleTargetInput.fromObject({
          'execution-id': scheduler.ContextAttribute.executionId,
          'scheduled-time': scheduler.ContextAttribute.scheduledTime,
          'attempt-number': scheduler.ContextAttribute.attemptNumber,
        }),
      }),
    });

    // The authorizer: made on first use, reads the revocation index and nothing else.
    this.makeAuthorizer = () => {
      const a = props.authorizer ?? {};
      const refresh = a.indexRefresh?.toSeconds() ?? 60;
      const f = fn('authorizer', 'Authorizer', Duration.seconds(10), {
        kinds: [],
        memorySize: a.memorySize ?? 512,
        environment: {
          TRUSTROLL_BUCKET: this.bucket.bucketName,
          TRUSTROLL_INDEX_REFRESH_SECONDS: String(refresh),
          TRUSTROLL_INDEX_MAX_AGE_SECONDS: String(a.indexMaxAge?.toSeconds() ?? refresh * 15),
          TRUSTROLL_INDEX_UNAVAILABLE: a.indexUnavailable ?? 'deny',
          TRUSTROLL_STALE_CRL: a.staleCrl ?? 'deny',
          TRUSTROLL_CRL_GRACE_SECONDS: String(a.crlGrace?.toSeconds() ?? 86_400),
          POWERTOOLS_SERVICE_NAME: 'trustroll',
          POWERTOOLS_METRICS_NAMESPACE: 'trustroll',
          TRUSTROLL_PIPELINE: this.node.path,
        },
      });
      // The published index only, by version too (the cache reads the version its HEAD saw). No
      // s3:ListBucket: a missing index then answers 403 instead of 404, which the authorizer
      // treats the same (unavailable: fail closed), and it can list no partner's uploads.
      allow(f, ['s3:GetObject', 's3:GetObjectVersion'], [this.bucket.arnForObjects(REVOCATION_KEYS.index)]);
      Validations.of(f).acknowledge({
        id: 'AwsSolutions::AwsSolutions-L1',
        reason:
          'nodejs22.x is the runtime trustroll is built and tested for; moving runtimes is a deliberate upgrade.',
      });
      alarm(
        'AuthorizerErrorsAlarm',
        f.metricErrors({ period: Duration.minutes(5) }),
        'trustroll authorizer failed: API Gateway answers 500 to the clients it was asked about',
      );
      alarm(
        'AuthorizerThrottlesAlarm',
        f.metricThrottles({ period: Duration.minutes(5) }),
        'trustroll authorizer was throttled: API Gateway answers 500 to the clients it was asked about',
      );
      board.addAuthorizer(f);
      return f;
    };

    // The refusals subscriber: made on first use (watchRefusals); reads the state and the
    // truststore versions, records which refusals were alerted, publishes to the topic.
    this.makeRefusals = () => {
      const f = fn('refusals', 'Refusals', Duration.minutes(1), {
        kinds: [],
        environment: {
          TRUSTROLL_BUCKET: this.bucket.bucketName,
          TRUSTROLL_TOPIC_ARN: this.topic.topicArn,
          POWERTOOLS_SERVICE_NAME: 'trustroll',
          POWERTOOLS_METRICS_NAMESPACE: 'trustroll',
          TRUSTROLL_PIPELINE: this.node.path,
        },
      });
      allow(f, ['s3:GetObject', 's3:GetObjectVersion'], objects('state/', 'truststore/', 'refusals/'));
      allow(f, ['s3:PutObject'], objects('refusals/'));
      mayFindNothing(f);
      allow(f, ['sns:Publish'], [this.topic.topicArn]);
      allow(f, ['kms:GenerateDataKey', 'kms:Decrypt'], [key.keyArn]);
      Validations.of(f).acknowledge({
        id: 'AwsSolutions::AwsSolutions-L1',
        reason:
          'nodejs22.x is the runtime trustroll is built and tested for; moving runtimes is a deliberate upgrade.',
      });
      const bucketArn = `<${Stack.of(this).getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket)}.Arn>`;
      for (const prefix of ['state', 'truststore', 'refusals'])
        Validations.of(f.role!).acknowledge({
          id: `AwsSolutions::AwsSolutions-IAM5[Resource::${bucketArn}/${prefix}/*]`,
          reason: `Object-level access to ${prefix}/ of this one bucket: the objects' keys are not known in advance.`,
        });
      alarm(
        'RefusalsErrorsAlarm',
        f.metricErrors({ period: Duration.minutes(5) }),
        'trustroll refusals subscriber failed: refused handshakes go unexplained',
      );
      board.addRefusals(f);
      return f;
    };

    const alarm = (id: string, metric: cloudwatch.IMetric, description: string) =>
      new cloudwatch.Alarm(this, id, {
        metric,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      }).addAlarmAction(new cwActions.SnsAction(this.topic));
    alarm(
      'DeadLettersAlarm',
      this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      'Uploads could not be processed and wait in the dead-letter queue',
    );
    alarm(
      'UnusableRecordsAlarm',
      trustrollMetric(METRIC.unusableRecords, 'Sum', Duration.minutes(5)),
      'The ingest queue delivered records that name no upload or request of this bucket (logged as "unusable record")',
    );
    alarm(
      'ScanFailuresAlarm',
      this.scanFailures.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      'A scheduled expiry scan failed after its retries (see the ScanFailures queue)',
    );
    for (const [id, f] of [
      ['Ingest', this.ingestFunction],
      ['ExpiryScan', this.scanFunction],
    ] as const) {
      alarm(
        `${id}ErrorsAlarm`,
        f.metricErrors({ period: Duration.minutes(5) }),
        `trustroll ${id} function failed`,
      );
      alarm(
        `${id}ThrottlesAlarm`,
        f.metricThrottles({ period: Duration.minutes(5) }),
        `trustroll ${id} function was throttled`,
      );
    }

    // Expiry: the scan e-mails each partner at its own thresholds; these alarms are the operators'
    // safety net on the nearest expiry of all (kept in ALARM until a scan reports more days).
    for (const days of EXPIRY_ALARM_DAYS)
      new cloudwatch.Alarm(this, `ExpiryWithin${days}DaysAlarm`, {
        metric: trustrollMetric(METRIC.daysToNearestExpiry, 'Minimum', Duration.days(1)),
        threshold: days,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.IGNORE,
        alarmDescription: `A CA of the truststore expires within ${days} days (run trustroll scan or trustroll report to see which)`,
      }).addAlarmAction(new cwActions.SnsAction(this.topic));

    if (rollout) {
      const made = this.rolloutMachine(rollout, {
        fn,
        allow,
        objects,
        mayFindNothing,
        key,
        alarm,
        truststoreUri,
      });
      this.rolloutFunction = made.fn;
      this.rolloutStateMachine = made.machine;
      // The report again when a rollout ends (its rollouts section says how), as the scan makes
      // it: the scan's thresholds, the recent refusals (refusals/); written to reports/ only.
      made.fn.addEnvironment('TRUSTROLL_EXPIRY_THRESHOLDS', environment.TRUSTROLL_EXPIRY_THRESHOLDS);
      allow(made.fn, ['s3:GetObject'], objects('refusals/'));
      allow(made.fn, ['s3:PutObject'], objects('reports/'));
      // The ingest function starts one execution per published version; the scan asks it for a
      // run after a prune (it knows a rollout is configured by the ARN, and may not start one).
      for (const f of [this.ingestFunction, this.scanFunction])
        f.addEnvironment('TRUSTROLL_STATE_MACHINE_ARN', made.machine.stateMachineArn);
      allow(this.ingestFunction, ['states:StartExecution'], [made.machine.stateMachineArn]);
      // With ELB trust stores among the targets, a CRL accepted without a new version starts a
      // CRL sync (an execution of the same machine, same grant): the trust stores get it at once.
      // The scan looks for a sync no run started (its record), and asks for a run that starts it.
      if (rollout.config.targets.some((t) => t.kind === 'elb-trust-store'))
        for (const f of [this.ingestFunction, this.scanFunction])
          f.addEnvironment('TRUSTROLL_CRL_SYNC', 'true');
      // Whether a release's rollout ran already (its record): never started twice, even after 90 days.
      allow(this.ingestFunction, ['s3:GetObject'], [this.bucket.arnForObjects('rollouts/*')]);
      // The report the scan publishes shows the rollouts: which version each target serves, and
      // how the last rollout went (the records; the ingest function reads them with the grant above).
      allow(this.scanFunction, ['s3:GetObject'], [this.bucket.arnForObjects('rollouts/*')]);
    }

    const board = truststoreDashboard(this, 'Dashboard', {
      pipeline: this.node.path,
      ingest: this.ingestFunction,
      scan: this.scanFunction,
      deadLetters: this.deadLetterQueue,
      scanFailures: this.scanFailures,
    });
    this.dashboard = board.dashboard;
    if (this.rolloutStateMachine && this.rolloutFunction)
      board.addRollouts(this.rolloutStateMachine, this.rolloutFunction);

    if (props.customDomain) {
      const d = props.customDomain;
      this.domainName = new apigateway.DomainName(this, 'Domain', {
        domainName: d.domainName,
        certificate: acm.Certificate.fromCertificateArn(this, 'DomainCertificate', d.certificateArn),
        endpointType: apigateway.EndpointType.REGIONAL,
        securityPolicy: apigateway.SecurityPolicy.TLS_1_2,
        mtls: { bucket: this.bucket, key: TRUSTSTORE_KEY },
      });
      if (d.ownershipVerificationCertificateArn) {
        (this.domainName.node.defaultChild as apigateway.CfnDomainName).ownershipVerificationCertificateArn =
          d.ownershipVerificationCertificateArn;
      }
    }

    this.suppressReviewedFindings(accessLogs);
  }

  /**
   * The durable rollout: a step function (one short invocation per step, never waiting for a
   * target) in a loop of Step → Done? → Wait (the seconds the step asked for) → Step, ending in
   * Succeed (succeeded, superseded) or Fail with the record (rolled back, failed); a step that kept
   * failing fails the execution at that step. Each step is retried with back-off on Lambda's errors and throttles and on its own
   * failures (S3, SNS, a target's API), never on bad input; a failed execution can be re-driven
   * from the failed step (Step Functions `RedriveExecution`), every action of a step repeating
   * safely. Least privilege per target kind: API Gateway GET/PATCH (and the mTLS actions, on our
   * truststore only) on the domains in their regions, ELB `ModifyTrustStore` and the revocation
   * files' `Add`/`RemoveTrustStoreRevocations` on the trust stores (and the CRLs kept as PEM),
   * `sts:AssumeRole` on the roles of other accounts, whose principals may read the truststore.
   */
  private rolloutMachine(
    rollout: {
      readonly config: { waves: string[]; targets: Target[]; settings: RolloutSettings };
      readonly json: string;
    },
    h: {
      readonly fn: (
        name: string,
        id: string,
        timeout: Duration,
        options: { environment?: Record<string, string>; kinds?: readonly string[]; memorySize?: number },
      ) => lambda.Function;
      readonly allow: (
        role: iam.IGrantable,
        actions: string[],
        resources: string[],
        conditions?: Record<string, Record<string, unknown>>,
      ) => unknown;
      readonly objects: (...prefixes: string[]) => string[];
      readonly mayFindNothing: (fn: lambda.IFunction) => unknown;
      readonly key: kms.IKey;
      readonly alarm: (id: string, metric: cloudwatch.IMetric, description: string) => unknown;
      readonly truststoreUri: string;
    },
  ): { fn: lambda.Function; machine: sfn.StateMachine } {
    const stack = Stack.of(this);
    const { targets } = rollout.config;
    const kinds = [
      ...(targets.some((t) => t.kind === 'apigateway-rest') ? ['REST'] : []),
      ...(targets.some((t) => t.kind === 'apigateway-http') ? ['HTTP'] : []),
    ];
    const inline = Buffer.byteLength(rollout.json) <= MAX_TARGETS_ENV_BYTES;
    const targetsKey = targetsObjectKey(rollout.json);
    const fn = h.fn('rollout', 'Rollout', Duration.minutes(5), {
      kinds,
      environment: {
        TRUSTROLL_BUCKET: this.bucket.bucketName,
        TRUSTROLL_TOPIC_ARN: this.topic.topicArn,
        ...(inline ? { TRUSTROLL_TARGETS: rollout.json } : { TRUSTROLL_TARGETS_KEY: targetsKey }),
        POWERTOOLS_SERVICE_NAME: 'trustroll',
        POWERTOOLS_METRICS_NAMESPACE: 'trustroll',
        TRUSTROLL_PIPELINE: this.node.path,
        // A target naming this account is paced with those naming none (one account, one pace).
        TRUSTROLL_ACCOUNT: Stack.of(this).account,
      },
    });
    // The state (the latest published version supersedes), the ELB ledger and the records; the
    // truststore, which API Gateway and ELB read with the caller's permissions.
    h.allow(fn, ['s3:GetObject', 's3:GetObjectVersion'], h.objects('state/', 'truststore/', 'rollouts/'));
    h.mayFindNothing(fn);
    h.allow(fn, ['s3:PutObject'], h.objects('rollouts/'));
    if (!inline) {
      // A targets file too large for the environment: written into the bucket at deploy time by
      // a custom resource that may put that one object only, and read by the step at cold start.
      const objectArn = this.bucket.arnForObjects(targetsKey);
      const put = new cr.AwsCustomResource(this, 'RolloutTargetsObject', {
        onUpdate: {
          service: 'S3',
          action: 'putObject',
          parameters: {
            Bucket: this.bucket.bucketName,
            Key: targetsKey,
            Body: rollout.json,
            ContentType: 'application/json',
          },
          physicalResourceId: cr.PhysicalResourceId.of(targetsKey),
        },
        policy: cr.AwsCustomResourcePolicy.fromStatements([
          new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [objectArn] }),
        ]),
        installLatestAwsSdk: false,
      });
      h.allow(fn, ['s3:GetObject'], [objectArn]);
      fn.node.addDependency(put);
      // The custom resource's provider: one function per stack that CDK adds beside the construct.
      const provider = stack.node.tryFindChild(
        `AWS${cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace(/-/g, '')}`,
      );
      if (provider)
        Validations.of(provider).acknowledge({
          id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
          reason:
            "CDK's own custom-resource function that writes the targets file into the bucket at deploy time; its managed policy grants log permissions only, its own policy the one object.",
        });
    }
    if (targets.some((t) => t.probe)) h.allow(fn, ['s3:GetObject'], h.objects(PROBE_PREFIX));
    const elb = targets.some((t) => t.kind === 'elb-trust-store');
    // The CRLs kept as PEM: the step reads their version and size (HEAD), and ELB reads them with
    // the caller's permissions when they are added to a trust store (as it reads the truststore).
    if (elb) h.allow(fn, ['s3:GetObject', 's3:GetObjectVersion'], h.objects(REVOCATION_KEYS.crls));
    h.allow(fn, ['sns:Publish'], [this.topic.topicArn]);
    h.allow(fn, ['kms:GenerateDataKey', 'kms:Decrypt'], [h.key.keyArn]);
    const own = targets.filter((t) => !t.roleArn);
    const domainArns = own
      .filter((t) => t.kind !== 'elb-trust-store')
      .map((t) =>
        stack.formatArn({
          service: 'apigateway',
          account: '',
          region: t.region ?? stack.region,
          resource: '/domainnames',
          resourceName: t.resource,
        }),
      );
    if (domainArns.length > 0) {
      h.allow(fn, ['apigateway:GET', 'apigateway:PATCH'], domainArns);
      h.allow(
        fn,
        ['apigateway:AddCertificateToDomain', 'apigateway:RemoveCertificateFromDomain'],
        domainArns,
        {
          StringEqualsIfExists: {
            'apigateway:Resource/MtlsTrustStoreUri': h.truststoreUri,
            'apigateway:Request/MtlsTrustStoreUri': h.truststoreUri,
          },
        },
      );
    }
    const trustStores = own.filter((t) => t.kind === 'elb-trust-store').map((t) => t.resource);
    if (trustStores.length > 0) {
      h.allow(
        fn,
        [
          'elasticloadbalancing:ModifyTrustStore',
          'elasticloadbalancing:AddTrustStoreRevocations',
          'elasticloadbalancing:RemoveTrustStoreRevocations',
        ],
        trustStores,
      );
      // The Describe actions have no resource-level permissions (Service Authorization Reference).
      h.allow(
        fn,
        ['elasticloadbalancing:DescribeTrustStores', 'elasticloadbalancing:DescribeTrustStoreRevocations'],
        ['*'],
      );
    }
    const roles = [...new Set(targets.flatMap((t) => (t.roleArn ? [t.roleArn] : [])))];
    if (roles.length > 0) {
      h.allow(fn, ['sts:AssumeRole'], roles);
      // The other accounts' roles update their targets, and API Gateway (and ELB) read the
      // truststore with the caller's permissions: those roles, and no other principal of their
      // accounts, may read it (an account principal with a condition: the bucket policy deploys
      // even before the role exists, and follows a role that is re-created).
      const byAccount = new Map<string, string[]>();
      for (const role of roles) {
        const account = role.split(':')[4]!;
        byAccount.set(account, [...(byAccount.get(account) ?? []), role]);
      }
      // The roles of ELB trust store targets also add the CRLs, which ELB reads with their permissions.
      const elbRoles = new Set(
        targets.flatMap((t) => (t.roleArn && t.kind === 'elb-trust-store' ? [t.roleArn] : [])),
      );
      for (const [account, arns] of byAccount) {
        this.bucket.addToResourcePolicy(
          new iam.PolicyStatement({
            sid: `TargetRolesOf${account}`,
            principals: [new iam.AccountPrincipal(account)],
            actions: ['s3:GetObject', 's3:GetObjectVersion'],
            resources: [this.bucket.arnForObjects(TRUSTSTORE_KEY)],
            conditions: { ArnEquals: { 'aws:PrincipalArn': arns } },
          }),
        );
        const crlReaders = arns.filter((a) => elbRoles.has(a));
        if (crlReaders.length > 0)
          this.bucket.addToResourcePolicy(
            new iam.PolicyStatement({
              sid: `TrustStoreRolesOf${account}`,
              principals: [new iam.AccountPrincipal(account)],
              actions: ['s3:GetObject', 's3:GetObjectVersion'],
              resources: [this.bucket.arnForObjects(`${REVOCATION_KEYS.crls}*`)],
              conditions: { ArnEquals: { 'aws:PrincipalArn': crlReaders } },
            }),
          );
      }
    }

    const step = new sfnTasks.LambdaInvoke(this, 'RolloutStep', {
      lambdaFunction: fn,
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
    });
    // Bad input and configuration cannot get better by waiting.
    step.addRetry({ errors: ['InputError', 'ConfigError'], maxAttempts: 0 });
    step.addRetry({
      errors: [
        'Lambda.ServiceException',
        'Lambda.AWSLambdaException',
        'Lambda.SdkClientException',
        'Lambda.TooManyRequestsException',
        'Lambda.ClientExecutionTimeoutException',
        'Lambda.Unknown',
      ],
      interval: Duration.seconds(2),
      backoffRate: 2,
      maxAttempts: 6,
      maxDelay: Duration.minutes(1),
      jitterStrategy: sfn.JitterType.FULL,
    });
    step.addRetry({
      errors: ['States.ALL'],
      interval: Duration.seconds(10),
      backoffRate: 2,
      maxAttempts: 5,
      maxDelay: Duration.minutes(5),
      jitterStrategy: sfn.JitterType.FULL,
    });
    // No Catch: a step whose retries ran out fails the execution at the step itself, so that
    // RedriveExecution (which resumes from the state that failed, with its input: the last
    // record) runs the step again. A Catch into a Fail state would make redrive re-run the Fail.
    const pause = new sfn.Wait(this, 'RolloutPause', {
      comment: 'As long as the step asked: API Gateway pace, a target still UPDATING',
      time: sfn.WaitTime.secondsPath('$.waitSeconds'),
    });
    const succeeded = new sfn.Succeed(this, 'RolloutSucceeded', {
      comment: 'Every target rolled or unchanged, or a newer version took over (superseded)',
    });
    const notSucceeded = new sfn.Fail(this, 'RolloutNotSucceeded', {
      comment: 'Rolled back or failed: the cause is the rollout record',
      error: 'RolloutNotSucceeded',
      causePath: sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$.rollout')),
    });
    const done = new sfn.Choice(this, 'RolloutDone')
      .when(sfn.Condition.booleanEquals('$.done', false), pause.next(step))
      .when(
        sfn.Condition.or(
          sfn.Condition.stringEquals('$.rollout.status', 'succeeded'),
          sfn.Condition.stringEquals('$.rollout.status', 'superseded'),
        ),
        succeeded,
      )
      .otherwise(notSucceeded);
    const machineLogs = new logs.LogGroup(this, 'RolloutMachineLogs', {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const machine = new sfn.StateMachine(this, 'RolloutMachine', {
      comment:
        'trustroll: one execution per truststore version, rolled to the targets wave after wave; one per CRL change, given to the ELB trust stores',
      definitionBody: sfn.DefinitionBody.fromChainable(step.next(done)),
      stateMachineType: sfn.StateMachineType.STANDARD,
      // Far above any rollout (50 targets take about an hour): an execution stuck that long fails.
      timeout: Duration.days(1),
      tracingEnabled: true,
      logs: { destination: machineLogs, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
    h.alarm(
      'RolloutFailedAlarm',
      machine.metricFailed({ period: Duration.minutes(5) }),
      'A rollout did not succeed (rolled back, or failed): see the execution, or trustroll status',
    );
    h.alarm(
      'RolloutErrorsAlarm',
      fn.metricErrors({ period: Duration.minutes(5) }),
      'trustroll rollout step failed (the state machine retries it)',
    );
    Validations.of(fn).acknowledge({
      id: 'AwsSolutions::AwsSolutions-L1',
      reason:
        'nodejs22.x is the runtime trustroll is built and tested for; moving runtimes is a deliberate upgrade.',
    });
    const bucketArn = `<${stack.getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket)}.Arn>`;
    for (const prefix of [
      'state',
      'truststore',
      'rollouts',
      'probes',
      'refusals',
      'reports',
      'revocation/crls',
    ])
      Validations.of(fn.role!).acknowledge({
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::${bucketArn}/${prefix}/*]`,
        reason: `Object-level access to ${prefix}/ of this one bucket: the objects' keys are not known in advance.`,
      });
    Validations.of(fn.role!).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      reason:
        'elasticloadbalancing:DescribeTrustStores and DescribeTrustStoreRevocations support no resource-level permissions; they only read.',
    });
    const fnArn = `<${stack.getLogicalId(fn.node.defaultChild as lambda.CfnFunction)}.Arn>`;
    Validations.of(machine.role).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      reason:
        'CDK grants the state machine CloudWatch Logs delivery and X-Ray actions for its logging and tracing; they support no resource-level permissions.',
    });
    Validations.of(machine).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::${fnArn}:*]`,
      reason: 'The state machine may invoke the rollout step function (and its version qualifiers) only.',
    });
    return { fn, machine };
  }

  /**
   * Opens the inbox to one partner: `principal` (a partner's role or user) may put objects under
   * `inbox/<partner>/` and nowhere else — not other partners' folders, not the truststore, and it
   * may read nothing. Requests must use TLS (the bucket policy refuses the rest).
   */
  grantPartnerUpload(partner: string, principal: iam.IGrantable): iam.Grant {
    if (!/^[A-Za-z0-9][A-Za-z0-9 ._@+-]{0,62}$/.test(partner)) {
      throw new Error(
        `partner "${partner}" must be a folder name of letters, digits, spaces or ._@+- (at most 63)`,
      );
    }
    return iam.Grant.addToPrincipalOrResource({
      grantee: principal,
      actions: ['s3:PutObject'],
      resourceArns: [this.bucket.arnForObjects(`inbox/${partner}/*`)],
      resource: this.bucket,
    });
  }

  /**
   * The revocation authorizer function (created on first use): API Gateway asks it about every
   * request's client certificate; it denies revoked clients, clients of a CA listed as revoked,
   * clients whose CRL is stale, and clients their partner's pins and routes do not admit.
   */
  get authorizerFunction(): lambda.Function {
    this.authorizerFn ??= this.makeAuthorizer();
    return this.authorizerFn;
  }

  /**
   * The refusals subscriber (created on first use by `watchRefusals`): explains each handshake
   * API Gateway refused, from the stages' access logs, and alerts the partner once per
   * certificate and reason (`handshake.refused`).
   */
  get refusalsFunction(): lambda.Function {
    this.refusalsFn ??= this.makeRefusals();
    return this.refusalsFn;
  }

  /**
   * The access-log format trustroll reads (one JSON line; REST and HTTP API stages alike). API
   * Gateway fills its client certificate fields only when mutual TLS fails. For a REST stage:
   * `accessLogFormat: TruststorePipeline.restAccessLogFormat()`; for an HTTP API stage:
   * `accessLogSettings: { destinationArn, format: TruststorePipeline.accessLogFormat() }`.
   */
  static accessLogFormat(): string {
    return accessLogFormat();
  }

  /** `accessLogFormat()` for a REST API's `deployOptions.accessLogFormat`. */
  static restAccessLogFormat(): apigateway.AccessLogFormat {
    return apigateway.AccessLogFormat.custom(accessLogFormat());
  }

  /**
   * Subscribes the refusals function to a stage's access-log group (written in
   * `accessLogFormat()`), with a filter that passes only lines carrying a client certificate:
   * the refused handshakes. One call per log group (the id must differ).
   */
  watchRefusals(logGroup: logs.ILogGroup, id = 'RefusalsSubscription'): logs.SubscriptionFilter {
    return new logs.SubscriptionFilter(this, id, {
      logGroup,
      destination: new logsDestinations.LambdaDestination(this.refusalsFunction),
      filterPattern: logs.FilterPattern.literal('{ $.subjectDN != "-" }'),
    });
  }

  /**
   * A REQUEST authorizer for REST APIs (`RestApi`'s `defaultMethodOptions.authorizer`, or a
   * method's `authorizer`). The integration receives `$context.authorizer.partner`, `certSha256`,
   * `issuerSha256`, `serial`, `subject` and `notAfter`. Each call makes a new authorizer (one per
   * API); they share the function.
   */
  restAuthorizer(props: RestAuthorizerProps = {}, id = 'RevocationAuthorizer'): apigateway.RequestAuthorizer {
    const identitySources = [...(props.identitySources ?? [])];
    const authorizer = new apigateway.RequestAuthorizer(this, id, {
      handler: this.authorizerFunction,
      identitySources,
      resultsCacheTtl: props.resultsCacheTtl ?? Duration.seconds(0),
      ...(props.authorizerName ? { authorizerName: props.authorizerName } : {}),
    });
    // Without a cache the identity source is optional (and a source the request lacks would be
    // refused with 401 unasked); CDK writes an empty string, the API reference documents none.
    if (identitySources.length === 0)
      (authorizer.node.defaultChild as apigateway.CfnAuthorizer).addPropertyDeletionOverride(
        'IdentitySource',
      );
    return authorizer;
  }

  /**
   * A Lambda authorizer for HTTP APIs (payload format 2.0, simple responses): a route's
   * `authorizer`. The integration receives `$context.authorizer.partner` and the others (Lambda
   * integrations: `event.requestContext.authorizer.lambda.partner`). Attach one to one API only
   * (CDK's rule): call again, with another id, for another API.
   */
  httpAuthorizer(
    props: HttpAuthorizerProps = {},
    id = 'RevocationAuthorizer',
  ): apigwv2Authorizers.HttpLambdaAuthorizer {
    return new apigwv2Authorizers.HttpLambdaAuthorizer(id, this.authorizerFunction, {
      responseTypes: [apigwv2Authorizers.HttpLambdaResponseType.SIMPLE],
      identitySource: [...(props.identitySource ?? [])],
      resultsCacheTtl: props.resultsCacheTtl ?? Duration.seconds(0),
      ...(props.authorizerName ? { authorizerName: props.authorizerName } : {}),
    });
  }

  /** cdk-nag findings that are intended, each acknowledged with the reason a reviewer needs. */
  private suppressReviewedFindings(accessLogs: s3.Bucket): void {
    Validations.of(accessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the access-log bucket of the trustroll bucket; logging it again would recurse.',
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is the dead-letter queue itself.',
    });
    Validations.of(this.scanFailures).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the failure destination of the scheduled scan.',
    });
    const bucketArn = `<${Stack.of(this).getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket)}.Arn>`;
    for (const f of [this.ingestFunction, this.scanFunction]) {
      Validations.of(f).acknowledge({
        id: 'AwsSolutions::AwsSolutions-L1',
        reason:
          'nodejs22.x is the runtime trustroll is built and tested for; moving runtimes is a deliberate upgrade.',
      });
      for (const prefix of [
        'inbox',
        'requests',
        'state',
        'truststore',
        'revocation',
        'archive',
        'rejected',
        'reports',
        'refusals',
        'rollouts',
      ]) {
        Validations.of(f.role!).acknowledge({
          id: `AwsSolutions::AwsSolutions-IAM5[Resource::${bucketArn}/${prefix}/*]`,
          reason: `Object-level access to ${prefix}/ of this one bucket: the objects' keys are not known in advance.`,
        });
      }
    }
    // Constructs CDK adds at stack level for the bucket's EventBridge switch and the schedule.
    for (const child of Stack.of(this).node.children) {
      if (child.node.id.startsWith('BucketNotificationsHandler')) {
        Validations.of(child).acknowledge({
          id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
          reason:
            "CDK's own custom resource that turns on EventBridge notifications for the bucket at deploy time; it needs only log permissions.",
        });
      }
      if (child.node.id.startsWith('SchedulerRoleForTarget')) {
        Validations.of(child).acknowledge({
          id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.scanFunction.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
          reason:
            'EventBridge Scheduler may invoke the expiry-scan function (and its version qualifiers) only.',
        });
      }
    }
  }
}

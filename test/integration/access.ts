import { runSimulation } from '@cloud-copilot/iam-simulate';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { TruststorePipeline, type TruststorePipelineProps } from '../../infra/truststore-pipeline.js';
import type { AwsCall } from './recorder.js';

/**
 * The access test's two halves: what IAM authorization each recorded AWS request needs, and
 * whether the policies `cdk synth` produces grant it — evaluated by a real IAM policy evaluator
 * (@cloud-copilot/iam-simulate: identity, resource and key policies, conditions, explicit denies).
 */

export const ACCOUNT = '123456789012';
/** The functions whose roles the access test evaluates. */
export type Fn = 'ingest' | 'scan' | 'authorizer' | 'refusals' | 'rollout';
export const REGION = 'us-east-1';

type Json = unknown;
interface Policy {
  readonly Version?: string;
  readonly Statement: readonly Record<string, unknown>[];
}

/** One authorization AWS makes for a request: an action on a resource, with its context keys. */
export interface Requirement {
  readonly action: string;
  readonly resource: string;
  readonly context?: Readonly<Record<string, string>>;
  /** Why the request needs it (shown when it is missing). */
  readonly why: string;
}

/** The physical names the test gave the stack's resources (everything else gets a made-up one). */
export interface Physical {
  readonly bucket: string;
  readonly topicArn: string;
  readonly queue: { readonly url: string; readonly arn: string };
}

/** The synthesized stack, its intrinsics resolved against the test's physical resources. */
export class SynthesizedStack {
  readonly template: Record<string, Json>;
  private readonly ids: {
    bucket: string;
    topic: string;
    queue: string;
    key: string;
    ingestRole: string;
    scanRole: string;
    authorizerRole: string;
    refusalsRole: string;
    ingest: string;
    scan: string;
    authorizer: string;
    refusals: string;
    /** With targets: the rollout step function and the state machine. */
    rolloutRole: string;
    rollout: string;
    machine: string;
  };

  constructor(
    props: TruststorePipelineProps,
    readonly physical: Physical,
  ) {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Access');
    const p = new TruststorePipeline(stack, 'Pipeline', props);
    // The revocation authorizer exists once an API asks for it: here, always.
    const authorizer = p.authorizerFunction;
    // So does the refusals subscriber once a stage's access log is watched.
    const refusals = p.refusalsFunction;
    const id = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as never);
    this.template = Template.fromStack(stack).toJSON() as Record<string, Json>;
    this.ids = {
      bucket: id(p.bucket),
      topic: id(p.topic),
      queue: id(p.queue),
      key: this.logicalIdsOf('AWS::KMS::Key')[0]!,
      ingestRole: id(p.ingestFunction.role as never),
      scanRole: id(p.scanFunction.role as never),
      authorizerRole: id(authorizer.role as never),
      refusalsRole: id(refusals.role as never),
      ingest: id(p.ingestFunction),
      scan: id(p.scanFunction),
      authorizer: id(authorizer),
      refusals: id(refusals),
      rolloutRole: p.rolloutFunction ? id(p.rolloutFunction.role as never) : '-',
      rollout: p.rolloutFunction ? id(p.rolloutFunction) : '-',
      machine: p.rolloutStateMachine ? id(p.rolloutStateMachine) : '-',
    };
  }

  get resources(): Record<string, { Type: string; Properties?: Record<string, Json> }> {
    return this.template.Resources as never;
  }

  logicalIdsOf(type: string): string[] {
    return Object.entries(this.resources)
      .filter(([, r]) => r.Type === type)
      .map(([k]) => k);
  }

  get keyArn(): string {
    return `arn:aws:kms:${REGION}:${ACCOUNT}:key/${this.ids.key}`;
  }

  roleArn(fn: Fn): string {
    return `arn:aws:iam::${ACCOUNT}:role/${this.ids[`${fn}Role`]}`;
  }

  /** Ref and Fn::GetAtt of this stack's resources, as CloudFormation would resolve them. */
  private ref(logicalId: string, attribute?: string): string {
    const type = this.resources[logicalId]?.Type;
    const { bucket, topicArn, queue } = this.physical;
    if (logicalId === this.ids.bucket) return attribute === 'Arn' ? `arn:aws:s3:::${bucket}` : bucket;
    if (logicalId === this.ids.topic)
      return attribute === 'TopicName' ? topicArn.split(':').pop()! : topicArn;
    if (logicalId === this.ids.queue)
      return attribute === 'Arn'
        ? queue.arn
        : attribute === 'QueueName'
          ? queue.arn.split(':').pop()!
          : queue.url;
    const name = logicalId.toLowerCase();
    switch (type) {
      case 'AWS::KMS::Key':
        return attribute === 'Arn' ? `arn:aws:kms:${REGION}:${ACCOUNT}:key/${logicalId}` : logicalId;
      case 'AWS::IAM::Role':
        return attribute === 'Arn' ? `arn:aws:iam::${ACCOUNT}:role/${logicalId}` : logicalId;
      case 'AWS::SQS::Queue':
        return attribute === 'Arn'
          ? `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`
          : `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${name}`;
      case 'AWS::S3::Bucket':
        return attribute === 'Arn' ? `arn:aws:s3:::${name}` : name;
      case 'AWS::Logs::LogGroup':
        return attribute === 'Arn' ? `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${name}:*` : name;
      case 'AWS::Lambda::Function':
        return attribute === 'Arn' ? `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}` : name;
      case 'AWS::SNS::Topic':
        return `arn:aws:sns:${REGION}:${ACCOUNT}:${name}`;
      case 'AWS::StepFunctions::StateMachine':
        return attribute === 'Name'
          ? logicalId
          : `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${logicalId}`;
      default:
        return attribute ? `${logicalId}.${attribute}` : logicalId;
    }
  }

  /** Resolves Ref, Fn::GetAtt, Fn::Join, Fn::Select, Fn::Split and the pseudo parameters. */
  resolve(value: Json): Json {
    if (Array.isArray(value)) return value.map((v) => this.resolve(v));
    if (!value || typeof value !== 'object') return value;
    const o = value as Record<string, Json>;
    const keys = Object.keys(o);
    if (keys.length === 1) {
      const [k] = keys as [string];
      const arg = o[k];
      if (k === 'Ref') {
        const pseudo: Record<string, string> = {
          'AWS::Partition': 'aws',
          'AWS::Region': REGION,
          'AWS::AccountId': ACCOUNT,
          'AWS::URLSuffix': 'amazonaws.com',
        };
        return pseudo[arg as string] ?? this.ref(arg as string);
      }
      if (k === 'Fn::GetAtt') {
        const [id, attr] = arg as [string, string];
        return this.ref(id, attr);
      }
      if (k === 'Fn::Join') {
        const [sep, parts] = arg as [string, Json[]];
        return (this.resolve(parts) as string[]).join(sep);
      }
      if (k === 'Fn::Select') {
        const [index, list] = arg as [number, Json];
        return (this.resolve(list) as Json[])[Number(index)];
      }
      if (k === 'Fn::Split') {
        const [sep, text] = arg as [string, Json];
        return String(this.resolve(text)).split(sep);
      }
    }
    return Object.fromEntries(keys.map((k) => [k, this.resolve(o[k])]));
  }

  /** The identity policies attached to a function's role (inline and AWS::IAM::Policy). */
  identityPolicies(fn: Fn): { name: string; policy: Policy }[] {
    const role = this.ids[`${fn}Role`];
    const out: { name: string; policy: Policy }[] = [];
    for (const [id, r] of Object.entries(this.resources)) {
      if (r.Type !== 'AWS::IAM::Policy') continue;
      const roles = (r.Properties?.Roles ?? []) as { Ref?: string }[];
      if (roles.some((x) => x.Ref === role))
        out.push({ name: id, policy: this.resolve(r.Properties!.PolicyDocument) as Policy });
    }
    const inline = (this.resources[role]?.Properties?.Policies ?? []) as {
      PolicyName: string;
      PolicyDocument: Json;
    }[];
    for (const p of inline)
      out.push({ name: p.PolicyName, policy: this.resolve(p.PolicyDocument) as Policy });
    if ((this.resources[role]?.Properties?.ManagedPolicyArns as unknown[] | undefined)?.length) {
      throw new Error(`${role} has managed policies: the access test does not model them`);
    }
    return out;
  }

  /** The resource policy that governs `resourceArn`: bucket, topic, queue or key policy. */
  resourcePolicy(service: string, resourceArn: string): Policy | undefined {
    const find = (type: string, target: string, field: string, matches: (v: Json) => boolean) => {
      for (const r of Object.values(this.resources)) {
        if (r.Type !== type) continue;
        if (matches(this.resolve(r.Properties?.[target])))
          return this.resolve(r.Properties?.[field]) as Policy;
      }
      return undefined;
    };
    if (service === 's3') {
      const bucket = resourceArn.replace(/^arn:aws:s3:::/, '').split('/')[0];
      return find('AWS::S3::BucketPolicy', 'Bucket', 'PolicyDocument', (v) => v === bucket);
    }
    if (service === 'sns')
      return find('AWS::SNS::TopicPolicy', 'Topics', 'PolicyDocument', (v) =>
        (v as string[]).includes(resourceArn),
      );
    if (service === 'sqs') {
      const url = resourceArn === this.physical.queue.arn ? this.physical.queue.url : undefined;
      return find('AWS::SQS::QueuePolicy', 'Queues', 'PolicyDocument', (v) =>
        (v as string[]).includes(url ?? ''),
      );
    }
    if (service === 'kms') {
      const id = resourceArn.split('/').pop();
      const key = id ? this.resources[id] : undefined;
      return key?.Type === 'AWS::KMS::Key' ? (this.resolve(key.Properties?.KeyPolicy) as Policy) : undefined;
    }
    return undefined;
  }

  /** A function's environment, as Lambda would set it. */
  environment(fn: Fn): Record<string, string> {
    const id = this.ids[fn];
    const env = this.resources[id]?.Properties?.Environment as { Variables: Json } | undefined;
    return this.resolve(env?.Variables ?? {}) as Record<string, string>;
  }

  /** The KMS key that encrypts the topic (SNS uses it on the publisher's behalf). */
  topicKey(topicArn: string): string | undefined {
    if (topicArn !== this.physical.topicArn) return undefined;
    const topic = this.resources[this.ids.topic];
    return topic?.Properties?.KmsMasterKeyId ? this.keyArn : undefined;
  }

  /** A copy with every statement granting `action` to the functions removed (to prove the test can fail). */
  without(action: string, resourceContains?: string): SynthesizedStack {
    const copy = Object.create(this) as SynthesizedStack;
    const template = structuredClone(this.template) as {
      Resources: Record<string, { Type: string; Properties?: Record<string, Json> }>;
    };
    for (const r of Object.values(template.Resources)) {
      if (r.Type !== 'AWS::IAM::Policy') continue;
      const doc = r.Properties!.PolicyDocument as {
        Statement: { Action: string | string[]; Resource?: Json }[];
      };
      // `resourceContains`: only the statements on that resource (e.g. one prefix of the bucket).
      doc.Statement = doc.Statement.filter(
        (s) =>
          !(Array.isArray(s.Action) ? s.Action : [s.Action]).includes(action) ||
          (resourceContains !== undefined && !JSON.stringify(s.Resource ?? '').includes(resourceContains)),
      );
    }
    Object.defineProperty(copy, 'template', { value: template });
    return copy;
  }
}

/**
 * The authorizations one recorded request needs. A GET or HEAD that may find nothing needs
 * s3:ListBucket too (S3 answers 403 instead of 404 without it); a version id needs the *Version
 * action; publishing to a KMS-encrypted topic needs the key's data-key actions; UpdateDomainName
 * on an mTLS domain needs PATCH and the mTLS actions, with the truststore URIs as context.
 */
export const requirements = (call: AwsCall, stack: SynthesizedStack, fn?: Fn): Requirement[] => {
  const why = JSON.stringify(call);
  if (call.service === 's3' && 'bucket' in call) {
    const bucketArn = `arn:aws:s3:::${call.bucket}`;
    const object = `${bucketArn}/${call.key ?? ''}`;
    const req = (action: string, resource: string, context?: Record<string, string>): Requirement => ({
      action,
      resource,
      why,
      ...(context ? { context } : {}),
    });
    const read = (versionId?: string) => req(versionId ? 's3:GetObjectVersion' : 's3:GetObject', object);
    switch (call.operation) {
      case 'GetObject':
      case 'HeadObject':
        // The authorizer is refused s3:ListBucket on purpose: for it a missing index (403 then)
        // and an unreadable one mean the same, and it may not list the partners' uploads.
        return fn === 'authorizer'
          ? [read(call.versionId)]
          : [read(call.versionId), req('s3:ListBucket', bucketArn)];
      case 'PutObject':
        return [req('s3:PutObject', object)];
      case 'CopyObject': {
        const source = call.copySource!;
        return [
          req('s3:PutObject', object),
          req(
            source.versionId ? 's3:GetObjectVersion' : 's3:GetObject',
            `arn:aws:s3:::${source.bucket}/${source.key}`,
          ),
          req('s3:ListBucket', `arn:aws:s3:::${source.bucket}`),
        ];
      }
      case 'DeleteObject':
        return [req(call.versionId ? 's3:DeleteObjectVersion' : 's3:DeleteObject', object)];
      case 'ListObjectsV2':
        return [req('s3:ListBucket', bucketArn, { 's3:prefix': call.prefix ?? '' })];
      case 'ListObjectVersions':
        return [req('s3:ListBucketVersions', bucketArn, { 's3:prefix': call.prefix ?? '' })];
      default:
        throw new Error(
          `the access test does not know what ${call.raw} needs: teach requirements() about it`,
        );
    }
  }
  if (call.service === 'sns' && 'topicArn' in call) {
    if (call.operation !== 'Publish') throw new Error(`unexpected SNS call ${call.operation}`);
    const key = stack.topicKey(call.topicArn ?? '');
    const viaSns = { 'kms:ViaService': `sns.${REGION}.amazonaws.com`, 'kms:CallerAccount': ACCOUNT };
    return [
      { action: 'sns:Publish', resource: call.topicArn!, why },
      ...(key
        ? [
            { action: 'kms:GenerateDataKey', resource: key, context: viaSns, why },
            { action: 'kms:Decrypt', resource: key, context: viaSns, why },
          ]
        : []),
    ];
  }
  if (call.service === 'sqs' && 'queueUrl' in call) {
    if (call.operation !== 'SendMessage') throw new Error(`unexpected SQS call ${call.operation}`);
    const name = (call.queueUrl ?? '').split('/').pop();
    return [{ action: 'sqs:SendMessage', resource: `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`, why }];
  }
  if (call.service === 'states' && 'stateMachineArn' in call) {
    if (call.operation !== 'StartExecution')
      throw new Error(`unexpected Step Functions call ${call.operation}`);
    return [{ action: 'states:StartExecution', resource: call.stateMachineArn!, why }];
  }
  if (call.service === 'sts' && 'roleArn' in call) {
    if (call.operation !== 'AssumeRole') throw new Error(`unexpected STS call ${call.operation}`);
    return [{ action: 'sts:AssumeRole', resource: call.roleArn!, why }];
  }
  if (call.service === 'elasticloadbalancing' && 'region' in call && !('domain' in call)) {
    // DescribeTrustStores has no resource-level permissions: it is authorized on "*".
    if (call.operation === 'DescribeTrustStores')
      return [{ action: 'elasticloadbalancing:DescribeTrustStores', resource: '*', why }];
    if (call.operation === 'ModifyTrustStore')
      return [{ action: 'elasticloadbalancing:ModifyTrustStore', resource: call.trustStoreArn!, why }];
    // Like DescribeTrustStores, DescribeTrustStoreRevocations is authorized on "*".
    if (call.operation === 'DescribeTrustStoreRevocations')
      return [{ action: 'elasticloadbalancing:DescribeTrustStoreRevocations', resource: '*', why }];
    if (call.operation === 'RemoveTrustStoreRevocations')
      return [
        { action: 'elasticloadbalancing:RemoveTrustStoreRevocations', resource: call.trustStoreArn!, why },
      ];
    if (call.operation === 'AddTrustStoreRevocations') {
      // ELB reads the CRL object with the caller's permissions, the version it names.
      const file = call.revocation!;
      const object = `arn:aws:s3:::${file.bucket}/${file.key}`;
      return [
        { action: 'elasticloadbalancing:AddTrustStoreRevocations', resource: call.trustStoreArn!, why },
        { action: 's3:GetObject', resource: object, why: `${why} (ELB reads the CRL as the caller)` },
        ...(file.version
          ? [
              {
                action: 's3:GetObjectVersion',
                resource: object,
                why: `${why} (ELB reads the CRL as the caller)`,
              },
            ]
          : []),
      ];
    }
    throw new Error(`unexpected ELB call ${call.operation}`);
  }
  if (call.service === 'apigateway' && 'domain' in call) {
    const resource = `arn:aws:apigateway:${call.region || REGION}::/domainnames/${call.domain}`;
    if (call.operation === 'GetDomainName') return [{ action: 'apigateway:GET', resource, why }];
    const context: Record<string, string> = {
      ...(call.before?.uri ? { 'apigateway:Resource/MtlsTrustStoreUri': call.before.uri } : {}),
      ...(call.before?.version ? { 'apigateway:Resource/MtlsTrustStoreVersion': call.before.version } : {}),
      ...(call.requested?.uri ? { 'apigateway:Request/MtlsTrustStoreUri': call.requested.uri } : {}),
      ...(call.requested?.version
        ? { 'apigateway:Request/MtlsTrustStoreVersion': call.requested.version }
        : {}),
    };
    return [
      { action: 'apigateway:PATCH', resource, why },
      { action: 'apigateway:AddCertificateToDomain', resource, context, why },
      { action: 'apigateway:RemoveCertificateFromDomain', resource, context, why },
    ];
  }
  throw new Error(`the access test does not know what ${JSON.stringify(call)} needs`);
};

/** Evaluates one authorization for a function's role; resolves to the evaluator's verdict. */
export const evaluate = async (
  stack: SynthesizedStack,
  fn: Fn,
  r: Requirement,
): Promise<'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied'> => {
  const principal = stack.roleArn(fn);
  const service = r.action.split(':')[0]!;
  const resourcePolicy = stack.resourcePolicy(service, r.resource);
  const result = await runSimulation(
    {
      identityPolicies: stack.identityPolicies(fn),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(resourcePolicy ? { resourcePolicy } : {}),
      request: {
        action: r.action,
        principal,
        resource: { resource: r.resource, accountId: ACCOUNT },
        contextVariables: {
          'aws:SecureTransport': 'true',
          'aws:PrincipalArn': principal,
          'aws:PrincipalAccount': ACCOUNT,
          ...r.context,
        },
      },
    } as never,
    {},
  );
  if (result.resultType === 'error') {
    throw new Error(
      `the IAM evaluator refused ${r.action} on ${r.resource}: ${JSON.stringify(result.errors)}`,
    );
  }
  return result.overallResult as 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';
};

/**
 * The recorded calls the synthesized IAM does not allow, each named with the permission it lacks.
 * Calls the emulator answered with an error still count: the code made them.
 */
export const deniedCalls = async (
  stack: SynthesizedStack,
  fn: Fn,
  calls: readonly AwsCall[],
): Promise<string[]> => {
  const denied: string[] = [];
  const seen = new Set<string>();
  for (const call of calls) {
    // Made as a role of the target's account: its own policies decide (README, cross-account).
    if ('assumedRole' in call && call.assumedRole) continue;
    for (const r of requirements(call, stack, fn)) {
      const id = `${r.action} ${r.resource} ${JSON.stringify(r.context ?? {})}`;
      if (seen.has(id)) continue;
      seen.add(id);
      const verdict = await evaluate(stack, fn, r);
      if (verdict !== 'Allowed') {
        denied.push(
          `${fn} ${call.service}:${call.operation} needs ${r.action} on ${r.resource}${r.context ? ` ${JSON.stringify(r.context)}` : ''}: ${verdict}`,
        );
      }
    }
  }
  return denied;
};

/** Evaluates a service principal's request against the resource (and key) policy only, as AWS does. */
export const evaluateService = async (
  stack: SynthesizedStack,
  service: string,
  action: string,
  resource: string,
  context: Record<string, string>,
): Promise<string> => {
  const resourcePolicy = stack.resourcePolicy(action.split(':')[0]!, resource);
  const result = await runSimulation(
    {
      identityPolicies: [],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(resourcePolicy ? { resourcePolicy } : {}),
      request: {
        action,
        principal: service,
        resource: { resource, accountId: ACCOUNT },
        contextVariables: { 'aws:SecureTransport': 'true', ...context },
      },
    } as never,
    {},
  );
  if (result.resultType === 'error') throw new Error(JSON.stringify(result.errors));
  return result.overallResult;
};

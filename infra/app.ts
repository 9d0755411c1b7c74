import { readFileSync } from 'node:fs';
import { App, CfnOutput, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Construct } from 'constructs';
import { parseDomainSpec } from '../shared/adapters/aws/domains.js';
import { parseRolloutConfigText } from '../shared/rollout/targets.js';
import {
  type ManagedDomainProps,
  TruststorePipeline,
  type TruststorePipelineProps,
} from './truststore-pipeline.js';

/** One stage of trustroll (dev, prod, …): the pipeline construct in a stack of its own. */
export class TrustrollStack extends Stack {
  readonly pipeline: TruststorePipeline;
  constructor(
    scope: Construct,
    id: string,
    props: StackProps & {
      readonly pipeline: TruststorePipelineProps;
      /** Deploy the revocation authorizer for APIs defined elsewhere, and name it in the outputs. */
      readonly authorizer?: boolean;
      /** Access-log groups of API stages whose refused handshakes are explained and alerted. */
      readonly refusalLogGroups?: readonly string[];
    },
  ) {
    super(scope, id, props);
    this.pipeline = new TruststorePipeline(this, 'Pipeline', props.pipeline);
    if (props.authorizer) {
      // The authorizer for APIs defined elsewhere (another stack, the console, the CLI): API
      // Gateway of this account may invoke it for any of its authorizers.
      const f = this.pipeline.authorizerFunction;
      f.addPermission('ApiGatewayInvokesAuthorizer', {
        principal: new ServicePrincipal('apigateway.amazonaws.com'),
        sourceAccount: this.account,
        sourceArn: this.formatArn({ service: 'execute-api', resource: '*', resourceName: 'authorizers/*' }),
      });
      new CfnOutput(this, 'AuthorizerFunctionArn', {
        value: f.functionArn,
        description:
          'The revocation authorizer: a REQUEST authorizer (HTTP APIs: payload 2.0, simple responses), no cache',
      });
    }
    // The stages' access-log groups (in the format TruststorePipeline.accessLogFormat() gives).
    for (const [i, name] of (props.refusalLogGroups ?? []).entries())
      this.pipeline.watchRefusals(
        LogGroup.fromLogGroupName(this, `RefusalLogGroup${i}`, name),
        `RefusalsSubscription${i}`,
      );
    // What a person needs after a deploy: where to drop uploads, what to subscribe to.
    new CfnOutput(this, 'BucketName', {
      value: this.pipeline.bucket.bucketName,
      description: 'Upload CA bundles to s3://<this>/inbox/<partner>/',
    });
    new CfnOutput(this, 'AlertsTopicArn', { value: this.pipeline.topic.topicArn });
    new CfnOutput(this, 'TruststoreUri', {
      value: `s3://${this.pipeline.bucket.bucketName}/truststore/truststore.pem`,
      description: 'The truststore URI the mTLS domains must use',
    });
    if (this.pipeline.rolloutFunction)
      new CfnOutput(this, 'RolloutRoleArn', {
        value: this.pipeline.rolloutFunction.role!.roleArn,
        description:
          "The principal of the target roles' trust policy in other accounts (with the external id)",
      });
    new CfnOutput(this, 'DashboardUrl', {
      value: `https://console.aws.amazon.com/cloudwatch/home?region=${this.region}#dashboards/dashboard/${this.pipeline.dashboard.dashboardName}`,
      description: 'The CloudWatch dashboard: uploads, expiry per partner, truststore size, rolls',
    });
  }
}

const list = (value: unknown): string[] =>
  typeof value === 'string'
    ? value
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean)
    : [];

/** `api.example.com` or `api.example.com:HTTP`. */
export const parseDomains = (value: unknown): ManagedDomainProps[] =>
  list(value).map((item) => {
    const { domain, problems } = parseDomainSpec(item);
    if (problems.length > 0) throw new Error(`-c domains: ${problems.join('; ')}`);
    return { name: domain.name, type: domain.kind };
  });

/**
 * The ready app: `npx cdk synth|deploy -c stage=dev -c domains=api.example.com[:REST|:HTTP],… -c alertEmail=ops@example.com,…`
 * Optional: `-c partnerEmails=acme=pki@acme.example,…`, `-c pruneExpired=true`,
 * `-c customDomain=api.example.com -c certificateArn=arn:aws:acm:…`, `-c authorizer=true` (the
 * revocation authorizer, for APIs defined elsewhere), `-c refusalLogGroups=<log group>,…` (stages'
 * access logs whose refused handshakes are explained), `-c targets=targets.json` (a targets file,
 * `{ waves, targets, settings? }`: rolled by the rollout state machine, not with domains).
 * Each stage is its own stack (`trustroll-<stage>`), so dev and prod deploy side by side.
 */
export const buildApp = (app: App = new App()): App => {
  const ctx = (key: string) => app.node.tryGetContext(key);
  const stage = String(ctx('stage') ?? 'dev');
  if (!/^[a-z][a-z0-9-]{0,20}$/.test(stage))
    throw new Error(`-c stage: "${stage}" must be lowercase letters, digits and dashes`);
  const partnerSubscriptions = list(ctx('partnerEmails')).map((pair) => {
    const [partner = '', email = ''] = pair.split('=');
    if (!partner || !email) throw new Error(`-c partnerEmails: "${pair}" must be partner=email`);
    return { partner, email };
  });
  const targetsFile = ctx('targets');
  const rollout = targetsFile
    ? parseRolloutConfigText(readFileSync(String(targetsFile), 'utf8'), { source: String(targetsFile) })
    : undefined;
  const customDomain = ctx('customDomain');
  const certificateArn = ctx('certificateArn');
  if (customDomain && !certificateArn)
    throw new Error('-c customDomain needs -c certificateArn (an ACM certificate in the region)');
  const authorizer = ctx('authorizer');
  if (authorizer !== undefined && !['true', 'false'].includes(String(authorizer)))
    throw new Error(`-c authorizer: "${authorizer}" must be true or false`);
  const refusalLogGroups = list(ctx('refusalLogGroups'));
  for (const name of refusalLogGroups)
    if (!/^[\w\-./#]{1,512}$/.test(name))
      throw new Error(`-c refusalLogGroups: "${name}" is not a log group name (letters, digits, _ - . / #)`);
  new TrustrollStack(app, `trustroll-${stage}`, {
    description: `trustroll (${stage}): API Gateway mTLS truststore pipeline`,
    tags: { application: 'trustroll', stage },
    authorizer: String(authorizer) === 'true',
    refusalLogGroups,
    pipeline: {
      domains: parseDomains(ctx('domains')),
      alertEmails: list(ctx('alertEmail')),
      partnerSubscriptions,
      pruneExpired: String(ctx('pruneExpired')) === 'true',
      ...(rollout
        ? { targets: rollout.targets, waves: rollout.waves, rolloutSettings: rollout.settings }
        : {}),
      ...(customDomain
        ? { customDomain: { domainName: String(customDomain), certificateArn: String(certificateArn) } }
        : {}),
    },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return app;
};

if (process.argv[1] && /infra[/\\]app\.ts$/.test(process.argv[1])) {
  buildApp().synth();
}

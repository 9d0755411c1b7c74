import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { TruststorePipeline, type TruststorePipelineProps } from '../../infra/truststore-pipeline.js';

/** Synthesises without bundling the Lambda code (bundles: test/infra/bundling.test.ts, the bench). */
const app = () => new App({ context: { 'aws:cdk:bundling-stacks': [] } });

/** A stack with the pipeline, a REST API and an HTTP API both guarded by its authorizer. */
const build = (props: TruststorePipelineProps = {}) => {
  const a = app();
  const stack = new Stack(a, 'Authorizer');
  const pipeline = new TruststorePipeline(stack, 'Pipeline', props);
  const backend = new lambda.Function(stack, 'Backend', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 200 })'),
  });
  const rest = new apigateway.RestApi(stack, 'Rest', {
    disableExecuteApiEndpoint: true,
    defaultMethodOptions: { authorizer: pipeline.restAuthorizer() },
  });
  rest.root.addResource('orders').addMethod('GET', new apigateway.LambdaIntegration(backend));
  const http = new apigwv2.HttpApi(stack, 'Http', { disableExecuteApiEndpoint: true });
  http.addRoutes({
    path: '/orders',
    methods: [apigwv2.HttpMethod.GET],
    integration: new HttpLambdaIntegration('Orders', backend),
    authorizer: pipeline.httpAuthorizer(),
  });
  return { a, stack, pipeline, t: Template.fromStack(stack) };
};

/** The functions configured as the authorizer. */
const authorizers = (t: Template) =>
  Object.entries(t.findResources('AWS::Lambda::Function'))
    .filter(([, r]) => JSON.stringify(r).includes('TRUSTROLL_INDEX_REFRESH_SECONDS'))
    .map(([id]) => id);

type Statement = { Action: string | string[]; Resource: unknown; Effect: string; Condition?: unknown };
const statementsOf = (t: Template, roleLogicalId: string): Statement[] =>
  Object.values(
    t.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleLogicalId }] } }),
  ).flatMap(
    (p) =>
      (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
        .Statement,
  );

describe('the revocation authorizer', () => {
  it('is made only when an API asks for it', () => {
    const s = new Stack(app(), 'Plain');
    new TruststorePipeline(s, 'Pipeline');
    expect(authorizers(Template.fromStack(s))).toEqual([]);
    expect(authorizers(build().t)).toHaveLength(1);
  });

  it('is a nodejs22.x ARM64 function configured by its environment (defaults), shared by both APIs', () => {
    const { t, stack, pipeline } = build();
    const id = stack.getLogicalId(pipeline.authorizerFunction.node.defaultChild as lambda.CfnFunction);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Timeout: 10,
      MemorySize: 512,
      Environment: {
        Variables: {
          TRUSTROLL_BUCKET: { Ref: stack.getLogicalId(pipeline.bucket.node.defaultChild as never) },
          TRUSTROLL_INDEX_REFRESH_SECONDS: '60',
          TRUSTROLL_INDEX_MAX_AGE_SECONDS: '900',
          TRUSTROLL_INDEX_UNAVAILABLE: 'deny',
          TRUSTROLL_STALE_CRL: 'deny',
          TRUSTROLL_CRL_GRACE_SECONDS: '86400',
          POWERTOOLS_SERVICE_NAME: 'trustroll',
          POWERTOOLS_METRICS_NAMESPACE: 'trustroll',
        },
      },
    });
    // One function for both APIs.
    expect(authorizers(t)).toEqual([id]);
  });

  it('passes its settings as environment variables', () => {
    const { t } = build({
      authorizer: {
        indexRefresh: Duration.seconds(30),
        indexUnavailable: 'allow',
        staleCrl: 'allow',
        crlGrace: Duration.hours(6),
        memorySize: 1024,
      },
    });
    t.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 1024,
      Environment: {
        Variables: Match.objectLike({
          TRUSTROLL_INDEX_REFRESH_SECONDS: '30',
          TRUSTROLL_INDEX_MAX_AGE_SECONDS: '450',
          TRUSTROLL_INDEX_UNAVAILABLE: 'allow',
          TRUSTROLL_STALE_CRL: 'allow',
          TRUSTROLL_CRL_GRACE_SECONDS: '21600',
        }),
      },
    });
  });

  it('may read the revocation index (any version) and nothing else: no list, no write, no other key', () => {
    const { t, stack, pipeline } = build();
    const role = stack.getLogicalId(pipeline.authorizerFunction.role!.node.defaultChild as iam.CfnRole);
    const bucketArn = {
      'Fn::GetAtt': [stack.getLogicalId(pipeline.bucket.node.defaultChild as never), 'Arn'],
    };
    const statements = statementsOf(t, role);
    expect(statements).toEqual([
      { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: expect.anything() },
      {
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:GetObjectVersion'],
        Resource: { 'Fn::Join': ['', [bucketArn, '/revocation/index.trx']] },
      },
    ]);
    const roleResource = t.findResources('AWS::IAM::Role')[role] as {
      Properties: { ManagedPolicyArns?: unknown; Policies?: unknown };
    };
    expect(roleResource.Properties.ManagedPolicyArns).toBeUndefined();
    expect(roleResource.Properties.Policies).toBeUndefined();
  });

  it('is a REST REQUEST authorizer with no result cache and no identity source', () => {
    const { t } = build();
    t.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      Type: 'REQUEST',
      AuthorizerResultTtlInSeconds: 0,
      IdentitySource: Match.absent(),
    });
    t.hasResourceProperties('AWS::ApiGateway::Method', { HttpMethod: 'GET', AuthorizationType: 'CUSTOM' });
    t.hasResourceProperties('AWS::Lambda::Permission', {
      Principal: 'apigateway.amazonaws.com',
      Action: 'lambda:InvokeFunction',
    });
  });

  it('is an HTTP API authorizer with payload 2.0, simple responses, no cache and no identity source', () => {
    const { t } = build();
    t.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST',
      AuthorizerPayloadFormatVersion: '2.0',
      EnableSimpleResponses: true,
      AuthorizerResultTtlInSeconds: 0,
      IdentitySource: [],
    });
  });

  it('refuses a REST result cache without identity sources (a cached Allow would serve every client)', () => {
    const s = new Stack(app(), 'Cached');
    const p = new TruststorePipeline(s, 'Pipeline');
    expect(() => p.restAuthorizer({ resultsCacheTtl: Duration.minutes(5) })).toThrow(/Identity Source/);
  });

  it('has alarms on its errors and throttles', () => {
    const { t } = build();
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      AlarmDescription: Match.stringLikeRegexp('authorizer failed'),
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Throttles',
      AlarmDescription: Match.stringLikeRegexp('authorizer was throttled'),
    });
  });

  it("adds its allow and deny decisions to the pipeline's dashboard, with its pipeline's dimension", () => {
    const { t } = build();
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          TRUSTROLL_INDEX_REFRESH_SECONDS: '60',
          TRUSTROLL_PIPELINE: 'Authorizer/Pipeline',
        }),
      },
    });
    const [board] = Object.values(t.findResources('AWS::CloudWatch::Dashboard'));
    const body = JSON.stringify(board!.Properties.DashboardBody);
    expect(body).toMatch(/Authorizer decisions.*AuthorizerAllow.*Authorizer\/Pipeline.*AuthorizerDeny/);
  });

  it('leaves cdk-nag AwsSolutions nothing to report on the pipeline with its authorizer', () => {
    const a = app();
    const s = new Stack(a, 'Nag');
    const p = new TruststorePipeline(s, 'Pipeline');
    p.authorizerFunction;
    Validations.of(a).addPlugins(new AwsSolutionsChecks(a));
    expect(() => a.synth()).not.toThrow();
  });
});

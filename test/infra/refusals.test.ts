import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as logs from 'aws-cdk-lib/aws-logs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { TruststorePipeline } from '../../infra/truststore-pipeline.js';
import { ACCESS_LOG_FIELDS } from '../../shared/refusals/access-log.js';

/** Synthesises without bundling the Lambda code. */
const app = () => new App({ context: { 'aws:cdk:bundling-stacks': [] } });

/** A pipeline watching the access log of a REST API stage written in trustroll's format. */
const build = () => {
  const a = app();
  const stack = new Stack(a, 'Refusals');
  const pipeline = new TruststorePipeline(stack, 'Pipeline');
  const accessLogs = new logs.LogGroup(stack, 'ApiAccessLogs');
  const api = new apigateway.RestApi(stack, 'Api', {
    disableExecuteApiEndpoint: true,
    deployOptions: {
      accessLogDestination: new apigateway.LogGroupLogDestination(accessLogs),
      accessLogFormat: TruststorePipeline.restAccessLogFormat(),
    },
  });
  api.root.addMethod('GET', new apigateway.MockIntegration());
  pipeline.watchRefusals(accessLogs);
  return { a, stack, pipeline, t: Template.fromStack(stack) };
};

describe('watching the refused handshakes', () => {
  it('has the stage log every client certificate variable, one JSON line per request', () => {
    const { t } = build();
    const [stage] = Object.values(t.findResources('AWS::ApiGateway::Stage'));
    const format = stage!.Properties.AccessLogSetting.Format as string;
    expect(JSON.parse(format)).toEqual(
      Object.fromEntries(Object.entries(ACCESS_LOG_FIELDS).map(([k, v]) => [k, v])),
    );
    expect(format).toContain('"clientCertPem":"$context.identity.clientCert.clientCertPem"');
    expect(TruststorePipeline.accessLogFormat()).toBe(format);
  });

  it('subscribes the refusals function to the log group with a filter that passes refusals only', () => {
    const { t, stack, pipeline } = build();
    t.hasResourceProperties('AWS::Logs::SubscriptionFilter', {
      FilterPattern: '{ $.subjectDN != "-" }',
      DestinationArn: {
        'Fn::GetAtt': [stack.getLogicalId(pipeline.refusalsFunction.node.defaultChild as never), 'Arn'],
      },
    });
    t.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: Match.stringLikeRegexp('^logs.'),
    });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Environment: { Variables: Match.objectLike({ TRUSTROLL_PIPELINE: 'Refusals/Pipeline' }) },
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      AlarmDescription: Match.stringLikeRegexp('refusals subscriber failed'),
    });
    const [board] = Object.values(t.findResources('AWS::CloudWatch::Dashboard'));
    expect(JSON.stringify(board!.Properties.DashboardBody)).toMatch(
      /Refused mutual TLS handshakes.*HandshakesRefused/,
    );
  });

  it('is made only when a log group is watched, and leaves cdk-nag nothing to report', () => {
    const plain = new Stack(app(), 'Plain');
    new TruststorePipeline(plain, 'Pipeline');
    expect(Template.fromStack(plain).findResources('AWS::Logs::SubscriptionFilter')).toEqual({});
    const { a } = build();
    Validations.of(a).addPlugins(new AwsSolutionsChecks(a));
    expect(() => a.synth()).not.toThrow();
  });
});

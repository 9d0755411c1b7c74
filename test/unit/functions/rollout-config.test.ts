import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { ConfigError, readConfig } from '../../../functions/lib/config.js';
import { readRolloutConfig } from '../../../functions/lib/rollout-config.js';
import { executionName, SfnRollouts } from '../../../shared/adapters/aws/rollout-executions.js';
import { UpstreamError } from '../../../shared/errors.js';

const base = {
  TRUSTROLL_BUCKET: 'b-bucket',
  TRUSTROLL_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:trustroll-alerts',
  AWS_REGION: 'eu-west-1',
};
const targets = JSON.stringify({
  waves: ['canary', 'rest'],
  targets: [
    { id: 'api', kind: 'apigateway-rest', resource: 'api.example.com', wave: 'canary' },
    { id: 'mtls', kind: 'apigateway-http', resource: 'mtls.example.com', wave: 'rest' },
  ],
});
const MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:RolloutMachine1234';

describe('the rollout step function configuration', () => {
  it('reads the targets from TRUSTROLL_TARGETS, with the rollout defaults', () => {
    const config = readRolloutConfig({ ...base, TRUSTROLL_TARGETS: targets });
    expect(config.targets?.targets.map((t) => t.id)).toEqual(['api', 'mtls']);
    expect(config.targets?.settings.minUpdateIntervalMs).toBe(30_000);
    expect(config.region).toBe('eu-west-1');
  });

  it('takes the object key of a large targets file instead (read at cold start)', () => {
    expect(readRolloutConfig({ ...base, TRUSTROLL_TARGETS_KEY: 'config/targets.json' })).toEqual({
      ...{ bucket: 'b-bucket', topicArn: base.TRUSTROLL_TOPIC_ARN, region: 'eu-west-1' },
      targetsKey: 'config/targets.json',
      expiryThresholds: [60, 30, 14, 7, 3, 1],
    });
  });

  it("takes the scan's thresholds for the report it publishes when a rollout ends, and refuses bad ones", () => {
    expect(
      readRolloutConfig({ ...base, TRUSTROLL_TARGETS_KEY: 'k', TRUSTROLL_EXPIRY_THRESHOLDS: '90, 45' })
        .expiryThresholds,
    ).toEqual([90, 45]);
    expect(() =>
      readRolloutConfig({ ...base, TRUSTROLL_TARGETS_KEY: 'k', TRUSTROLL_EXPIRY_THRESHOLDS: '30,soon' }),
    ).toThrow(/TRUSTROLL_EXPIRY_THRESHOLDS must be whole numbers of days/);
  });

  it('reports every problem at once: missing bucket, both sources, a probe key outside probes/', () => {
    const error = (() => {
      try {
        readRolloutConfig({
          TRUSTROLL_TOPIC_ARN: 'not-an-arn',
          TRUSTROLL_TARGETS: targets,
          TRUSTROLL_TARGETS_KEY: 'k',
        });
      } catch (e) {
        return e as Error;
      }
      throw new Error('no error');
    })();
    expect(error).toBeInstanceOf(ConfigError);
    for (const part of [
      'TRUSTROLL_BUCKET is required',
      'AWS_REGION is required',
      'must be an SNS topic ARN',
      'not both',
    ])
      expect(error.message).toContain(part);
    const withProbe = JSON.parse(targets);
    withProbe.targets[0].probe = {
      url: 'https://api.example.com/',
      clientCert: '/etc/probe.crt',
      clientKey: 'probes/k.pem',
    };
    expect(() => readRolloutConfig({ ...base, TRUSTROLL_TARGETS: JSON.stringify(withProbe) })).toThrow(
      /probe file "\/etc\/probe.crt" must be an object key under probes\//,
    );
  });

  it('lets the ingest function start rollouts instead of rolling domains, never both', () => {
    const ingest = {
      ...base,
      TRUSTROLL_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/trustroll-uploads.fifo',
    };
    expect(readConfig({ ...ingest, TRUSTROLL_STATE_MACHINE_ARN: MACHINE }).stateMachineArn).toBe(MACHINE);
    expect(() => readConfig({ ...ingest, TRUSTROLL_STATE_MACHINE_ARN: 'arn:aws:sns:x' })).toThrow(
      /TRUSTROLL_STATE_MACHINE_ARN must be a Step Functions state machine ARN/,
    );
    expect(() =>
      readConfig({ ...ingest, TRUSTROLL_STATE_MACHINE_ARN: MACHINE, TRUSTROLL_DOMAINS: 'api.example.com' }),
    ).toThrow(/exclude each other/);
  });
});

describe('SfnRollouts', () => {
  const sfn = mockClient(SFNClient);

  it('starts one execution named for the release, with the release as input', async () => {
    sfn.reset();
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:x' });
    const release = { revision: 7, version: '3/L4kq+tJlcp.Xro' };
    expect(await new SfnRollouts(new SFNClient({ region: 'eu-west-1' }), MACHINE).start(release)).toEqual({
      started: true,
      name: executionName(release),
    });
    expect(sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input)).toEqual([
      { stateMachineArn: MACHINE, name: executionName(release), input: JSON.stringify({ release }) },
    ]);
    // Execution names allow letters, digits, - and _ only, at most 80.
    expect(executionName(release)).toMatch(/^rollout-7-[0-9a-f]{32}$/);
    expect(executionName({ ...release, version: 'other' })).not.toBe(executionName(release));
  });

  it('takes ExecutionAlreadyExists as started before, and maps other errors', async () => {
    sfn.reset();
    sfn
      .on(StartExecutionCommand)
      .rejectsOnce(Object.assign(new Error('exists'), { name: 'ExecutionAlreadyExists' }));
    const rollouts = new SfnRollouts(new SFNClient({ region: 'eu-west-1' }), MACHINE);
    expect((await rollouts.start({ revision: 1, version: 'v' })).started).toBe(false);
    sfn
      .on(StartExecutionCommand)
      .rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    await expect(rollouts.start({ revision: 1, version: 'v' })).rejects.toThrow(UpstreamError);
  });
});

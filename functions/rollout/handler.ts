import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import middy from '@middy/core';
import { S3ObjectStore } from '../../shared/adapters/aws/s3-store.js';
import { SnsNotifier } from '../../shared/adapters/aws/sns-notifier.js';
import { AwsTargets } from '../../shared/adapters/aws/targets.js';
import { InputError } from '../../shared/errors.js';
import { loadState } from '../../shared/pipeline/state-store.js';
import { type Clock, systemClock } from '../../shared/ports.js';
import type { Rollout, RolloutConfig } from '../../shared/rollout/model.js';
import { rolloutKey } from '../../shared/rollout/records.js';
import { startRollout, stepRollout } from '../../shared/rollout/step.js';
import {
  checkLimits,
  limitsRefusedNotification,
  parseRolloutConfigText,
} from '../../shared/rollout/targets.js';
import { KEYS, latestPublished } from '../../shared/truststore/state.js';
import { clientOptions, powertoolsLog, s3Options } from '../lib/clients.js';
import { ConfigError } from '../lib/config-error.js';
import { checkedTargets, readRolloutConfig } from '../lib/rollout-config.js';

/**
 * What the state machine gives a step: the record the previous step returned, or, for the first
 * step, the release the ingest function started the execution with.
 */
export interface StepEvent {
  readonly rollout?: Rollout;
  readonly release?: { readonly revision: number; readonly version: string };
}

/** What a step returns: the Choice state reads `done`, the Wait state `waitSeconds`. */
export interface StepOutput {
  readonly rollout: Rollout;
  readonly waitSeconds: number;
  readonly done: boolean;
}

const env = process.env;
const config = readRolloutConfig(env);
const logger = new Logger({ serviceName: 'trustroll' });
const log = powertoolsLog(logger);
const store = new S3ObjectStore(new S3Client(s3Options(env)), config.bucket);
const notifier = new SnsNotifier(new SNSClient(clientOptions(env)), config.topicArn);

/** The targets, from the environment or (a large file) the bucket, read once per cold start. */
const targets: RolloutConfig = config.targets ?? (await readTargetsObject(config.targetsKey!));

async function readTargetsObject(key: string): Promise<RolloutConfig> {
  try {
    const text = new TextDecoder().decode((await store.get(key)).body);
    return checkedTargets(parseRolloutConfigText(text, { source: `s3://${config.bucket}/${key}` }));
  } catch (error) {
    throw new ConfigError(`trustroll rollout is misconfigured: ${(error as Error).message}.`, {
      cause: error,
    });
  }
}

const gateway = new AwsTargets({
  truststoreUri: `s3://${config.bucket}/${KEYS.truststore}`,
  region: config.region,
  store,
  clientOptions: clientOptions(env),
});

/**
 * One step of a rollout (a Step Functions task): starts the rollout from the release on the first
 * step (refusing, with an alert, a version the targets' limits refuse: no target is touched), reads the latest published version (a newer one supersedes this rollout), advances the
 * rollout as far as it can without waiting (`stepRollout`), writes the record to
 * `rollouts/<id>.json`, and returns it with how long the Wait state should wait. A step that
 * fails is retried by the state machine from the same record: every action it takes repeats safely.
 */
export const stepHandler =
  (clock: Clock) =>
  async (event: StepEvent): Promise<StepOutput> => {
    const now = clock.now();
    const rollout = event.rollout ?? (event.release ? startRollout(targets, event.release, now) : undefined);
    if (!rollout)
      throw new InputError('a rollout step needs { "rollout": … } or { "release": { revision, version } }');
    logger.appendKeys({ rolloutId: rollout.id });
    const latest = latestPublished((await loadState(store)).state)?.version;
    // Before the first target is touched, the version must be one every target can take: a
    // version some target refuses is rolled to none (never to half of them), and alerted.
    const refused =
      event.rollout === undefined && event.release && latest === event.release.version
        ? await limitsRefusal(rollout, now)
        : undefined;
    const { rollout: next, waitMs } = refused
      ? { rollout: refused, waitMs: undefined }
      : await stepRollout(
          rollout,
          { config: targets, gateway, clock, log, notifier },
          latest === undefined ? {} : { latestVersion: latest },
        );
    await store.put(rolloutKey(next.id), new TextEncoder().encode(`${JSON.stringify(next, null, 2)}\n`), {
      contentType: 'application/json',
    });
    const done = waitMs === undefined;
    logger.info(done ? 'rollout ended' : 'rollout step done', {
      status: next.status,
      wave: next.waves[next.wave],
      phases: Object.fromEntries(next.targets.map((t) => [t.id, t.phase])),
      ...(done ? {} : { waitMs }),
    });
    // The Wait state counts whole seconds; a step never asks for none (it would spin).
    return { rollout: next, waitSeconds: done ? 0 : Math.max(1, Math.ceil(waitMs / 1000)), done };
  };

/**
 * The rollout ended `failed` before it started, every target `skipped`, when the targets' limits
 * refuse the version (checkLimits: API Gateway's size and chain, ELB's quotas); alerted once per
 * version. Undefined when every target can take it.
 */
const limitsRefusal = async (rollout: Rollout, now: Date): Promise<Rollout | undefined> => {
  const truststore = (await store.get(KEYS.truststore, { version: rollout.version })).body;
  const refusals = checkLimits(targets, { version: rollout.version, truststore });
  if (refusals.length === 0) return undefined;
  log.error('truststore version refused by the targets', {
    version: rollout.version,
    refusals: refusals.map((r) => `${r.target}: ${r.finding.code}`),
  });
  await notifier.publish(
    limitsRefusedNotification({ revision: rollout.revision, version: rollout.version }, refusals),
  );
  const targetsRefusing = [...new Set(refusals.map((r) => r.target))];
  return {
    ...rollout,
    status: 'failed',
    updatedAt: now.toISOString(),
    reason: `refused by the limits of ${targetsRefusing.join(', ')}: ${[...new Set(refusals.map((r) => r.finding.code))].join(', ')}`,
    targets: rollout.targets.map((t) => ({ ...t, phase: 'skipped' as const })),
  };
};

/** The step with Lambda's clock (tests drive `stepHandler` with a fake one). */
export const lambdaHandler = stepHandler(systemClock);

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger, { clearState: true }));

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { afterAll, describe, expect, it } from 'vitest';
import { TruststorePipeline } from '../../infra/truststore-pipeline.js';
import { buildFunctions } from '../../scripts/build-functions.js';

// The schema namespaces each API Gateway SDK client carries in a bundle.
const REST_CLIENT = '"com.amazonaws.apigateway"';
const HTTP_CLIENT = '"com.amazonaws.apigatewayv2"';

const outdirs: string[] = [];
afterAll(() => {
  for (const d of outdirs) rmSync(d, { recursive: true, force: true });
});

/** Which API Gateway clients a bundle carries (compared as booleans: a failure should not print 600 KB). */
const clientsIn = (file: string) => {
  const text = readFileSync(file, 'utf8');
  return { rest: text.includes(REST_CLIENT), http: text.includes(HTTP_CLIENT) };
};

/** Synthesises the construct with real NodejsFunction bundling (local esbuild) and returns the ingest bundle. */
const ingestBundle = (domains: { name: string; type: 'REST' | 'HTTP' }[]): string => {
  const outdir = mkdtempSync(join(tmpdir(), 'trustroll-cdk-'));
  outdirs.push(outdir);
  const app = new App({ outdir });
  const stack = new Stack(app, 'Bundling');
  const pipeline = new TruststorePipeline(stack, 'Pipeline', { domains });
  app.synth();
  const { code } = pipeline.ingestFunction.node.defaultChild as unknown as { code: { s3Key: string } };
  const key = code.s3Key;
  return join(outdir, `asset.${key.replace(/\.zip$/, '')}`, 'index.mjs');
};

/** Synthesises a pipeline with targets, bundled for real, and returns the rollout step's bundle. */
const rolloutBundle = (): string => {
  const outdir = mkdtempSync(join(tmpdir(), 'trustroll-cdk-'));
  outdirs.push(outdir);
  const app = new App({ outdir });
  const stack = new Stack(app, 'Rollout');
  const pipeline = new TruststorePipeline(stack, 'Pipeline', {
    targets: [
      { id: 'api', kind: 'apigateway-rest', resource: 'api.example.com', wave: 'canary' },
      {
        id: 'alb',
        kind: 'elb-trust-store',
        resource: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:truststore/partners/0123456789abcdef',
        wave: 'rest',
        region: 'eu-west-1',
      },
    ],
  });
  app.synth();
  const { code } = pipeline.rolloutFunction!.node.defaultChild as unknown as { code: { s3Key: string } };
  return join(outdir, `asset.${code.s3Key.replace(/\.zip$/, '')}`, 'index.mjs');
};

const importRollout = (file: string, targets: string) =>
  spawnSync('node', ['--input-type=module', '-e', `await import(${JSON.stringify(`file://${file}`)})`], {
    encoding: 'utf8',
    env: {
      ...process.env,
      AWS_REGION: 'eu-west-1',
      TRUSTROLL_BUCKET: 'trustroll-bucket',
      TRUSTROLL_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:alerts',
      TRUSTROLL_TARGETS: targets,
    },
  });

const importWith = (file: string, domains: string) =>
  spawnSync('node', ['--input-type=module', '-e', `await import(${JSON.stringify(`file://${file}`)})`], {
    encoding: 'utf8',
    env: {
      ...process.env,
      AWS_REGION: 'eu-west-1',
      TRUSTROLL_BUCKET: 'trustroll-bucket',
      TRUSTROLL_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:alerts',
      TRUSTROLL_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/trustroll-uploads.fifo',
      TRUSTROLL_DOMAINS: domains,
    },
  });

// Each test synthesises the construct with real esbuild bundling: 10-25 s on a loaded 2-core
// machine, and once 64-68 s in CI. A wide limit: slow is not broken here.
describe('Lambda bundles of the construct', { timeout: 300_000 }, () => {
  it('carry only the API Gateway client the configured domains need, and refuse a domain of the other kind at cold start', () => {
    const rest = ingestBundle([{ name: 'api.example.com', type: 'REST' }]);
    expect(clientsIn(rest)).toEqual({ rest: true, http: false });

    expect(importWith(rest, 'api.example.com:REST').status).toBe(0);
    const wrong = importWith(rest, 'mtls.example.com:HTTP');
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).toMatch(
      /ConfigError\]?: trustroll is misconfigured: TRUSTROLL_DOMAINS: mtls\.example\.com is HTTP but this bundle was built without the HTTP API client/,
    );
  });

  it('are the very bytes npm run build:functions builds for the same domain kinds (what the bench measures)', async () => {
    const deployed = ingestBundle([{ name: 'api.example.com', type: 'REST' }]);
    const outdir = mkdtempSync(join(tmpdir(), 'trustroll-fn-'));
    outdirs.push(outdir);
    const built = await buildFunctions(outdir, ['REST']);
    expect(readFileSync(built.ingest!).equals(readFileSync(deployed))).toBe(true);
  });

  it('carry the apigatewayv2 client alone for HTTP API domains, and both for both kinds', () => {
    expect(clientsIn(ingestBundle([{ name: 'mtls.example.com', type: 'HTTP' }]))).toEqual({
      rest: false,
      http: true,
    });
    const both = ingestBundle([
      { name: 'api.example.com', type: 'REST' },
      { name: 'mtls.example.com', type: 'HTTP' },
    ]);
    expect(clientsIn(both)).toEqual({ rest: true, http: true });
  });

  it('bundle the rollout step with the clients its targets need (REST, ELB, STS, not apigatewayv2), which checks its targets at cold start', () => {
    const bundle = rolloutBundle();
    const text = readFileSync(bundle, 'utf8');
    expect({
      rest: text.includes(REST_CLIENT),
      http: text.includes(HTTP_CLIENT),
      elb: text.includes('"com.amazonaws.elasticloadbalancingv2"'),
      sts: text.includes('"com.amazonaws.sts"'),
    }).toEqual({ rest: true, http: false, elb: true, sts: true });
    const targets = {
      waves: ['canary'],
      targets: [{ id: 'api', kind: 'apigateway-rest', resource: 'api.example.com', wave: 'canary' }],
    };
    expect(importRollout(bundle, JSON.stringify(targets)).status).toBe(0);
    const wrong = importRollout(bundle, JSON.stringify({ ...targets, waves: ['other'] }));
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).toMatch(
      /ConfigError\]?: trustroll rollout is misconfigured: the targets configuration in TRUSTROLL_TARGETS has/,
    );
  });
});

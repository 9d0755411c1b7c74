import { describe, expect, it } from 'vitest';
import { InputError } from '../../../shared/errors.js';
import type { RolloutConfig } from '../../../shared/rollout/model.js';
import {
  assertWithinLimits,
  checkLimits,
  checkRolloutConfig,
  DEFAULT_ROLLOUT_SETTINGS,
  ELB_LIMITS,
  limitsRefusedNotification,
  parseRolloutConfig,
  parseRolloutConfigText,
} from '../../../shared/rollout/targets.js';
import { intermediate, root, toBytes } from '../../fixtures/pki.js';

const TRUST_STORE =
  'arn:aws:elasticloadbalancing:eu-west-1:123456789012:truststore/partners/0123456789abcdef';

const good = {
  waves: ['canary', 'rest'],
  targets: [
    {
      id: 'canary',
      kind: 'apigateway-rest',
      resource: 'canary.example.com',
      wave: 'canary',
      probe: { url: 'https://canary.example.com/', clientCert: 'probe.pem', clientKey: 'probe.key' },
    },
    {
      id: 'eu-http',
      kind: 'apigateway-http',
      resource: 'api.example.eu',
      wave: 'rest',
      region: 'eu-central-1',
      account: '210987654321',
      roleArn: 'arn:aws:iam::210987654321:role/trustroll-roll',
      externalId: 'trustroll-abc',
    },
    { id: 'alb', kind: 'elb-trust-store', resource: TRUST_STORE, wave: 'rest' },
  ],
};

describe('parseRolloutConfig', () => {
  it('reads a good configuration, with the default settings', () => {
    const config = parseRolloutConfig(good);
    expect(config.waves).toEqual(['canary', 'rest']);
    expect(config.targets.map((t) => t.id)).toEqual(['canary', 'eu-http', 'alb']);
    expect(config.targets[1]).toMatchObject({ account: '210987654321', externalId: 'trustroll-abc' });
    expect(config.settings).toEqual(DEFAULT_ROLLOUT_SETTINGS);
  });

  it('refuses ids differing only in case, one resource twice, and ports that are 0 or below 1024, saying why', () => {
    const api = (id: string, resource: string, extra: Record<string, unknown> = {}) => ({
      id,
      kind: 'apigateway-rest',
      resource,
      wave: 'w',
      ...extra,
    });
    const { problems } = checkRolloutConfig({
      waves: ['w'],
      targets: [
        api('eu', 'eu.example.com'),
        api('EU', 'eu2.example.com'),
        api('eu-again', 'eu.example.com'),
        api('zero', 'zero.example.com', { port: 0 }),
        api('low', 'low.example.com', { port: 443 }),
      ],
    });
    expect(problems).toContain(
      'target ids "eu" and "EU" differ only in case (targets[1]): they would share a status folder on a case-insensitive file system, and read alike in alerts; rename one',
    );
    expect(problems).toContain(
      'targets "eu" and "eu-again" are the same API Gateway custom domain eu.example.com: one resource is rolled once (REST and HTTP APIs share a custom domain name); remove one, or fix its "resource" or "region"',
    );
    // A REST and an HTTP target of one domain name are one domain too.
    expect(
      checkRolloutConfig({
        waves: ['w'],
        targets: [
          api('rest', 'api.example.com'),
          { ...api('http', 'api.example.com'), kind: 'apigateway-http' },
        ],
      }).problems,
    ).toEqual([
      'targets "rest" and "http" are the same API Gateway custom domain api.example.com: one resource is rolled once (REST and HTTP APIs share a custom domain name); remove one, or fix its "resource" or "region"',
    ]);
    expect(problems.filter((p) => p.includes('must be a whole number from 1024 to 65535'))).toHaveLength(2);
    expect(problems.find((p) => p.startsWith('target "low"'))).toMatch(/ports below 1024 need privileges/);
    // The same custom domain name in two regions (multi-region) is two targets.
    expect(
      checkRolloutConfig({
        waves: ['w'],
        targets: [
          api('eu', 'api.example.com', { region: 'eu-west-1' }),
          api('us', 'api.example.com', { region: 'us-east-1' }),
        ],
      }).problems,
    ).toEqual([]);
  });

  it('reports every problem at once, each saying what to fix', () => {
    const { problems, config } = checkRolloutConfig({
      waves: ['canary', 'rest', 'rest'],
      targets: [
        { id: 'a', kind: 'apigateway-rest', resource: 'a.example.com', wave: 'canery' },
        { id: 'a', kind: 'apigateway-rest', resource: 'b.example.com', wave: 'canary' },
        { id: 'c', kind: 'cloudfront', resource: 'c.example.com', wave: 'rest' },
        { id: 'd', kind: 'elb-trust-store', resource: 'd.example.com', wave: 'rest' },
        { id: 'e', kind: 'apigateway-http', resource: 'https://e.example.com/', wave: 'rest' },
        {
          id: 'f',
          kind: 'apigateway-rest',
          resource: 'f.example.com',
          wave: 'rest',
          roleArn: 'arn:aws:iam::123456789012:role/r',
        },
        {
          id: 'g',
          kind: 'apigateway-rest',
          resource: 'g.example.com',
          wave: 'rest',
          account: '999999999999',
          roleArn: 'arn:aws:iam::123456789012:role/r',
        },
        { id: 'h', kind: 'apigateway-rest', resource: 'h.example.com', wave: 'rest', externalId: 'xyz' },
        { id: 'i', kind: 'elb-trust-store', resource: TRUST_STORE, wave: 'rest', account: '999999999999' },
        {
          id: 'j',
          kind: 'apigateway-rest',
          resource: 'j.example.com',
          wave: 'rest',
          probe: { url: 'http://j/' },
        },
        { id: 'k', kind: 'apigateway-rest', resource: 'k.example.com', wave: 'rest', colour: 'blue' },
      ],
    });
    expect(config).toBeUndefined();
    const text = problems.join('\n');
    for (const expected of [
      'wave "rest" is listed twice in "waves"',
      'target "a": "wave" "canery" is not a wave of "waves"',
      'target id "a" is used twice',
      'target "c": "kind" "cloudfront" is not one of apigateway-rest, apigateway-http, elb-trust-store',
      'target "d": "resource" "d.example.com" is not a trust store ARN',
      'the id 16 lowercase hexadecimal digits (copy TrustStoreArn from aws elbv2 describe-trust-stores)',
      'target "e": "resource" "https://e.example.com/" is not a domain name',
      'target "f": "roleArn" needs "account"',
      'target "g": "roleArn" is in account 123456789012, but "account" is 999999999999',
      'target "h": "externalId" without "roleArn"',
      'target "i": "account" 999999999999 differs from the trust store ARN\'s account 123456789012',
      'target "j": "probe.url" "http://j/" must be an https:// URL',
      'target "j": "probe.clientCert" is missing',
      'target "k": unknown field "colour"',
    ])
      expect(text).toContain(expected);
    expect(problems).toHaveLength(14);
  });

  it('throws one InputError listing the problems, naming the file', () => {
    expect(() => parseRolloutConfigText('{"waves": []}', { source: 'targets.json' })).toThrow(InputError);
    expect(() => parseRolloutConfigText('{"waves": []}', { source: 'targets.json' })).toThrow(
      /the targets configuration targets\.json has 2 problems: \(1\) "waves" must be a non-empty list.*; \(2\) "targets" must be/,
    );
    expect(() => parseRolloutConfigText('{nope', { source: 't.json' })).toThrow(/t\.json is not JSON/);
  });

  it('refuses a wave without a target and a bad setting', () => {
    const { problems } = checkRolloutConfig({
      ...good,
      waves: ['canary', 'rest', 'later'],
      settings: { maxAttempts: 0, pollMs: 3 },
    });
    expect(problems).toEqual([
      'wave "later" has no target: remove it from "waves", or put a target in it',
      '"settings.maxAttempts" 0 must be a whole number from 1 to 86400000',
      'unknown field "settings.pollMs": the fields are pollIntervalMs, updateTimeoutMs, minUpdateIntervalMs, maxAttempts',
    ]);
  });
});

const only = (kind: 'apigateway-rest' | 'elb-trust-store'): RolloutConfig => ({
  waves: ['w'],
  targets: [
    kind === 'elb-trust-store'
      ? { id: 'alb', kind, resource: TRUST_STORE, wave: 'w' }
      : { id: 'api', kind, resource: 'api.example.com', wave: 'w' },
  ],
  settings: DEFAULT_ROLLOUT_SETTINGS,
});

describe('checkLimits', () => {
  it('refuses a chain of five for both kinds, naming the target and the limit (chain.too-long)', async () => {
    const r = await root('CN=Limit Root');
    let ca = r;
    const chain = [r];
    for (let i = 1; i <= 4; i++) {
      ca = await intermediate(`CN=Limit Level ${i}`, ca, { pathLen: undefined });
      chain.push(ca);
    }
    const truststore = toBytes(chain.map((c) => c.pem).join('\n'));
    const config: RolloutConfig = {
      ...only('apigateway-rest'),
      targets: [...only('apigateway-rest').targets, ...only('elb-trust-store').targets],
    };
    const refusals = checkLimits(config, { version: '9', truststore });
    expect(refusals.map((x) => [x.target, x.finding.code, x.finding.cert?.subject])).toEqual([
      ['api', 'chain.too-long', 'CN=Limit Level 4'],
      ['alb', 'chain.too-long', 'CN=Limit Level 4'],
    ]);
    expect(() => assertWithinLimits(config, { version: '9', truststore })).toThrow(
      /truststore version 9 is not rolled out: 2 target\(s\) cannot take it, and no target is rolled: \(1\) api \(apigateway-rest\): chain\.too-long: CN=Limit Level 4: .*limit is 4/,
    );
    const alert = limitsRefusedNotification({ revision: 4, version: '9' }, refusals);
    expect(alert).toMatchObject({
      eventType: 'truststore.roll-failed',
      id: 'truststore.roll-failed:limits:9',
      subject: '[trustroll] truststore version 9 not rolled out: api, alb cannot take it',
    });
    expect(alert.body).toContain('- alb (elb-trust-store): chain.too-long: CN=Limit Level 4:');
    // Four is fine.
    expect(
      checkLimits(config, {
        version: '8',
        truststore: toBytes(
          chain
            .slice(0, 4)
            .map((c) => c.pem)
            .join(''),
        ),
      }),
    ).toEqual([]);
  });

  it("refuses a truststore over API Gateway's 1000 KB with the lint's code, and not an ELB trust store for it", async () => {
    const r = await root('CN=Big Root');
    const truststore = toBytes(`${r.pem}${'\n'.repeat(1_000_001)}`);
    expect(
      checkLimits(only('apigateway-rest'), { version: '9', truststore }).map((x) => x.finding.code),
    ).toEqual(['truststore.too-large']);
    expect(checkLimits(only('elb-trust-store'), { version: '9', truststore })).toEqual([]);
  });

  it('refuses more than 25 CA certificates, and long subjects, for an ELB trust store only', async () => {
    const roots = await Promise.all(
      Array.from({ length: ELB_LIMITS.caCertificates + 1 }, (_, i) =>
        root(`CN=${'Long Subject '.repeat(15)}${i},O=${'Long Organisation '.repeat(11)}`),
      ),
    );
    const truststore = toBytes(roots.map((c) => c.pem).join('\n'));
    expect(
      checkLimits(only('elb-trust-store'), { version: '9', truststore }).map((x) => x.finding.code),
    ).toEqual(['elb.too-many-cas', 'elb.subjects-too-large']);
    expect(checkLimits(only('apigateway-rest'), { version: '9', truststore })).toEqual([]);
  });

  it('refuses revocation files beyond the ELB quotas', async () => {
    const r = await root('CN=Crl Root');
    const crls = [
      { name: 'huge.crl', bytes: 50_000_001, entries: 10 },
      ...Array.from({ length: 30 }, (_, i) => ({ name: `c${i}.crl`, bytes: 100, entries: 20_000 })),
    ];
    const refusals = checkLimits(only('elb-trust-store'), { version: '9', truststore: toBytes(r.pem), crls });
    expect(refusals.map((x) => x.finding.code)).toEqual([
      'elb.too-many-crls',
      'elb.crl-too-large',
      'elb.too-many-revocations',
    ]);
    expect(refusals[1]!.finding.message).toContain('huge.crl is 50000001 bytes');
  });
});

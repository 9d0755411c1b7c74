import {
  APIGatewayClient,
  GetDomainNameCommand,
  TooManyRequestsException,
  UpdateDomainNameCommand,
} from '@aws-sdk/client-api-gateway';
import {
  ApiGatewayV2Client,
  GetDomainNameCommand as GetHttpDomain,
  TooManyRequestsException as HttpTooManyRequests,
  UpdateDomainNameCommand as UpdateHttpDomain,
} from '@aws-sdk/client-apigatewayv2';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { ApiGatewayDomains, apiGatewayDomains } from '../../../../shared/adapters/aws/api-gateway.js';
import { HttpDomainApi } from '../../../../shared/adapters/aws/http-domains.js';
import { RestDomainApi } from '../../../../shared/adapters/aws/rest-domains.js';
import { InputError, ThrottledError } from '../../../../shared/errors.js';
import { rollDomains } from '../../../../shared/pipeline/roll.js';
import { FakeClock, MemoryNotifier, memoryLog } from '../../../fakes/fakes.js';

const rest = mockClient(APIGatewayClient);
const http = mockClient(ApiGatewayV2Client);
const URI = 's3://trustroll-bucket/truststore/truststore.pem';

const gateway = () =>
  new ApiGatewayDomains(
    {
      REST: new RestDomainApi(new APIGatewayClient({ region: 'us-east-1' })),
      HTTP: new HttpDomainApi(new ApiGatewayV2Client({ region: 'us-east-1' })),
    },
    [
      { name: 'api.example.com', kind: 'REST' },
      { name: 'http.example.com', kind: 'HTTP' },
    ],
    URI,
  );

const restDomain = (status: string, version: string, warnings: string[] = []) => ({
  domainName: 'api.example.com',
  domainNameStatus: status,
  mutualTlsAuthentication: { truststoreUri: URI, truststoreVersion: version, truststoreWarnings: warnings },
});

beforeEach(() => {
  rest.reset();
  http.reset();
});

describe('ApiGatewayDomains', () => {
  it('reads a REST domain: status, truststore version and warnings', async () => {
    rest.on(GetDomainNameCommand).resolves(restDomain('UPDATING', 'v1', ['w']) as never);
    expect(await gateway().describe('api.example.com')).toEqual({
      name: 'api.example.com',
      status: 'UPDATING',
      truststoreUri: URI,
      truststoreVersion: 'v1',
      warnings: ['w'],
    });
    expect(rest.commandCalls(GetDomainNameCommand)[0]!.args[0].input).toEqual({
      domainName: 'api.example.com',
    });
  });

  it('rolls a REST domain with the replace patch on truststoreVersion', async () => {
    rest.on(GetDomainNameCommand).resolves(restDomain('AVAILABLE', 'v1') as never);
    rest.on(UpdateDomainNameCommand).resolves({});
    await gateway().roll('api.example.com', 'v2');
    expect(rest.commandCalls(UpdateDomainNameCommand).map((c) => c.args[0].input)).toEqual([
      {
        domainName: 'api.example.com',
        patchOperations: [{ op: 'replace', path: '/mutualTlsAuthentication/truststoreVersion', value: 'v2' }],
      },
    ]);
  });

  it('reads and rolls an HTTP API domain through apigatewayv2 MutualTlsAuthentication', async () => {
    http.on(GetHttpDomain).resolves({
      DomainName: 'http.example.com',
      DomainNameConfigurations: [{ DomainNameStatus: 'AVAILABLE' }],
      MutualTlsAuthentication: { TruststoreUri: URI, TruststoreVersion: 'v1', TruststoreWarnings: [] },
    });
    http.on(UpdateHttpDomain).resolves({});
    expect(await gateway().describe('http.example.com')).toMatchObject({
      status: 'AVAILABLE',
      truststoreVersion: 'v1',
    });
    await gateway().roll('http.example.com', 'v2');
    expect(http.commandCalls(UpdateHttpDomain).map((c) => c.args[0].input)).toEqual([
      {
        DomainName: 'http.example.com',
        MutualTlsAuthentication: { TruststoreUri: URI, TruststoreVersion: 'v2' },
      },
    ]);
    expect(rest.calls()).toHaveLength(0);
  });

  it('refuses to roll a domain whose truststore is another bucket or key, and says so', async () => {
    rest.on(GetDomainNameCommand).resolves({
      ...restDomain('AVAILABLE', 'v1'),
      mutualTlsAuthentication: { truststoreUri: 's3://someone-else/ts.pem', truststoreVersion: 'x' },
    } as never);
    await expect(gateway().roll('api.example.com', 'v2')).rejects.toThrow(InputError);
    await expect(gateway().roll('api.example.com', 'v2')).rejects.toThrow(
      /uses the truststore s3:\/\/someone-else\/ts\.pem/,
    );
    expect(rest.commandCalls(UpdateDomainNameCommand)).toHaveLength(0);
  });

  it('refuses to roll a REST or HTTP API domain that has no mutual TLS, with no update call', async () => {
    rest.on(GetDomainNameCommand).resolves({ domainName: 'api.example.com', domainNameStatus: 'AVAILABLE' });
    http.on(GetHttpDomain).resolves({
      DomainName: 'http.example.com',
      DomainNameConfigurations: [{ DomainNameStatus: 'AVAILABLE' }],
    });
    for (const domain of ['api.example.com', 'http.example.com']) {
      await expect(gateway().roll(domain, 'v2')).rejects.toThrow(InputError);
      await expect(gateway().roll(domain, 'v2')).rejects.toThrow(
        new RegExp(
          `${domain.replace(/\./g, '\\.')} has no mutual TLS configured: .*would turn mutual TLS on`,
        ),
      );
    }
    expect(rest.commandCalls(UpdateDomainNameCommand)).toHaveLength(0);
    expect(http.commandCalls(UpdateHttpDomain)).toHaveLength(0);
  });

  it('maps TooManyRequestsException to ThrottledError', async () => {
    rest.on(GetDomainNameCommand).resolves(restDomain('AVAILABLE', 'v1') as never);
    rest
      .on(UpdateDomainNameCommand)
      .rejects(new TooManyRequestsException({ message: 'slow down', $metadata: { httpStatusCode: 429 } }));
    await expect(gateway().roll('api.example.com', 'v2')).rejects.toBeInstanceOf(ThrottledError);
  });
});

const httpDomain = (status: string, version: string, warnings: string[] = []) => ({
  DomainName: 'http.example.com',
  DomainNameConfigurations: [{ DomainNameStatus: status }],
  MutualTlsAuthentication: { TruststoreUri: URI, TruststoreVersion: version, TruststoreWarnings: warnings },
});

type Answer = (status: string, version: string, warnings?: string[]) => object;

/** What differs between the two APIs: the commands, the shapes, where the version is written. */
interface Api {
  readonly name: string;
  readonly domain: string;
  /** Answers GetDomainName from `answer(version)` on every read. */
  readonly onRead: (answer: () => object) => void;
  /** Takes the version of each UpdateDomainName; `throttleFirst` refuses the first one with a 429. */
  readonly onUpdate: (take: (version: string) => void, throttleFirst?: boolean) => void;
  readonly domainAnswer: Answer;
  readonly rolledTo: () => (string | undefined)[];
  /** The mock of the other API, which must see no call. */
  readonly other: { calls: () => unknown[] };
}

const throttled = { message: 'slow down', $metadata: { httpStatusCode: 429 } };
const APIS: Api[] = [
  {
    name: 'REST',
    domain: 'api.example.com',
    onRead: (answer) => {
      rest.on(GetDomainNameCommand).callsFake(answer);
    },
    onUpdate: (take, throttleFirst) => {
      const on = rest.on(UpdateDomainNameCommand);
      (throttleFirst ? on.rejectsOnce(new TooManyRequestsException(throttled)) : on).callsFake((input) => {
        take(input.patchOperations[0].value);
        return {};
      });
    },
    domainAnswer: restDomain,
    rolledTo: () =>
      rest.commandCalls(UpdateDomainNameCommand).map((c) => c.args[0].input.patchOperations?.[0]?.value),
    other: http,
  },
  {
    name: 'HTTP API',
    domain: 'http.example.com',
    onRead: (answer) => {
      http.on(GetHttpDomain).callsFake(answer);
    },
    onUpdate: (take, throttleFirst) => {
      const on = http.on(UpdateHttpDomain);
      (throttleFirst ? on.rejectsOnce(new HttpTooManyRequests(throttled)) : on).callsFake((input) => {
        take(input.MutualTlsAuthentication.TruststoreVersion);
        return {};
      });
    },
    domainAnswer: httpDomain,
    rolledTo: () =>
      http
        .commandCalls(UpdateHttpDomain)
        .map((c) => c.args[0].input.MutualTlsAuthentication?.TruststoreVersion),
    other: rest,
  },
];

describe.each(APIS)('rollDomains through the $name adapter', (api) => {
  const deps = () => ({
    gateway: gateway(),
    notifier: new MemoryNotifier(),
    clock: new FakeClock(),
    log: memoryLog(),
    config: { domains: [api.domain], pollIntervalMs: 5000, minUpdateIntervalMs: 30_000 },
  });

  it('polls until AVAILABLE, reads warnings, and rolls back when the new version brings new ones', async () => {
    let version = 'v1';
    let reads = 0;
    api.onUpdate((v) => {
      version = v;
      reads = 0;
    });
    api.onRead(() => {
      reads++;
      const status = version !== 'v1' && reads <= 2 ? 'UPDATING' : 'AVAILABLE';
      return api.domainAnswer(status, version, version === 'v2' ? ['Certificate CN=Weak is invalid'] : []);
    });
    const d = deps();
    const report = await rollDomains('v2', d, { revision: 2 });
    expect(report.domains).toEqual([
      {
        domain: api.domain,
        from: 'v1',
        to: 'v2',
        outcome: 'rolled-back',
        newWarnings: ['Certificate CN=Weak is invalid'],
      },
    ]);
    expect(api.rolledTo()).toEqual(['v2', 'v1']);
    // Status reads while UPDATING are spaced by the poll interval; the roll-back waits out the 30 s pacing.
    expect(d.clock.sleeps).toContain(5000);
    expect(d.clock.sleeps.some((ms) => ms > 5000 && ms <= 30_000)).toBe(true);
    expect(d.notifier.types()).toEqual(['truststore.roll-failed']);
    expect(d.notifier.sent[0]!.body).toMatch(/rolled back to version v1/);
    expect(api.other.calls()).toHaveLength(0);
  });

  it('backs off on TooManyRequestsException and rolls once it is allowed', async () => {
    let version = 'v1';
    api.onRead(() => api.domainAnswer('AVAILABLE', version));
    api.onUpdate((v) => {
      version = v;
    }, true);
    const d = deps();
    const report = await rollDomains('v2', d, { revision: 2 });
    expect(report.domains).toMatchObject([{ outcome: 'rolled', from: 'v1', to: 'v2' }]);
    expect(api.rolledTo()).toEqual(['v2', 'v2']);
    expect(d.clock.sleeps.slice(0, 2)).toEqual([2000, 28000]);
    expect(d.notifier.types()).toEqual(['truststore.rolled']);
  });

  it('waits while the domain is still UPDATING from another change, and only then asks for the new version', async () => {
    const seen: string[] = [];
    let version = 'v1';
    let reads = 0;
    api.onRead(() => {
      const status = ++reads <= 3 ? 'UPDATING' : 'AVAILABLE';
      seen.push(`read ${status}`);
      return api.domainAnswer(status, version);
    });
    api.onUpdate((v) => {
      seen.push(`update ${v}`);
      version = v;
    });
    const d = deps();
    const report = await rollDomains('v2', d, { revision: 2 });
    expect(report.domains).toMatchObject([{ outcome: 'rolled', from: 'v1', to: 'v2' }]);
    // The read before the update is the adapter checking that the truststore URI is ours.
    expect(seen.slice(0, 6)).toEqual([
      'read UPDATING',
      'read UPDATING',
      'read UPDATING',
      'read AVAILABLE',
      'read AVAILABLE',
      'update v2',
    ]);
    expect(d.clock.sleeps.slice(0, 3)).toEqual([5000, 5000, 5000]);
  });

  it('gives up on a domain that stays UPDATING, without an update call, and says so', async () => {
    api.onRead(() => api.domainAnswer('UPDATING', 'v1'));
    api.onUpdate(() => {});
    const d = { ...deps(), config: { ...deps().config, updateTimeoutMs: 60_000 } };
    const report = await rollDomains('v2', d, { revision: 2 });
    expect(report.domains).toMatchObject([
      { outcome: 'failed', error: `${api.domain} still UPDATING after 60 s` },
    ]);
    expect(api.rolledTo()).toEqual([]);
    expect(d.notifier.types()).toEqual(['truststore.roll-failed']);
    expect(d.notifier.sent[0]!.body).toMatch(/could not be rolled to truststore version v2/);
  });

  it('leaves a domain alone that is already on the version', async () => {
    api.onRead(() => api.domainAnswer('AVAILABLE', 'v2'));
    api.onUpdate(() => {});
    const report = await rollDomains('v2', deps(), { revision: 2 });
    expect(report.domains).toMatchObject([{ outcome: 'unchanged' }]);
    expect(api.rolledTo()).toEqual([]);
  });
});

describe('apiGatewayDomains', () => {
  it('builds a client only for the configured kinds and routes each domain to its API', async () => {
    http.on(GetHttpDomain).resolves({
      DomainNameConfigurations: [{ DomainNameStatus: 'UPDATING' }],
      MutualTlsAuthentication: { TruststoreUri: URI, TruststoreVersion: 'h1' },
    });
    rest.on(GetDomainNameCommand).resolves(restDomain('AVAILABLE', 'r1') as never);
    const both = apiGatewayDomains(
      [
        { name: 'api.example.com', kind: 'REST' },
        { name: 'http.example.com', kind: 'HTTP' },
      ],
      URI,
      { region: 'us-east-1' },
    );
    expect(await both.describe('http.example.com')).toMatchObject({
      status: 'UPDATING',
      truststoreVersion: 'h1',
    });
    expect(await both.describe('api.example.com')).toMatchObject({ truststoreVersion: 'r1' });
    expect(rest.calls()).toHaveLength(1);
    expect(http.calls()).toHaveLength(1);

    const restOnly = apiGatewayDomains([{ name: 'api.example.com', kind: 'REST' }], URI, {
      region: 'us-east-1',
    });
    await expect(restOnly.describe('http.example.com')).rejects.toThrow(/not one of the configured domains/);
    expect(http.calls()).toHaveLength(1);
  });
});

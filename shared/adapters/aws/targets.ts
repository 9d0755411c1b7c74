import { request } from 'node:https';
import {
  ConflictError,
  InputError,
  NotFoundError,
  RevocationRefusedError,
  UpstreamError,
} from '../../errors.js';
import type { DomainState, ObjectStore } from '../../ports.js';
import type { RevocationSyncGateway } from '../../rollout/crl-sync.js';
import type { ElbRevocationPlan } from '../../rollout/elb-revocations.js';
import type {
  ProbeSpec,
  Target,
  TargetGateway,
  TargetKind,
  TargetState,
  UpdateOutcome,
} from '../../rollout/model.js';
import { assertRollable, type DomainApi } from './api-gateway.js';
import { AssumedRoleCredentials, STSClient } from './assumed-role.js';
import { ElasticLoadBalancingV2Client, ElbTrustStoreApi } from './elb-trust-stores.js';
import { mapAwsError } from './errors.js';
import { ApiGatewayV2Client, HttpDomainApi } from './http-domains.js';
import { APIGatewayClient, RestDomainApi } from './rest-domains.js';

/** What every SDK client of the gateway gets (an emulator's endpoint in tests, timeouts). */
export interface ClientOptions {
  readonly endpoint?: string;
  readonly requestHandler?: { readonly connectionTimeout?: number; readonly requestTimeout?: number };
}

export interface AwsTargetsOptions {
  /** `s3://bucket/truststore/truststore.pem`: the one object every target is rolled to a version of. */
  readonly truststoreUri: string;
  /** The pipeline's own region: the default of a target, and where STS is called. */
  readonly region: string;
  /** Records the version each ELB trust store was given (see ElbTrustStoreApi), and holds probe certificates. */
  readonly store: Pick<ObjectStore, 'get' | 'put'>;
  readonly clientOptions?: ClientOptions;
  readonly now?: () => Date;
  /** For tests: the STS client (default: one in `region`). */
  readonly sts?: STSClient;
  /** A probe's request (default: HTTPS with the client certificate, 10 s). */
  readonly fetchStatus?: (url: string, cert: string, key: string) => Promise<number>;
  /**
   * The CRLs an ELB trust store gets with a version, and the revocations it cannot enforce
   * (elbRevocationPlan). Without it, ELB trust stores get no revocation files, and that is said.
   */
  readonly revocations?: (version: string) => Promise<ElbRevocationPlan>;
}

/** An API of one target kind, in one region and account. */
interface KindApi {
  read(resource: string): Promise<DomainState>;
  update(
    resource: string,
    uri: string,
    version: string,
    options?: { readonly crls?: ElbRevocationPlan['crls']; readonly restore?: boolean },
  ): Promise<void>;
  /** ELB trust stores only: the revocation files brought in step without ModifyTrustStore. */
  syncRevocations?(
    resource: string,
    version: string,
    crls: ElbRevocationPlan['crls'],
  ): Promise<{ readonly added: number; readonly removed: number }>;
}

/** The prefix of the bucket where a probe's client certificate and key are kept on AWS. */
export const PROBE_PREFIX = 'probes/';

/**
 * The TargetGateway port on AWS. Each target is reached in its own region and, with a `roleArn`,
 * in its own account through an assumed role (STS `AssumeRole` with the target's external id,
 * cached until near expiry): one SDK client per kind, region and role, made on first use and kept
 * for the warm Lambda's life. API Gateway targets (REST `apigateway`, HTTP `apigatewayv2`) reuse
 * the domain APIs of the inline roll, with its refusals (no mutual TLS, another truststore); ELB
 * trust stores are updated with `ModifyTrustStore` and given the version's CRLs (ElbTrustStoreApi,
 * with `revocations`), and the update says which revocations they cannot enforce. Errors come as the port's
 * hierarchy (ThrottledError, ConflictError, NotFoundError, UpstreamError).
 */
export class AwsTargets implements TargetGateway, RevocationSyncGateway {
  private readonly apis = new Map<string, KindApi>();
  private readonly roles = new Map<string, AssumedRoleCredentials>();
  private sts: STSClient | undefined;

  constructor(private readonly options: AwsTargetsOptions) {
    this.sts = options.sts;
  }

  private credentials(target: Target): AssumedRoleCredentials | undefined {
    if (!target.roleArn) return undefined;
    const id = `${target.roleArn}|${target.externalId ?? ''}`;
    let role = this.roles.get(id);
    if (!role) {
      this.sts ??= new STSClient({ ...this.options.clientOptions, region: this.options.region });
      role = new AssumedRoleCredentials(this.sts, target.roleArn, target.externalId, this.options.now);
      this.roles.set(id, role);
    }
    return role;
  }

  /** The API for the target's kind in its region and account (made once, then reused). */
  api(target: Target): KindApi {
    const region = target.region ?? this.options.region;
    const id = `${target.kind}|${region}|${target.roleArn ?? ''}|${target.externalId ?? ''}`;
    const known = this.apis.get(id);
    if (known) return known;
    const role = this.credentials(target);
    const config = {
      ...this.options.clientOptions,
      region,
      ...(role ? { credentials: role.provider } : {}),
    };
    const api = makeApi(target.kind, config, this.options.store, this.options.now);
    this.apis.set(id, api);
    return api;
  }

  async describe(target: Target): Promise<TargetState> {
    try {
      return await this.api(target).read(target.resource);
    } catch (error) {
      throw mapped(error, `reading ${target.kind} target ${target.id} (${target.resource})`);
    }
  }

  async update(
    target: Target,
    version: string,
    options: { readonly restore?: boolean } = {},
  ): Promise<UpdateOutcome | undefined> {
    const api = this.api(target);
    const uri = this.options.truststoreUri;
    if (target.kind !== 'elb-trust-store') {
      // A domain serving another truststore, or none, is refused as by the inline roll.
      assertRollable(await this.describe(target), uri);
      try {
        await api.update(target.resource, uri, version);
      } catch (error) {
        throw mapped(error, `updating ${target.kind} target ${target.id} (${target.resource})`);
      }
      return undefined;
    }
    const plan: ElbRevocationPlan = this.options.revocations
      ? await this.options.revocations(version)
      : {
          crls: [],
          notEnforced: ['no revocation of any kind: this gateway was built without revocation files'],
        };
    try {
      await api.update(target.resource, uri, version, {
        crls: plan.crls,
        ...(options.restore ? { restore: true } : {}),
      });
    } catch (error) {
      throw mapped(error, `updating ${target.kind} target ${target.id} (${target.resource})`);
    }
    return plan.notEnforced.length > 0 ? { notEnforced: plan.notEnforced } : {};
  }

  /**
   * Gives an ELB trust store that serves `version` (its ledger says so) the CRLs `crls`, and takes
   * back the superseded ones trustroll added, without ModifyTrustStore (ElbTrustStoreApi
   * `syncRevocations`), in the target's region and, with a `roleArn`, as its assumed role. Any
   * other kind is refused: a CRL sync never touches an API Gateway domain.
   */
  async syncRevocations(
    target: Target,
    version: string,
    crls: ElbRevocationPlan['crls'],
  ): Promise<{ readonly added: number; readonly removed: number }> {
    const api = target.kind === 'elb-trust-store' ? this.api(target) : undefined;
    if (!api?.syncRevocations)
      throw new InputError(
        `target ${target.id} is ${target.kind}, not an ELB trust store: it takes no CRL files`,
      );
    try {
      return await api.syncRevocations(target.resource, version, crls);
    } catch (error) {
      throw mapped(error, `giving ELB trust store target ${target.id} (${target.resource}) its CRLs`);
    }
  }

  async probe(target: Target): Promise<{ readonly ok: boolean; readonly detail: string }> {
    const spec = target.probe;
    if (!spec) return { ok: true, detail: 'no probe configured' };
    return runProbe(spec, this.options.store, this.options.fetchStatus ?? httpsStatus);
  }
}

/** Errors of the port's hierarchy (InputError, NotFoundError…) pass; SDK errors are mapped. */
const mapped = (error: unknown, what: string): Error =>
  [InputError, NotFoundError, ConflictError, UpstreamError, RevocationRefusedError].some(
    (type) => error instanceof type,
  )
    ? (error as Error)
    : mapAwsError(error, what);

const makeApi = (
  kind: TargetKind,
  config: ClientOptions & { region: string; credentials?: () => Promise<unknown> },
  store: Pick<ObjectStore, 'get' | 'put'>,
  now: (() => Date) | undefined,
): KindApi => {
  const sdk = config as never;
  // The `process.env` tests stay inline: esbuild folds a `define` only where it is written, and
  // then drops the client of a kind the bundle does not carry (infra/lambda-bundling.ts).
  // An `if` whose condition folds to true, with the client in its `else`: esbuild drops the `else`.
  if (kind === 'apigateway-rest') {
    if (process.env.TRUSTROLL_BUNDLE_REST_API === 'false') throw notBundled(kind);
    else return domainApi(new RestDomainApi(new APIGatewayClient(sdk)));
  }
  if (kind === 'apigateway-http') {
    if (process.env.TRUSTROLL_BUNDLE_HTTP_API === 'false') throw notBundled(kind);
    else return domainApi(new HttpDomainApi(new ApiGatewayV2Client(sdk)));
  }
  return new ElbTrustStoreApi(new ElasticLoadBalancingV2Client(sdk), store, now);
};

const domainApi = (api: DomainApi): KindApi => ({
  read: (domain) => api.read(domain),
  update: (domain, uri, version) => api.update(domain, uri, version),
});

const notBundled = (kind: TargetKind): Error =>
  new InputError(
    `this bundle carries no client for ${kind} targets; redeploy with the target in the construct's targets`,
  );

/**
 * A probe on AWS: the client certificate and key are objects of the pipeline's bucket under
 * `probes/` (the step function may read nothing else there); the request must answer
 * `expectStatus` (200 by default). A request that fails (refused handshake, timeout) is a failed
 * probe with what was seen, never an exception.
 */
export const runProbe = async (
  spec: ProbeSpec,
  store: Pick<ObjectStore, 'get'>,
  fetchStatus: (url: string, cert: string, key: string) => Promise<number>,
): Promise<{ ok: boolean; detail: string }> => {
  const expected = spec.expectStatus ?? 200;
  for (const key of [spec.clientCert, spec.clientKey]) {
    if (!key.startsWith(PROBE_PREFIX))
      return {
        ok: false,
        detail: `${key} is not under ${PROBE_PREFIX} of the bucket, where probes keep their certificates`,
      };
  }
  let cert: string;
  let key: string;
  try {
    const decode = async (k: string) => new TextDecoder().decode((await store.get(k)).body);
    [cert, key] = await Promise.all([decode(spec.clientCert), decode(spec.clientKey)]);
  } catch (error) {
    return { ok: false, detail: `reading the probe's client certificate: ${(error as Error).message}` };
  }
  try {
    const status = await fetchStatus(spec.url, cert, key);
    return status === expected
      ? { ok: true, detail: `${spec.url} answered ${status}` }
      : { ok: false, detail: `${spec.url} answered ${status}, not ${expected}` };
  } catch (error) {
    return { ok: false, detail: `${spec.url}: ${(error as Error).message}` };
  }
};

/**
 * One GET with a client certificate; resolves to the status, rejects on a failed connection or
 * handshake. The server is verified against the system roots (a custom domain's public
 * certificate), or against `ca`.
 */
export const httpsStatus = (
  url: string,
  cert: string,
  key: string,
  options: { readonly timeoutMs?: number; readonly ca?: string } = {},
): Promise<number> =>
  new Promise((resolve, reject) => {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const req = request(
      url,
      {
        method: 'GET',
        cert,
        key,
        timeout: timeoutMs,
        agent: false,
        ...(options.ca ? { ca: options.ca } : {}),
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    req.on('error', reject);
    req.end();
  });

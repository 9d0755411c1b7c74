import { InputError, NotFoundError } from '../../errors.js';
import type { DomainGateway, DomainState } from '../../ports.js';
import type { DomainKind, ManagedDomain } from './domains.js';
import { mapAwsError } from './errors.js';
import { ApiGatewayV2Client, HttpDomainApi } from './http-domains.js';
import { APIGatewayClient, RestDomainApi } from './rest-domains.js';

export type { DomainKind, ManagedDomain } from './domains.js';

/**
 * One API Gateway API's view of a custom domain: REST (`rest-domains.ts`) or HTTP API
 * (`http-domains.ts`), each in its own module so that a bundle can leave the other one out.
 */
export interface DomainApi {
  /** Status, truststore URI and version, warnings; SDK errors are thrown as they come. */
  read(domain: string): Promise<DomainState>;
  /** Points the domain at `version` of the truststore object `uri`. */
  update(domain: string, uri: string, version: string): Promise<void>;
}

/**
 * The DomainGateway port over API Gateway custom domains, REST (`UpdateDomainName` with a patch
 * on /mutualTlsAuthentication/truststoreVersion) and HTTP APIs (apigatewayv2 `UpdateDomainName`
 * with `MutualTlsAuthentication`). It refuses to roll a domain whose truststore URI is not ours,
 * and a domain without mutual TLS: rolling it would switch mutual TLS on and refuse every client.
 */
export class ApiGatewayDomains implements DomainGateway {
  private readonly kinds: ReadonlyMap<string, DomainKind>;

  constructor(
    /** The API of each configured kind: REST when a REST domain is configured, HTTP likewise. */
    private readonly apis: Readonly<Partial<Record<DomainKind, DomainApi>>>,
    domains: readonly ManagedDomain[],
    /** `s3://bucket/truststore/truststore.pem`: the only truststore this gateway rolls domains to. */
    readonly truststoreUri: string,
  ) {
    this.kinds = new Map(domains.map((d) => [d.name, d.kind]));
  }

  private api(domain: string): DomainApi {
    const kind = this.kinds.get(domain);
    if (!kind) throw new NotFoundError(`${domain} is not one of the configured domains`);
    const api = this.apis[kind];
    if (!api) throw new Error(`a ${kind} domain is configured but no ${kind} API client was given`);
    return api;
  }

  async describe(domain: string): Promise<DomainState> {
    const api = this.api(domain);
    try {
      return await api.read(domain);
    } catch (error) {
      throw mapAwsError(error, `reading domain ${domain}`);
    }
  }

  async roll(domain: string, version: string): Promise<void> {
    const api = this.api(domain);
    assertRollable(await this.describe(domain), this.truststoreUri);
    try {
      await api.update(domain, this.truststoreUri, version);
    } catch (error) {
      throw mapAwsError(error, `updating domain ${domain}`);
    }
  }
}

/**
 * Refuses to roll a domain whose truststore URI is not `truststoreUri`, and a domain without
 * mutual TLS: rolling it would switch mutual TLS on and refuse every client without a certificate.
 */
export const assertRollable = (current: DomainState, truststoreUri: string): void => {
  const domain = current.name;
  if (!current.truststoreUri) {
    throw new InputError(
      `${domain} has no mutual TLS configured: trustroll will not roll it, because that would turn mutual TLS on and refuse every client that sends no certificate. ` +
        `Configure mutual TLS on the domain with the truststore ${truststoreUri}, or remove it from the configured domains.`,
    );
  }
  if (current.truststoreUri !== truststoreUri) {
    throw new InputError(
      `${domain} uses the truststore ${current.truststoreUri}, not trustroll's ${truststoreUri}: ` +
        'trustroll will not roll it. Point the domain at the trustroll truststore, or remove it from the configured domains.',
    );
  }
};

/**
 * The API Gateway SDK clients this code carries. Lambda bundles built for domains of one kind
 * replace these `process.env` reads with constants (esbuild `define`, `infra/lambda-bundling.ts`),
 * and esbuild then drops the other client from the bundle; unbundled code carries both.
 */
export const bundledApis = (): Readonly<Record<DomainKind, boolean>> => ({
  REST: process.env.TRUSTROLL_BUNDLE_REST_API !== 'false',
  HTTP: process.env.TRUSTROLL_BUNDLE_HTTP_API !== 'false',
});

const notBundled = (kind: DomainKind): Error =>
  new Error(`this bundle carries no ${kind} API client; rebuild it with ${kind} in its domain kinds`);

/**
 * The gateway for the configured domains, with an SDK client only for the kinds configured.
 * The imports are static on purpose: esbuild tree-shakes a statically imported SDK client down to
 * the two commands used, while a dynamic import drags the package's whole command index into the
 * bundle (measured: the ingest bundle with both clients was 690 KiB that way, 652 KiB this way).
 */
export const apiGatewayDomains = (
  domains: readonly ManagedDomain[],
  truststoreUri: string,
  clientConfig: {
    readonly region?: string;
    readonly endpoint?: string;
    readonly requestHandler?: { readonly connectionTimeout?: number; readonly requestTimeout?: number };
  } = {},
): ApiGatewayDomains => {
  const kinds = new Set(domains.map((d) => d.kind));
  const apis: Partial<Record<DomainKind, DomainApi>> = {};
  // The `process.env` tests stay inline: esbuild folds a `define` only where it is written.
  if (kinds.has('REST')) {
    if (process.env.TRUSTROLL_BUNDLE_REST_API === 'false') throw notBundled('REST');
    else apis.REST = new RestDomainApi(new APIGatewayClient(clientConfig));
  }
  if (kinds.has('HTTP')) {
    if (process.env.TRUSTROLL_BUNDLE_HTTP_API === 'false') throw notBundled('HTTP');
    else apis.HTTP = new HttpDomainApi(new ApiGatewayV2Client(clientConfig));
  }
  return new ApiGatewayDomains(apis, domains, truststoreUri);
};

import {
  type APIGatewayClient,
  GetDomainNameCommand as GetRestDomain,
  UpdateDomainNameCommand as UpdateRestDomain,
} from '@aws-sdk/client-api-gateway';
import {
  type ApiGatewayV2Client,
  GetDomainNameCommand as GetHttpDomain,
  UpdateDomainNameCommand as UpdateHttpDomain,
} from '@aws-sdk/client-apigatewayv2';
import { InputError, NotFoundError } from '../../errors.js';
import type { DomainGateway, DomainState } from '../../ports.js';
import { mapAwsError } from './errors.js';

export type DomainKind = 'REST' | 'HTTP';

export interface ManagedDomain {
  readonly name: string;
  /** REST custom domains (apigateway) or HTTP API domains (apigatewayv2). */
  readonly kind: DomainKind;
}

/**
 * The DomainGateway port over API Gateway custom domains, REST (`UpdateDomainName` with a patch
 * on /mutualTlsAuthentication/truststoreVersion) and HTTP APIs (apigatewayv2 `UpdateDomainName`
 * with `MutualTlsAuthentication`). It refuses to roll a domain whose truststore URI is not ours.
 */
export class ApiGatewayDomains implements DomainGateway {
  private readonly kinds: ReadonlyMap<string, DomainKind>;

  constructor(
    /** Needed when a REST domain is configured. */
    private readonly rest: APIGatewayClient | undefined,
    /** Needed when an HTTP API domain is configured. */
    private readonly http: ApiGatewayV2Client | undefined,
    domains: readonly ManagedDomain[],
    /** `s3://bucket/truststore/truststore.pem`: the only truststore this gateway rolls domains to. */
    readonly truststoreUri: string,
  ) {
    this.kinds = new Map(domains.map((d) => [d.name, d.kind]));
  }

  private restClient(): APIGatewayClient {
    if (!this.rest) throw new Error('a REST domain is configured but no API Gateway client was given');
    return this.rest;
  }

  private httpClient(): ApiGatewayV2Client {
    if (!this.http)
      throw new Error('an HTTP API domain is configured but no API Gateway v2 client was given');
    return this.http;
  }

  private kind(domain: string): DomainKind {
    const kind = this.kinds.get(domain);
    if (!kind) throw new NotFoundError(`${domain} is not one of the configured domains`);
    return kind;
  }

  async describe(domain: string): Promise<DomainState> {
    const kind = this.kind(domain);
    try {
      if (kind === 'REST') {
        const out = await this.restClient().send(new GetRestDomain({ domainName: domain }));
        const mtls = out.mutualTlsAuthentication;
        return {
          name: domain,
          status: out.domainNameStatus ?? 'AVAILABLE',
          ...(mtls?.truststoreUri ? { truststoreUri: mtls.truststoreUri } : {}),
          ...(mtls?.truststoreVersion ? { truststoreVersion: mtls.truststoreVersion } : {}),
          warnings: mtls?.truststoreWarnings ?? [],
        };
      }
      const out = await this.httpClient().send(new GetHttpDomain({ DomainName: domain }));
      const mtls = out.MutualTlsAuthentication;
      return {
        name: domain,
        status: out.DomainNameConfigurations?.[0]?.DomainNameStatus ?? 'AVAILABLE',
        ...(mtls?.TruststoreUri ? { truststoreUri: mtls.TruststoreUri } : {}),
        ...(mtls?.TruststoreVersion ? { truststoreVersion: mtls.TruststoreVersion } : {}),
        warnings: mtls?.TruststoreWarnings ?? [],
      };
    } catch (error) {
      throw mapAwsError(error, `reading domain ${domain}`);
    }
  }

  async roll(domain: string, version: string): Promise<void> {
    const kind = this.kind(domain);
    const current = await this.describe(domain);
    if (current.truststoreUri && current.truststoreUri !== this.truststoreUri) {
      throw new InputError(
        `${domain} uses the truststore ${current.truststoreUri}, not trustroll's ${this.truststoreUri}: ` +
          'trustroll will not roll it. Point the domain at the trustroll truststore, or remove it from the configured domains.',
      );
    }
    try {
      if (kind === 'REST') {
        await this.restClient().send(
          new UpdateRestDomain({
            domainName: domain,
            patchOperations: [
              { op: 'replace', path: '/mutualTlsAuthentication/truststoreVersion', value: version },
            ],
          }),
        );
      } else {
        await this.httpClient().send(
          new UpdateHttpDomain({
            DomainName: domain,
            MutualTlsAuthentication: { TruststoreUri: this.truststoreUri, TruststoreVersion: version },
          }),
        );
      }
    } catch (error) {
      throw mapAwsError(error, `updating domain ${domain}`);
    }
  }
}

import {
  ApiGatewayV2Client,
  GetDomainNameCommand,
  UpdateDomainNameCommand,
} from '@aws-sdk/client-apigatewayv2';
import type { DomainState } from '../../ports.js';
import type { DomainApi } from './api-gateway.js';

export { ApiGatewayV2Client };

/** HTTP API domains (apigatewayv2): `MutualTlsAuthentication` is replaced as a whole, URI and version. */
export class HttpDomainApi implements DomainApi {
  constructor(private readonly client: ApiGatewayV2Client) {}

  async read(domain: string): Promise<DomainState> {
    const out = await this.client.send(new GetDomainNameCommand({ DomainName: domain }));
    const mtls = out.MutualTlsAuthentication;
    return {
      name: domain,
      status: out.DomainNameConfigurations?.[0]?.DomainNameStatus ?? 'AVAILABLE',
      ...(mtls?.TruststoreUri ? { truststoreUri: mtls.TruststoreUri } : {}),
      ...(mtls?.TruststoreVersion ? { truststoreVersion: mtls.TruststoreVersion } : {}),
      warnings: mtls?.TruststoreWarnings ?? [],
    };
  }

  async update(domain: string, uri: string, version: string): Promise<void> {
    await this.client.send(
      new UpdateDomainNameCommand({
        DomainName: domain,
        MutualTlsAuthentication: { TruststoreUri: uri, TruststoreVersion: version },
      }),
    );
  }
}

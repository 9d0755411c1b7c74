import { APIGatewayClient, GetDomainNameCommand, UpdateDomainNameCommand } from '@aws-sdk/client-api-gateway';
import type { DomainState } from '../../ports.js';
import type { DomainApi } from './api-gateway.js';

export { APIGatewayClient };

/** REST custom domains (apigateway): the truststore version is rolled with a JSON patch. */
export class RestDomainApi implements DomainApi {
  constructor(private readonly client: APIGatewayClient) {}

  async read(domain: string): Promise<DomainState> {
    const out = await this.client.send(new GetDomainNameCommand({ domainName: domain }));
    const mtls = out.mutualTlsAuthentication;
    return {
      name: domain,
      status: out.domainNameStatus ?? 'AVAILABLE',
      ...(mtls?.truststoreUri ? { truststoreUri: mtls.truststoreUri } : {}),
      ...(mtls?.truststoreVersion ? { truststoreVersion: mtls.truststoreVersion } : {}),
      warnings: mtls?.truststoreWarnings ?? [],
    };
  }

  async update(domain: string, _uri: string, version: string): Promise<void> {
    // The URI stays as it is (the gateway checked it is ours); only the version moves.
    await this.client.send(
      new UpdateDomainNameCommand({
        domainName: domain,
        patchOperations: [
          { op: 'replace', path: '/mutualTlsAuthentication/truststoreVersion', value: version },
        ],
      }),
    );
  }
}

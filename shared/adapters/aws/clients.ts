// The API Gateway SDK clients and commands trustroll uses, behind one module each so a handler
// can load only the API it is configured for (dynamic import) while esbuild still tree-shakes
// each SDK package down to these names.
export {
  APIGatewayClient,
  GetDomainNameCommand as GetRestDomainCommand,
  UpdateDomainNameCommand as UpdateRestDomainCommand,
} from '@aws-sdk/client-api-gateway';

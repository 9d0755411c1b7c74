// See clients.ts: the HTTP API (apigatewayv2) half.
export {
  ApiGatewayV2Client,
  GetDomainNameCommand as GetHttpDomainCommand,
  UpdateDomainNameCommand as UpdateHttpDomainCommand,
} from '@aws-sdk/client-apigatewayv2';

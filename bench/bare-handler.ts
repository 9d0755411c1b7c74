// The baseline for handler cold start: a bare handler that only imports and constructs the SDK
// clients a trustroll bundle carries — S3, SNS, SQS (roll requests) and the API Gateway client of
// its domains' kind (four clients), or both API Gateway clients for a bundle built for both kinds. It is built
// with the same build-time constants as the handler it is compared with
// (`infra/lambda-bundling.ts`), so each bundle is compared with the clients it needs.
import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import { ApiGatewayV2Client } from '@aws-sdk/client-apigatewayv2';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';

const clients: object[] = [new S3Client({}), new SNSClient({}), new SQSClient({})];
// The `process.env` tests stay inline: esbuild folds a `define` only where it is written.
if (process.env.TRUSTROLL_BUNDLE_REST_API !== 'false') clients.push(new APIGatewayClient({}));
if (process.env.TRUSTROLL_BUNDLE_HTTP_API !== 'false') clients.push(new ApiGatewayV2Client({}));

export const handler = async () => ({ clients: clients.length });

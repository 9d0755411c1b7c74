// The baseline for handler cold start: a bare handler that only imports and constructs the three
// SDK clients trustroll needs (S3, API Gateway, SNS).
import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';

const clients = [new S3Client({}), new APIGatewayClient({}), new SNSClient({})];

export const handler = async () => ({ clients: clients.length });

import type { Message } from '@aws-sdk/client-sqs';
import type { Context, SQSRecord } from 'aws-lambda';

/**
 * Lambda's side of the integration tests: invocation contexts and SQS event records in the
 * shapes AWS documents (the Lambda SQS event, the EventBridge "Object Created" event of S3).
 */

/** A context whose remaining time counts down from `budgetMs`, as Lambda's does. */
export const lambdaContext = (budgetMs: number, name = 'trustroll-ingest'): Context => {
  const start = Date.now();
  return {
    functionName: name,
    functionVersion: '$LATEST',
    awsRequestId: `req-${start}`,
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${name}`,
    memoryLimitInMB: '512',
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: 'stream',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, budgetMs - (Date.now() - start)),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  } as Context;
};

/**
 * The EventBridge "Object Created" event S3 sends (AWS's documented example shape), with the key
 * as given: raw, as the EventBridge examples show it, or URL-encoded, as classic notifications do.
 */
export const objectCreated = (bucket: string, key: string, versionId: string | undefined, id: string) => ({
  version: '0',
  id: `evt-${id}`,
  'detail-type': 'Object Created',
  source: 'aws.s3',
  account: '123456789012',
  time: '2026-12-02T12:00:00Z',
  region: 'us-east-1',
  resources: [`arn:aws:s3:::${bucket}`],
  detail: {
    version: '0',
    bucket: { name: bucket },
    object: { key, size: 100, etag: 'x', ...(versionId ? { 'version-id': versionId } : {}), sequencer: '00' },
    'request-id': `req-${id}`,
    requester: '123456789012',
    'source-ip-address': '203.0.113.7',
    reason: 'PutObject',
  },
});

/** How classic S3 event notifications encode a key: URL encoding, spaces as "+". */
export const encodeS3Key = (key: string) => encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');

/** One record of the Lambda SQS event for a FIFO queue, around a body. */
export const sqsRecord = (
  messageId: string,
  body: unknown,
  queueArn = 'arn:aws:sqs:us-east-1:123456789012:trustroll.fifo',
): SQSRecord => ({
  messageId,
  receiptHandle: `rh-${messageId}`,
  body: typeof body === 'string' ? body : JSON.stringify(body),
  attributes: {
    ApproximateReceiveCount: '1',
    SentTimestamp: String(Date.now()),
    SenderId: 'AIDAEXAMPLE',
    ApproximateFirstReceiveTimestamp: String(Date.now()),
    MessageGroupId: 'truststore',
    SequenceNumber: '18849496460467696128',
    MessageDeduplicationId: messageId,
  },
  messageAttributes: {},
  md5OfBody: '',
  eventSource: 'aws:sqs',
  eventSourceARN: queueArn,
  awsRegion: 'us-east-1',
});

/** What Lambda's event source mapping makes of a message it received from the queue. */
export const recordOf = (m: Message, queueArn?: string): SQSRecord => ({
  ...sqsRecord(m.MessageId!, m.Body!, queueArn),
  receiptHandle: m.ReceiptHandle!,
  attributes: { ...sqsRecord(m.MessageId!, '').attributes, ...(m.Attributes as object) },
});

/**
 * The REST API Lambda authorizer (REQUEST type) input, as AWS documents it ("Input to an API
 * Gateway Lambda authorizer": the `GET /request` example), with the client certificate of a
 * mutual TLS custom domain at `requestContext.identity.clientCert`. `pem` undefined: the
 * request came without one (no mutual TLS), and API Gateway sends no `clientCert`.
 */
export const restAuthorizerEvent = (
  pem: string | undefined,
  { method = 'GET', path = '/request' }: { method?: string; path?: string } = {},
) => ({
  type: 'REQUEST',
  methodArn: `arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/${method}${path}`,
  resource: path,
  path,
  httpMethod: method,
  headers: {
    'X-AMZ-Date': '20170718T062915Z',
    Accept: '*/*',
    HeaderAuth1: 'headerValue1',
    'CloudFront-Viewer-Country': 'US',
    'CloudFront-Forwarded-Proto': 'https',
    'CloudFront-Is-Tablet-Viewer': 'false',
    'CloudFront-Is-Mobile-Viewer': 'false',
    'User-Agent': '...',
  },
  queryStringParameters: { QueryString1: 'queryValue1' },
  pathParameters: {},
  stageVariables: { StageVar1: 'stageValue1' },
  requestContext: {
    path,
    accountId: '123456789012',
    resourceId: '05c7jb',
    stage: 'test',
    requestId: '...',
    identity: {
      apiKey: '...',
      sourceIp: '...',
      ...(pem
        ? {
            clientCert: {
              clientCertPem: pem,
              subjectDN: 'www.example.com',
              issuerDN: 'Example issuer',
              serialNumber: 'a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1',
              validity: { notBefore: 'May 28 12:30:02 2019 GMT', notAfter: 'Aug  5 09:36:04 2021 GMT' },
            },
          }
        : {}),
    },
    resourcePath: path,
    httpMethod: method,
    apiId: 'abcdef123',
  },
});

/**
 * The HTTP API Lambda authorizer input, payload format 2.0, as AWS documents it ("Control
 * access to HTTP APIs with AWS Lambda authorizers"), the client certificate at
 * `requestContext.authentication.clientCert`.
 */
export const httpAuthorizerEvent = (
  pem: string | undefined,
  { method = 'POST', path = '/my/path' }: { method?: string; path?: string } = {},
) => ({
  version: '2.0',
  type: 'REQUEST',
  routeArn: 'arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/request',
  identitySource: ['user1', '123'],
  routeKey: '$default',
  rawPath: path,
  rawQueryString: 'parameter1=value1&parameter1=value2&parameter2=value',
  cookies: ['cookie1', 'cookie2'],
  headers: { header1: 'value1', header2: 'value2' },
  queryStringParameters: { parameter1: 'value1,value2', parameter2: 'value' },
  requestContext: {
    accountId: '123456789012',
    apiId: 'api-id',
    ...(pem
      ? {
          authentication: {
            clientCert: {
              clientCertPem: pem,
              subjectDN: 'www.example.com',
              issuerDN: 'Example issuer',
              serialNumber: '1',
              validity: { notBefore: 'May 28 12:30:02 2019 GMT', notAfter: 'Aug  5 09:36:04 2021 GMT' },
            },
          },
        }
      : {}),
    domainName: 'id.execute-api.us-east-1.amazonaws.com',
    domainPrefix: 'id',
    http: { method, path, protocol: 'HTTP/1.1', sourceIp: 'IP', userAgent: 'agent' },
    requestId: 'id',
    routeKey: '$default',
    stage: '$default',
    time: '12/Mar/2020:19:03:58 +0000',
    timeEpoch: 1583348638390,
  },
  pathParameters: { parameter1: 'value1' },
  stageVariables: { stageVariable1: 'value1', stageVariable2: 'value2' },
});

// The baseline for the authorizer's cold start: a bare handler with the S3 client only, making the
// one call the authorizer makes at init (a HEAD of its index), so that the comparison is of what
// trustroll adds: its code, Powertools, middy, the index check's handling.
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';

const endpoint = process.env.TRUSTROLL_AWS_ENDPOINT;
const s3 = new S3Client(endpoint ? { endpoint, forcePathStyle: true } : {});
let found = false;
try {
  await s3.send(new HeadObjectCommand({ Bucket: process.env.TRUSTROLL_BUCKET, Key: 'revocation/index.trx' }));
  found = true;
} catch {}

export const handler = async () => ({ found });

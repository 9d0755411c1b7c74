import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../fixtures/cli.js';

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describe('exit status when a dependency fails', () => {
  it('is 5 with what failed and that nothing was lost, not a crash (S3 unreachable)', async () => {
    process.env.AWS_REGION = 'us-east-1';
    process.env.AWS_ACCESS_KEY_ID = 'test';
    process.env.AWS_SECRET_ACCESS_KEY = 'test';
    // Port 9 (discard) is closed here: every request is refused at once.
    process.env.AWS_ENDPOINT_URL = 'http://127.0.0.1:9';
    const { code, err } = await runCli(['history', '--store', 's3://trustroll-nowhere']);
    expect(code).toBe(5);
    expect(err).toMatch(/reading s3:\/\/trustroll-nowhere\/state\/truststore\.json: .*ECONNREFUSED/);
    expect(err).toMatch(/nothing was lost; run the command again/);
    expect(err).not.toMatch(/unexpected failure|at .*\.[jt]s:\d+/);
  }, 60_000);
});

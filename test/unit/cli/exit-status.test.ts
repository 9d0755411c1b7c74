import { afterEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../fixtures/cli.js';

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
  vi.restoreAllMocks();
});

describe('exit status when the current folder was deleted', () => {
  it('is 2 with a sentence saying the folder no longer exists, not a crash reported as a bug', async () => {
    // What Node throws for process.cwd() in a folder removed after the shell entered it.
    vi.spyOn(process, 'cwd').mockImplementation(() => {
      throw Object.assign(new Error('ENOENT: no such file or directory, uv_cwd'), {
        code: 'ENOENT',
        syscall: 'uv_cwd',
      });
    });
    const { code, err, out } = await runCli([
      'status',
      '--data-dir',
      '/tmp/fx19-nowhere/.trustroll',
      '--json',
    ]);
    expect(code).toBe(2);
    expect(err).toBe(
      'trustroll: the current folder no longer exists (it was deleted or moved away: ENOENT uv_cwd): cd to an existing folder (the one holding your .trustroll and inbox) and run the command again.\n',
    );
    expect(JSON.parse(out)).toMatchObject({
      status: 2,
      error: expect.stringMatching(/^the current folder no longer exists/),
    });
  });
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

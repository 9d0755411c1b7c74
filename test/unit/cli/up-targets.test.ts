import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOCAL_ROLLOUT_SETTINGS, loadLocalTargets } from '../../../cli/actions/up-targets.js';
import { InputError } from '../../../shared/errors.js';

const write = (config: unknown): string => {
  const dir = mkdtempSync(join(tmpdir(), 'rc-targets-'));
  mkdirSync(join(dir, 'conf'));
  const file = join(dir, 'conf', 'targets.json');
  writeFileSync(file, JSON.stringify(config));
  return file;
};

const api = (id: string, wave: string, extra: Record<string, unknown> = {}) => ({
  id,
  kind: 'apigateway-rest',
  resource: `${id}.example.com`,
  wave,
  ...extra,
});

describe('loadLocalTargets', () => {
  it('gives each target its own port (consecutive from --port unless it names one) and local settings', async () => {
    const file = write({
      waves: ['canary', 'rest'],
      targets: [
        api('canary', 'canary', {
          probe: { url: 'https://localhost:47100/', clientCert: 'pki/c.pem', clientKey: '../k.key' },
        }),
        api('eu', 'rest', { port: 47250 }),
        api('us', 'rest'),
      ],
    });
    const config = await loadLocalTargets(file, 47100);
    expect(config.targets.map((t) => [t.id, t.port])).toEqual([
      ['canary', 47100],
      ['eu', 47250],
      ['us', 47102],
    ]);
    expect(config.settings).toEqual(LOCAL_ROLLOUT_SETTINGS);
    // Probe files are relative to the targets file.
    expect(config.targets[0]!.probe!.clientCert).toBe(join(file, '..', 'pki', 'c.pem'));
    expect(config.targets[0]!.probe!.clientKey).toBe(join(file, '..', '..', 'k.key'));
    // --port 0: each a free port.
    expect((await loadLocalTargets(file, 0)).targets.map((t) => t.port)).toEqual([0, 47250, 0]);
  });

  it('refuses two targets on one port, ELB trust stores, and a bad file, saying what to fix', async () => {
    const clash = write({ waves: ['w'], targets: [api('a', 'w'), api('b', 'w', { port: 47100 })] });
    await expect(loadLocalTargets(clash, 47100)).rejects.toThrow(
      'targets a and b would both listen on port 47100: give each its own "port"',
    );
    const elb = write({
      waves: ['w'],
      targets: [
        {
          id: 'alb',
          kind: 'elb-trust-store',
          resource: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:truststore/p/0123456789abcdef',
          wave: 'w',
        },
      ],
    });
    await expect(loadLocalTargets(elb, 47100)).rejects.toThrow(
      /local mode plays API Gateway domains only.*\(alb\)/,
    );
    const bad = write({ waves: ['w'], targets: [api('a', 'x')] });
    await expect(loadLocalTargets(bad, 47100)).rejects.toThrow(InputError);
    await expect(loadLocalTargets(join(tmpdir(), 'rc-none.json'), 47100)).rejects.toThrow(
      /cannot read --targets/,
    );
    const high = write({ waves: ['w'], targets: [api('a', 'w'), api('b', 'w')] });
    await expect(loadLocalTargets(high, 65535)).rejects.toThrow(
      /target b would listen on port 65536, over 65535/,
    );
  });
});

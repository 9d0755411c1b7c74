import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  forgetRemovedTargets,
  LOCAL_ROLLOUT_SETTINGS,
  loadLocalTargets,
  targetStatusFile,
  targetStatusFiles,
} from '../../../cli/actions/up-targets.js';
import { InputError } from '../../../shared/errors.js';
import { partnerChain, pemOf, privateKeyPem } from '../../fixtures/pki.js';

let acme: Awaited<ReturnType<typeof partnerChain>>;
let beta: Awaited<ReturnType<typeof partnerChain>>;
beforeAll(async () => {
  acme = await partnerChain('Acme');
  beta = await partnerChain('Beta');
});

/**
 * A targets file in `<dir>/conf/`, with a probe client's certificate and key where the files
 * below name them: conf/pki/c.pem, k.key (beside conf/), conf/c.pem and conf/c.key.
 */
const write = (config: unknown): string => {
  const dir = mkdtempSync(join(tmpdir(), 'rc-targets-'));
  mkdirSync(join(dir, 'conf', 'pki'), { recursive: true });
  const file = join(dir, 'conf', 'targets.json');
  writeFileSync(file, JSON.stringify(config));
  for (const cert of [join(dir, 'conf', 'pki', 'c.pem'), join(dir, 'conf', 'c.pem')])
    writeFileSync(cert, pemOf(acme.client));
  for (const key of [join(dir, 'k.key'), join(dir, 'conf', 'c.key')])
    writeFileSync(key, privateKeyPem(acme.client));
  // Another client's key: not the key of c.pem.
  writeFileSync(join(dir, 'conf', 'other.key'), privateKeyPem(beta.client));
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
    // --port 0: each a free port (a target with a probe needs its own, known, port).
    const free = write({
      waves: ['canary', 'rest'],
      targets: [api('canary', 'canary'), api('eu', 'rest', { port: 47250 }), api('us', 'rest')],
    });
    expect((await loadLocalTargets(free, 0)).targets.map((t) => t.port)).toEqual([0, 47250, 0]);
    await expect(loadLocalTargets(file, 0)).rejects.toThrow(
      /target canary: its probe must go through its own endpoint.*give the target a "port"/,
    );
  });

  it("refuses a probe whose URL is not its own target's endpoint, naming the URL it must use", async () => {
    const probe = (url: string) => ({ url, clientCert: 'c.pem', clientKey: 'c.key' });
    const file = write({
      waves: ['canary', 'rest'],
      targets: [
        api('canary', 'canary', { port: 47100, probe: probe('https://localhost:47101/') }),
        api('eu', 'rest', { port: 47101 }),
        api('us', 'rest', { port: 47102, probe: probe('https://example.com:47102/') }),
      ],
    });
    const refused = loadLocalTargets(file, 47100);
    await expect(refused).rejects.toThrow(
      '(1) target canary: "probe.url" https://localhost:47101/ is not the target\'s own endpoint: the probe verifies this target, so it must name https://localhost:47100/',
    );
    await expect(refused).rejects.toThrow(
      /\(2\) target us: "probe.url" https:\/\/example.com:47102\/ is not/,
    );
    // Its own endpoint, by a name it listens on, is fine.
    const at = (host: string) =>
      write({
        waves: ['w'],
        targets: [api('a', 'w', { port: 47100, probe: probe(`https://${host}:47100/health`) })],
      });
    for (const host of ['localhost', '127.0.0.1'])
      expect((await loadLocalTargets(at(host), 47100)).targets[0]!.probe!.url).toBe(
        `https://${host}:47100/health`,
      );
    // Not the IPv6 loopback while the endpoints listen on the IPv4 one (the default --host):
    // every probe would fail to connect, and read as a refused certificate.
    await expect(loadLocalTargets(at('[::1]'), 47100)).rejects.toThrow(
      'must name https://localhost:47100/ (host localhost or 127.0.0.1: the endpoints listen on 127.0.0.1 (--host); port 47100)',
    );
    expect((await loadLocalTargets(at('[::1]'), 47100, '::1')).targets[0]!.probe!.url).toBe(
      'https://[::1]:47100/health',
    );
    // With --host ::1 only [::1]: localhost may resolve to 127.0.0.1 alone (an /etc/hosts without ::1).
    for (const host of ['127.0.0.1', 'localhost'])
      await expect(loadLocalTargets(at(host), 47100, '::1')).rejects.toThrow(
        '(host [::1]: the endpoints listen on ::1',
      );
    // 0.0.0.0 is every IPv4 address, not IPv6; :: is both.
    for (const host of ['localhost', '127.0.0.1'])
      expect((await loadLocalTargets(at(host), 47100, '0.0.0.0')).targets).toHaveLength(1);
    await expect(loadLocalTargets(at('[::1]'), 47100, '0.0.0.0')).rejects.toThrow(
      'host localhost or 127.0.0.1',
    );
    for (const host of ['localhost', '127.0.0.1', '[::1]'])
      expect((await loadLocalTargets(at(host), 47100, '::')).targets).toHaveLength(1);
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

  it('refuses, at start, probe files that cannot make a handshake, naming the target and the file', async () => {
    const probe = (clientCert: string, clientKey: string) => ({
      url: 'https://localhost:47100/',
      clientCert,
      clientKey,
    });
    const load = (clientCert: string, clientKey: string) =>
      loadLocalTargets(
        write({
          waves: ['w'],
          targets: [api('canary', 'w', { port: 47100, probe: probe(clientCert, clientKey) })],
        }),
        47100,
      );
    await expect(load('c.pem', 'c.key')).resolves.toBeDefined();
    await expect(load('missing.pem', 'c.key')).rejects.toThrow(
      /target canary: cannot read the probe's client certificate .*missing\.pem \(ENOENT\): fix "probe\.clientCert"/,
    );
    await expect(load('c.pem', 'missing.key')).rejects.toThrow(
      /target canary: cannot read the probe's client key .*missing\.key/,
    );
    await expect(load('c.key', 'c.key')).rejects.toThrow(
      /target canary: "probe\.clientCert" .*c\.key holds a private key, not a certificate/,
    );
    await expect(load('c.pem', 'other.key')).rejects.toThrow(
      /target canary: "probe\.clientKey" .*other\.key is not the key of the certificate in "probe\.clientCert" .*c\.pem/,
    );
    await expect(load('c.pem', 'c.pem')).rejects.toThrow(
      /"probe\.clientKey" .*c\.pem holds no usable private key/,
    );
    // A wrong URL and a missing file: both said at once.
    const both = write({
      waves: ['w'],
      targets: [
        api('canary', 'w', {
          port: 47100,
          probe: { url: 'https://localhost:47101/', clientCert: 'missing.pem', clientKey: 'c.key' },
        }),
      ],
    });
    await expect(loadLocalTargets(both, 47100)).rejects.toThrow(
      /\(1\) target canary: "probe\.url" .* is not the target's own endpoint.*; \(2\) target canary: cannot read the probe's client certificate/,
    );
  });

  it('forgets the endpoints of targets removed from the file, and keeps the others', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rc-targets-forget-'));
    const paths = { dataDir: join(dir, '.trustroll'), inboxDir: join(dir, 'inbox') };
    for (const id of ['canary', 'us'])
      await targetStatusFile(paths, id).write({
        name: `${id}.example.com`,
        status: 'AVAILABLE',
        truststoreVersion: '000001',
        warnings: [],
      });
    expect(await forgetRemovedTargets(paths, ['canary', 'ap'])).toEqual(['us']);
    expect((await targetStatusFiles(paths)).map((t) => t.id)).toEqual(['canary']);
  });

  it('refuses more targets than local mode plays, and ports below 1024 taken from --port', async () => {
    const many = write({
      waves: ['w'],
      targets: Array.from({ length: 101 }, (_, i) => api(`t${i}`, 'w')),
    });
    await expect(loadLocalTargets(many, 0)).rejects.toThrow(
      /names 101 targets; local mode plays at most 100 \(one HTTPS endpoint and port each/,
    );
    const low = write({ waves: ['w'], targets: [api('a', 'w')] });
    await expect(loadLocalTargets(low, 443)).rejects.toThrow(
      /target a would listen on port 443, below 1024 .*give it a "port" from 1024 in .*targets\.json, or a --port from 1024/,
    );
  });
});

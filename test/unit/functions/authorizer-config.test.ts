import { describe, expect, it } from 'vitest';
import { readAuthorizerConfig } from '../../../functions/lib/authorizer-config.js';
import { ConfigError } from '../../../functions/lib/config.js';

describe('authorizer configuration', () => {
  it('defaults: a check every 60 s, the index kept 15 minutes while checks fail, fail closed, a day of CRL grace', () => {
    expect(readAuthorizerConfig({ TRUSTROLL_BUCKET: 'b' })).toEqual({
      bucket: 'b',
      refreshSeconds: 60,
      maxAgeSeconds: 900,
      indexUnavailable: 'deny',
      staleCrl: 'deny',
      graceSeconds: 86_400,
    });
  });

  it('derives the max age from the refresh unless given', () => {
    const c = readAuthorizerConfig({
      TRUSTROLL_BUCKET: 'b',
      TRUSTROLL_INDEX_REFRESH_SECONDS: '10',
      TRUSTROLL_INDEX_UNAVAILABLE: 'ALLOW',
      TRUSTROLL_STALE_CRL: 'allow',
      TRUSTROLL_CRL_GRACE_SECONDS: '0',
    });
    expect(c).toMatchObject({
      refreshSeconds: 10,
      maxAgeSeconds: 150,
      indexUnavailable: 'allow',
      staleCrl: 'allow',
      graceSeconds: 0,
    });
  });

  it('reports every problem at once', () => {
    const read = () =>
      readAuthorizerConfig({
        TRUSTROLL_INDEX_REFRESH_SECONDS: '0',
        TRUSTROLL_INDEX_UNAVAILABLE: 'open',
        TRUSTROLL_STALE_CRL: 'maybe',
        TRUSTROLL_CRL_GRACE_SECONDS: '1.5',
      });
    expect(read).toThrow(ConfigError);
    expect(read).toThrow(
      /TRUSTROLL_BUCKET is required; TRUSTROLL_INDEX_REFRESH_SECONDS must be a whole number from 1 to 3600; got "0".*TRUSTROLL_INDEX_UNAVAILABLE must be deny or allow; got "open".*TRUSTROLL_STALE_CRL must be deny or allow.*TRUSTROLL_CRL_GRACE_SECONDS/,
    );
    expect(() =>
      readAuthorizerConfig({
        TRUSTROLL_BUCKET: 'b',
        TRUSTROLL_INDEX_REFRESH_SECONDS: '120',
        TRUSTROLL_INDEX_MAX_AGE_SECONDS: '60',
      }),
    ).toThrow(/must be at least TRUSTROLL_INDEX_REFRESH_SECONDS/);
  });
});

import { describe, expect, it } from 'vitest';
import { parseDomainSpec } from '../../../../shared/adapters/aws/domains.js';

describe('parseDomainSpec (TRUSTROLL_DOMAINS, --domain, -c domains)', () => {
  it('reads a name with an optional kind in any case, REST by default', () => {
    expect(parseDomainSpec('api.example.com')).toEqual({
      domain: { name: 'api.example.com', kind: 'REST' },
      problems: [],
    });
    expect(parseDomainSpec(' Mtls.Example.org:http ')).toEqual({
      domain: { name: 'mtls.example.org', kind: 'HTTP' },
      problems: [],
    });
    expect(parseDomainSpec('api.example.com:Rest').domain.kind).toBe('REST');
  });

  it('says what is wrong with the name and with the kind', () => {
    expect(parseDomainSpec('api_example.com:SOAP').problems).toEqual([
      '"api_example.com" is not a domain name',
      '"api_example.com:SOAP" must end in :REST or :HTTP',
    ]);
    expect(parseDomainSpec('https://api.example.com').problems).toEqual([
      '"https" is not a domain name',
      '"https://api.example.com" must end in :REST or :HTTP',
    ]);
    expect(parseDomainSpec('api.example.com:HTTP:REST').problems).toEqual([
      '"api.example.com:HTTP:REST" must end in :REST or :HTTP',
    ]);
    expect(parseDomainSpec('').problems).toContain('"" is not a domain name');
  });
});

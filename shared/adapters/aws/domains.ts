/** The API Gateway APIs whose custom domains trustroll rolls: REST (apigateway) and HTTP (apigatewayv2). */
export const DOMAIN_KINDS = ['REST', 'HTTP'] as const;

export type DomainKind = (typeof DOMAIN_KINDS)[number];

export const isDomainKind = (kind: string): kind is DomainKind =>
  (DOMAIN_KINDS as readonly string[]).includes(kind);

export interface ManagedDomain {
  readonly name: string;
  /** REST custom domains (apigateway) or HTTP API domains (apigatewayv2). */
  readonly kind: DomainKind;
}

const DOMAIN_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/**
 * One configured domain, written `api.example.com`, `api.example.com:REST` or
 * `api.example.com:HTTP` (REST when no kind is given; name and kind in any case) — the one
 * spelling of TRUSTROLL_DOMAINS, the CLI's `--domain` and the CDK app's `-c domains`. The
 * problems say what to fix; the caller names where the spec came from.
 */
export const parseDomainSpec = (spec: string): { domain: ManagedDomain; problems: string[] } => {
  const [rawName = '', rawKind = 'REST', ...rest] = spec.trim().split(':');
  const name = rawName.toLowerCase();
  const kind = rawKind.trim().toUpperCase();
  const problems: string[] = [];
  if (!DOMAIN_NAME.test(name)) problems.push(`"${rawName}" is not a domain name`);
  if (!isDomainKind(kind) || rest.length > 0) problems.push(`"${spec}" must end in :REST or :HTTP`);
  return { domain: { name, kind: isDomainKind(kind) ? kind : 'REST' }, problems };
};

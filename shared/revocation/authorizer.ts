import type { Certificate } from '../pki/certificate.js';
import type { Clock, Log, ObjectStore } from '../ports.js';
import { type AuthorizeContext, authorize, DEFAULT_GRACE_SECONDS, type Reason } from './authorize.js';
import { CertificateCache, IndexCache } from './cache.js';

/**
 * The decision at the door for a long-lived process (the Lambda authorizer): the client
 * certificate API Gateway passes on after the mTLS handshake, decided against the published
 * revocation index held in memory (`IndexCache`), with the failure modes applied when there is
 * no usable index. The handler only maps the event in and the outcome out.
 */

export interface DoorSettings {
  /** Index version checks (a HEAD) at most this often. */
  readonly refreshSeconds: number;
  /** How long the last index stays in use while checks fail. */
  readonly maxAgeSeconds: number;
  /** No usable index: deny everyone (default) or let every client through, undecided. */
  readonly indexUnavailable: 'deny' | 'allow';
  readonly staleCrl: 'deny' | 'allow';
  readonly graceSeconds: number;
}

export const DEFAULT_DOOR_SETTINGS: DoorSettings = {
  refreshSeconds: 60,
  maxAgeSeconds: 15 * 60,
  indexUnavailable: 'deny',
  staleCrl: 'deny',
  graceSeconds: DEFAULT_GRACE_SECONDS,
};

export interface DoorOutcome {
  readonly decision: 'allow' | 'deny';
  readonly partner?: string;
  /** Why it was denied, or notes on an allow (a stale CRL let through, the index unavailable). */
  readonly reasons: readonly Reason[];
  /** What the integration receives; on a deny, as much as is known of the client. */
  readonly context?: AuthorizeContext;
  /** The index version decided with (absent when none was usable). */
  readonly indexVersion?: string;
}

export interface DoorDeps {
  readonly store: Pick<ObjectStore, 'get' | 'head'>;
  readonly clock: Pick<Clock, 'now'>;
  readonly log: Log;
}

export class Door {
  readonly index: IndexCache;
  private readonly certs = new CertificateCache();

  constructor(
    private readonly deps: DoorDeps,
    private readonly settings: DoorSettings,
  ) {
    this.index = new IndexCache(deps, {
      refreshMs: settings.refreshSeconds * 1000,
      maxAgeMs: settings.maxAgeSeconds * 1000,
    });
  }

  /** Loads the index (cold start), so that the first request does not pay for it. */
  async warm(): Promise<void> {
    await this.index.current();
  }

  /**
   * Decides for one request: `pem` is the client certificate API Gateway received (absent when
   * the domain has no mutual TLS, or the API was called on its execute-api endpoint), `route`
   * `METHOD /path`.
   */
  async decide(pem: string | undefined, route: string | undefined): Promise<DoorOutcome> {
    if (!pem?.includes('-----BEGIN'))
      return denied({
        code: 'cert.missing',
        message:
          'The request carries no client certificate: is mutual TLS on for the custom domain, and the default execute-api endpoint disabled?',
      });
    let cert: Certificate;
    try {
      cert = this.certs.get(pem);
    } catch (error) {
      return denied({
        code: 'cert.unreadable',
        message: `The client certificate cannot be read: ${(error as Error).message}`,
      });
    }
    const found = await this.index.current();
    if (!found.ok) {
      const reason = { code: 'index.unavailable', message: found.reason };
      if (this.settings.indexUnavailable === 'deny') return { ...denied(reason), context: partial(cert) };
      return { decision: 'allow', reasons: [reason], context: partial(cert) };
    }
    const decision = authorize(found.index, cert, route, {
      now: this.deps.clock.now(),
      staleCrl: this.settings.staleCrl,
      graceSeconds: this.settings.graceSeconds,
    });
    return {
      decision: decision.decision,
      ...(decision.partner === undefined ? {} : { partner: decision.partner }),
      reasons: decision.reasons,
      context: decision.context ?? partial(cert),
      indexVersion: found.version,
    };
  }
}

const denied = (reason: Reason): DoorOutcome => ({ decision: 'deny', reasons: [reason] });

/** What is known of a client without its partner (no index, or an issuer the index lacks). */
const partial = (cert: Certificate): AuthorizeContext => ({
  partner: '',
  certSha256: cert.fingerprint,
  issuerSha256: '',
  serial: cert.serial,
  subject: cert.subject.text,
  notAfter: cert.notAfter.toISOString(),
});

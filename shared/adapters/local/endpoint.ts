import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import { InputError, NotFoundError } from '../../errors.js';
import { type Finding, isBlocking } from '../../finding.js';
import { type Certificate, parseCertificate, pemToDer, toPem } from '../../pki/certificate.js';
import { readInput } from '../../pki/read.js';
import { TrustIndex, type VerifyResult, verifyClient } from '../../pki/verify.js';
import type { DomainGateway, DomainState, Log } from '../../ports.js';
import { formatAccessLogLine } from '../../refusals/access-log.js';
import { type AuthorizeDecision, authorize } from '../../revocation/authorize.js';
import { olderIndex, type RevocationIndex } from '../../revocation/index.js';
import { IssuerIndex } from '../../truststore/issuer-index.js';
import { DEFAULT_EXPIRING_DAYS, lintInputs } from '../../truststore/lint.js';
import { certExpired } from '../../truststore/rules/cert.expired.js';
import { certNotYetValid } from '../../truststore/rules/cert.not-yet-valid.js';
import type { RuleContext } from '../../truststore/rules/rule.js';
import { KEYS } from '../../truststore/state.js';

/** Where the endpoint reads the revocation index (`up`: its store). */
export interface IndexSource {
  /** A token that changes whenever a new index is published, read without reading the index. */
  readonly stamp: () => Promise<string>;
  /** The published index; undefined while none was published. */
  readonly load: () => Promise<{ readonly index: RevocationIndex; readonly version: string } | undefined>;
}

export interface LocalEndpointOptions {
  /** Reads a truststore version (the store's truststore object, or a file for `trustroll serve`). */
  readonly loadTruststore: (version: string) => Promise<Uint8Array>;
  /**
   * The versions are trustroll's own, checked against what was published (`up` reads them through
   * the state's SHA-256): every CA in them was judged when its revision was committed, so a load
   * judges again only what time changes (expired, not yet valid) instead of every signature, and
   * parses only the CAs it does not hold yet. Off (`serve`, any file): every load lints it all.
   */
  readonly judged?: boolean;
  /** Shown as the truststore URI in the domain status. */
  readonly truststoreUri?: string;
  /** The domain name this endpoint plays (what rolls name). */
  readonly domain: string;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /**
   * What to change when the port cannot be taken (default: `--port`), e.g. a target's "port" in
   * its targets file; said with the name of what the endpoint plays.
   */
  readonly portSource?: { readonly who: string; readonly fix: string };
  readonly serverKey: string;
  readonly serverCert: string;
  /**
   * CA list used while no truststore exists yet: a CA nobody holds a key for. Without a CA list
   * Node would fall back to its public root store and accept publicly issued client certificates.
   */
  readonly noTruststoreCa: string;
  readonly log: Log;
  /** Called with the domain status after start and every roll (`up` writes it for `trustroll status`). */
  readonly onStatus?: (state: DomainState) => Promise<void>;
  /**
   * Each request refused for its client certificate, as one line of the access-log format API
   * Gateway writes for a refused mutual TLS handshake (`trustroll refusals --log-file` reads it).
   */
  readonly refusalLog?: (line: string) => void;
  /**
   * `api-gateway` (default): after the handshake, the client's path is judged by the decision
   * `trustroll diagnose` makes (every CA of the path in the truststore, SHA-256 or stronger
   * signatures), and a refused client gets 403 like API Gateway. `plain-tls`: what OpenSSL alone
   * accepts.
   */
  readonly rules?: 'api-gateway' | 'plain-tls';
  /**
   * The revocation index, for the authorizer's decision after the handshake (with `api-gateway`
   * rules): a denied client gets 403 with the reasons. Absent (`serve`, a truststore file without
   * a store), or while no index is published: no authorization, as before.
   */
  readonly revocation?: IndexSource;
}

/** Why OpenSSL refused a client certificate, in API Gateway's words where it has them. */
const REASONS: Record<string, string> = {
  UNABLE_TO_GET_ISSUER_CERT:
    'unknown issuer: the client certificate\'s issuer is not in the truststore (API Gateway: "Could not find issuer for certificate")',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    'unknown issuer: the client certificate\'s issuer is not in the truststore (API Gateway: "Could not find issuer for certificate")',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    'unknown issuer: the client certificate\'s issuer is not in the truststore (API Gateway: "Could not find issuer for certificate")',
  CERT_HAS_EXPIRED: 'expired: the client certificate or a CA in its chain has expired',
  CERT_NOT_YET_VALID:
    'not yet valid: the client certificate or a CA in its chain is not valid yet (check clocks)',
  DEPTH_ZERO_SELF_SIGNED_CERT:
    'self signed certificate: the client sent a self-signed certificate that is not in the truststore (API Gateway: "self signed certificate")',
  SELF_SIGNED_CERT_IN_CHAIN:
    'self signed certificate in chain: the chain the client sent ends in a root that is not in the truststore',
  CERT_SIGNATURE_FAILURE:
    'bad signature: the client certificate was not signed by the CA of that name in the truststore (re-keyed CA?)',
  INVALID_PURPOSE: "wrong purpose: the client certificate's extended key usage does not allow clientAuth",
  CA_MD_TOO_WEAK:
    'insecure signature algorithm (API Gateway: "Client cert using an insecure Signature Algorithm")',
  EE_KEY_TOO_SMALL: 'client certificate key too small',
  CA_KEY_TOO_SMALL: 'CA key too small',
  CERT_CHAIN_TOO_LONG: 'certificate chain too long',
  INVALID_CA: 'a certificate in the chain is not a CA',
  ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE:
    'no client certificate: the client did not send one (curl --cert/--key, openssl s_client -cert/-key)',
};

export const explainHandshakeFailure = (code: string | undefined, message: string): string =>
  (code && REASONS[code]) ??
  (message.includes('no suitable signature algorithm') ? 'no shared signature algorithm' : message);

/**
 * The local stand-in for an API Gateway custom domain with mutual TLS: an HTTPS server on
 * 127.0.0.1 that requires a client certificate (TLS 1.2+), trusts exactly the truststore version
 * it was rolled to, hot-reloads its secure context on a roll (no restart, the listener stays),
 * logs why each refused handshake was refused, and answers accepted requests with JSON naming the
 * client certificate and the truststore version that accepted it.
 */
export class LocalEndpoint implements DomainGateway {
  private server: Server | undefined;
  private version: string | undefined;
  private warnings: string[] = [];
  /** The last handshake this endpoint refused, and why (a local probe names it). */
  lastHandshakeRefusal: { readonly at: number; readonly reason: string } | undefined;
  private trusted = new TrustIndex([]);
  /** The certificates of the version served, by PEM block: a judged load parses only new ones. */
  private parsed = new Map<string, Certificate>();
  /** The PEM blocks in the secure context serving now (a judged version), in file order. */
  private served: readonly string[] | undefined;
  /** The PEM blocks of the version just loaded (a judged version), in file order. */
  private loaded: readonly string[] | undefined;
  private readonly verdicts = new WeakMap<TLSSocket, VerifyResult>();
  /** The TLS connections open now, and those made under a version a roll has replaced since. */
  private readonly open = new Set<TLSSocket>();
  private readonly outdated = new WeakSet<TLSSocket>();
  /** The client certificate of each connection, parsed once (the authorizer decides per request). */
  private readonly clients = new WeakMap<TLSSocket, Certificate | 'unreadable'>();
  private index: { readonly index: RevocationIndex; readonly version: string } | undefined;
  private indexStamp: string | undefined;
  /** Why the index could not be read, while no index is in force. */
  private indexUnreadable: string | undefined;
  private notEnforcedSaid = false;

  constructor(private readonly options: LocalEndpointOptions) {}

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? this.options.port;
  }

  /** The truststore version served now (undefined: none yet). */
  get servedVersion(): string | undefined {
    return this.version;
  }

  get url(): string {
    return `https://${this.options.domain === 'localhost' ? 'localhost' : this.options.host}:${this.port}/`;
  }

  /** Starts listening, serving `version` of the truststore (or no CA at all yet). */
  async start(version?: string): Promise<void> {
    await this.refreshIndex();
    const ca = version ? await this.load(version) : this.options.noTruststoreCa;
    this.served = version ? this.loaded : undefined;
    this.version = version;
    const server = createServer({
      ...this.context(ca),
      requestCert: true,
      rejectUnauthorized: true,
    });
    server.on('secureConnection', (socket: TLSSocket) => {
      // A client may not renegotiate: its certificate and verdict are judged once per connection
      // (API Gateway accepts no renegotiation either).
      socket.disableRenegotiation();
      this.open.add(socket);
      socket.once('close', () => this.open.delete(socket));
      const verdict = this.apiGateway ? this.judge(socket) : undefined;
      if (verdict) this.verdicts.set(socket, verdict);
    });
    server.on('request', (req, res) => {
      const socket = req.socket as TLSSocket;
      // A connection made under a truststore version a roll has since taken CAs out of ends with
      // this request: its client is judged again in a new handshake (it may be refused there now).
      if (this.outdated.has(socket)) res.setHeader('connection', 'close');
      const peer = socket.getPeerCertificate();
      const verdict = this.verdicts.get(socket);
      if (verdict?.verdict === 'reject') {
        // API Gateway answers a client its truststore does not accept with 403 ("Access denied.
        // Reason: …" in the execution log); here the reason is diagnose's, code and all.
        const reason = verdict.reasons[0]!;
        this.logRefusal(socket, '403');
        this.options.log.warn('request refused', {
          reason: reason.message,
          code: reason.code,
          subject: peer.subject?.CN,
          truststoreVersion: this.version ?? 'none',
          domain: this.options.domain,
        });
        res.writeHead(403, { 'content-type': 'application/json' });
        res.end(
          `${JSON.stringify({ message: 'Forbidden', reason: reason.code, why: reason.message }, null, 2)}\n`,
        );
        return;
      }
      const decision = this.authorize(socket, req.method, req.url);
      if (decision?.decision === 'deny') {
        // The authorizer's 403 (a Lambda authorizer's Deny): every reason, in the body and the log.
        this.options.log.warn('request refused', {
          reason: decision.reasons.map((r) => r.message).join(' '),
          code: decision.reasons.map((r) => r.code).join(','),
          ...(decision.partner ? { partner: decision.partner } : {}),
          subject: peer.subject?.CN,
          route: routeOf(req.method, req.url),
          truststoreVersion: this.version ?? 'none',
          revocationIndex: this.index?.version ?? 'none',
          domain: this.options.domain,
        });
        const first = decision.reasons[0];
        res.writeHead(403, { 'content-type': 'application/json' });
        res.end(
          `${JSON.stringify(
            {
              message: 'Forbidden',
              decision: 'deny',
              ...(decision.partner ? { partner: decision.partner } : {}),
              ...(first ? { reason: first.code, why: first.message } : {}),
              reasons: decision.reasons,
            },
            null,
            2,
          )}\n`,
        );
        return;
      }
      const body = {
        ok: true,
        domain: this.options.domain,
        ...(decision?.partner ? { partner: decision.partner } : {}),
        truststoreVersion: this.version ?? null,
        client: {
          subject: peer.subject,
          issuer: peer.issuer,
          serialNumber: peer.serialNumber,
          fingerprint256: peer.fingerprint256?.replace(/:/g, '').toLowerCase(),
          validTo: peer.valid_to,
        },
      };
      this.options.log.info('request accepted', {
        subject: peer.subject?.CN,
        ...(decision?.partner ? { partner: decision.partner } : {}),
        version: this.version,
        domain: this.options.domain,
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(body, null, 2)}\n`);
    });
    server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
      const code = (socket as TLSSocket & { authorizationError?: string }).authorizationError ?? error.code;
      this.lastHandshakeRefusal = { at: Date.now(), reason: explainHandshakeFailure(code, error.message) };
      this.logRefusal(socket, '403');
      this.options.log.warn('handshake refused', {
        reason: explainHandshakeFailure(code, error.message),
        code: code ?? 'unknown',
        truststoreVersion: this.version ?? 'none',
        domain: this.options.domain,
      });
    });
    server.listen(this.options.port, this.options.host);
    try {
      await once(server, 'listening');
    } catch (error) {
      const refused = listenRefused(error, this.options.host, this.options.port);
      const source = this.options.portSource;
      const code = (error as NodeJS.ErrnoException).code;
      if (source && (code === 'EADDRINUSE' || code === 'EACCES'))
        throw new InputError(
          `${source.who} cannot listen on ${this.options.host}:${this.options.port} (${code === 'EADDRINUSE' ? 'the port is already in use: is another trustroll up or serve running?' : 'ports below 1024 need privileges'}): ${source.fix}`,
        );
      throw refused;
    }
    this.server = server;
    await this.options.onStatus?.(await this.describe(this.options.domain));
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async describe(domain: string): Promise<DomainState> {
    this.check(domain);
    return {
      name: domain,
      status: 'AVAILABLE',
      truststoreUri: this.options.truststoreUri ?? `local:${KEYS.truststore}`,
      ...(this.version ? { truststoreVersion: this.version } : {}),
      warnings: this.warnings,
    };
  }

  async roll(domain: string, version: string): Promise<void> {
    this.check(domain);
    // The index of a new version is published before the version is rolled: read it first, so a
    // client of a CA the version adds is not denied as unknown by the index of the version before.
    await this.refreshIndex();
    const ca = await this.load(version);
    if (this.server && !this.addToContext(this.server)) {
      this.server.setSecureContext(this.context(ca));
      // CAs may have been taken out: the connections open now were judged under the version before.
      for (const socket of this.open) this.outdated.add(socket);
      this.server.closeIdleConnections();
    }
    this.served = this.loaded;
    this.version = version;
    this.options.log.info('endpoint reloaded', { domain, version, warnings: this.warnings.length });
    await this.options.onStatus?.(await this.describe(domain));
  }

  /**
   * Rolls to a version that only adds CAs by adding them to the secure context serving now,
   * instead of building a new one. OpenSSL 3.0 (Node 20 and 22) reads each CA certificate in
   * ~0.15 ms and re-sorts the context's store after every one it adds, so a new context costs
   * 0.2–0.5 s for 1,000 CAs and many seconds for 10,000 — whether the CAs come as one PEM string
   * or one by one (measured alike) — while adding 3 to it costs a few milliseconds. Node has no
   * public call for that: its native context handle is used when it is there (false otherwise,
   * and the caller builds a new context). Only when every CA served stays, in the same order,
   * and no CA added shares a subject with one served (OpenSSL would then try them in another
   * order than the file's, the order `judge` follows): the context then trusts exactly the new
   * version. A roll that removes a CA always gets a new context (and new session ticket keys,
   * so no session made under the old version is resumed).
   */
  private addToContext(server: Server): boolean {
    const served = this.served;
    const next = this.loaded;
    if (!served || !next || next.length < served.length) return false;
    const native = (server as unknown as { _sharedCreds?: { context?: { addCACert?: unknown } } })
      ._sharedCreds?.context;
    if (typeof native?.addCACert !== 'function') return false;
    const kept = new Set(served);
    const added = next.filter((block) => !kept.has(block));
    if (added.length !== next.length - served.length) return false;
    // The order of the blocks kept must not change either (file order within a subject).
    const order = next.filter((block) => kept.has(block));
    if (order.some((block, i) => block !== served[i])) return false;
    const subjects = new Set(served.map((block) => this.parsed.get(block)?.subject.key));
    if (added.some((block) => subjects.has(this.parsed.get(block)?.subject.key))) return false;
    if (added.length > 0) (native.addCACert as (pem: string) => void).call(native, added.join(''));
    return true;
  }

  /** A refused client certificate, in the access-log format (nothing when the client sent none). */
  private logRefusal(socket: TLSSocket, status: string): void {
    if (!this.options.refusalLog) return;
    let peer: DetailedPeerCertificate | undefined;
    try {
      peer = socket.getPeerCertificate(true) as DetailedPeerCertificate;
    } catch {
      peer = undefined;
    }
    if (!peer?.raw) return;
    const now = new Date();
    // Names as trustroll writes them everywhere (RFC 4514), from its own parser.
    let cert: Certificate | undefined;
    try {
      cert = parseCertificate(new Uint8Array(peer.raw));
    } catch {
      cert = undefined;
    }
    const line = formatAccessLogLine({
      requestId: randomUUID(),
      requestTime: now.toISOString(),
      requestTimeEpoch: String(now.getTime()),
      // The custom domain this endpoint plays, as API Gateway logs $context.domainName (the Host
      // header says only localhost, and with several targets it could not tell them apart).
      domainName: this.options.domain,
      status,
      error: 'Forbidden',
      ...(socket.remoteAddress ? { sourceIp: socket.remoteAddress } : {}),
      clientCertPem: toPem(new Uint8Array(peer.raw)),
      ...(cert
        ? {
            subjectDN: cert.subject.text,
            issuerDN: cert.issuer.text,
            serialNumber: cert.serial,
            notBefore: cert.notBefore.toISOString(),
            notAfter: cert.notAfter.toISOString(),
          }
        : {}),
    });
    try {
      this.options.refusalLog(line);
    } catch (error) {
      this.options.log.warn('refusal not logged', { error: (error as Error).message });
    }
  }

  /**
   * Reads the revocation index again when it changed (its stamp: no read when it did not). A
   * missing index is said once (revocation is not enforced until one is published); an index that
   * cannot be read is logged and the one loaded before stays in force.
   */
  async refreshIndex(): Promise<void> {
    const source = this.options.revocation;
    if (!source) return;
    if (!this.apiGateway) {
      if (!this.notEnforcedSaid)
        this.options.log.warn('revocation not enforced', {
          reason: 'plain-tls: the endpoint plays a plain OpenSSL server, which has no authorizer',
        });
      this.notEnforcedSaid = true;
      return;
    }
    let stamp: string;
    let loaded: Awaited<ReturnType<IndexSource['load']>>;
    try {
      stamp = await source.stamp();
      if (stamp === this.indexStamp) return;
      loaded = await source.load();
    } catch (error) {
      this.options.log.error('revocation index not read', {
        error: (error as Error).message,
        inForce: this.index?.version ?? (this.apiGateway ? 'none: every client is denied' : 'none'),
      });
      // With no index in force, an unreadable one denies everyone (fails closed, as the Lambda
      // authorizer does): revocations it holds must not lapse because it cannot be read.
      if (!this.index) this.indexUnreadable = (error as Error).message;
      return;
    }
    this.indexUnreadable = undefined;
    this.indexStamp = stamp;
    if (!loaded && this.index) {
      // Published once, gone now: deleted by hand (trustroll status says DAMAGED). The index in
      // force stays: its revocations must not lapse because the file went away.
      this.options.log.error('revocation index missing', {
        inForce: this.index.version,
        fix: 'trustroll repair publishes it again',
      });
      return;
    }
    if (!loaded) {
      if (!this.notEnforcedSaid)
        this.options.log.warn('revocation not enforced', {
          reason:
            'no revocation index published yet: it comes with the first truststore version, and every revoke, unrevoke or rules change',
        });
      this.notEnforcedSaid = true;
      this.index = undefined;
      return;
    }
    if (loaded.version === this.index?.version) return;
    if (this.index && olderIndex(loaded.index.header, this.index.index.header)) {
      // An older index than the one in force (its newer versions deleted by hand): never step back.
      this.options.log.error('revocation index older than the one in force, not loaded', {
        version: loaded.version,
        revision: loaded.index.header.revision,
        generation: loaded.index.header.generation,
        inForce: this.index.version,
        fix: 'trustroll repair publishes the index of the latest state',
      });
      return;
    }
    const before = this.index?.version;
    this.index = loaded;
    this.options.log.info(before ? 'revocation index reloaded' : 'revocation index loaded', {
      version: loaded.version,
      revision: loaded.index.header.revision,
      revoked: loaded.index.header.revoked,
      rules: Object.keys(loaded.index.header.rules).length,
    });
  }

  /** The authorizer's decision for a request; undefined when no index is in force. */
  private authorize(socket: TLSSocket, method: string | undefined, url: string | undefined) {
    if (!this.apiGateway) return undefined;
    if (!this.index && this.indexUnreadable !== undefined)
      return {
        decision: 'deny',
        reasons: [
          {
            code: 'index.unavailable',
            message: `The revocation index cannot be read (${this.indexUnreadable}): every client is denied until it can.`,
          },
        ],
      } satisfies AuthorizeDecision;
    if (!this.index) return undefined;
    let client = this.clients.get(socket);
    if (!client) {
      const raw = socket.getPeerCertificate().raw;
      try {
        client = raw ? parseCertificate(new Uint8Array(raw)) : 'unreadable';
      } catch {
        client = 'unreadable';
      }
      this.clients.set(socket, client);
    }
    // OpenSSL accepted what this parser cannot read: the authorizer cannot decide, so it denies.
    if (client === 'unreadable')
      return {
        decision: 'deny',
        reasons: [
          {
            code: 'cert.unreadable',
            message:
              'The client certificate passed the handshake but trustroll cannot read it, so the authorizer cannot decide: it denies.',
          },
        ],
      } satisfies AuthorizeDecision;
    return authorize(this.index.index, client, routeOf(method, url), { now: new Date() });
  }

  private get apiGateway(): boolean {
    return (this.options.rules ?? 'api-gateway') === 'api-gateway';
  }

  private context(ca: string) {
    return {
      key: this.options.serverKey,
      cert: this.options.serverCert,
      ca,
      minVersion: 'TLSv1.2' as const,
      // OpenSSL's security level 1 would drop a SHA-1-signed client without a reason (the client
      // only sees the connection close): at level 0 the handshake completes and the decision
      // below refuses it with diagnose's reason, as API Gateway does with a 403.
      ...(this.apiGateway ? { ciphers: 'DEFAULT@SECLEVEL=0' } : {}),
    };
  }

  /** The decision `trustroll diagnose` makes, on the certificates the client sent. */
  private judge(socket: TLSSocket): VerifyResult | undefined {
    const chain: Certificate[] = [];
    const seen = new Set<string>();
    let peer: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
    try {
      while (peer?.raw && !seen.has(peer.fingerprint256)) {
        seen.add(peer.fingerprint256);
        chain.push(parseCertificate(new Uint8Array(peer.raw)));
        peer = peer.issuerCertificate;
      }
    } catch {
      // OpenSSL parsed and verified it: what this parser cannot read is left to OpenSSL's verdict.
      return undefined;
    }
    const [leaf, ...sent] = chain;
    if (!leaf) return undefined;
    // What Node lists as the chain mixes what the client sent with truststore CAs: the decision
    // takes the truststore's copy first either way.
    return verifyClient({ leaf, sent, trusted: this.trusted, at: new Date(), purpose: 'clientAuth' });
  }

  private check(domain: string): void {
    if (domain !== this.options.domain) {
      throw new NotFoundError(`this local endpoint plays ${this.options.domain}, not ${domain}`);
    }
  }

  /**
   * The warnings this endpoint would report for `version` were it rolled to it now, serving
   * nothing new: what a rollout compares a new version's warnings with (a CA of the version served
   * that expired since is not a warning the new version brought).
   */
  async warningsNow(version: string): Promise<string[]> {
    const body = await this.options.loadTruststore(version);
    const read = this.options.judged ? this.readJudged(Buffer.from(body).toString('utf8')) : undefined;
    return warningsOf(body, read?.certificates);
  }

  /** Reads a truststore version and computes the warnings API Gateway would report for it. */
  private async load(version: string): Promise<string> {
    const body = await this.options.loadTruststore(version);
    const text = Buffer.from(body).toString('utf8');
    const read = this.options.judged ? this.readJudged(text) : undefined;
    // The version served keeps its parsed blocks: the next version reuses those it shares.
    if (read) {
      this.parsed = read.parsed;
      this.loaded = read.blocks;
    } else this.loaded = undefined;
    const judged = read?.certificates;
    this.warnings = warningsOf(body, judged);
    this.trusted = new TrustIndex(
      judged ?? readInput({ name: 'truststore', bytes: body }).certificates.map((c) => c.cert),
    );
    return text;
  }

  /**
   * The certificates of a truststore trustroll rendered (one canonical PEM block per CA), in file
   * order, reusing those already parsed for the version served; undefined when the text is not
   * made of such blocks only, and is then read like any other file.
   */
  private readJudged(
    text: string,
  ): { blocks: string[]; parsed: Map<string, Certificate>; certificates: Certificate[] } | undefined {
    const blocks = text.match(PEM_BLOCK) ?? [];
    if (blocks.join('') !== text) return undefined;
    const parsed = new Map<string, Certificate>();
    try {
      for (const block of blocks)
        parsed.set(block, this.parsed.get(block) ?? parseCertificate(pemToDer(block)));
    } catch {
      return undefined;
    }
    return { blocks, parsed, certificates: blocks.map((block) => parsed.get(block)!) };
  }
}

/**
 * The warnings API Gateway would report for a truststore (`judged`: its certificates as ingest
 * judged them, only their time-bound findings are new): invalid certificates do not stop a roll,
 * they become warnings.
 */
const warningsOf = (body: Uint8Array, judged: readonly Certificate[] | undefined): string[] =>
  (judged ? timeFindings(judged, body.length) : lintInputs([{ name: 'truststore', bytes: body }]).findings)
    .filter(isBlocking)
    .map((f) => `${f.code}: ${f.cert?.subject ?? 'truststore'}: ${f.message}`);

/**
 * The request as the authorizer's routes name it: `METHOD /path`, without the query. A fragment
 * (never part of a request target) is kept, so that the route matcher refuses the path.
 */
const routeOf = (method: string | undefined, url: string | undefined): string => {
  const path = (url ?? '/').split('?')[0]!;
  return `${method ?? 'GET'} ${path.startsWith('/') ? path : `/${path}`}`;
};

/** What can change in a version ingest judged: only time (a CA expires, or becomes valid). */
const TIME_RULES = [certExpired, certNotYetValid];

/** The findings of TIME_RULES, which look at each certificate and the time only. */
const timeFindings = (certificates: readonly Certificate[], renderedBytes: number): Finding[] => {
  const ctx: RuleContext = {
    at: new Date(),
    expiringDays: DEFAULT_EXPIRING_DAYS,
    certificates,
    occurrences: [],
    index: new IssuerIndex([]),
    renderedBytes,
  };
  return certificates.flatMap((cert) => TIME_RULES.flatMap((rule) => rule.check(cert, ctx)));
};

/** One certificate block as trustroll renders it (`toPem`). */
const PEM_BLOCK = /-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n/g;

/**
 * Why the endpoint could not listen, as a sentence saying what to do: a port already taken (most
 * often by another `trustroll up` or `serve`), a privileged port, an address this machine lacks.
 */
export const listenRefused = (error: unknown, host: string, port: number, option = '--port'): Error => {
  const code = (error as NodeJS.ErrnoException).code;
  const where = `${host}:${port}`;
  if (code === 'EADDRINUSE')
    return new InputError(
      `port ${port} on ${host} is already in use (is another trustroll up or serve running?): stop it, or pick another port with ${option} (npm start -- ${option} ${option === '--port' ? 8444 : 8081}; 0 picks a free one)`,
    );
  if (code === 'EACCES')
    return new InputError(
      `not allowed to listen on ${where} (ports below 1024 need privileges): pick another port with ${option}`,
    );
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return new InputError(
      `cannot listen on ${where}: this machine has no such address; check --host (default 127.0.0.1)`,
    );
  return error as Error;
};

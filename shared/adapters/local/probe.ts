import { spawnSync } from 'node:child_process';
import { connect, type DetailedPeerCertificate, type TLSSocket } from 'node:tls';

export interface ProbeOptions {
  readonly host: string;
  readonly port: number;
  readonly servername?: string;
  /** Client certificate and key (PEM). */
  readonly cert?: string;
  readonly key?: string;
  /** CA to verify the server with (PEM); default: the system roots. */
  readonly ca?: string;
  readonly timeoutMs?: number;
}

export interface ServerCert {
  readonly subject: string;
  readonly issuer: string;
  readonly notAfter: string;
  readonly daysLeft: number;
}

export interface ProbeResult {
  readonly target: string;
  readonly handshake: 'completed' | 'failed' | 'no-connection';
  readonly protocol?: string;
  readonly cipher?: string;
  readonly serverChain: readonly ServerCert[];
  readonly serverTrusted?: boolean;
  readonly serverTrustError?: string;
  readonly clientCertSent: boolean;
  /** `yes` / `no` from the server's CertificateRequest (via openssl s_client), `unknown` without openssl. */
  readonly clientCertRequested: 'yes' | 'no' | 'unknown';
  /** CA names the server announced as acceptable for client certificates. */
  readonly acceptableCas: readonly string[];
  /** The TLS alert received, e.g. `unknown ca`, `certificate expired`, `certificate required`. */
  readonly alert?: string;
  readonly error?: string;
  readonly httpStatus?: number;
  /**
   * Why the endpoint refused the request, when its answer says so: the `reason` (and `why`) of
   * a JSON body, as the local endpoint's 403 carries them.
   */
  readonly refusal?: { readonly reason: string; readonly why?: string };
  /** What this combination means, in one sentence. */
  readonly meaning: string;
}

const DAY = 86_400_000;

const alertOf = (error: NodeJS.ErrnoException): string | undefined => {
  const m = /ALERT_([A-Z_]+)$/.exec(error.code ?? '');
  if (m) return m[1]!.toLowerCase().replace(/_/g, ' ');
  const text = /alert ([a-z ]+)/i.exec(error.message);
  return text ? text[1]!.toLowerCase().trim() : undefined;
};

const dn = (o: Record<string, string | string[]> | undefined): string =>
  o
    ? Object.entries(o)
        .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`)
        .reverse()
        .join(',')
    : '';

/**
 * A real TLS handshake against a live endpoint, then a GET: protocol, cipher, the server's chain
 * and expiry, whether a client certificate was requested, the alert received, the HTTP status,
 * and what that combination means.
 */
export const probe = async (o: ProbeOptions): Promise<ProbeResult> => {
  const target = `${o.host}:${o.port}`;
  const timeout = o.timeoutMs ?? 10_000;
  const clientCertSent = Boolean(o.cert && o.key);
  const requested = clientCertRequest(o);
  const base = {
    target,
    clientCertSent,
    clientCertRequested: requested.requested,
    acceptableCas: requested.cas,
  };
  return new Promise<ProbeResult>((resolve) => {
    let socket: TLSSocket;
    let secure:
      | Pick<ProbeResult, 'protocol' | 'cipher' | 'serverChain' | 'serverTrusted' | 'serverTrustError'>
      | undefined;
    let response = '';
    let done = false;
    const finish = (partial: Partial<ProbeResult> & Pick<ProbeResult, 'handshake'>) => {
      if (done) return;
      done = true;
      socket?.destroy();
      const result = { ...base, serverChain: [], ...secure, ...partial } as Omit<ProbeResult, 'meaning'>;
      resolve({ ...result, meaning: meaning(result) });
    };
    try {
      socket = connect({
        host: o.host,
        port: o.port,
        servername: o.servername ?? (/^[\d.]+$/.test(o.host) ? undefined : o.host),
        ...(o.cert && o.key ? { cert: o.cert, key: o.key } : {}),
        ...(o.ca ? { ca: o.ca } : {}),
        rejectUnauthorized: false,
        minVersion: 'TLSv1.2',
      });
    } catch (error) {
      resolve({
        ...base,
        handshake: 'failed',
        serverChain: [],
        error: (error as Error).message,
        meaning: `The client certificate or key could not be loaded: ${(error as Error).message}.`,
      });
      return;
    }
    socket.setTimeout(timeout, () =>
      finish(
        answer() ?? { handshake: secure ? 'completed' : 'failed', error: `no answer within ${timeout} ms` },
      ),
    );
    socket.on('secureConnect', () => {
      const chain: ServerCert[] = [];
      let peer = socket.getPeerCertificate(true) as DetailedPeerCertificate | undefined;
      const seen = new Set<string>();
      while (peer?.raw && !seen.has(peer.fingerprint256)) {
        seen.add(peer.fingerprint256);
        chain.push({
          subject: dn(peer.subject as never),
          issuer: dn(peer.issuer as never),
          notAfter: new Date(peer.valid_to).toISOString(),
          daysLeft: Math.floor((Date.parse(peer.valid_to) - Date.now()) / DAY),
        });
        peer = peer.issuerCertificate;
      }
      secure = {
        protocol: socket.getProtocol() ?? 'unknown',
        cipher: socket.getCipher()?.name ?? 'unknown',
        serverChain: chain,
        serverTrusted: socket.authorized,
        ...(socket.authorizationError ? { serverTrustError: String(socket.authorizationError) } : {}),
      };
      socket.write(
        `GET / HTTP/1.1\r\nHost: ${o.servername ?? o.host}\r\nUser-Agent: trustroll-probe\r\nConnection: close\r\n\r\n`,
      );
    });
    /** The answer so far: its status once the status line is in, and a refusal its body names. */
    const answer = (): (Partial<ProbeResult> & Pick<ProbeResult, 'handshake'>) | undefined => {
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(response);
      if (!status) return undefined;
      const refusal = refusalIn(response);
      return { handshake: 'completed', httpStatus: Number(status[1]), ...(refusal ? { refusal } : {}) };
    };
    socket.on('data', (d) => {
      response += d.toString('utf8');
      // The whole body (its Content-Length) is read before finishing: it may say why.
      const head = response.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(response.slice(0, head));
      const got = answer();
      // Without a length, the server's close (Connection: close) ends the answer.
      if (got && head >= 0 && length && Buffer.byteLength(response.slice(head + 4)) >= Number(length[1]))
        finish(got);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const alert = alertOf(error);
      if (error.code === 'ECONNREFUSED' || error.code === 'ENOTFOUND' || error.code === 'EHOSTUNREACH') {
        finish({ handshake: 'no-connection', error: error.message });
      } else {
        finish({ handshake: 'failed', ...(alert ? { alert } : {}), error: error.message });
      }
    });
    socket.on('end', () =>
      finish(
        answer() ?? {
          handshake: secure ? 'completed' : 'failed',
          error: 'the server closed the connection without an answer',
        },
      ),
    );
  });
};

/**
 * Whether the server sends a CertificateRequest, and its CA names: openssl s_client shows both
 * (Node does not expose the CertificateRequest). This is a second, certificate-less handshake:
 * the endpoint logs it as one more refusal.
 */
const clientCertRequest = (
  o: ProbeOptions,
): { requested: ProbeResult['clientCertRequested']; cas: string[] } => {
  const r = spawnSync(
    'openssl',
    [
      's_client',
      '-connect',
      `${o.host}:${o.port}`,
      ...(o.servername ? ['-servername', o.servername] : []),
      // Names as every other trustroll output writes them (RFC 4514: CN=…,O=…), UTF-8 kept.
      '-nameopt',
      'RFC2253,-esc_msb',
    ],
    {
      input: '',
      encoding: 'utf8',
      timeout: 10_000,
    },
  );
  if (r.error || r.status === null) return { requested: 'unknown', cas: [] };
  const out = r.stdout ?? '';
  const start = out.indexOf('Acceptable client certificate CA names');
  const cas: string[] = [];
  if (start >= 0) {
    for (const line of out.slice(start).split('\n').slice(1)) {
      if (!line.trim() || /^(Requested|Client Certificate Types|Shared|Peer|Server Temp)/.test(line)) break;
      cas.push(line.trim());
    }
  }
  // s_client prints "No client certificate CA names sent" whether or not a CertificateRequest
  // came (and after a failed handshake too): only what a CertificateRequest carries says yes, and
  // "no" needs a handshake that completed (a plain-HTTP port completes none).
  const requested =
    start >= 0 || out.includes('Client Certificate Types') || out.includes('Requested Signature Algorithms')
      ? 'yes'
      : /Cipher is (?!\(NONE\))/.test(out)
        ? 'no'
        : 'unknown';
  return { requested, cas };
};

/** The `reason` (and `why`) of a JSON body, such as the local endpoint's 403. */
const refusalIn = (response: string): ProbeResult['refusal'] => {
  const head = response.indexOf('\r\n\r\n');
  if (head < 0) return undefined;
  let text = response.slice(head + 4);
  if (/\r\ntransfer-encoding:\s*chunked/i.test(response.slice(0, head))) text = unchunk(text);
  try {
    const body = JSON.parse(text) as { reason?: unknown; why?: unknown };
    if (typeof body.reason !== 'string' || !body.reason) return undefined;
    return { reason: body.reason, ...(typeof body.why === 'string' ? { why: body.why } : {}) };
  } catch {
    return undefined;
  }
};

/** A chunked body's data (what has arrived of it). */
const unchunk = (text: string): string => {
  let out = '';
  for (let at = 0; ; ) {
    const eol = text.indexOf('\r\n', at);
    const size = eol < 0 ? Number.NaN : Number.parseInt(text.slice(at, eol), 16);
    if (!(size > 0)) return out;
    out += text.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
};

/** Something answered but not with TLS: OpenSSL's record layer says so in these words. */
const NOT_TLS = /wrong version number|packet length too long|http request|unknown protocol/i;

const meaning = (r: Omit<ProbeResult, 'meaning'>): string => {
  if (r.handshake === 'no-connection')
    return `Nothing answers at ${r.target}: check the host, port and network.`;
  const expiredServer = r.serverChain.find((c) => c.daysLeft < 0);
  const serverNote = expiredServer
    ? ` (Note: the server certificate ${expiredServer.subject} has expired.)`
    : '';
  if (r.alert) {
    const a = r.alert;
    if (a.includes('certificate required') || (!r.clientCertSent && a.includes('handshake failure'))) {
      return `The endpoint requires a client certificate and none was sent: pass --cert and --key.${serverNote}`;
    }
    if (a.includes('unknown ca')) {
      return `The endpoint does not trust the CA that issued the client certificate: its truststore lacks the issuer or an intermediate ("Could not find issuer for certificate"); run trustroll diagnose against the truststore.${serverNote}`;
    }
    if (a.includes('expired'))
      return `The client certificate, or a CA in its chain, has expired: renew it (trustroll diagnose says which).${serverNote}`;
    if (
      a.includes('bad certificate') ||
      a.includes('unsupported certificate') ||
      a.includes('certificate unknown')
    ) {
      return `The endpoint refused the client certificate (${a}): wrong purpose or key usage, a weak signature, or a CA problem; trustroll diagnose names it.${serverNote}`;
    }
    if (a.includes('decrypt error'))
      return 'The client key does not match the client certificate: pair the certificate with its own key.';
    return `The handshake failed with the alert "${a}".${serverNote}`;
  }
  if (r.handshake === 'failed' && r.error && NOT_TLS.test(r.error))
    return `Something answers at ${r.target}, but not with TLS (a plain-HTTP port?): probe the port that serves HTTPS.`;
  if (r.handshake === 'failed') return `The handshake failed: ${oneLine(r.error)}.${serverNote}`;
  const status = r.httpStatus;
  if (status === undefined && r.clientCertSent) {
    return `The endpoint closed the connection right after the handshake without answering: it refused the client certificate (TLS 1.3 servers often do so without an alert). trustroll diagnose --truststore … --cert … says why.${serverNote}`;
  }
  if (status === undefined) {
    return `The handshake completed but no HTTP answer came (${r.error ?? 'closed'}).${serverNote}`;
  }
  if (!r.clientCertSent && status < 400) {
    return `The endpoint answered ${status} without a client certificate: mutual TLS is not enforced here (is the default execute-api endpoint still enabled?).${serverNote}`;
  }
  if (status === 403 && r.refusal) {
    return `The handshake succeeded but the endpoint refused the client certificate with 403, reason ${r.refusal.reason}${r.refusal.why ? `: ${r.refusal.why}` : '.'}${serverNote}`;
  }
  if (status === 403) {
    return `The handshake succeeded but the request was refused with 403: on API Gateway an untrusted client certificate can end this way (the execution log gives the reason), or an authorizer or resource policy refused it.${serverNote}`;
  }
  if (status < 400)
    return `The endpoint accepted the client certificate and answered ${status}.${serverNote}`;
  return `The handshake succeeded; the endpoint answered ${status}, which is about the request, not the certificate.${serverNote}`;
};

/** An OpenSSL error as one line: its trailing newline and source location dropped. */
const oneLine = (error: string | undefined): string =>
  (error ?? 'no reason given')
    .trim()
    .replace(/:\.\.\/[^\s]*:\d+:?$/, '')
    .replace(/\s*\n\s*/g, ' ');

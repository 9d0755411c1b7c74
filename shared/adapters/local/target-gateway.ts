import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { NotFoundError } from '../../errors.js';
import type { Target, TargetGateway, TargetState } from '../../rollout/model.js';
import type { LocalEndpoint } from './endpoint.js';

/** How long a local probe may take before it counts as failed. */
const PROBE_TIMEOUT_MS = 10_000;

/**
 * The targets of a rollout on one machine: each API Gateway target is played by its own local
 * endpoint (`trustroll up --targets`), rolled by hot reload; a probe is a real mutual TLS request
 * through it with the probe's client certificate.
 */
export class LocalTargetGateway implements TargetGateway {
  constructor(
    private readonly endpoints: ReadonlyMap<string, LocalEndpoint>,
    /** The CA of the endpoints' server certificate (the probe checks the server it talks to). */
    private readonly serverCa: string,
  ) {}

  private endpoint(target: Target): LocalEndpoint {
    const endpoint = this.endpoints.get(target.id);
    if (!endpoint) throw new NotFoundError(`no local endpoint plays target ${target.id}`);
    return endpoint;
  }

  describe(target: Target): Promise<TargetState> {
    return this.endpoint(target).describe(target.resource);
  }

  update(target: Target, version: string): Promise<void> {
    return this.endpoint(target).roll(target.resource, version);
  }

  warningsNow(target: Target, version: string): Promise<readonly string[]> {
    return this.endpoint(target).warningsNow(version);
  }

  async probe(target: Target): Promise<{ readonly ok: boolean; readonly detail: string }> {
    const spec = target.probe;
    if (!spec) return { ok: true, detail: 'no probe' };
    const expect = spec.expectStatus ?? 200;
    let cert: Buffer;
    let key: Buffer;
    try {
      [cert, key] = await Promise.all([readFile(spec.clientCert), readFile(spec.clientKey)]);
    } catch (error) {
      return {
        ok: false,
        detail: `cannot read the probe's client certificate or key: ${(error as Error).message}`,
      };
    }
    const started = Date.now();
    const endpoint = this.endpoint(target);
    const status = await new Promise<number | string>((resolve) => {
      // `agent: false`: a connection of its own, with a full handshake. Node's global agent keeps
      // connections alive (and caches TLS sessions): a probe after a roll would go over the
      // connection authenticated under the previous truststore, and pass a version that refuses
      // its client.
      const req = request(
        spec.url,
        { method: 'GET', cert, key, ca: this.serverCa, timeout: PROBE_TIMEOUT_MS, agent: false },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', (error) => resolve(error.message));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer in ${PROBE_TIMEOUT_MS / 1000} s`)));
      // A refused client certificate ends the connection during or right after the handshake.
      req.on('error', (error: NodeJS.ErrnoException) => {
        // The endpoint says why it refused the handshake: its event may come a moment after the
        // client's error (same process, another turn of the event loop), so look for up to 2 s.
        const since = Date.now();
        const look = () => {
          const refused = endpoint.lastHandshakeRefusal;
          if (refused && refused.at >= started)
            resolve(
              `the endpoint refused the probe's client certificate in the handshake: ${refused.reason}`,
            );
          else if (Date.now() - since < 2_000) setTimeout(look, 20);
          else if (
            error.code === 'ECONNREFUSED' ||
            error.code === 'ENOTFOUND' ||
            error.code === 'EADDRNOTAVAIL'
          )
            resolve(
              `the request failed (${error.code}: ${error.message}): nothing answers at the probe's URL, so its host or port does not reach the target's endpoint (the version was not judged): fix "probe.url"`,
            );
          else
            resolve(
              `the request failed (${error.code ?? 'error'}: ${error.message}): the client certificate was likely refused`,
            );
        };
        look();
      });
      req.end();
    });
    return status === expect
      ? { ok: true, detail: `HTTP ${status}` }
      : { ok: false, detail: typeof status === 'number' ? `HTTP ${status}, expected ${expect}` : status };
  }
}

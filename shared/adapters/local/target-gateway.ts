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
    const status = await new Promise<number | string>((resolve) => {
      const req = request(
        spec.url,
        { method: 'GET', cert, key, ca: this.serverCa, timeout: PROBE_TIMEOUT_MS },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', (error) => resolve(error.message));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer in ${PROBE_TIMEOUT_MS / 1000} s`)));
      // A refused client certificate ends the connection during or right after the handshake.
      req.on('error', (error: NodeJS.ErrnoException) =>
        resolve(
          `the request failed (${error.code ?? 'error'}: ${error.message}): the client certificate was likely refused`,
        ),
      );
      req.end();
    });
    return status === expect
      ? { ok: true, detail: `HTTP ${status}` }
      : { ok: false, detail: typeof status === 'number' ? `HTTP ${status}, expected ${expect}` : status };
  }
}

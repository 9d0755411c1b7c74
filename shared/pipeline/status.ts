import type { DomainState } from '../ports.js';
import { latestPublished } from '../truststore/state.js';
import type { PublishDeps } from './publish.js';
import { loadState } from './state-store.js';

export interface DomainStatusLine extends DomainState {
  readonly latest: boolean;
  /** Why the domain is not where trustroll put it (pointing at a version or object it did not roll). */
  readonly drift?: string;
}

/** Each domain's version, status and warnings, whether it is on the latest version, and drift. */
export const domainStatus = async (
  deps: Pick<PublishDeps, 'store' | 'gateway' | 'roll'>,
  truststoreUri?: string,
): Promise<DomainStatusLine[]> => {
  const { state } = await loadState(deps.store);
  const latest = latestPublished(state)?.version;
  const ours = new Set(state.history.flatMap((r) => (r.version ? [r.version] : [])));
  const out: DomainStatusLine[] = [];
  for (const domain of deps.roll.domains) {
    const d = await deps.gateway.describe(domain);
    let drift: string | undefined;
    if (truststoreUri && d.truststoreUri && d.truststoreUri !== truststoreUri) {
      drift = `points at ${d.truststoreUri}, not trustroll's truststore`;
    } else if (d.truststoreVersion && !ours.has(d.truststoreVersion)) {
      drift = `serves truststore version ${d.truststoreVersion}, which trustroll never published (changed by hand?)`;
    }
    out.push({
      ...d,
      latest: d.truststoreVersion !== undefined && d.truststoreVersion === latest,
      ...(drift ? { drift } : {}),
    });
  }
  return out;
};

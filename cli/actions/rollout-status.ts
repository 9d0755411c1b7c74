import type { Rollout } from '../../shared/rollout/model.js';
import { shown } from '../../shared/text.js';
import { type Io, jsonOut } from '../io.js';

/**
 * `trustroll status` of an s3:// store whose versions the durable rollout rolls (the construct's
 * `targets`): the store line, then the last rollout's record (`rollouts/<id>.json`) with every
 * target's phase. Exit 0 only when that rollout succeeded with the latest published version;
 * 1 while it runs, when it did not succeed, when a newer version has no record yet, or when an
 * ELB trust store lacks CRLs the state holds for its CAs (accepted since its last rollout).
 */
export const rolloutStatus = (
  rollout: Rollout,
  context: {
    readonly storeLine: string;
    readonly store: { readonly latestVersion?: string } & Record<string, unknown>;
    readonly json?: boolean;
    readonly pending?: unknown;
    readonly indexBehind?: string;
    /** ELB trust stores whose CRLs are behind the state's (trustStoresBehind). */
    readonly revocationsBehind?: readonly string[];
  },
  io: Io,
  exit: (code: number) => void,
): void => {
  const latest = rollout.version === context.store.latestVersion;
  const behind = context.revocationsBehind ?? [];
  if (context.json)
    io.out(
      jsonOut({
        ...context.store,
        rollout,
        rolloutOfLatest: latest,
        ...(behind.length > 0 ? { revocationsBehind: behind } : {}),
      }),
    );
  else {
    const out = [
      context.storeLine,
      shown`last rollout: truststore version ${rollout.version} (revision ${rollout.revision}), ${rollout.status}` +
        (rollout.reason ? shown`: ${rollout.reason}` : '') +
        (latest ? '' : ' (NOT the latest version: its rollout has not written a record yet)'),
      ...rollout.targets.flatMap((t) => [
        shown`  ${t.wave} ${t.id}: ${t.phase}${t.from ? ` (from ${t.from})` : ''}${t.error ? `: ${t.error}` : ''}`,
        // An ELB trust store takes only CRLs: what it cannot enforce is said, never implied.
        ...(t.phase === 'rolled-back' ? [] : (t.notEnforced ?? [])).map(
          (n) => shown`    warning: ${t.id} does not enforce ${n}`,
        ),
      ]),
      ...behind.map((b) => shown`REVOCATIONS BEHIND: ${b}`),
    ];
    io.out(`${out.join('\n')}\n`);
  }
  // A trust store without the state's newest CRLs lets revoked clients in: not a clean status.
  exit(
    context.pending || context.indexBehind || behind.length > 0 || !latest || rollout.status !== 'succeeded'
      ? 1
      : 0,
  );
};

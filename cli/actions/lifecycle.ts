import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { EndpointStatusFile } from '../../shared/adapters/local/endpoint-status.js';
import { DamagedStoreError, NotFoundError } from '../../shared/errors.js';
import {
  applyPromotion,
  type ChangeReport,
  diffVersions,
  MAX_REQUEST_BYTES,
  parseRemovalRequest,
  planPromotion,
  type RemovalRequest,
  removeCas,
  rollbackTruststore,
  truststoreHistory,
} from '../../shared/pipeline/lifecycle.js';
import { repairStore } from '../../shared/pipeline/repair.js';
import { heldIssuer, heldRecordSets, indexProblem, retiredClaims } from '../../shared/pipeline/revocation.js';
import { findDamage, loadState } from '../../shared/pipeline/state-store.js';
import { type DomainStatusLine, domainStatus } from '../../shared/pipeline/status.js';
import { elbRevocationPlan, trustStoresBehind } from '../../shared/rollout/elb-revocations.js';
import { latestCrlSync, latestRollout } from '../../shared/rollout/records.js';
import { shown } from '../../shared/text.js';
import { latestPublished, pendingRevision, type TruststoreState } from '../../shared/truststore/state.js';
import { answer, folderOrAbsent, type Io, jsonOut, readBounded, UsageError } from '../io.js';
import { depsFor, openStore, requireStore, type StoreDeps, type StoreFlags } from '../stores.js';
import { rolloutStatus } from './rollout-status.js';
import { readRolloutFile, targetStatusFilesIn } from './up-targets.js';

type Flags = StoreFlags & { readonly json?: boolean };

/** One CA of a change, diff or promotion: subject and partner as data, escaped. */
const caLine = (sign: '+' | '-', e: { subject: string; partner: string }, detail: string) =>
  shown`  ${sign} ${e.subject} (partner ${e.partner}, ${detail})`;

const printChange = (io: Io, r: ChangeReport, json?: boolean) => {
  if (json) return io.out(jsonOut(r));
  const lines = [shown`${r.message}`];
  for (const e of r.removed) lines.push(caLine('-', e, `sha256 ${e.fingerprint.slice(0, 16)}…`));
  for (const e of r.added) lines.push(caLine('+', e, `sha256 ${e.fingerprint.slice(0, 16)}…`));
  if (r.outcome === 'changed')
    lines.push(
      r.supersededBy !== undefined && r.version === undefined
        ? shown`truststore revision ${r.revision}, superseded by revision ${r.supersededBy} (a change committed meanwhile, published with this one's); a running trustroll up rolls its endpoint to it.`
        : shown`truststore revision ${r.revision}, version ${r.version ?? '(unpublished)'}; a running trustroll up rolls its endpoint to it.`,
    );
  io.out(`${lines.join('\n')}\n`);
};

/**
 * The JSON of a removal request file. A folder, a missing file or text that is not JSON is one
 * sentence naming the file, never a raw EISDIR or a JSON.parse message without it.
 */
const readRequestFile = async (path: string): Promise<unknown> => {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new UsageError(`--request ${path}: no such file: name the removal request JSON file`);
  if (info.isDirectory())
    throw new UsageError(
      `--request wants a file, and ${path} is a folder: name the removal request JSON file`,
    );
  const text = Buffer.from(await readBounded(path, MAX_REQUEST_BYTES)).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(
      `--request ${path} is not valid JSON (${(error as Error).message}): write it as {"partner"|"subject"|"fingerprints": …, "reason": "…", "requestedBy": "…"}`,
    );
  }
};

/**
 * A local `--to` that is a file, or runs through one, is a usage error said plainly, before the
 * store would be created there and fail with ENOTDIR as if the file system had failed.
 */
const targetFolder = async (path: string): Promise<void> => {
  for (let p = resolve(path); ; p = dirname(p)) {
    const info = await stat(p).catch(() => undefined);
    if (info && !info.isDirectory())
      throw new UsageError(
        p === resolve(path)
          ? `--to ${path} is a file, not a folder: name the data folder of the target store (with --create, one that does not exist yet)`
          : `--to ${path} runs through ${p}, which is a file, not a folder: name the data folder of the target store`,
      );
    if (info || dirname(p) === p) return;
  }
};

/** `trustroll remove` (declared in commands/lifecycle.ts). */
export const remove = async (
  flags: Flags & {
    fingerprint?: string[];
    subject?: string;
    partner?: string;
    reason?: string;
    requestedBy: string;
    request?: string;
  },
  cmd: Command,
  io: Io,
  exit: (code: number) => void,
): Promise<void> => {
  // A request file says everything; flags beside it would be silently ignored.
  if (flags.request) {
    const given = (
      [
        ['--fingerprint', flags.fingerprint],
        ['--subject', flags.subject],
        ['--partner', flags.partner],
        ['--reason', flags.reason],
        // --requested-by has a default: only one typed on the command line counts.
        ['--requested-by', cmd.getOptionValueSource('requestedBy') === 'cli' ? flags.requestedBy : undefined],
      ] as const
    )
      .filter(([, v]) => v !== undefined)
      .map(([name]) => name);
    if (given.length > 0)
      throw new UsageError(
        `--request ${flags.request} says what to remove, why and who asked, so ${given.join(', ')} cannot be given with it: put them in the request file, or drop --request`,
      );
  }
  let request: RemovalRequest;
  try {
    request = parseRemovalRequest(
      flags.request
        ? await readRequestFile(flags.request)
        : {
            ...(flags.fingerprint ? { fingerprints: flags.fingerprint } : {}),
            ...(flags.subject ? { subject: flags.subject } : {}),
            ...(flags.partner ? { partner: flags.partner } : {}),
            reason: flags.reason ?? '',
            requestedBy: flags.requestedBy,
          },
    );
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(
      flags.request ? `--request ${flags.request}: ${(error as Error).message}` : (error as Error).message,
    );
  }
  const report = await removeCas(request, await openStore(flags.store, flags, io));
  printChange(io, report, flags.json);
  exit(report.outcome === 'changed' ? 0 : 1);
};

/** `trustroll rollback` (declared in commands/lifecycle.ts). */
export const rollback = async (
  flags: Flags & { to?: string },
  io: Io,
  exit: (code: number) => void,
): Promise<void> => {
  const report = await rollbackTruststore(flags.to, await openStore(flags.store, flags, io));
  printChange(io, report, flags.json);
  exit(report.outcome === 'changed' ? 0 : 1);
};

/** `trustroll history` (declared in commands/lifecycle.ts). */
export const history = async (flags: Flags, io: Io, exit: (code: number) => void): Promise<void> => {
  const lines = await truststoreHistory((await openStore(flags.store, flags, io)).store);
  if (flags.json) io.out(jsonOut(lines));
  else {
    const out: string[] = [];
    for (const l of lines) {
      const version =
        l.version ??
        (l.supersededBy !== undefined
          ? `(superseded by revision ${l.supersededBy})`
          : l.lostVersion
            ? `(${l.lostVersion}, lost)`
            : '(unpublished)');
      out.push(shown`revision ${l.revision}  version ${version}  ${l.at}  ${l.reason}`);
      for (const a of l.added) out.push(shown`    + ${a.subject} (${a.partner})`);
      for (const r of l.removed) out.push(shown`    - ${r.subject} (${r.partner})`);
    }
    io.out(`${out.join('\n') || 'No truststore versions yet.'}\n`);
  }
  exit(0);
};

/** `trustroll diff` (declared in commands/lifecycle.ts). */
export const diff = async (
  a: string,
  b: string,
  flags: Flags,
  io: Io,
  exit: (code: number) => void,
): Promise<void> => {
  const d = await diffVersions((await openStore(flags.store, flags, io)).store, a, b);
  if (flags.json) io.out(jsonOut(d));
  else {
    const out = [shown`${d.from} -> ${d.to}`];
    for (const x of d.added) out.push(caLine('+', x, `expires ${x.notAfter.slice(0, 10)}`));
    for (const x of d.removed) out.push(caLine('-', x, `expires ${x.notAfter.slice(0, 10)}`));
    if (d.added.length + d.removed.length === 0) out.push('  (same CA set)');
    io.out(`${out.join('\n')}\n`);
  }
  exit(0);
};

/**
 * Record sets of held CRLs that are gone or changed (by hand): no index can be built without them.
 * Reads and checks each set as the index build does (without building it: that verifies every
 * CA's signature).
 */
const recordSetDamage = async (store: StoreDeps['store'], state: TruststoreState): Promise<string[]> => {
  try {
    await heldRecordSets(store, state);
    return [];
  } catch (error) {
    if (!(error instanceof DamagedStoreError)) throw error;
    return [error.message];
  }
};

/** Revocations by hand `status` lists one per line (its JSON lists every one). */
const MAX_LISTED = 20;

/** What the store holds about revocation, for `status`: undefined when nothing. */
const revocationSummary = (state: TruststoreState, now: Date) => {
  const rev = state.revocation;
  if (!rev) return undefined;
  // A CRL of a CA renewed since (same name and key) stays in force under the renewed CA.
  const held = heldIssuer(state);
  const subjects = new Map(
    Object.values(rev.crls).flatMap((c) => {
      const ca = held(c.issuer);
      return ca ? [[c.issuer, ca.subject] as const] : [];
    }),
  );
  const crls = Object.values(rev.crls)
    .filter((c) => subjects.has(c.issuer))
    .sort((a, b) => (a.nextUpdate ?? '9').localeCompare(b.nextUpdate ?? '9'));
  const stale = crls.filter((c) => c.nextUpdate && Date.parse(c.nextUpdate) < now.getTime());
  const rules = Object.keys(rev.rules).length;
  if (crls.length === 0 && rev.manual.length === 0 && rules === 0) return undefined;
  const next = crls.find((c) => c.nextUpdate);
  const parts = [
    `${crls.length} CRL${crls.length === 1 ? '' : 's'} held` +
      (next ? shown` (next due ${next.nextUpdate!.slice(0, 10)}: ${subjects.get(next.issuer)!})` : ''),
    `${rev.manual.length} revoked by hand`,
    `rules for ${rules} partner${rules === 1 ? '' : 's'}`,
  ];
  // Each revocation by hand and each partner's rules, so that what the door enforces beyond the
  // CRLs can be read without the index (newest first; the JSON lists them all).
  // A CA removed since (its revocations by hand are kept) is still named, with its partner.
  const entryOf = (fp: string) =>
    state.entries.find((e) => e.fingerprint === fp) ??
    state.removedEntries?.find((e) => e.fingerprint === fp);
  const manual = [...rev.manual].sort((a, b) => b.at.localeCompare(a.at));
  const shownManual = manual.slice(0, MAX_LISTED);
  const manualLines = shownManual.map((m) => {
    const ca = entryOf(m.issuer);
    return shown`\n  revoked by hand: ${m.subject ? `${m.subject} (serial ${m.serial})` : `serial ${m.serial}`} of ${ca?.subject ?? m.issuer.slice(0, 16)}, partner ${ca?.partner ?? '?'}, by ${m.by} on ${m.at.slice(0, 10)}: ${m.reason}`;
  });
  if (manual.length > shownManual.length)
    manualLines.push(
      `\n  … and ${manual.length - shownManual.length} more revoked by hand (status --json lists all)`,
    );
  const ruleLines = Object.keys(rev.rules)
    .sort()
    .map((partner) => {
      const r = rev.rules[partner]!;
      const pins = r.pins?.length ?? 0;
      const routes = r.routes ?? [];
      return shown`\n  rules of ${partner}: ${pins === 0 ? 'any of its clients' : `${pins} pinned client${pins === 1 ? '' : 's'}`}; ${routes.length === 0 ? 'any route' : `routes ${routes.join(', ')}`}`;
    });
  return {
    line:
      `revocation: ${parts.join(', ')}` +
      stale
        .map(
          (c) =>
            shown`\n  STALE CRL: ${subjects.get(c.issuer)!} was due on ${c.nextUpdate!.slice(0, 10)} (partner ${c.partner}): the authorizer denies its clients once the grace has passed`,
        )
        .join('') +
      manualLines.join('') +
      ruleLines.join(''),
    json: {
      crls: crls.map((c) => ({
        issuer: subjects.get(c.issuer),
        issuerSha256: c.issuer,
        partner: c.partner,
        ...(c.number ? { number: c.number } : {}),
        thisUpdate: c.thisUpdate,
        ...(c.nextUpdate ? { nextUpdate: c.nextUpdate } : {}),
        revoked: c.entries,
        stale: stale.includes(c),
      })),
      revokedByHand: rev.manual.length,
      manual: manual.map((m) => ({
        ...m,
        issuerSubject: entryOf(m.issuer)?.subject,
        partner: entryOf(m.issuer)?.partner,
      })),
      partnersWithRules: Object.keys(rev.rules).sort(),
      rules: rev.rules,
    },
  };
};

/** One domain's or target's lines of `status` (`label` unescaped): what it serves, whether that is the latest, drift, warnings. */
const endpointLines = (
  label: string,
  l: {
    status: string;
    truststoreVersion?: string;
    latest: boolean;
    drift?: string;
    warnings: readonly string[];
  },
  pending: boolean,
): string[] => [
  shown`${label}: ${l.status}, truststore version ${l.truststoreVersion ?? 'none'}` +
    (l.latest
      ? pending
        ? ' (the latest published, NOT the latest revision)'
        : ' (latest)'
      : ' (NOT the latest)'),
  ...(l.drift ? [shown`  DRIFT: ${l.drift}`] : []),
  ...l.warnings.map((w) => shown`  warning: ${w}`),
];

/** `trustroll status` (declared in commands/lifecycle.ts). */
export const status = async (
  flags: Flags & { localDomain?: string },
  io: Io,
  exit: (code: number) => void,
): Promise<void> => {
  const deps = await openStore(flags.store, flags, io);
  // A damaged store is explained first: what is damaged, where, and how to repair it.
  let damage: string[];
  let state: TruststoreState | undefined;
  let indexBehind: string | undefined;
  try {
    state = (await loadState(deps.store)).state;
    // A state changed since its index was built is named by indexProblem, with the difference.
    damage = [
      ...(await findDamage(deps.store, state, { source: false })),
      ...(await recordSetDamage(deps.store, state)),
    ];
    if (damage.length === 0) {
      const problem = await indexProblem(deps.store, state);
      if (problem.damaged) damage.push(problem.damaged);
      indexBehind = problem.behind;
    }
  } catch (error) {
    if (!(error instanceof DamagedStoreError)) throw error;
    damage = [error.message];
  }
  if (damage.length > 0 || !state) {
    const explained = damage.map((d) =>
      d.includes('trustroll repair') || d.includes('upload that CRL again')
        ? d
        : `${d}: the store was changed by hand. Restore the missing version, or run trustroll repair.`,
    );
    if (flags.json) io.out(jsonOut({ damaged: explained }));
    else for (const d of explained) io.out(shown`DAMAGED: ${d}\n`);
    return exit(1);
  }
  const latest = latestPublished(state);
  // Committed but never published: the domains cannot be on the latest revision.
  const pending = pendingRevision(state);
  const revocation = revocationSummary(state, new Date());
  // CAs removed in the last days: the door still lets their clients in as before (ca.retired).
  const retired = retiredClaims(state, new Date());
  const store = {
    store: deps.label,
    ...(latest ? { latestRevision: latest.revision, latestVersion: latest.version } : {}),
    ...(pending ? { unpublishedRevision: pending.revision } : {}),
    ...(revocation ? { revocation: revocation.json } : {}),
    ...(retired.length > 0
      ? {
          retired: retired.map((r) => ({
            subject: r.entry.subject,
            sha256: r.entry.fingerprint,
            partner: r.entry.partner,
            until: r.until,
          })),
        }
      : {}),
    ...(indexBehind ? { revocationIndexBehind: indexBehind } : {}),
  };
  const storeLine =
    (latest
      ? shown`store ${deps.label}: latest truststore version ${latest.version} (revision ${latest.revision})`
      : shown`store ${deps.label}: no truststore version yet`) +
    (pending
      ? `
NOT PUBLISHED: revision ${pending.revision}, the latest, is committed but has no truststore version yet (a run stopped, or failed, between its commit and its publish): trustroll repair, or the next change, publishes it`
      : '') +
    (revocation ? `\n${revocation.line}` : '') +
    retired
      .map(
        (r) =>
          shown`\nretired: ${r.entry.subject} (partner ${r.entry.partner}) removed; until ${r.until.slice(0, 16).replace('T', ' ')} UTC the door still lets its clients in (ca.retired) for targets on the version before, and no other partner may take it; trustroll revoke cuts a client off now`,
      )
      .join('') +
    (indexBehind ? `\nINDEX BEHIND: ${indexBehind}` : '');

  /** A domain the local endpoint does not serve: said plainly, with the store's state; exit 1. */
  const notServed = (name: string, status: string, note: string) => {
    if (flags.json) io.out(jsonOut([{ name, status, warnings: [], latest: false, note, ...store }]));
    else io.out(`${storeLine}\n${shown`${name}: ${note}.`}\n`);
    exit(1);
  };

  // S3 without --domain, where the durable rollout writes its records: the last rollout.
  if (!(deps.gateway instanceof EndpointStatusFile) && deps.roll.domains.length === 0) {
    const rollout = await latestRollout(deps.store);
    if (rollout) {
      const revocationsBehind = await trustStoresBehind(
        deps.store,
        (v) => elbRevocationPlan(deps.store, v),
        await latestCrlSync(deps.store),
      );
      return rolloutStatus(
        rollout,
        { storeLine, store, json: flags.json, pending, indexBehind, revocationsBehind },
        io,
        exit,
      );
    }
  }
  // S3 without --domain: the gateway itself says that a domain is needed (a usage error).
  let domains = deps.roll.domains.length > 0 ? deps.roll.domains : [flags.localDomain ?? 'localhost'];
  if (deps.gateway instanceof EndpointStatusFile) {
    const served = await deps.gateway.read();
    // `trustroll up --targets`: one endpoint per target, each with its status file.
    const targets = served ? [] : await targetStatusFilesIn(dirname(deps.gateway.path));
    if (targets.length > 0) {
      const lines: (DomainStatusLine & { target: string; running: boolean })[] = [];
      for (const { id, file } of targets) {
        const s = await file.read();
        if (!s) continue;
        const running = EndpointStatusFile.gone(s) !== true;
        const [line] = await domainStatus({ ...deps, gateway: file, roll: { domains: [s.name] } });
        lines.push({ ...line!, ...(running ? {} : { status: 'NOT_RUNNING' }), target: id, running });
      }
      const { rollout, problem: recordProblem } = await readRolloutFile(dirname(deps.gateway.path));
      // The last rollout stopped: its version was not verified on every target, whatever they
      // serve now (a target that served nothing before keeps the unverified version).
      // Or it took the targets back to the version verified last, after a newer one's stopped.
      const after = rollout?.after;
      const stopped =
        rollout && (rollout.status === 'failed' || rollout.status === 'rolled-back')
          ? `the last rollout (truststore version ${rollout.version}) ended ${rollout.status}${rollout.status === 'failed' ? ': a target may serve a version that was not verified, or was not rolled back; look at each target above' : ': the version was refused'}; the targets stay where they are until a newer version rolls out (fix the cause, then publish; when the cause was not the version — a probe's certificate revoked by mistake, a target down — restart trustroll up with --retry-refused)`
          : after
            ? `the rollout of truststore version ${after.version} (revision ${after.revision}) ended ${after.status}${after.wave ? ` in wave ${after.wave}` : ''}${after.reason ? `: ${after.reason}` : ''}; the version was refused, and the last rollout took the targets to truststore version ${rollout!.version}, the newest verified; they stay there until a newer version rolls out (fix the cause, then publish; when the cause was not the version — a probe's certificate revoked by mistake, a target down — restart trustroll up with --retry-refused)`
            : undefined;
      // Targets on different versions (a rollout stopped between waves, or superseded).
      const versions = [...new Set(lines.filter((l) => l.running).map((l) => l.truststoreVersion ?? 'none'))];
      const mixed =
        versions.length > 1
          ? `the targets serve different truststore versions: ${lines
              .filter((l) => l.running)
              .map((l) => `${l.target} ${l.truststoreVersion ?? 'none'}`)
              .join(', ')}`
          : undefined;
      if (flags.json)
        io.out(
          jsonOut({
            ...store,
            targets: lines.map((l) => ({ ...l, latest: l.latest && !pending })),
            ...(rollout ? { rollout } : {}),
            ...(stopped ? { lastRolloutStopped: stopped } : {}),
            ...(recordProblem ? { rolloutRecordUnreadable: recordProblem } : {}),
            ...(mixed ? { mixedVersions: mixed } : {}),
          }),
        );
      else {
        const out = [storeLine];
        for (const l of lines)
          out.push(...endpointLines(`${l.target} (${l.name})`, l, pending !== undefined));
        if (rollout) {
          out.push(
            shown`last rollout: truststore version ${rollout.version} (revision ${rollout.revision}), ${rollout.status}` +
              (rollout.reason ? shown`: ${rollout.reason}` : ''),
          );
          for (const t of rollout.targets)
            out.push(
              shown`  ${t.wave} ${t.id}: ${t.phase}${t.from ? ` (from ${t.from})` : ''}${t.error ? `: ${t.error}` : ''}`,
            );
        }
        if (stopped)
          out.push(
            after && rollout!.status === 'succeeded'
              ? shown`ROLLOUT ${after.status.toUpperCase()}: ${stopped}`
              : shown`LAST ROLLOUT ${rollout!.status.toUpperCase()}: ${stopped}`,
          );
        if (mixed) out.push(shown`MIXED VERSIONS: ${mixed}`);
        if (recordProblem) out.push(shown`ROLLOUT RECORD UNREADABLE: ${recordProblem}`);
        if (lines.every((l) => !l.running))
          out.push(
            'the target endpoints are not running: start trustroll up --targets to serve the truststore',
          );
        io.out(`${out.join('\n')}\n`);
      }
      return exit(
        pending ||
          indexBehind ||
          stopped ||
          mixed ||
          recordProblem ||
          lines.some((l) => l.drift || !l.latest || !l.running)
          ? 1
          : 0,
      );
    }
    // Not a failure: nothing has served this folder's truststore yet.
    if (!served)
      return notServed(
        flags.localDomain ?? 'localhost',
        'NOT_STARTED',
        `no local endpoint has run with this data folder yet (no ${deps.gateway.path}): start trustroll up to serve the truststore`,
      );
    // The file outlives the endpoint: a stopped one is said to be stopped, not AVAILABLE.
    if (EndpointStatusFile.gone(served)) {
      const seen = (served as { updatedAt?: string }).updatedAt;
      return notServed(
        flags.localDomain ?? served.name,
        'NOT_RUNNING',
        `the local endpoint is not running (trustroll up stopped${seen ? `; last seen at ${seen}` : ''}, serving truststore version ${served.truststoreVersion ?? 'none'}): start trustroll up to serve the truststore`,
      );
    }
    domains = [flags.localDomain ?? served.name];
  }
  const lines: DomainStatusLine[] = [];
  for (const domain of domains) {
    try {
      lines.push(...(await domainStatus({ ...deps, roll: { domains: [domain] } })));
    } catch (error) {
      // Damaged between the check above and here (another process): still said, still 1.
      if (error instanceof DamagedStoreError) {
        if (flags.json) io.out(jsonOut({ damaged: [error.message] }));
        else io.out(shown`DAMAGED: ${error.message}\n`);
        return exit(1);
      }
      if (!(error instanceof NotFoundError)) throw error;
      // The local endpoint plays another domain than --local-domain names.
      if (deps.gateway instanceof EndpointStatusFile) return notServed(domain, 'NOT_FOUND', error.message);
      throw new UsageError(
        `API Gateway has no custom domain ${domain} here (${error.message}): check --domain, --region and --profile`,
      );
    }
  }
  if (flags.json) io.out(jsonOut(lines.map((l) => ({ ...l, latest: l.latest && !pending, ...store }))));
  else {
    const out = [storeLine];
    for (const l of lines) out.push(...endpointLines(l.name, l, pending !== undefined));
    io.out(`${out.join('\n')}\n`);
  }
  exit(pending || indexBehind || lines.some((l) => l.drift || !l.latest) ? 1 : 0);
};

/** `trustroll repair` (declared in commands/lifecycle.ts). */
export const repair = async (flags: Flags, io: Io, exit: (code: number) => void): Promise<void> => {
  const report = await repairStore(await openStore(flags.store, flags, io));
  const unmended = report.unmended ?? [];
  if (flags.json) io.out(jsonOut(report));
  else
    io.out(
      `${
        report.actions.length > 0
          ? report.actions.map((a) => shown`${a}`).join('\n')
          : unmended.length > 0
            ? 'nothing else to repair'
            : `nothing to repair: the store is intact${report.version ? `; truststore version ${report.version} serves the latest revision (${report.revision})` : ''}`
      }\n${unmended.map((u) => shown`NOT MENDED: ${u}\n`).join('')}`,
    );
  // What repair cannot mend leaves the store damaged: 4, with what mends it said above.
  exit(unmended.length > 0 ? 4 : 0);
};

/** `trustroll promote` (declared in commands/lifecycle.ts). */
export const promote = async (
  flags: {
    from: string;
    to: string;
    version?: string;
    yes?: boolean;
    create?: boolean;
    region?: string;
    profile?: string;
    domain?: string[];
    json?: boolean;
  },
  io: Io,
  exit: (code: number) => void,
): Promise<void> => {
  const base = {
    dataDir: '.trustroll',
    inbox: 'inbox',
    ...(flags.region ? { region: flags.region } : {}),
    ...(flags.profile ? { profile: flags.profile } : {}),
  };
  const source = await requireStore(await depsFor(flags.from, base, io), '--from');
  if (!flags.to.startsWith('s3://')) await targetFolder(flags.to);
  const target = await depsFor(flags.to, { ...base, ...(flags.domain ? { domain: flags.domain } : {}) }, io);
  // A typo in --to must not start a new environment: a new store is made on purpose only.
  if (!flags.create && !(await target.holdsStore()))
    throw new UsageError(
      `${flags.to} holds no trustroll store: check --to, or pass --create to start a new store there with the promoted CA set`,
    );
  // A folder that cannot be made is refused before the diff, not after the prompt.
  if (target.kind === 'folder') await folderOrAbsent('--to', flags.to);
  const plan = await planPromotion(source.store, target.store, flags.version, flags.to);
  const lines = [
    shown`Promote ${flags.from} version ${plan.version} (revision ${plan.revision}) to ${flags.to}:`,
  ];
  for (const x of plan.added) lines.push(caLine('+', x, `expires ${x.notAfter.slice(0, 10)}`));
  for (const x of plan.removed) lines.push(caLine('-', x, `expires ${x.notAfter.slice(0, 10)}`));
  for (const x of plan.otherPartner)
    lines.push(
      shown`  = ${x.subject} (partner ${x.partner} in the target, ${x.sourcePartner} in the source: it stays ${x.partner}'s)`,
    );
  if (plan.added.length + plan.removed.length === 0) lines.push('  (the target already holds this CA set)');
  if (plan.notCarried.length > 0) {
    lines.push(
      'Not carried (each store keeps its own revocations and rules; clients the source denies may get in here):',
    );
    for (const x of plan.notCarried) lines.push(shown`  ! ${x}`);
  }
  io.err(`${lines.join('\n')}\n`);
  // Under --json every ending is JSON on stdout, not only a promotion.
  const unchanged = (outcome: 'unchanged' | 'declined', message: string) => {
    if (flags.json)
      io.out(
        jsonOut({
          outcome,
          message,
          from: flags.from,
          to: flags.to,
          version: plan.version,
          notCarried: plan.notCarried,
        }),
      );
  };
  if (plan.added.length + plan.removed.length === 0) {
    unchanged('unchanged', 'the target already holds this CA set');
    return exit(0);
  }
  // Refused before the prompt: there is nothing to confirm.
  if (plan.refused.length > 0) {
    printChange(io, await applyPromotion(plan, flags.from, target), flags.json);
    return exit(1);
  }
  if (!flags.yes) {
    io.err('Promote? [y/N] ');
    const said = await answer(io);
    if (said !== 'y' && said !== 'yes') {
      io.err('Not promoted.\n');
      unchanged('declined', 'not promoted: declined at the prompt');
      return exit(1);
    }
  }
  const report = await applyPromotion(plan, flags.from, target);
  if (flags.json) io.out(jsonOut({ ...report, notCarried: plan.notCarried }));
  else printChange(io, report);
  exit(report.outcome === 'changed' ? 0 : 1);
};

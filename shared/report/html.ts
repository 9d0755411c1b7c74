import { clipped, printable } from '../text.js';
import { day, type Report, type ReportCa } from './model.js';
import type { ReportTarget } from './rollouts.js';

/**
 * The report as one self-contained HTML page: inline CSS, an inline SVG chart, no script, no
 * font, no image and no link to anything outside it, so it opens offline and from an S3 object.
 * Every value from the state is escaped (subjects and partner names are partner-controlled).
 */
export const reportHtml = (report: Report): string => {
  const t = report.truststore;
  const title = `Truststore report: ${report.store}, revision ${t.revision}`;
  const sections = [
    summary(report),
    warnings(report),
    timeline(report),
    partners(report),
    crls(report),
    door(report),
    domains(report),
    ...(report.rollouts ? [rollouts(report)] : []),
    ...(report.refusals ? [refusals(report)] : []),
    history(report),
  ];
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<meta name="generator" content="trustroll">`,
    `<title>${esc(title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    '<header>',
    '<h1>Truststore report</h1>',
    `<p>Store <code>${esc(report.store)}</code>, revision ${t.revision}${t.version ? `, truststore version <code>${esc(t.version)}</code>` : ', no truststore version published yet'}. Generated <time datetime="${esc(report.generatedAt)}">${esc(moment(report.generatedAt))}</time> (UTC): days and thresholds count from then.</p>`,
    '<nav aria-label="Sections"><ul>',
    ...[
      ['summary', 'Summary'],
      ['warnings', `Open warnings (${report.warnings.length})`],
      ['timeline', 'Expiry timeline'],
      ['partners', `Partners and CAs (${report.partners.length})`],
      ['crls', `CRLs (${report.crls.length})`],
      ['door', `At the door (${doorCount(report)})`],
      ['domains', 'Domains and drift'],
      ...(report.rollouts ? [['rollouts', `Rollouts and targets (${report.rollouts.targets.length})`]] : []),
      ...(report.refusals
        ? [['refusals', `Refused handshakes (${report.refusals.groups.reduce((n, g) => n + g.count, 0)})`]]
        : []),
      ['history', `Version history (${report.history.length})`],
    ].map(([id, text]) => `<li><a href="#${id}">${text}</a></li>`),
    '</ul></nav>',
    '</header>',
    '<main>',
    ...sections,
    '</main>',
    '<footer><p>Made by <code>trustroll report</code>. The same data: <code>--format json</code> (every field) and <code>--format csv</code> (one row per CA).</p></footer>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
};

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
/** Text for HTML content and attributes: control characters and direction overrides shown as escapes, markup escaped. */
export const esc = (value: string | number): string => {
  const text = String(value);
  // Most values (dates, fingerprints, plain names) hold nothing to escape: kept as they are.
  return PLAIN.test(text) ? text : printable(text).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
};
/** Nothing markup or `printable` would change: printable ASCII without & < > " '. */
const PLAIN = /^[\x20-\x21\x23-\x25\x28-\x3b\x3d\x3f-\x7e]*$/;

const moment = (iso: string): string => `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
const date = (iso: string): string => `<time datetime="${esc(iso)}">${esc(day(iso))}</time>`;
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const kb = (bytes: number): string => `${(bytes / 1000).toFixed(1)} KB`;

const section = (id: string, heading: string, body: string[]): string =>
  [
    `<section id="${id}" aria-labelledby="${id}-h">`,
    `<h2 id="${id}-h">${heading}</h2>`,
    ...body,
    '</section>',
  ].join('\n');

/** A table that scrolls on its own in a narrow window (focusable, so the keyboard can scroll it). */
const table = (label: string, head: string[], rows: string[][], id = ''): string =>
  [
    `<div class="scroll" role="region" tabindex="0" aria-label="${esc(label)}"${id ? ` id="${id}"` : ''}>`,
    `<table><caption>${esc(label)}</caption>`,
    `<thead><tr>${head.map((h) => `<th scope="col">${h}</th>`).join('')}</tr></thead>`,
    '<tbody>',
    ...rows.map(
      (r) =>
        `<tr>${r.map((c, i) => (i === 0 ? `<th scope="row">${c}</th>` : `<td>${c}</td>`)).join('')}</tr>`,
    ),
    '</tbody></table></div>',
  ].join('\n');

/** The status of a CA in words (the chart's shapes say the same). */
const status = (ca: ReportCa): { word: string; cls: string } =>
  ca.revoked
    ? { word: 'REVOKED', cls: 'expired' }
    : ca.days < 0
      ? { word: 'EXPIRED', cls: 'expired' }
      : ca.threshold !== undefined
        ? { word: `expires within ${ca.threshold} days`, cls: 'soon' }
        : { word: 'valid', cls: 'ok' };

const summary = (r: Report): string => {
  const t = r.truststore;
  const over = t.bytes > t.limitBytes;
  return section('summary', 'Summary', [
    '<dl class="facts">',
    `<div><dt>CAs</dt><dd>${t.certificates}</dd></div>`,
    `<div><dt>Partners</dt><dd>${t.partners}</dd></div>`,
    `<div><dt>Truststore size</dt><dd><span id="size-text">${kb(t.bytes)} of API Gateway's ${(t.limitBytes / 1000).toFixed(0)} KB limit (${t.usedPercent}% used, ${over ? `<strong>${kb(-t.headroomBytes)} OVER</strong>` : `${kb(t.headroomBytes)} headroom`})</span><br><meter min="0" max="${t.limitBytes}" low="${t.limitBytes * 0.8}" high="${t.limitBytes * 0.95}" optimum="0" value="${Math.min(t.bytes, t.limitBytes)}" aria-labelledby="size-text">${t.usedPercent}%</meter></dd></div>`,
    `<div><dt>Longest chain</dt><dd>${t.longestChain} of at most ${t.maxChain} certificates (root and ${t.maxChain - 1} intermediates)${t.longestChain > t.maxChain ? ' <strong>OVER the limit</strong>' : ''}</dd></div>`,
    `<div><dt>Open warnings</dt><dd>${r.warnings.length}</dd></div>`,
    t.unpublishedRevision !== undefined
      ? `<div><dt>Not published</dt><dd>revision ${t.unpublishedRevision}</dd></div>`
      : '',
    '</dl>',
  ]);
};

const warnings = (r: Report): string =>
  section(
    'warnings',
    `Open warnings (${r.warnings.length})`,
    r.warnings.length === 0
      ? ['<p>None: nothing expires within the thresholds, no CRL is stale, no domain drifted.</p>']
      : [
          table(
            'Open warnings, most severe first',
            ['Severity', 'Code', 'What', 'Partner', 'CA'],
            r.warnings.map((w) => [
              `<span class="sev ${esc(w.severity)}">${esc(w.severity.toUpperCase())}</span>`,
              `<code>${esc(w.code)}</code>`,
              esc(w.message),
              w.partner ? esc(w.partner) : '—',
              w.subject
                ? `${esc(w.subject)}${w.fingerprint ? `<br><code class="fp">${esc(w.fingerprint.slice(0, 16))}…</code>` : ''}`
                : '—',
            ]),
          ),
        ],
  );

const partners = (r: Report): string => {
  const body: string[] = [];
  if (r.partners.length === 0) body.push('<p>No CAs in the truststore yet.</p>');
  for (const [i, p] of r.partners.entries()) {
    body.push(
      // Numbered: partner names that differ only in punctuation must not share an id.
      `<h3 id="partner-${i + 1}">${esc(p.name)}</h3>`,
      `<p>${plural(p.cas, 'CA')}; the first expires ${date(p.nextExpiry)}${p.nextBreak < p.nextExpiry ? `, and clients break first on ${date(p.nextBreak)}` : ''}.</p>`,
      table(
        `CAs of ${p.name}`,
        ['Subject', 'SHA-256', 'Key', 'Valid until', 'Status', 'Clients break', 'Added'],
        r.cas
          .filter((c) => c.partner === p.name)
          .map((c) => {
            const s = status(c);
            return [
              esc(c.subject),
              `<code class="fp">${esc(c.fingerprint)}</code>`,
              esc(c.key),
              `${date(c.notAfter)}<br><small>${c.days < 0 ? `${-c.days} days ago` : `in ${plural(c.days, 'day')}`}</small>`,
              `<span class="st ${s.cls}">${esc(s.word)}</span>`,
              c.breaksEarly
                ? `<strong>${date(c.chainBreaksAt)}</strong><br><small>${esc(c.chainBreaksBecause)} expires first</small>`
                : 'with the CA',
              `${date(c.addedAt)}<br><small>upload <code>${esc(c.upload.key)}</code> (version <code>${esc(c.upload.version)}</code>)</small>`,
            ];
          }),
      ),
    );
  }
  return section('partners', `Partners and CAs (${r.partners.length})`, body);
};

const crls = (r: Report): string =>
  section(
    'crls',
    `CRLs (${r.crls.length})`,
    r.crls.length === 0
      ? ['<p>No CRL held.</p>']
      : [
          table(
            'CRLs held, soonest next update first',
            ['Issuing CA', 'Partner', 'CRL number', 'This update', 'Next update', 'Revoked', 'Status'],
            r.crls.map((c) => [
              esc(c.issuer),
              esc(c.partner),
              c.number ? esc(c.number) : '—',
              c.thisUpdate ? date(c.thisUpdate) : '—',
              c.nextUpdate ? date(c.nextUpdate) : 'none (never stale)',
              c.revoked === undefined ? '—' : String(c.revoked),
              c.stale ? '<span class="st expired">STALE</span>' : '<span class="st ok">current</span>',
            ]),
          ),
        ],
  );

const doorCount = (r: Report): number => r.door.manual.length + r.door.rules.length + r.door.retired.length;

/** What the door decides beyond the truststore: revocations by hand, partner rules, retired CAs. */
const door = (r: Report): string => {
  const { manual, rules, retired } = r.door;
  const body = [
    '<p>What the door (the authorizer, <code>trustroll authorize</code>, the local endpoint) decides beyond the truststore and its CRLs.</p>',
    `<h3>Revoked by hand (${manual.length})</h3>`,
    manual.length === 0
      ? '<p>None.</p>'
      : table(
          'Certificates revoked by hand, newest first',
          ['Certificate', 'Serial', 'Issuing CA', 'Partner', 'Reason', 'By', 'When'],
          manual.map((m) => [
            m.subject
              ? `${esc(m.subject)}${m.certSha256 ? `<br><code class="fp">${esc(m.certSha256.slice(0, 16))}…</code>` : ''}`
              : '(given by serial)',
            `<code>${esc(m.serial)}</code>`,
            `${m.issuer ? esc(m.issuer) : 'a CA no longer known'}<br><code class="fp">${esc(m.issuerSha256.slice(0, 16))}…</code>`,
            m.partner ? esc(m.partner) : '—',
            esc(m.reason),
            esc(m.by),
            date(m.at),
          ]),
        ),
    `<h3>Partner rules (${rules.length})</h3>`,
    rules.length === 0
      ? "<p>None: every partner's clients may call every route.</p>"
      : table(
          'Partner rules: who may connect, and where',
          ['Partner', 'Pins', 'Allowed routes'],
          rules.map((x) => [
            esc(x.partner),
            x.pins === 0
              ? 'none (any client under its CAs)'
              : `${plural(x.pins, 'pin')} (only those clients)`,
            x.routes.length === 0
              ? 'all'
              : x.routes.map((route) => `<code>${esc(route)}</code>`).join('<br>'),
          ]),
        ),
    `<h3>Retired CAs (${retired.length})</h3>`,
    retired.length === 0
      ? '<p>None removed in the last days.</p>'
      : table(
          "CAs removed lately: their clients are still decided as their partner's until then",
          ['CA', 'Partner', 'Removed', 'Retired until'],
          retired.map((x) => [
            `${esc(x.subject)}<br><code class="fp">${esc(x.fingerprint.slice(0, 16))}…</code>`,
            esc(x.partner),
            date(x.removedAt),
            date(x.until),
          ]),
        ),
  ];
  return section('door', `At the door (${doorCount(r)})`, body);
};

const domains = (r: Report): string =>
  section(
    'domains',
    'Domains and drift',
    r.domains === undefined
      ? [
          '<p>Not checked for this report (the expiry scan and <code>trustroll status</code> check the domains for drift).</p>',
        ]
      : r.domains.length === 0
        ? ['<p>No domain configured.</p>']
        : [
            table(
              'Domains',
              ['Domain', 'Status', 'Truststore version', 'Latest?', 'Drift', 'Warnings'],
              r.domains.map((d) => [
                esc(d.name),
                esc(d.status),
                d.truststoreVersion ? `<code>${esc(d.truststoreVersion)}</code>` : 'none',
                d.latest ? 'yes' : '<strong>NO</strong>',
                d.drift ? `<strong>DRIFT:</strong> ${esc(d.drift)}` : 'none',
                d.warnings.length === 0 ? 'none' : d.warnings.map(esc).join('<br>'),
              ]),
            ),
          ],
  );

/** A target's state as a word with a shape (the colour only repeats it). */
const TARGET_STATE: Record<ReportTarget['state'], { word: string; cls: string }> = {
  rolled: { word: 'rolled', cls: 'ok' },
  unchanged: { word: 'unchanged', cls: 'ok' },
  'rolled-back': { word: 'ROLLED BACK', cls: 'soon' },
  failed: { word: 'FAILED', cls: 'expired' },
  'in-progress': { word: 'in progress', cls: 'run' },
  'not-reached': { word: 'not reached', cls: 'run' },
  unverified: { word: 'NOT VERIFIED', cls: 'soon' },
  'not-in-rollout': { word: 'not in the last rollout', cls: 'run' },
};
const ROLLOUT_STATUS: Record<string, { word: string; cls: string }> = {
  succeeded: { word: 'completed', cls: 'ok' },
  running: { word: 'in progress', cls: 'run' },
  'rolled-back': { word: 'ROLLED BACK', cls: 'soon' },
  failed: { word: 'FAILED', cls: 'expired' },
  superseded: { word: 'superseded', cls: 'run' },
};

const rollouts = (r: Report): string => {
  const ro = r.rollouts!;
  const last = ro.last;
  const latest = r.truststore.version;
  const serves = (t: ReportTarget): string => {
    const v =
      t.versionKnownFrom === 'unknown'
        ? '<strong>not known</strong>'
        : t.version === undefined
          ? 'none'
          : `<code>${esc(t.version)}</code>${t.latest ? ' (latest)' : latest ? ' <strong>(NOT the latest)</strong>' : ''}`;
    const how =
      t.running === false
        ? '<br><small><strong>endpoint not running</strong>: it serves nothing now (this was its last version)</small>'
        : t.versionKnownFrom === 'records'
          ? '<br><small>as the rollout records settle it</small>'
          : '';
    return v + how;
  };
  const where = (t: ReportTarget): string =>
    `${t.resource ? `<code>${esc(t.resource)}</code>` : '—'}<br><small>${t.region ? `region ${esc(t.region)}` : "the pipeline's region"}, ${t.account ? `account ${esc(t.account)}` : "the pipeline's account"}</small>`;
  const body: string[] = [
    `<p>Read from <code>${esc(ro.source)}</code>${ro.targets.some((t) => t.versionKnownFrom === 'endpoint') ? " and each target endpoint's status" : ''}.</p>`,
    `<div class="statements">${ro.statements.map((s) => `<p>${esc(s)}</p>`).join('')}</div>`,
  ];
  if (last) {
    const st = ROLLOUT_STATUS[last.status] ?? { word: last.status, cls: 'run' };
    body.push(
      '<h3 id="last-rollout">Last rollout</h3>',
      '<dl class="facts">',
      `<div><dt>Version</dt><dd><code>${esc(last.version)}</code> (revision ${last.revision})${last.ofLatest ? ', the latest' : ', <strong>not the latest</strong>'}</dd></div>`,
      `<div><dt>Outcome</dt><dd><span class="st ${st.cls}">${esc(st.word)}</span><br><small>${esc(last.outcome)}</small></dd></div>`,
      `<div><dt>Started</dt><dd><time datetime="${esc(last.startedAt)}">${esc(moment(last.startedAt))}</time></dd></div>`,
      `<div><dt>${last.finishedAt ? 'Finished' : 'Last step'}</dt><dd><time datetime="${esc(last.updatedAt)}">${esc(moment(last.updatedAt))}</time></dd></div>`,
      `<div><dt>Waves</dt><dd>${last.waves.map((w) => (w === last.wave ? `<strong>${esc(w)}</strong>` : esc(w))).join(' → ')}${last.wave ? `<br><small>${last.status === 'running' ? 'rolling' : 'stopped in'} ${esc(last.wave)}</small>` : ''}</dd></div>`,
      last.reason ? `<div class="wide"><dt>Why</dt><dd>${esc(last.reason)}</dd></div>` : '',
      '</dl>',
    );
  }
  if (ro.targets.length > 0)
    body.push(
      table(
        last ? 'Targets, in wave order, with their state in the last rollout' : 'Targets',
        ['Target', 'Kind', 'Where', 'Wave', 'Serves', 'State'],
        ro.targets.map((t) => {
          const s = TARGET_STATE[t.state];
          return [
            esc(t.id),
            t.kind ? esc(t.kind) : '—',
            where(t),
            t.wave ? esc(t.wave) : '—',
            serves(t),
            `<span class="st ${s.cls}">${esc(s.word)}</span><br><small>${esc(t.stateText)}</small>`,
          ];
        }),
      ),
    );
  return section('rollouts', `Rollouts and targets (${ro.targets.length})`, body);
};

const refusals = (r: Report): string => {
  const { source, groups } = r.refusals!;
  const total = groups.reduce((n, g) => n + g.count, 0);
  return section(
    'refusals',
    `Refused handshakes (${total})`,
    groups.length === 0
      ? [`<p>No client was refused for its certificate in <code>${esc(source)}</code>.</p>`]
      : [
          `<p>Clients refused for their certificate, from <code>${esc(source)}</code>, each judged as <code>trustroll diagnose</code> judges it against the truststore version then published, grouped by partner and reason.</p>`,
          table(
            'Refused handshakes, most frequent first',
            ['Partner', 'Reason', 'Requests', 'Certificates', 'First / last', 'What to fix'],
            groups.map((g) => [
              esc(g.partner),
              `<code>${esc(g.code)}</code>`,
              String(g.count),
              `<ul>${g.certificates
                .slice(0, 10)
                .map(
                  (c) =>
                    `<li>${esc(clipped(c.subject))}${c.serial ? ` (serial <code>${esc(c.serial)}</code>)` : ''}</li>`,
                )
                .join(
                  '',
                )}${g.certificates.length > 10 ? `<li>… and ${g.certificates.length - 10} more</li>` : ''}</ul>`,
              g.first ? `${date(g.first)}${g.last && g.last !== g.first ? ` / ${date(g.last)}` : ''}` : '—',
              esc(g.message),
            ]),
          ),
        ],
  );
};

const history = (r: Report): string => {
  const cas = (list: readonly { subject: string; partner: string }[]) =>
    list.length === 0
      ? '—'
      : `<ul>${list.map((x) => `<li>${esc(x.subject)} (${esc(x.partner)})</li>`).join('')}</ul>`;
  return section(
    'history',
    `Version history (${r.history.length})`,
    r.history.length === 0
      ? ['<p>No version yet.</p>']
      : [
          table(
            'Truststore versions, newest first',
            ['Revision', 'Version', 'When', 'Why', 'Added', 'Removed'],
            r.history.map((h) => [
              String(h.revision),
              h.version
                ? `<code>${esc(h.version)}</code>`
                : h.supersededBy !== undefined
                  ? `superseded by revision ${h.supersededBy}`
                  : h.lostVersion
                    ? `<code>${esc(h.lostVersion)}</code> (lost)`
                    : 'unpublished',
              `<time datetime="${esc(h.at)}">${esc(moment(h.at))}</time>`,
              esc(h.reason),
              cas(h.added),
              cas(h.removed),
            ]),
          ),
        ],
  );
};

// The chart's geometry, in SVG user units (it scales with the page; a narrow window scrolls it).
const LEFT = 170;
const PLOT = 760;
const TOP = 46;
const LANE = 13;
const MAX_LANES = 3;
const WIDTH = LEFT + PLOT + 24;

const timeline = (r: Report): string => {
  const from = Date.parse(r.window.from);
  const to = Date.parse(r.window.to);
  const x = (ms: number) => LEFT + (Math.min(Math.max(ms, from), to) - from) * (PLOT / (to - from));
  const rows: string[] = [];
  let y = TOP;
  const marks: string[] = [];
  let early = 0;
  for (const p of r.partners) {
    const cas = r.cas.filter((c) => c.partner === p.name);
    const lanes = Math.min(cas.length, MAX_LANES);
    const height = lanes * LANE + 8;
    rows.push(
      `<g class="partner-row" data-partner="${esc(p.name)}">`,
      `<rect class="band" x="0" y="${y}" width="${WIDTH}" height="${height}"/>`,
      `<text class="label" x="${LEFT - 8}" y="${y + height / 2 + 4}" text-anchor="end">${esc(clip(p.name))}<title>${esc(p.name)}</title></text>`,
      '</g>',
    );
    cas.forEach((c, i) => {
      const cy = y + 4 + (i % lanes) * LANE + LANE / 2;
      const at = Date.parse(c.notAfter);
      const cx = x(at);
      const s = status(c);
      const where = at < from ? 'before the window' : at > to ? 'after the window' : '';
      const shape =
        c.days < 0
          ? `<path d="M${cx - 4} ${cy - 4}l8 8m0 -8l-8 8"/>`
          : at > to
            ? `<path d="M${cx - 6} ${cy - 4}l6 4l-6 4z"/>`
            : c.threshold !== undefined
              ? `<path d="M${cx} ${cy - 5}l5 9h-10z"/>`
              : `<circle cx="${cx}" cy="${cy}" r="4"/>`;
      marks.push(
        `<g class="ca-mark ${s.cls}" data-fingerprint="${esc(c.fingerprint)}" data-partner="${esc(c.partner)}" data-not-after="${esc(day(c.notAfter))}"><title>${esc(c.subject)} (${esc(c.partner)}): ${esc(s.word)}, valid until ${esc(day(c.notAfter))}${where ? ` (${where})` : ''}</title>${shape}</g>`,
      );
      if (c.breaksEarly) {
        early++;
        const bx = x(Date.parse(c.chainBreaksAt));
        marks.push(
          `<g class="break-mark" data-fingerprint="${esc(c.fingerprint)}" data-breaks="${esc(day(c.chainBreaksAt))}"><title>Clients of ${esc(c.subject)} break on ${esc(day(c.chainBreaksAt))}: ${esc(c.chainBreaksBecause)} expires first</title><line x1="${bx}" y1="${cy - 6}" x2="${bx}" y2="${cy + 6}"/><line class="gap" x1="${bx}" y1="${cy}" x2="${cx}" y2="${cy}"/></g>`,
        );
      }
    });
    y += height + 2;
  }
  const height = y + 30;
  const grid: string[] = [];
  // Month ticks from the first of the month after the window starts.
  const start = new Date(from);
  for (let m = 1; m <= 13; m++) {
    const tick = Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + m, 1);
    if (tick > to) break;
    const tx = x(tick);
    const label = new Date(tick).toISOString().slice(0, 7);
    grid.push(
      `<line class="month" x1="${tx}" y1="${TOP - 6}" x2="${tx}" y2="${y}"/>`,
      `<text class="tick" x="${tx}" y="${y + 14}" text-anchor="middle">${label}</text>`,
    );
  }
  // Labels of thresholds close together (1, 3, 7 days) take turns on three lines.
  const thresholds = [...r.thresholds].reverse().map((d, i) => {
    const tx = x(from + d * 86_400_000);
    return `<g class="threshold" data-days="${d}"><line x1="${tx}" y1="${TOP - 8}" x2="${tx}" y2="${y}"/><text x="${tx}" y="${TOP - 12 - (i % 3) * 12}" text-anchor="middle">${d}d</text><title>Scan threshold: ${d} days from now (${day(new Date(from + d * 86_400_000).toISOString())})</title></g>`;
  });
  const counts = {
    expired: r.cas.filter((c) => c.days < 0).length,
    soon: r.cas.filter((c) => c.days >= 0 && c.threshold !== undefined).length,
    later: r.cas.filter((c) => Date.parse(c.notAfter) > to).length,
  };
  const desc =
    `${plural(r.cas.length, 'CA')} of ${plural(r.partners.length, 'partner')}, one mark each at its expiry date, ` +
    `from ${day(r.window.from)} to ${day(r.window.to)}: ${counts.expired} expired, ${counts.soon} within the scan's thresholds ` +
    `(${r.thresholds.join(', ')} days), ${counts.later} valid beyond the window; ${plural(early, 'chain')} break${early === 1 ? 's' : ''} before ` +
    'its CA expires. The tables under Partners and CAs list the same dates.';
  return section('timeline', 'Expiry timeline', [
    `<p>The next ${13} months from ${date(r.window.from)}, one row per partner, one mark per CA at the day it expires. Dashed lines: the expiry scan's thresholds (${r.thresholds.map((d) => `${d}`).join(', ')} days from now). A CA whose chain expires before it does has a bar where its clients break.</p>`,
    '<ul class="legend">',
    '<li><svg width="14" height="14" aria-hidden="true"><circle class="ok" cx="7" cy="7" r="4"/></svg> circle: valid past the thresholds</li>',
    '<li><svg width="14" height="14" aria-hidden="true"><path class="soon" d="M7 2l5 9h-10z"/></svg> triangle: within a threshold</li>',
    '<li><svg width="14" height="14" aria-hidden="true"><path class="expired" d="M3 3l8 8m0 -8l-8 8"/></svg> cross: expired (at the left edge)</li>',
    '<li><svg width="14" height="14" aria-hidden="true"><path class="ok" d="M4 3l6 4l-6 4z"/></svg> arrow: valid beyond the window (at the right edge)</li>',
    '<li><svg width="14" height="14" aria-hidden="true"><line class="brk" x1="7" y1="1" x2="7" y2="13"/></svg> bar: clients break here, before their CA expires</li>',
    '</ul>',
    '<figure>',
    '<div class="scroll chart" role="region" tabindex="0" aria-label="Expiry timeline chart">',
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" aria-labelledby="chart-title chart-desc">`,
    `<title id="chart-title">Expiry timeline of ${plural(r.cas.length, 'CA')}, ${day(r.window.from)} to ${day(r.window.to)}</title>`,
    `<desc id="chart-desc">${esc(desc)}</desc>`,
    ...rows,
    ...grid,
    `<line class="now" x1="${LEFT}" y1="${TOP - 8}" x2="${LEFT}" y2="${y}"/><text class="tick" x="${LEFT}" y="${y + 28}" text-anchor="middle">now</text>`,
    ...thresholds,
    ...marks,
    '</svg>',
    '</div>',
    `<figcaption>${esc(desc)}</figcaption>`,
    '</figure>',
  ]);
};

const clip = (name: string): string => (name.length > 22 ? `${name.slice(0, 21)}…` : name);

const CSS = `
:root{color-scheme:light;--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--bg:#fff;--band:#f6f8fa;--ok:#1a7f37;--soon:#9a6700;--bad:#cf222e}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;font-size:1rem;line-height:1.5;color:var(--fg);background:var(--bg);margin:0 auto;padding:1rem;max-width:80rem}
h1{font-size:1.75rem;margin:.5rem 0}h2{font-size:1.35rem;margin-top:2rem;border-bottom:1px solid var(--line)}h3{font-size:1.1rem;margin:1.25rem 0 .25rem}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em;overflow-wrap:anywhere}
.fp{word-break:break-all}
nav ul{display:flex;flex-wrap:wrap;gap:.25rem 1rem;padding:0;list-style:none}
a{color:#0550ae}a:focus,.scroll:focus{outline:3px solid #0969da;outline-offset:2px}
.facts{display:grid;grid-template-columns:repeat(auto-fit,minmax(14rem,1fr));gap:.75rem;margin:0}
.facts div{border:1px solid var(--line);border-radius:.375rem;padding:.5rem .75rem}
dt{font-weight:600;color:var(--muted)}dd{margin:0}
meter{width:100%;height:1.25rem}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{border:1px solid var(--line);padding:.35rem .5rem;text-align:left;vertical-align:top}
thead th{background:var(--band)}tbody th{font-weight:normal}
td ul{margin:0;padding-left:1.1rem}
.sev,.st{font-weight:700;white-space:nowrap}
.sev.error,.sev.critical,.st.expired{color:var(--bad)}.sev.warning,.st.soon{color:var(--soon)}.st.ok{color:var(--ok)}
.st.expired::before{content:"\\2715  "}.st.soon::before{content:"\\25B2  "}.st.ok::before{content:"\\25CF  "}
.st.run{color:var(--muted)}.st.run::before{content:"\\25CB  "}
.statements p{margin:.25rem 0;padding:.25rem .5rem;border-left:4px solid var(--line)}
.facts .wide{grid-column:1/-1}
.legend{display:flex;flex-wrap:wrap;gap:.25rem 1.25rem;padding:0;list-style:none}
.legend svg{vertical-align:middle}
figure{margin:0}
.chart svg{display:block;width:100%;min-width:46rem;height:auto;font-size:11px}
.band{fill:var(--band)}
.label,.tick{fill:var(--fg)}
.month{stroke:var(--line)}
.now{stroke:var(--fg);stroke-width:2}
.threshold line{stroke:var(--soon);stroke-dasharray:4 3}.threshold text{fill:var(--soon);font-weight:600}
.ca-mark circle,circle.ok{fill:var(--ok)}
.ca-mark.ok path,path.ok{fill:var(--ok)}
.ca-mark.soon path,path.soon{fill:var(--soon)}
.ca-mark.expired path,path.expired{stroke:var(--bad);stroke-width:2.5;fill:none}
.break-mark line,line.brk{stroke:var(--bad);stroke-width:3}
.break-mark line.gap{stroke-width:1;stroke-dasharray:2 2}
footer{margin-top:2rem;color:var(--muted);font-size:.9rem}
@media (max-width:40rem){body{padding:.5rem}h1{font-size:1.4rem}}
@media print{.scroll{overflow:visible}}
`
  .trim()
  .replace(/\n/g, '');

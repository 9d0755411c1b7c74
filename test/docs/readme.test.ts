import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { declaredExitStatuses } from '../../cli/exit-status.js';
import { buildProgram } from '../../cli/main.js';
import { METRIC } from '../../shared/metric-names.js';
import { EVENT_TYPES } from '../../shared/ports.js';
import { RULES } from '../../shared/truststore/rules/index.js';
import { quoted, README, section, tableRows } from './readme.js';

/**
 * The README's reference tables are what subscribers filter on, what a rejected partner looks up
 * and what an operator alarms on: each must name everything the code can produce.
 */
const sources = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => readFileSync(join(dir, f), 'utf8'));

describe('the README names everything the code produces', () => {
  it('every notification eventType is in the Notifications table', () => {
    const listed = tableRows(section('### Notifications')).flatMap((row) => quoted(row[0]!));
    expect(EVENT_TYPES.filter((t) => !listed.includes(t))).toEqual([]);
    expect(listed.filter((t) => !(EVENT_TYPES as readonly string[]).includes(t))).toEqual([]);
  });

  it('every finding code lint and ingest can give is in the Findings table', () => {
    const listed = tableRows(section('### Findings')).flatMap((row) => quoted(row[0]!));
    const produced = new Set([
      ...RULES.map((r) => r.id),
      ...sources('shared').flatMap((text) =>
        [...text.matchAll(/code: '([a-z]+\.[a-z-]+)'/g)].map((m) => m[1]!),
      ),
    ]);
    expect(produced.size).toBeGreaterThan(20);
    expect([...produced].filter((c) => !listed.includes(c))).toEqual([]);
  });

  it('every metric the handlers emit is in the Metrics list', () => {
    const metrics = README.slice(README.indexOf('- **Metrics**')).split('\n- ')[0]!;
    // Names given as literals, and every name of METRIC (the handlers emit through it).
    const emitted = new Set([
      ...sources('functions').flatMap((text) => [...text.matchAll(/addMetric\('(\w+)'/g)].map((m) => m[1]!)),
      ...Object.values(METRIC),
    ]);
    expect(emitted.size).toBeGreaterThan(10);
    expect([...emitted].filter((m) => !quoted(metrics).includes(m))).toEqual([]);
  });

  it('the Exit statuses table lists every command with exactly the statuses its --help declares', () => {
    const program = buildProgram(
      { out: () => undefined, err: () => undefined, stdin: async () => new Uint8Array() },
      () => undefined,
    );
    const declared = declaredExitStatuses(program);
    const commands = program.commands.flatMap((c) =>
      c.commands.length > 0 ? c.commands.map((s) => `${c.name()} ${s.name()}`) : [c.name()],
    );
    // Every command declares its statuses (the CLI contract test checks it returns only those).
    expect(commands.filter((c) => !declared.has(c))).toEqual([]);
    const table = new Map(
      tableRows(section('## Exit statuses')).map((row) => [
        quoted(row[0]!)[0]!,
        row[1]!.split(/\s+/).map(Number),
      ]),
    );
    expect([...table.keys()].sort()).toEqual([...commands].sort());
    for (const command of commands)
      expect(table.get(command), command).toEqual(Object.keys(declared.get(command)!).map(Number));
  });
});

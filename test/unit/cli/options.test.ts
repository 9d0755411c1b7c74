import type { Command, Option } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../../cli/main.js';

/** Every sub-command (nested ones too) with the command names that reach it. */
const commands = (cmd: Command, path: string[] = []): { cmd: Command; path: string[] }[] =>
  cmd.commands.flatMap((c) => [{ cmd: c, path: [...path, c.name()] }, ...commands(c, [...path, c.name()])]);

const spellings = (o: Option): string[] => [o.long, o.short].filter((f): f is string => f !== undefined);

/** What `opts()` holds after `flag` was given once with the value "x" (its parser bypassed). */
const expected = (o: Option): unknown =>
  o.negate ? false : o.required || o.optional ? (o.variadic ? ['x'] : 'x') : true;

/**
 * Parses `path … flag [x]` (the flag last: a variadic option takes every value after it) (with every required option and argument filled in) with the command's
 * action replaced: what the command received, and what the program printed instead.
 */
const parseWith = async (path: string[], flag: string, option: Option) => {
  let out = '';
  const program = buildProgram(
    { out: (t) => (out += t), err: (t) => (out += t), stdin: async () => new Uint8Array() },
    () => {},
  );
  let cmd: Command = program;
  for (const name of path) cmd = cmd.commands.find((c) => c.name() === name)!;
  let received: Record<string, unknown> | undefined;
  for (const o of cmd.options) o.argParser((v: string) => (o.variadic ? [v] : v));
  cmd.action(() => {
    received = cmd.opts();
  });
  const required = cmd.options.filter((o) => o.mandatory && o !== option).flatMap((o) => [o.long!, 'x']);
  const args = cmd.registeredArguments.filter((a) => a.required).map(() => 'x');
  const takesValue = option.required || option.optional;
  try {
    await program.parseAsync([...path, ...required, ...args, flag, ...(takesValue ? ['x'] : [])], {
      from: 'user',
    });
  } catch (error) {
    out += String(error);
  }
  return { received, out };
};

describe('sub-command options never collide with the program options', () => {
  const program = buildProgram(
    { out: () => {}, err: () => {}, stdin: async () => new Uint8Array() },
    () => {},
  );
  const cases = commands(program).flatMap(({ cmd, path }) =>
    cmd.options.flatMap((o) => spellings(o).map((flag) => ({ path, flag, option: o }))),
  );

  it('walks every option of every command', () => {
    expect(cases.length).toBeGreaterThan(60);
    expect(cases.some((c) => c.path[0] === 'promote' && c.flag === '--version')).toBe(true);
  });

  it.each(cases.map((c) => [`${c.path.join(' ')} ${c.flag}`, c] as const))(
    '%s reaches its command',
    async (_name, { path, flag, option }) => {
      const { received, out } = await parseWith(path, flag, option);
      expect(out).not.toMatch(/^\d+\.\d+\.\d+/);
      expect(received?.[option.attributeName()]).toEqual(expected(option));
    },
  );

  it('keeps trustroll --version and -V', async () => {
    for (const flag of ['--version', '-V']) {
      let out = '';
      const p = buildProgram(
        { out: (t) => (out += t), err: () => {}, stdin: async () => new Uint8Array() },
        () => {},
      );
      await expect(p.parseAsync([flag], { from: 'user' })).rejects.toMatchObject({
        code: 'commander.version',
      });
      expect(out).toMatch(/^\d+\.\d+\.\d+\n$/);
    }
  });
});

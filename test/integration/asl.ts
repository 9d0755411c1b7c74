import { createRequire } from 'node:module';

/**
 * Runs a state machine definition (Amazon States Language, JSONPath) as Step Functions would, for
 * the states and fields trustroll's rollout machine uses: Task (a Lambda function's ARN as the
 * resource: the state's input is the payload, the function's answer the output), Retry
 * (ErrorEquals by name, `States.ALL` last, MaxAttempts; the waits between attempts are only
 * counted), Choice (BooleanEquals, StringEquals, Or, Default), Wait (Seconds, SecondsPath), Succeed,
 * Fail (Error, Cause, CausePath with `States.JsonToString`). Anything else in the definition is
 * refused, so the interpreter never runs a machine it does not understand. Moto stores state
 * machines but does not run them; AWS's own local runner needs Docker. The definition is first
 * checked against the ASL schema (asl-validator).
 */

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
interface State {
  readonly Type: string;
  readonly [field: string]: unknown;
}
interface Definition {
  readonly StartAt: string;
  readonly States: Record<string, State>;
  readonly TimeoutSeconds?: number;
}
interface Retrier {
  readonly ErrorEquals: string[];
  readonly MaxAttempts?: number;
  readonly IntervalSeconds?: number;
}

export type Execution =
  | { readonly status: 'SUCCEEDED'; readonly output: Json; readonly path: string[] }
  | { readonly status: 'FAILED'; readonly error: string; readonly cause?: string; readonly path: string[] };

export interface Runtime {
  /** Invokes the Lambda function of a Task's resource with the payload; a thrown error's `name` is its error. */
  readonly invoke: (functionArn: string, payload: Json) => Promise<Json>;
  /** A Wait state's (or a retry's) pause, in seconds: the test advances its clock. */
  readonly wait: (seconds: number) => void | Promise<void>;
  /** Stops a run that never ends (default 1,000 state transitions). */
  readonly maxTransitions?: number;
}

const require = createRequire(import.meta.url);
const validate = require('asl-validator') as (
  definition: unknown,
  options?: { checkPaths: boolean; checkArn: boolean },
) => { isValid: boolean; errors: { message?: string; 'Error code'?: string }[] };

/** Problems asl-validator finds in the definition (empty when it is valid ASL). */
export const aslProblems = (definition: unknown): string[] => {
  const { isValid, errors } = validate(structuredClone(definition), { checkPaths: true, checkArn: true });
  return isValid ? [] : errors.map((e) => e.message ?? JSON.stringify(e));
};

/** `$`, `$.a.b`: the paths the rollout machine uses (no filters, no wildcards). */
const at = (path: string, input: Json): Json | undefined => {
  if (path === '$') return input;
  if (!/^\$(\.[A-Za-z_][\w]*)+$/.test(path)) throw new Error(`unsupported path ${path}`);
  let v: Json | undefined = input;
  for (const key of path.slice(2).split('.')) {
    v = v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, Json>)[key] : undefined;
  }
  return v;
};

const matches = (rule: Record<string, unknown>, input: Json): boolean => {
  if (Array.isArray(rule.Or)) return (rule.Or as Record<string, unknown>[]).some((r) => matches(r, input));
  const v = at(rule.Variable as string, input);
  if ('BooleanEquals' in rule) return typeof v === 'boolean' && v === rule.BooleanEquals;
  if ('StringEquals' in rule) return typeof v === 'string' && v === rule.StringEquals;
  throw new Error(`unsupported choice rule ${JSON.stringify(rule)}`);
};

const KNOWN: Record<string, string[]> = {
  Task: ['Type', 'Resource', 'Next', 'End', 'Retry', 'Comment'],
  Choice: ['Type', 'Choices', 'Default', 'Comment'],
  Wait: ['Type', 'Seconds', 'SecondsPath', 'Next', 'End', 'Comment'],
  Succeed: ['Type', 'Comment'],
  Fail: ['Type', 'Error', 'Cause', 'CausePath', 'Comment'],
};

/** Runs `definition` on `input` to its end: what DescribeExecution would say. */
export const runMachine = async (
  definition: Definition,
  input: Json,
  runtime: Runtime,
): Promise<Execution> => {
  for (const [name, state] of Object.entries(definition.States)) {
    const known = KNOWN[state.Type];
    const unknown = known ? Object.keys(state).filter((k) => !known.includes(k)) : [state.Type];
    if (unknown.length > 0) throw new Error(`state ${name}: unsupported ${unknown.join(', ')}`);
  }
  const path: string[] = [];
  let name = definition.StartAt;
  let data = input;
  for (let transitions = 0; transitions < (runtime.maxTransitions ?? 1_000); transitions++) {
    const state = definition.States[name];
    if (!state) throw new Error(`no state ${name}`);
    path.push(name);
    switch (state.Type) {
      case 'Succeed':
        return { status: 'SUCCEEDED', output: data, path };
      case 'Fail': {
        const causePath = state.CausePath as string | undefined;
        const json = causePath && /^States\.JsonToString\((\$[\w.]*)\)$/.exec(causePath);
        if (causePath && !json) throw new Error(`unsupported CausePath ${causePath}`);
        const cause = json ? JSON.stringify(at(json[1]!, data)) : (state.Cause as string | undefined);
        return { status: 'FAILED', error: state.Error as string, ...(cause ? { cause } : {}), path };
      }
      case 'Choice': {
        const choice = (state.Choices as Record<string, unknown>[]).find((c) => matches(c, data));
        const next = (choice?.Next as string | undefined) ?? (state.Default as string | undefined);
        if (!next) return { status: 'FAILED', error: 'States.NoChoiceMatched', path };
        name = next;
        continue;
      }
      case 'Wait': {
        const seconds =
          state.SecondsPath !== undefined ? at(state.SecondsPath as string, data) : (state.Seconds as number);
        if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 0)
          return { status: 'FAILED', error: 'States.Runtime', cause: `Wait ${name}: ${seconds}`, path };
        await runtime.wait(seconds);
        break;
      }
      case 'Task': {
        const retriers = (state.Retry as Retrier[] | undefined) ?? [];
        const attempts = new Map<Retrier, number>();
        for (;;) {
          try {
            data = await runtime.invoke(state.Resource as string, data);
            break;
          } catch (error) {
            const errorName = (error as Error).name || 'Error';
            const retrier = retriers.find(
              (r) => r.ErrorEquals.includes(errorName) || r.ErrorEquals.includes('States.ALL'),
            );
            const used = retrier ? (attempts.get(retrier) ?? 0) : 0;
            if (!retrier || used >= (retrier.MaxAttempts ?? 3))
              return {
                status: 'FAILED',
                error: errorName,
                cause: JSON.stringify({ errorType: errorName, errorMessage: (error as Error).message }),
                path,
              };
            attempts.set(retrier, used + 1);
            await runtime.wait(retrier.IntervalSeconds ?? 1);
          }
        }
        break;
      }
    }
    if (state.End === true) return { status: 'SUCCEEDED', output: data, path };
    name = state.Next as string;
  }
  throw new Error(`no end after ${runtime.maxTransitions ?? 1_000} transitions`);
};

import type { Type } from '../types.js';
import type { Value } from '../eval/value.js';

/**
 * A builtin function: its signature and implementation declared once. Implementations
 * are total: they return a value or an error message, never throw.
 */
export interface Builtin {
  name: string;
  params: Type[];
  returns: Type;
  /** One line for docs and `--help`. */
  doc: string;
  impl: (args: Value[]) => Value | BuiltinFailure;
  /** What is wrong with a literal argument at `index` (a misspelt time zone), checked before any request: `null` when nothing. */
  literal?: (index: number, value: Value) => string | null;
}

/**
 * A builtin's error. A class, not a plain `{error}` object: a builtin may answer a record from
 * the request (`get`), and a request may hold `{"error": "…"}`.
 */
export class BuiltinFailure {
  constructor(readonly error: string) {}
}

export function failure(error: string): BuiltinFailure {
  return new BuiltinFailure(error);
}

/** Whether a builtin's result is its error rather than a value. */
export function isFailure(result: Value | BuiltinFailure): result is BuiltinFailure {
  return result instanceof BuiltinFailure;
}

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
  impl: (args: Value[]) => Value | { error: string };
}

/** Whether a builtin's result is its error rather than a value. */
export function isFailure(result: Value | { error: string }): result is { error: string } {
  return typeof result === 'object' && result !== null && Object.getPrototypeOf(result) === Object.prototype && typeof (result as { error?: unknown }).error === 'string';
}

import type { Expr } from '../ast.js';
import type { Activation } from '../eval/activation.js';
import { EvalError, type Result, type Value } from '../eval/value.js';
import type { ErrorSource } from './error-source.js';
import type { Path } from './compile-path.js';

/*
 * What compiled expressions are made of (compile-expr.ts, compile-binary.ts, compile-path.ts).
 *
 * Memory: a policy set keeps every closure made there, so closures capture offsets and small
 * values — never syntax trees or spans — and an error, its span and its message are made
 * only when one happens, from `p` (an ErrorSource). Each closure is made in a function of
 * its own, returned or passed rather than bound to a name: a closure capturing a constant
 * of a nested block costs a V8 context for the block, and the esbuild transform tsx runs
 * gives a named arrow function a `name` property, a dictionary of its own per closure.
 */

/** A compiled expression: a closure over the activation. Never throws; errors are values. */
export type Fn = (a: Activation) => Result;

/**
 * A compiled expression and, when it does not depend on the request, its value; when it
 * reads a path under a root, the path, so that an operator on it can read it itself
 * (one closure for `subject.role == "admin"` rather than two).
 */
export interface Compiled {
  fn: Fn;
  constant?: Value;
  path?: Path;
}

function always(value: Value): Fn {
  return () => value;
}

export function constant(value: Value): Compiled {
  return { fn: always(value), constant: value };
}

/** The error at the expression between offsets `from` and `to`. */
export function fail(p: ErrorSource, from: number, to: number, message: string): EvalError {
  return new EvalError(message, p.spanAt(from, to));
}

export function failing(p: ErrorSource, expr: Expr, message: string): Fn {
  const from = expr.span.start.offset;
  const to = expr.span.end.offset;
  return () => fail(p, from, to, message);
}

import type { Expr, Root } from '../ast.js';
import type { Activation } from '../eval/activation.js';
import { isRecord, own, type EvalError, type Value } from '../eval/value.js';
import { printPath } from '../format/print-expr.js';
import { fail, type Fn } from './compiled.js';
import type { ErrorSource } from './error-source.js';

/*
 * Attribute paths under a root (`subject.role`, `context.a.b`): the most common operand.
 * Operators on a path read it themselves with `readPath` (compile-binary.ts), so that
 * `subject.role == "admin"` is one closure rather than two.
 *
 * An error whose message does not depend on the request (`subject.role` is missing) is
 * made on the first failure and kept in the closure (`missing ??=`): requests that lack an
 * attribute are common, and the error is then as cheap as a value.
 */

/** `root.a.b` and where it is written, for its missing-attribute error. */
export interface Path {
  root: Root;
  names: Names;
  from: number;
  to: number;
}

/** The names of a path; one name as the name itself: most paths have one, and a string is shared where an array is not. */
export type Names = string | readonly string[];

/** `root.a.b.c` as one accessor: the common case, and the one the index and fast paths look for. */
export function rootPath(expr: Expr): { root: Root; names: string[] } | null {
  if (expr.kind === 'root') return { root: expr.root, names: [] };
  if (expr.kind !== 'attr') return null;
  const inner = rootPath(expr.object);
  // concat, not a spread: a spread grows the array by pushes, to 17 slots; compiled paths keep these arrays.
  return inner === null ? null : { root: inner.root, names: inner.names.concat(expr.name) };
}

/** The value at `root.names`, or `undefined` when any step is missing: an attribute under a non-record is missing. */
export function readPath(a: Activation, root: Root, names: Names): Value | undefined {
  if (typeof names === 'string') return a.attr(root, names);
  let v = a.attr(root, names[0]);
  for (let i = 1; i < names.length && v !== undefined; i++) v = isRecord(v) ? own(v, names[i]) : undefined;
  return v;
}

/** Whether an attribute read counts as missing. Every attribute read here asks this. */
export function isMissing(v: Value | undefined): v is undefined {
  // null is a value a caller sent on purpose (`"manager": null`), not a missing attribute.
  return v === undefined;
}

/** The message names the path as `printExpr` would, printed from the path itself. */
export function missingPath(p: ErrorSource, root: Root, names: Names, from: number, to: number): EvalError {
  return fail(p, from, to, `\`${printPath(root, typeof names === 'string' ? [names] : names)}\` is missing`);
}

/** `root.a.b`, the most common node: an attribute, or the error that it is missing. */
export function pathOrMissing(root: Root, names: Names, from: number, to: number, p: ErrorSource): Fn {
  let missing: EvalError | undefined;
  return (a) => {
    const v = readPath(a, root, names);
    return isMissing(v) ? (missing ??= missingPath(p, root, names, from, to)) : v;
  };
}

import type { Constraint, Expr, Root, Span } from '../ast.js';
import { EntityRef, type Value } from '../eval/value.js';
import { BOOLEAN_KINDS } from '../compile/compile-expr.js';

/*
 * Building residual expressions: what is left of a condition once the facts are applied.
 * The builders fold constants (`true && x` is `x`) so residuals read like policy code.
 */

/**
 * A partially evaluated expression. On every request consistent with the facts on which
 * the original expression does not error, it evaluates to `value` (known) or to what
 * `expr` evaluates to (residual). `mayError` is false only when no such request makes the
 * original an error — what decides whether a forbid can fail closed.
 */
export type Partial =
  | { known: true; value: Value; mayError: boolean }
  | { known: false; expr: Expr; mayError: boolean };

export function known(value: Value, mayError = false): Partial {
  return { known: true, value, mayError };
}

export function residual(expr: Expr, mayError: boolean): Partial {
  return { known: false, expr, mayError };
}

/** Whether evaluating `expr` can only give a boolean or an error (never another value). */
export function isBooleanExpr(expr: Expr): boolean {
  return BOOLEAN_KINDS.has(expr.kind);
}

/** The expression for a partial result: a known value written as a literal where it can be, else `original`. */
export function exprOf(p: Partial, original: Expr): Expr {
  if (!p.known) return p.expr;
  return valueExpr(p.value, original.span) ?? original;
}

function valueExpr(v: Value, span: Span): Expr | null {
  if (v === null || typeof v !== 'object') return { kind: 'literal', value: v, span };
  if (v instanceof EntityRef) return { kind: 'entity', type: v.type, id: v.id, span };
  if (!Array.isArray(v)) return null;
  const items = (v as readonly Value[]).map((item) => valueExpr(item, span));
  return items.every((i) => i !== null) ? { kind: 'list', items: items as Expr[], span } : null;
}

function between(a: Expr, b: Expr): Span {
  return { start: a.span.start, end: b.span.end };
}

/** `a && b`, kept a flat chain (`a && (b && c)` is `a && b && c`: same results, same errors, fewer parentheses). */
export function and(a: Expr, b: Expr): Expr {
  if (b.kind === 'and') return and(and(a, b.left), b.right);
  return { kind: 'and', left: a, right: b, span: between(a, b) };
}

export function or(a: Expr, b: Expr): Expr {
  if (b.kind === 'or') return or(or(a, b.left), b.right);
  return { kind: 'or', left: a, right: b, span: between(a, b) };
}

/** `!e`, with `!(a == b)` written `a != b` and `!!e` as `e`: the same results and errors. */
export function not(e: Expr, span: Span = e.span): Expr {
  if (e.kind === 'binary' && (e.op === '==' || e.op === '!=')) return { ...e, op: e.op === '==' ? '!=' : '==' };
  if (e.kind === 'not' && isBooleanExpr(e.operand)) return e.operand;
  return { kind: 'not', operand: e, span };
}

/** `root.a.b` as an expression. */
export function pathExpr(root: Root, names: readonly string[], span: Span): Expr {
  let e: Expr = { kind: 'root', root, span };
  for (const name of names) e = { kind: 'attr', object: e, name, span };
  return e;
}

/** A target constraint written as the condition it stands for. */
export function constraintExpr(c: Exclude<Constraint, { kind: 'any' }>): Expr {
  const subject = pathExpr(c.root, c.path, c.span);
  switch (c.kind) {
    case 'eq':
      return { kind: 'binary', op: '==', left: subject, right: c.value, span: c.span };
    case 'in':
      return { kind: 'binary', op: 'in', left: subject, right: { kind: 'list', items: c.values, span: c.span }, span: c.span };
    case 'like':
      return { kind: 'like', subject, pattern: c.pattern, span: c.span };
  }
}

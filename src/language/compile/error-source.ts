import { subexpressions, type Expr, type Span } from '../ast.js';
import { printExpr } from '../format/print-expr.js';

/**
 * What an error message needs from the policy text, asked for only when an error happens:
 * the span and the printed text of the expression between two offsets. Compiled code keeps
 * offsets — not syntax trees, spans or ready-made messages — since most of it never fails.
 */
export interface ErrorSource {
  spanAt(start: number, end: number): Span;
  textAt(start: number, end: number): string;
}

/** Errors located in an expression kept in memory, for code compiled outside a policy set. */
export function sourceOf(expr: Expr): ErrorSource {
  return new ExprSource(expr);
}

class ExprSource implements ErrorSource {
  constructor(private readonly expr: Expr) {}

  spanAt(start: number, end: number): Span {
    return exprAt([this.expr], start, end).span;
  }

  textAt(start: number, end: number): string {
    return printExpr(exprAt([this.expr], start, end));
  }
}

/** The node spanning exactly `start`–`end`: nodes of one tree never share a span (parentheses leave no node). */
export function exprAt(roots: readonly Expr[], start: number, end: number): Expr {
  const stack = [...roots];
  for (let e = stack.pop(); e !== undefined; e = stack.pop()) {
    if (e.span.start.offset === start && e.span.end.offset === end) return e;
    stack.push(...subexpressions(e));
  }
  // INVARIANT: offsets come from the tree being searched; the engine reports a throw as an internal error.
  throw new Error(`no expression at offsets ${start}-${end}`);
}


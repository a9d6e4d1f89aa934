/**
 * Turns the grammar's target (a list of expressions) into constraints: only the shapes an
 * index can decide by lookup are accepted, the rest are reported here, once, on the
 * derivation that won (grammar actions must stay pure).
 */
import type { Constraint, Expr, Policy, Span, TargetRoot } from '../ast.js';
import { TARGET_ROOTS } from '../ast.js';
import { diagnostic, type Diagnostic } from '../diagnostic.js';
import type { RawPolicy } from './build.js';

const targetRoots: ReadonlySet<string> = new Set(TARGET_ROOTS);
const TARGET_HELP = 'a target constraint is `ROOT`, `ROOT == value`, `ROOT in [values]`, `ROOT.attr == value`, `ROOT.attr in [values]` or `ROOT.attr like "glob"` with ROOT one of subject, action, resource; put other tests in `when { }`';

export function toPolicy(file: string, raw: RawPolicy, diagnostics: Diagnostic[]): Policy | null {
  // `permit ()` means `permit`: one tree for both, so the formatter prints one text and
  // `gavel diff` sees no change between them.
  if (raw.target === null || raw.target.exprs.length === 0) return { ...raw, target: null };
  const target: Constraint[] = [];
  let ok = true;
  for (const expr of raw.target.exprs) {
    const constraint = toConstraint(expr);
    if (constraint === null) {
      diagnostics.push(diagnostic('invalid-target', file, expr.span, 'this is not a target constraint', TARGET_HELP));
      ok = false;
    } else target.push(constraint);
  }
  return ok ? { ...raw, target } : null;
}

/** The path under a target root, or null when `expr` is not `ROOT(.attr)*`. */
function targetPath(expr: Expr): { root: TargetRoot; path: string[] } | null {
  if (expr.kind === 'root') return targetRoots.has(expr.root) ? { root: expr.root as TargetRoot, path: [] } : null;
  if (expr.kind !== 'attr') return null;
  const inner = targetPath(expr.object);
  // concat, not a spread: a spread grows the array by pushes, to 17 slots; compiled targets keep these arrays.
  return inner === null ? null : { root: inner.root, path: inner.path.concat(expr.name) };
}

function isValue(expr: Expr): boolean {
  return expr.kind === 'literal' || expr.kind === 'entity';
}

function toConstraint(expr: Expr): Constraint | null {
  const span: Span = expr.span;
  if (expr.kind === 'root') return targetRoots.has(expr.root) ? { kind: 'any', root: expr.root as TargetRoot, span } : null;
  if (expr.kind === 'like') {
    const at = targetPath(expr.subject);
    return at === null ? null : { kind: 'like', ...at, pattern: expr.pattern, span };
  }
  if (expr.kind !== 'binary') return null;
  const at = targetPath(expr.left);
  if (at === null) return null;
  if (expr.op === '==' && isValue(expr.right)) return { kind: 'eq', ...at, value: expr.right, span };
  if (expr.op === 'in' && expr.right.kind === 'list' && expr.right.items.every(isValue)) {
    return { kind: 'in', ...at, values: expr.right.items, span };
  }
  return null;
}

import type { Expr, ExprOf } from '../ast.js';
import { BUILTINS } from '../builtins/registry.js';
import { isFailure } from '../builtins/builtin.js';
import { compileBinary } from '../compile/compile-binary.js';
import { compileExpr } from '../compile/compile-expr.js';
import { rootPath } from '../compile/compile-path.js';
import { constant } from '../compile/compiled.js';
import { sourceOf } from '../compile/error-source.js';
import { Activation } from '../eval/activation.js';
import { Cidr } from '../eval/ip.js';
import { EntityRef, EvalError, type Value } from '../eval/value.js';
import { impliedLike, impliedRelation, type Implied } from './implied.js';
import { pathKey, type Knowledge, type PathFacts } from './knowledge.js';
import { and, exprOf, isBooleanExpr, known, not, or, residual, type Partial } from './residual.js';

/*
 * Partial evaluation of one expression over what the facts say (knowledge.ts). The result
 * keeps the engine's semantics exactly where it is known: operators on known values run
 * the compiled code of the engine itself, and anything the facts do not decide stays as a
 * residual expression (the original, when nothing can be said about it).
 */

const NOTHING = new Activation({});

export function partialEval(e: Expr, k: Knowledge): Partial {
  switch (e.kind) {
    case 'literal':
      return known(e.value);
    case 'entity':
      return known(new EntityRef(e.type, e.id));
    case 'list':
      return partialList(e, k);
    case 'root':
    case 'attr':
      return partialPath(e, k);
    case 'variable':
      return residual(e, true);
    case 'has':
      return partialHas(e, k);
    case 'like':
      return partialLike(e, k);
    case 'not':
      return partialNot(e, k);
    case 'negate': {
      const o = partialEval(e.operand, k);
      return o.known && typeof o.value === 'number' ? known(-o.value, o.mayError) : residual(e, true);
    }
    case 'and':
    case 'or':
      return partialLogical(e, k);
    case 'binary':
      return partialBinary(e, k);
    case 'call':
      return partialCall(e, k);
  }
}

function factsAt(e: Expr, k: Knowledge): PathFacts | undefined {
  const at = rootPath(e);
  return at === null ? undefined : k.get(pathKey(at.root, at.names));
}

function partialList(e: ExprOf<'list'>, k: Knowledge): Partial {
  const items = e.items.map((i) => partialEval(i, k));
  const mayError = items.some((i) => i.mayError);
  if (items.every((i) => i.known)) return known(items.map((i) => (i as { value: Value }).value), mayError);
  return residual(e, mayError);
}

function partialPath(e: Expr, k: Knowledge): Partial {
  const f = factsAt(e, k);
  if (e.kind === 'attr' && rootPath(e) === null) return residual(e, true);
  if (f !== undefined && f.present && f.oneOf !== null && f.oneOf.length === 1) return known(f.oneOf[0]);
  return residual(e, !(f?.present ?? false));
}

function partialHas(e: ExprOf<'has'>, k: Knowledge): Partial {
  const at = rootPath(e.object);
  if (at === null) return residual(e, true);
  const member = k.get(pathKey(at.root, at.names.concat(e.name)));
  // On a root, `has` never errors; under a path it does when the path is not a record.
  const object = at.names.length === 0 ? null : k.get(pathKey(at.root, at.names));
  const objectOk = object === null || (object !== undefined && object.present && object.kind === 'record');
  if (member?.present) return known(true);
  if (member?.absent && objectOk) return known(false);
  return residual(e, !objectOk);
}

function partialLike(e: ExprOf<'like'>, k: Knowledge): Partial {
  const s = partialEval(e.subject, k);
  if (s.known) return typeof s.value === 'string' ? viaEngine(e, { ...e, subject: literalOf(s.value, e) }, s.mayError) : residual(e, true);
  const f = factsAt(e.subject, k);
  if (f?.present) {
    const implied = impliedLike(f, e.pattern);
    if (implied !== null) return fromImplied(implied, s.mayError);
  }
  const stringy = f?.present === true && f.kind === 'string';
  return residual({ ...e, subject: s.expr }, s.mayError || !stringy);
}

function partialNot(e: ExprOf<'not'>, k: Knowledge): Partial {
  const o = partialEval(e.operand, k);
  if (o.known) return typeof o.value === 'boolean' ? known(!o.value, o.mayError) : residual(e, true);
  return residual(not(o.expr, e.span), o.mayError || !isBooleanExpr(o.expr));
}

/**
 * `&&` / `||`, short-circuit as the engine does. A residual is the value where the
 * original does not error, so a known operand folds away — but an error it may raise
 * still counts (`mayError`): `x && false` is false, or an error when `x` is.
 */
function partialLogical(e: ExprOf<'and' | 'or'>, k: Knowledge): Partial {
  const decisive = e.kind === 'or';
  const l = partialEval(e.left, k);
  if (l.known && typeof l.value !== 'boolean') return residual(e, true);
  if (l.known && l.value === decisive) return known(decisive, l.mayError);
  const r = partialEval(e.right, k);
  if (r.known && typeof r.value !== 'boolean') return l.known ? residual(e, true) : residual(e, true);
  const mayError = l.mayError || r.mayError || (!l.known && !isBooleanExpr(l.expr)) || (!r.known && !isBooleanExpr(r.expr));
  if (l.known) return r.known ? known(r.value, mayError) : residual(r.expr, mayError);
  if (r.known) return r.value === decisive ? known(decisive, mayError) : residual(l.expr, mayError);
  return residual(decisive ? or(l.expr, r.expr) : and(l.expr, r.expr), mayError);
}

function partialBinary(e: ExprOf<'binary'>, k: Knowledge): Partial {
  const l = partialEval(e.left, k);
  const r = partialEval(e.right, k);
  const mayError = l.mayError || r.mayError;
  if (l.known && r.known) return viaEngine(e, { ...e, left: placeholder(e.left), right: placeholder(e.right) }, mayError, l.value, r.value);
  const implied = impliedByFacts(e, l, r, k);
  if (implied !== null) return fromImplied(implied, mayError);
  return residual({ ...e, left: exprOf(l, e.left), right: exprOf(r, e.right) }, mayError || mayFailOnType(e, l, r, k));
}

/** A relation of a present path with a known value, decided by the path's facts. */
function impliedByFacts(e: ExprOf<'binary'>, l: Partial, r: Partial, k: Knowledge): Implied | null {
  if (r.known) {
    const f = factsAt(e.left, k);
    if (f?.present) return impliedRelation(f, e.op, r.value);
  }
  if (l.known && (e.op === '==' || e.op === '!=')) {
    const f = factsAt(e.right, k);
    if (f?.present) return impliedRelation(f, e.op, l.value);
  }
  return null;
}

/** Whether a relation whose operands do not error may still be a type error. */
function mayFailOnType(e: ExprOf<'binary'>, l: Partial, r: Partial, k: Knowledge): boolean {
  const kind = (p: Partial, side: Expr) => (p.known ? typeof p.value : factsAt(side, k)?.kind);
  switch (e.op) {
    case '==':
    case '!=':
      return false;
    case '<':
    case '<=':
    case '>':
    case '>=':
      return kind(l, e.left) !== 'number' || kind(r, e.right) !== 'number';
    case 'in':
      return !(r.known && Array.isArray(r.value) && !(r.value as readonly Value[]).some((v) => v instanceof Cidr));
    case 'contains':
      return kind(l, e.left) !== 'list';
    default:
      return true;
  }
}

function partialCall(e: ExprOf<'call'>, k: Knowledge): Partial {
  const args = e.args.map((a) => partialEval(a, k));
  const builtin = BUILTINS.get(e.name);
  if (builtin === undefined || !args.every((a) => a.known)) return residual(e, true);
  const result = builtin.impl(args.map((a) => (a as { value: Value }).value));
  return isFailure(result) ? residual(e, true) : known(result, args.some((a) => a.mayError));
}

function fromImplied(implied: Implied, mayError: boolean): Partial {
  return known(implied.value, mayError || implied.mayError);
}

/**
 * Runs the engine's own code for an operator whose operands are known: `shaped` is `e`
 * with its operands replaced, so that no operand reads the (empty) request.
 */
function viaEngine(e: Expr, shaped: Expr, mayError: boolean, left?: Value, right?: Value): Partial {
  const errors = sourceOf(shaped);
  const fn =
    shaped.kind === 'binary' && left !== undefined && right !== undefined
      ? compileBinary(shaped, constant(left), constant(right), errors)
      : compileExpr(shaped, errors);
  const v = fn(NOTHING);
  return v instanceof EvalError ? residual(e, true) : known(v, mayError);
}

/** An operand that reads nothing; its value is supplied separately (viaEngine). */
function placeholder(e: Expr): Expr {
  return { kind: 'literal', value: null, span: e.span };
}

function literalOf(value: string, e: Expr): Expr {
  return { kind: 'literal', value, span: e.span };
}

import type { Expr, ExprOf, Root } from '../ast.js';
import { BUILTINS } from '../builtins/registry.js';
import { isFailure, type Builtin } from '../builtins/builtin.js';
import { EntityRef, EvalError, isRecord, own, typeName, type Value } from '../eval/value.js';
import { compileGlob, parseGlob } from '../eval/glob.js';
import { LazyRoot } from '../eval/activation.js';
import { compileBinary } from './compile-binary.js';
import { isMissing, pathOrMissing, rootPath } from './compile-path.js';
import { constant, fail, failing, type Compiled, type Fn } from './compiled.js';
import { sourceOf, type ErrorSource } from './error-source.js';

export type { Fn } from './compiled.js';
export { rootPath } from './compile-path.js';

/**
 * Compiles a checked expression. Constant subexpressions (`cidr("10.0.0.0/8")`) are folded
 * once here. `errors` locates and prints subexpressions for error messages; by default it
 * reads them from `expr`, which the compiled code then keeps.
 */
export function compileExpr(expr: Expr, errors: ErrorSource = sourceOf(expr)): Fn {
  return compile(expr, errors).fn;
}

function compile(expr: Expr, p: ErrorSource): Compiled {
  switch (expr.kind) {
    case 'literal':
      return constant(expr.value);
    case 'entity':
      return constant(new EntityRef(expr.type, expr.id));
    case 'list':
      return compileList(expr.items, p);
    case 'root':
      return { fn: compileRoot(expr, p) };
    case 'variable':
      return { fn: failing(p, expr, `unknown name \`${expr.name}\``) };
    case 'attr':
      return compileAttr(expr, p);
    case 'has':
      return { fn: compileHas(expr, p) };
    case 'like':
      return { fn: compileLike(expr, p) };
    case 'not':
      return { fn: compileNot(expr, p) };
    case 'negate':
      return { fn: compileNegate(expr, p) };
    case 'and':
    case 'or':
      return { fn: compileLogical(expr, p) };
    case 'binary':
      return { fn: compileBinary(expr, compile(expr.left, p), compile(expr.right, p), p) };
    case 'call':
      return compileCall(expr, p);
  }
}

function compileList(items: Expr[], p: ErrorSource): Compiled {
  const parts = items.map((item) => compile(item, p));
  if (parts.every((part) => 'constant' in part)) return constant(parts.map((part) => part.constant!));
  return { fn: listOf(parts.map((part) => part.fn)) };
}

function listOf(fns: Fn[]): Fn {
  return (a) => {
    const out: Value[] = [];
    for (const f of fns) {
      const v = f(a);
      if (v instanceof EvalError) return v;
      out.push(v);
    }
    return out;
  };
}

const MISSING_ROOT = new Map<Root, string>();
function missingRoot(root: Root): string {
  let message = MISSING_ROOT.get(root);
  if (message === undefined) MISSING_ROOT.set(root, (message = `\`${root}\` is missing from the request`));
  return message;
}

function compileRoot(expr: ExprOf<'root'>, p: ErrorSource): Fn {
  const root = expr.root;
  const from = expr.span.start.offset;
  const to = expr.span.end.offset;
  const message = missingRoot(root);
  // Made on the first failure and kept, as a missing path's (compile-path.ts).
  let missing: EvalError | undefined;
  switch (root) {
    case 'action':
      return (a) => {
        const name = a.attr('action', 'name');
        return typeof name === 'string' ? name : (missing ??= fail(p, from, to, message));
      };
    case 'subject':
    case 'resource':
      return (a) => {
        const value = a.request[root];
        if (!isRecord(value)) return (missing ??= fail(p, from, to, message));
        const type = own(value, 'type');
        const id = own(value, 'id');
        return typeof type === 'string' && typeof id === 'string' ? new EntityRef(type, id) : fail(p, from, to, `\`${root}\` needs a string \`type\` and \`id\``);
      };
    default:
      return (a) => {
        const value = a.request[root];
        if (value instanceof LazyRoot) return value.all();
        return isRecord(value) ? value : (missing ??= fail(p, from, to, message));
      };
  }
}

function compileAttr(expr: ExprOf<'attr'>, p: ErrorSource): Compiled {
  const from = expr.span.start.offset;
  const to = expr.span.end.offset;
  const at = rootPath(expr);
  if (at !== null) {
    const names = at.names.length === 1 ? at.names[0] : at.names;
    return { fn: pathOrMissing(at.root, names, from, to, p), path: { root: at.root, names, from, to } };
  }
  return { fn: attrOf(compile(expr.object, p).fn, expr, p) };
}

/** An attribute of something other than a path (`f(x).a`): rare, since paths are what hold records. */
function attrOf(object: Fn, expr: ExprOf<'attr'>, p: ErrorSource): Fn {
  const name = expr.name;
  const from = expr.span.start.offset;
  const to = expr.span.end.offset;
  const objectFrom = expr.object.span.start.offset;
  const objectTo = expr.object.span.end.offset;
  return (a) => {
    const v = object(a);
    if (v instanceof EvalError) return v;
    if (!isRecord(v)) return fail(p, objectFrom, objectTo, `\`${p.textAt(objectFrom, objectTo)}\` is ${typeName(v)} and has no attribute \`${name}\``);
    const value = own(v, name);
    return isMissing(value) ? fail(p, from, to, `\`${p.textAt(from, to)}\` is missing`) : value;
  };
}

function compileHas(expr: ExprOf<'has'>, p: ErrorSource): Fn {
  const name = expr.name;
  if (expr.object.kind === 'root') return hasOnRoot(expr.object.root, name);
  const object = compile(expr.object, p).fn;
  const from = expr.object.span.start.offset;
  const to = expr.object.span.end.offset;
  return (a) => {
    const v = object(a);
    if (v instanceof EvalError) return v;
    if (!isRecord(v)) return fail(p, from, to, `\`has\` tests a record, and \`${p.textAt(from, to)}\` is ${typeName(v)}`);
    return own(v, name) !== undefined;
  };
}

function hasOnRoot(root: Root, name: string): Fn {
  return (a) => a.attr(root, name) !== undefined;
}

function compileLike(expr: ExprOf<'like'>, p: ErrorSource): Fn {
  const pieces = parseGlob(expr.pattern);
  if ('error' in pieces) return failing(p, expr, pieces.error);
  const match = compileGlob(pieces);
  const subject = compile(expr.subject, p).fn;
  const from = expr.subject.span.start.offset;
  const to = expr.subject.span.end.offset;
  return (a) => {
    const v = subject(a);
    if (v instanceof EvalError) return v;
    return typeof v === 'string' ? match(v) : fail(p, from, to, `\`like\` matches strings, and \`${p.textAt(from, to)}\` is ${typeName(v)}`);
  };
}

function compileNot(expr: ExprOf<'not'>, p: ErrorSource): Fn {
  const operand = compile(expr.operand, p).fn;
  const from = expr.operand.span.start.offset;
  const to = expr.operand.span.end.offset;
  return (a) => {
    const v = operand(a);
    if (typeof v === 'boolean') return !v;
    return v instanceof EvalError ? v : fail(p, from, to, `\`!\` needs a boolean, not ${typeName(v)}`);
  };
}

function compileNegate(expr: ExprOf<'negate'>, p: ErrorSource): Fn {
  const operand = compile(expr.operand, p).fn;
  const from = expr.operand.span.start.offset;
  const to = expr.operand.span.end.offset;
  return (a) => {
    const v = operand(a);
    if (typeof v === 'number') return -v;
    return v instanceof EvalError ? v : fail(p, from, to, `\`-\` needs a number, not ${typeName(v)}`);
  };
}

function notBoolean(p: ErrorSource, op: '&&' | '||', from: number, to: number, v: Value): EvalError {
  return fail(p, from, to, `\`${op}\` needs booleans, and \`${p.textAt(from, to)}\` is ${typeName(v)}`);
}

/** Short-circuit, left to right: `false && error` is false and `true || error` is true; `error && false` is the error. */
function compileLogical(expr: ExprOf<'and' | 'or'>, p: ErrorSource): Fn {
  // `a && b && c` is `(a && b) && c`: one closure over the chain's operands, as the nested ones would answer.
  const operands: Expr[] = [];
  let node: Expr = expr;
  for (; node.kind === expr.kind; node = node.left) operands.push(node.right);
  operands.push(node);
  operands.reverse();
  const decisive = expr.kind === 'or';
  if (operands.length > 2) return logicalChain(operands, decisive, p);
  const left = compile(expr.left, p).fn;
  const right = compile(expr.right, p).fn;
  const op = decisive ? '||' : '&&';
  const leftFrom = expr.left.span.start.offset;
  const leftTo = expr.left.span.end.offset;
  const rightFrom = expr.right.span.start.offset;
  const rightTo = expr.right.span.end.offset;
  return (a) => {
    const l = left(a);
    if (l === decisive) return l;
    if (l !== !decisive) return l instanceof EvalError ? l : notBoolean(p, op, leftFrom, leftTo, l);
    const r = right(a);
    if (typeof r === 'boolean' || r instanceof EvalError) return r;
    return notBoolean(p, op, rightFrom, rightTo, r);
  };
}

function logicalChain(operands: Expr[], decisive: boolean, p: ErrorSource): Fn {
  const fns = operands.map((e) => compile(e, p).fn);
  // Where each operand starts, then where each ends: arrays made by `map` are exactly as long as needed.
  const offsets = operands.map((e) => e.span.start.offset).concat(operands.map((e) => e.span.end.offset));
  const n = operands.length;
  const op = decisive ? '||' : '&&';
  return (a) => {
    for (let i = 0; i < n; i++) {
      const v = fns[i](a);
      if (v === decisive) return v;
      if (v !== !decisive) return v instanceof EvalError ? v : notBoolean(p, op, offsets[i], offsets[n + i], v);
    }
    return !decisive;
  };
}

/** Expressions whose compiled code answers only a boolean or an error. */
export const BOOLEAN_KINDS: ReadonlySet<Expr['kind']> = new Set(['and', 'or', 'binary', 'not', 'has', 'like']);

function compileCall(expr: ExprOf<'call'>, p: ErrorSource): Compiled {
  const builtin = BUILTINS.get(expr.name);
  if (builtin === undefined) return { fn: failing(p, expr, `unknown function \`${expr.name}\``) };
  const args = expr.args.map((arg) => compile(arg, p));
  if (args.every((arg) => 'constant' in arg)) {
    const result = builtin.impl(args.map((arg) => arg.constant!));
    if (!isFailure(result)) return constant(result);
  }
  return { fn: callOf(builtin.impl, args.map((arg) => arg.fn), expr, p) };
}

function callOf(impl: Builtin['impl'], fns: Fn[], expr: ExprOf<'call'>, p: ErrorSource): Fn {
  const name = expr.name;
  const from = expr.span.start.offset;
  const to = expr.span.end.offset;
  return (a) => {
    const values: Value[] = [];
    for (const f of fns) {
      const v = f(a);
      if (v instanceof EvalError) return v;
      values.push(v);
    }
    const result = impl(values);
    return isFailure(result) ? fail(p, from, to, `\`${name}\`: ${result.error}`) : result;
  };
}

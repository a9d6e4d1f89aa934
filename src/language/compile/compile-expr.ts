import type { Expr, Root, Span } from '../ast.js';
import { BUILTINS } from '../builtins/registry.js';
import { isFailure } from '../builtins/builtin.js';
import { toIp } from '../builtins/network.js';
import { printExpr } from '../format/print-expr.js';
import { Activation, spaceListHas } from '../eval/activation.js';
import { compileGlob, parseGlob } from '../eval/glob.js';
import { Cidr, IpAddress } from '../eval/ip.js';
import { EntityRef, EvalError, isRecord, own, typeName, valueEquals, type Result, type Value } from '../eval/value.js';

/** A compiled expression: a closure over the activation. Never throws; errors are values. */
export type Fn = (a: Activation) => Result;

/** A compiled expression and, when it does not depend on the request, its value. */
interface Compiled {
  fn: Fn;
  constant?: Value;
}

const constant = (value: Value): Compiled => ({ fn: () => value, constant: value });

function fail(span: Span, message: string): EvalError {
  return new EvalError(message, span);
}

/** Compiles a checked expression. Constant subexpressions (`cidr("10.0.0.0/8")`) are folded once here. */
export function compileExpr(expr: Expr): Fn {
  return compile(expr).fn;
}

function compile(expr: Expr): Compiled {
  switch (expr.kind) {
    case 'literal':
      return constant(expr.value);
    case 'entity':
      return constant(new EntityRef(expr.type, expr.id));
    case 'list':
      return compileList(expr.items);
    case 'root':
      return { fn: compileRoot(expr.root, expr.span) };
    case 'variable':
      return { fn: () => fail(expr.span, `unknown name \`${expr.name}\``) };
    case 'attr':
      return { fn: compileAttr(expr) };
    case 'has':
      return { fn: compileHas(expr) };
    case 'like':
      return { fn: compileLike(expr) };
    case 'not':
      return { fn: compileNot(expr) };
    case 'negate':
      return { fn: compileNegate(expr) };
    case 'and':
    case 'or':
      return { fn: compileLogical(expr) };
    case 'binary':
      return { fn: compileBinary(expr) };
    case 'call':
      return compileCall(expr);
  }
}

function compileList(items: Expr[]): Compiled {
  const parts = items.map(compile);
  if (parts.every((p) => 'constant' in p)) return constant(parts.map((p) => p.constant!));
  const fns = parts.map((p) => p.fn);
  return {
    fn: (a) => {
      const out: Value[] = [];
      for (const f of fns) {
        const v = f(a);
        if (v instanceof EvalError) return v;
        out.push(v);
      }
      return out;
    },
  };
}

function compileRoot(root: Root, span: Span): Fn {
  const missing = fail(span, `\`${root}\` is missing from the request`);
  switch (root) {
    case 'action':
      return (a) => {
        const name = a.attr('action', 'name');
        return typeof name === 'string' ? name : missing;
      };
    case 'subject':
    case 'resource':
      return (a) => {
        const value = a.request[root];
        if (!isRecord(value)) return missing;
        const type = own(value, 'type');
        const id = own(value, 'id');
        return typeof type === 'string' && typeof id === 'string' ? new EntityRef(type, id) : fail(span, `\`${root}\` needs a string \`type\` and \`id\``);
      };
    default:
      return (a) => {
        const value = a.request[root];
        return isRecord(value) ? value : missing;
      };
  }
}

/** `root.a.b.c` as one accessor: the common case, and the one the index and fast paths look for. */
export function rootPath(expr: Expr): { root: Root; names: string[] } | null {
  if (expr.kind === 'root') return { root: expr.root, names: [] };
  if (expr.kind !== 'attr') return null;
  const inner = rootPath(expr.object);
  return inner === null ? null : { root: inner.root, names: [...inner.names, expr.name] };
}

/** An accessor answering the attribute or `undefined` when any step is missing. */
export function pathAccessor(root: Root, names: string[]): (a: Activation) => Value | undefined {
  const [first, ...rest] = names;
  if (rest.length === 0) return (a) => a.attr(root, first);
  return (a) => {
    let v = a.attr(root, first);
    for (const name of rest) {
      if (!isRecord(v)) return undefined;
      v = own(v, name);
    }
    return v;
  };
}

function compileAttr(expr: Extract<Expr, { kind: 'attr' }>): Fn {
  const path = rootPath(expr);
  const text = printExpr(expr);
  const missing = fail(expr.span, `\`${text}\` is missing`);
  if (path !== null) {
    const get = pathAccessor(path.root, path.names);
    return (a) => get(a) ?? missing;
  }
  const object = compile(expr.object).fn;
  const name = expr.name;
  return (a) => {
    const v = object(a);
    if (v instanceof EvalError) return v;
    if (!isRecord(v)) return fail(expr.object.span, `\`${printExpr(expr.object)}\` is ${typeName(v)} and has no attribute \`${name}\``);
    return own(v, name) ?? missing;
  };
}

function compileHas(expr: Extract<Expr, { kind: 'has' }>): Fn {
  const name = expr.name;
  if (expr.object.kind === 'root') {
    const root = expr.object.root;
    return (a) => a.attr(root, name) !== undefined;
  }
  const object = compile(expr.object).fn;
  return (a) => {
    const v = object(a);
    if (v instanceof EvalError) return v;
    if (!isRecord(v)) return fail(expr.object.span, `\`has\` tests a record, and \`${printExpr(expr.object)}\` is ${typeName(v)}`);
    return own(v, name) !== undefined;
  };
}

function compileLike(expr: Extract<Expr, { kind: 'like' }>): Fn {
  const pieces = parseGlob(expr.pattern);
  if ('error' in pieces) return () => fail(expr.span, pieces.error);
  const match = compileGlob(pieces);
  const subject = compile(expr.subject).fn;
  return (a) => {
    const v = subject(a);
    if (v instanceof EvalError) return v;
    return typeof v === 'string' ? match(v) : fail(expr.subject.span, `\`like\` matches strings, and \`${printExpr(expr.subject)}\` is ${typeName(v)}`);
  };
}

function compileNot(expr: Extract<Expr, { kind: 'not' }>): Fn {
  const operand = compile(expr.operand).fn;
  return (a) => {
    const v = operand(a);
    if (typeof v === 'boolean') return !v;
    return v instanceof EvalError ? v : fail(expr.operand.span, `\`!\` needs a boolean, not ${typeName(v)}`);
  };
}

function compileNegate(expr: Extract<Expr, { kind: 'negate' }>): Fn {
  const operand = compile(expr.operand).fn;
  return (a) => {
    const v = operand(a);
    if (typeof v === 'number') return -v;
    return v instanceof EvalError ? v : fail(expr.operand.span, `\`-\` needs a number, not ${typeName(v)}`);
  };
}

/** Short-circuit, left to right: `false && error` is false and `true || error` is true; `error && false` is the error. */
function compileLogical(expr: Extract<Expr, { kind: 'and' | 'or' }>): Fn {
  const left = compile(expr.left).fn;
  const right = compile(expr.right).fn;
  const decisive = expr.kind === 'or';
  const op = decisive ? '||' : '&&';
  const notBool = (side: Expr, v: Value) => fail(side.span, `\`${op}\` needs booleans, and \`${printExpr(side)}\` is ${typeName(v)}`);
  return (a) => {
    const l = left(a);
    if (l === decisive) return l;
    if (l !== !decisive) return l instanceof EvalError ? l : notBool(expr.left, l);
    const r = right(a);
    if (typeof r === 'boolean' || r instanceof EvalError) return r;
    return notBool(expr.right, r);
  };
}

function compileBinary(expr: Extract<Expr, { kind: 'binary' }>): Fn {
  const left = compile(expr.left);
  const right = compile(expr.right);
  switch (expr.op) {
    case '==':
      return equality(left, right, false);
    case '!=':
      return equality(left, right, true);
    case '<':
    case '<=':
    case '>':
    case '>=':
      return ordering(expr, left.fn, right.fn);
    case 'in':
      return membership(expr, left.fn, right);
    case 'contains':
      return contains(expr, left.fn, right);
    case 'contains_any':
    case 'contains_all':
      return containsSome(expr, left.fn, right.fn);
  }
}

function equals(l: Value, r: Value): boolean {
  if (l === r) return true;
  // An address in a request is a string; compared with an ip value, it is parsed.
  if (l instanceof IpAddress && typeof r === 'string') return l.equals(toIp(r));
  if (r instanceof IpAddress && typeof l === 'string') return r.equals(toIp(l));
  return valueEquals(l, r);
}

function equality(left: Compiled, right: Compiled, negate: boolean): Fn {
  const l = left.fn;
  const c = right.constant;
  if (c !== undefined && (typeof c === 'string' || typeof c === 'number' || typeof c === 'boolean')) {
    return (a) => {
      const v = l(a);
      return v instanceof EvalError ? v : (v === c) !== negate;
    };
  }
  const r = right.fn;
  return (a) => {
    const lv = l(a);
    if (lv instanceof EvalError) return lv;
    const rv = r(a);
    if (rv instanceof EvalError) return rv;
    return equals(lv, rv) !== negate;
  };
}

function ordering(expr: Extract<Expr, { kind: 'binary' }>, l: Fn, r: Fn): Fn {
  const op = expr.op;
  const compare =
    op === '<' ? (x: number, y: number) => x < y : op === '<=' ? (x: number, y: number) => x <= y : op === '>' ? (x: number, y: number) => x > y : (x: number, y: number) => x >= y;
  return (a) => {
    const lv = l(a);
    if (lv instanceof EvalError) return lv;
    const rv = r(a);
    if (rv instanceof EvalError) return rv;
    if (typeof lv === 'number' && typeof rv === 'number') return compare(lv, rv);
    return fail(expr.span, `\`${op}\` compares numbers, not ${typeName(lv)} with ${typeName(rv)}`);
  };
}

function isPrimitive(v: Value): v is string | number | boolean | null {
  return v === null || typeof v !== 'object';
}

function membership(expr: Extract<Expr, { kind: 'binary' }>, l: Fn, right: Compiled): Fn {
  const c = right.constant;
  if (Array.isArray(c) && c.every(isPrimitive)) {
    const set = new Set<Value>(c);
    return (a) => {
      const v = l(a);
      return v instanceof EvalError ? v : set.has(v);
    };
  }
  if (c instanceof Cidr) {
    return (a) => {
      const v = l(a);
      if (v instanceof EvalError) return v;
      const ip = toIp(v);
      return ip instanceof IpAddress ? c.contains(ip) : fail(expr.left.span, ip.error);
    };
  }
  const r = right.fn;
  return (a) => {
    const lv = l(a);
    if (lv instanceof EvalError) return lv;
    const rv = r(a);
    if (rv instanceof EvalError) return rv;
    if (rv instanceof Cidr) {
      const ip = toIp(lv);
      return ip instanceof IpAddress ? rv.contains(ip) : fail(expr.left.span, ip.error);
    }
    if (!Array.isArray(rv)) return fail(expr.right.span, `\`in\` needs a list or a CIDR range on its right, not ${typeName(rv)}`);
    return inList(lv, rv);
  };
}

function inList(v: Value, list: readonly Value[]): boolean {
  for (const item of list) {
    if (item instanceof Cidr) {
      const ip = toIp(v);
      if (ip instanceof IpAddress && item.contains(ip)) return true;
    } else if (equals(v, item)) return true;
  }
  return false;
}

function contains(expr: Extract<Expr, { kind: 'binary' }>, l: Fn, right: Compiled): Fn {
  const path = rootPath(expr.left);
  const c = right.constant;
  const notList = (v: Value) => fail(expr.left.span, `\`contains\` needs a list on its left, and \`${printExpr(expr.left)}\` is ${typeName(v)}`);
  if (path?.root === 'token' && path.names.length === 1 && path.names[0] === 'scope' && typeof c === 'string') {
    // The hot case, `token.scope contains "x"`: scan the JWT's space-delimited string in place.
    const missing = fail(expr.left.span, '`token.scope` is missing');
    return (a) => {
      const token = a.request.token;
      const raw = isRecord(token) ? own(token, 'scope') : undefined;
      if (typeof raw === 'string') return spaceListHas(raw, c);
      if (Array.isArray(raw)) return inList(c, raw);
      return raw === undefined ? missing : notList(raw);
    };
  }
  const r = right.fn;
  return (a) => {
    const lv = l(a);
    if (lv instanceof EvalError) return lv;
    const rv = r(a);
    if (rv instanceof EvalError) return rv;
    return Array.isArray(lv) ? inList(rv, lv) : notList(lv);
  };
}

function containsSome(expr: Extract<Expr, { kind: 'binary' }>, l: Fn, r: Fn): Fn {
  const all = expr.op === 'contains_all';
  return (a) => {
    const lv = l(a);
    if (lv instanceof EvalError) return lv;
    const rv = r(a);
    if (rv instanceof EvalError) return rv;
    if (!Array.isArray(lv) || !Array.isArray(rv)) {
      const [side, v] = Array.isArray(lv) ? [expr.right, rv] : [expr.left, lv];
      return fail(side.span, `\`${expr.op}\` needs lists on both sides, and \`${printExpr(side)}\` is ${typeName(v)}`);
    }
    return all ? rv.every((x) => inList(x, lv)) : rv.some((x) => inList(x, lv));
  };
}

function compileCall(expr: Extract<Expr, { kind: 'call' }>): Compiled {
  const builtin = BUILTINS.get(expr.name);
  if (builtin === undefined) return { fn: () => fail(expr.span, `unknown function \`${expr.name}\``) };
  const args = expr.args.map(compile);
  if (args.every((p) => 'constant' in p)) {
    const result = builtin.impl(args.map((p) => p.constant!));
    if (!isFailure(result)) return constant(result);
  }
  const fns = args.map((p) => p.fn);
  return {
    fn: (a) => {
      const values: Value[] = [];
      for (const f of fns) {
        const v = f(a);
        if (v instanceof EvalError) return v;
        values.push(v);
      }
      const result = builtin.impl(values);
      return isFailure(result) ? fail(expr.span, `\`${expr.name}\`: ${result.error}`) : result;
    },
  };
}

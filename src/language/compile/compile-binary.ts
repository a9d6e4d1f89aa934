import type { ExprOf } from '../ast.js';
import { toIp } from '../builtins/network.js';
import { spaceListHas } from '../eval/activation.js';
import { Cidr, IpAddress } from '../eval/ip.js';
import { EvalError, isRecord, own, typeName, valueEquals, valueKey, type Value } from '../eval/value.js';
import { fail, type Compiled, type Fn } from './compiled.js';
import { isMissing, missingPath, readPath, rootPath, type Path } from './compile-path.js';
import type { ErrorSource } from './error-source.js';

/*
 * Relations: `==`, `!=`, ordering, `in`, `contains`, `contains_any`, `contains_all`. The
 * common ones have a variant for a path on the left that reads it itself (compile-path.ts).
 */

export function compileBinary(expr: ExprOf<'binary'>, left: Compiled, right: Compiled, p: ErrorSource): Fn {
  switch (expr.op) {
    case '==':
      return equality(left, right, false, p);
    case '!=':
      return equality(left, right, true, p);
    case '<':
    case '<=':
    case '>':
    case '>=':
      return ordering(expr, left, right, p);
    case 'in':
      return membership(expr, left, right, p);
    case 'contains':
      return contains(expr, left.fn, right, p);
    case 'contains_any':
    case 'contains_all':
      return containsSome(expr, left.fn, right.fn, p);
  }
}

function equals(l: Value, r: Value): boolean {
  if (l === r) return true;
  // An address in a request is a string; compared with an ip value, it is parsed.
  if (l instanceof IpAddress && typeof r === 'string') return l.equals(toIp(r));
  if (r instanceof IpAddress && typeof l === 'string') return r.equals(toIp(l));
  return valueEquals(l, r);
}

function equality(left: Compiled, right: Compiled, negate: boolean, p: ErrorSource): Fn {
  const l = left.fn;
  const c = right.constant;
  if (c !== undefined && (typeof c === 'string' || typeof c === 'number' || typeof c === 'boolean')) {
    return left.path === undefined ? equalsConstant(l, c, negate) : pathEqualsConstant(left.path, c, negate, p);
  }
  if (left.path !== undefined && right.path !== undefined) return pathEqualsPath(left.path, right.path, negate, p);
  const r = right.fn;
  return (a) => {
    const lv = l(a);
    if (lv instanceof EvalError) return lv;
    const rv = r(a);
    if (rv instanceof EvalError) return rv;
    return equals(lv, rv) !== negate;
  };
}

function equalsConstant(l: Fn, c: string | number | boolean, negate: boolean): Fn {
  return (a) => {
    const v = l(a);
    if (v instanceof EvalError) return v;
    // An ip value equals its text: `ip(x) == "10.1.2.3"`, as the other way round.
    return (typeof v === 'object' && v !== null ? equals(v, c) : v === c) !== negate;
  };
}

function pathEqualsConstant(path: Path, c: string | number | boolean, negate: boolean, p: ErrorSource): Fn {
  const { root, names, from, to } = path;
  let missing: EvalError | undefined;
  return (a) => {
    const v = readPath(a, root, names);
    return isMissing(v) ? (missing ??= missingPath(p, root, names, from, to)) : (v === c) !== negate;
  };
}

function pathEqualsPath(left: Path, right: Path, negate: boolean, p: ErrorSource): Fn {
  const { root: lRoot, names: lNames, from: lFrom, to: lTo } = left;
  const { root: rRoot, names: rNames, from: rFrom, to: rTo } = right;
  let leftMissing: EvalError | undefined;
  let rightMissing: EvalError | undefined;
  return (a) => {
    const lv = readPath(a, lRoot, lNames);
    if (isMissing(lv)) return (leftMissing ??= missingPath(p, lRoot, lNames, lFrom, lTo));
    const rv = readPath(a, rRoot, rNames);
    if (isMissing(rv)) return (rightMissing ??= missingPath(p, rRoot, rNames, rFrom, rTo));
    return equals(lv, rv) !== negate;
  };
}

type Compare = (x: number, y: number) => boolean;
const COMPARE: Record<'<' | '<=' | '>' | '>=', Compare> = {
  '<': (x, y) => x < y,
  '<=': (x, y) => x <= y,
  '>': (x, y) => x > y,
  '>=': (x, y) => x >= y,
};

function ordering(expr: ExprOf<'binary'>, left: Compiled, right: Compiled, p: ErrorSource): Fn {
  const op = expr.op as keyof typeof COMPARE;
  const compare = COMPARE[op];
  const from = expr.span.start.offset;
  const to = expr.span.end.offset;
  if (left.path !== undefined && right.constant !== undefined) return pathComparedToConstant(left.path, right.constant, op, from, to, p);
  const l = left.fn;
  const r = right.fn;
  return (a) => {
    const lv = l(a);
    if (lv instanceof EvalError) return lv;
    const rv = r(a);
    if (rv instanceof EvalError) return rv;
    if (typeof lv === 'number' && typeof rv === 'number') return compare(lv, rv);
    return fail(p, from, to, `\`${op}\` compares numbers, not ${typeName(lv)} with ${typeName(rv)}`);
  };
}

function pathComparedToConstant(path: Path, c: Value, op: keyof typeof COMPARE, from: number, to: number, p: ErrorSource): Fn {
  const { root, names, from: pathFrom, to: pathTo } = path;
  const compare = COMPARE[op];
  let missing: EvalError | undefined;
  return (a) => {
    const v = readPath(a, root, names);
    if (isMissing(v)) return (missing ??= missingPath(p, root, names, pathFrom, pathTo));
    if (typeof v === 'number' && typeof c === 'number') return compare(v, c);
    return fail(p, from, to, `\`${op}\` compares numbers, not ${typeName(v)} with ${typeName(c)}`);
  };
}

function isPrimitive(v: Value): v is string | number | boolean | null {
  return v === null || typeof v !== 'object';
}

function membership(expr: ExprOf<'binary'>, left: Compiled, right: Compiled, p: ErrorSource): Fn {
  const l = left.fn;
  const c = right.constant;
  if (Array.isArray(c) && c.every(isPrimitive)) return left.path === undefined ? inSet(l, c) : pathInSet(left.path, c, p);
  const leftFrom = expr.left.span.start.offset;
  const leftTo = expr.left.span.end.offset;
  if (c instanceof Cidr) return left.path === undefined ? inCidr(l, c, leftFrom, leftTo, p) : pathInCidr(left.path, c, p);
  const r = right.fn;
  const rightFrom = expr.right.span.start.offset;
  const rightTo = expr.right.span.end.offset;
  return (a) => {
    const lv = l(a);
    if (lv instanceof EvalError) return lv;
    const rv = r(a);
    if (rv instanceof EvalError) return rv;
    if (rv instanceof Cidr) {
      const ip = toIp(lv);
      return ip instanceof IpAddress ? rv.contains(ip) : fail(p, leftFrom, leftTo, ip.error);
    }
    if (!Array.isArray(rv)) return fail(p, rightFrom, rightTo, `\`in\` needs a list or a CIDR range on its right, not ${typeName(rv)}`);
    const found = inListOrRanges(lv, rv);
    return typeof found === 'string' ? fail(p, leftFrom, leftTo, found) : found;
  };
}

/**
 * `x in [cidr(…), …]`: with ranges in the list, `x` must be an address, as for
 * `x in cidr(…)`. A value that is not one (`"010.1.2.3"`) is an error — so a forbid
 * fails closed — never a quiet `false`. Answers the error's message.
 */
function inListOrRanges(v: Value, list: readonly Value[]): boolean | string {
  let notAnAddress: string | null = null;
  for (const item of list) {
    if (item instanceof Cidr) {
      const ip = toIp(v);
      if (!(ip instanceof IpAddress)) notAnAddress = ip.error;
      else if (item.contains(ip)) return true;
    } else if (equals(v, item)) return true;
  }
  return notAnAddress ?? false;
}

/**
 * `x in list` for many `x` against one list, as `inListOrRanges` answers it, in time linear in
 * both: the list's strings, numbers, booleans and nulls go in a Set (they equal only
 * themselves), its records, lists and entities in a Map by `valueKey`, and only its other
 * items (addresses, ranges, what has no key) are searched one by one. Two lists of thousands
 * of group names — or of records — from a request made `contains_any` take seconds.
 */
function listLookup(list: readonly Value[]): (x: Value) => boolean | string {
  const primitives = new Set<Value>();
  const composites = new Set<string>();
  const others: Value[] = [];
  for (const item of list) {
    if (item === null || typeof item === 'string' || typeof item === 'boolean' || (typeof item === 'number' && !Number.isNaN(item))) primitives.add(item);
    else if (item instanceof IpAddress || item instanceof Cidr) others.push(item);
    else {
      const key = valueKey(item);
      if (key === null) others.push(item);
      else composites.add(key);
    }
  }
  return (x) => {
    // An address equals its text in the list, and a range is searched as ranges are: the whole list, as `in` does.
    if (x instanceof IpAddress || x instanceof Cidr) return inListOrRanges(x, list);
    if (typeof x === 'object' && x !== null) {
      const key = valueKey(x);
      if (key !== null && composites.has(key)) return true;
    } else if (primitives.has(x)) return true;
    return inListOrRanges(x, others);
  };
}

function inSet(l: Fn, c: readonly Value[]): Fn {
  const set = setOf(c);
  return (a) => {
    const v = l(a);
    if (v instanceof EvalError) return v;
    // An ip value still equals its text in the list; only primitives can use the set.
    return typeof v === 'object' && v !== null ? inList(v, c) : set === null ? c.includes(v) : set.has(v);
  };
}

function pathInSet(path: Path, c: readonly Value[], p: ErrorSource): Fn {
  const { root, names, from, to } = path;
  const set = setOf(c);
  let missing: EvalError | undefined;
  return (a) => {
    const v = readPath(a, root, names);
    if (isMissing(v)) return (missing ??= missingPath(p, root, names, from, to));
    // An ip value still equals its text in the list; only primitives can use the set.
    return typeof v === 'object' ? inList(v, c) : set === null ? c.includes(v) : set.has(v);
  };
}

/**
 * A Set over a long constant list; `null` for a short one, which `includes` searches as
 * fast without a hash table to keep (the two compare values alike).
 */
export function setOf<T>(values: readonly T[]): ReadonlySet<T> | null {
  return values.length > 8 ? new Set(values) : null;
}

/** `root.a in cidr("…")`: the error for a value that is not an address is located at the path. */
function pathInCidr(path: Path, c: Cidr, p: ErrorSource): Fn {
  const { root, names, from, to } = path;
  let missing: EvalError | undefined;
  return (a) => {
    const v = readPath(a, root, names);
    if (isMissing(v)) return (missing ??= missingPath(p, root, names, from, to));
    const ip = toIp(v);
    return ip instanceof IpAddress ? c.contains(ip) : fail(p, from, to, ip.error);
  };
}

function inCidr(l: Fn, c: Cidr, from: number, to: number, p: ErrorSource): Fn {
  return (a) => {
    const v = l(a);
    if (v instanceof EvalError) return v;
    const ip = toIp(v);
    return ip instanceof IpAddress ? c.contains(ip) : fail(p, from, to, ip.error);
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

function notList(p: ErrorSource, from: number, to: number, v: Value): EvalError {
  return fail(p, from, to, `\`contains\` needs a list on its left, and \`${p.textAt(from, to)}\` is ${typeName(v)}`);
}

function contains(expr: ExprOf<'binary'>, l: Fn, right: Compiled, p: ErrorSource): Fn {
  const path = rootPath(expr.left);
  const c = right.constant;
  const from = expr.left.span.start.offset;
  const to = expr.left.span.end.offset;
  if (path?.root === 'token' && path.names.length === 1 && path.names[0] === 'scope' && typeof c === 'string') return scopeContains(c, from, to, p);
  const r = right.fn;
  const rightFrom = expr.right.span.start.offset;
  const rightTo = expr.right.span.end.offset;
  return (a) => {
    const lv = l(a);
    if (lv instanceof EvalError) return lv;
    const rv = r(a);
    if (rv instanceof EvalError) return rv;
    if (!Array.isArray(lv)) return notList(p, from, to, lv);
    // As `x in [cidr(…)]`: with ranges in the list, a value that is not an address is an error, not a quiet false.
    const found = inListOrRanges(rv, lv);
    return typeof found === 'string' ? fail(p, rightFrom, rightTo, found) : found;
  };
}

/** The hot case, `token.scope contains "x"`: scan the JWT's space-delimited string in place. */
function scopeContains(c: string, from: number, to: number, p: ErrorSource): Fn {
  let missing: EvalError | undefined;
  return (a) => {
    const token = a.request.token;
    const raw = isRecord(token) ? own(token, 'scope') : undefined;
    if (typeof raw === 'string') return spaceListHas(raw, c);
    if (Array.isArray(raw)) return inList(c, raw);
    return raw === undefined ? (missing ??= fail(p, from, to, '`token.scope` is missing')) : notList(p, from, to, raw);
  };
}

function containsSome(expr: ExprOf<'binary'>, l: Fn, r: Fn, p: ErrorSource): Fn {
  const op = expr.op;
  const all = op === 'contains_all';
  const leftFrom = expr.left.span.start.offset;
  const leftTo = expr.left.span.end.offset;
  const rightFrom = expr.right.span.start.offset;
  const rightTo = expr.right.span.end.offset;
  return (a) => {
    const lv = l(a);
    if (lv instanceof EvalError) return lv;
    const rv = r(a);
    if (rv instanceof EvalError) return rv;
    if (!Array.isArray(lv) || !Array.isArray(rv)) {
      const [sideFrom, sideTo, v] = Array.isArray(lv) ? [rightFrom, rightTo, rv] : [leftFrom, leftTo, lv];
      return fail(p, sideFrom, sideTo, `\`${op}\` needs lists on both sides, and \`${p.textAt(sideFrom, sideTo)}\` is ${typeName(v)}`);
    }
    // Each item as `x in lv`: an item that is not an address, against ranges, is an error — for
    // contains_any unless another item matched; for contains_all always (it cannot be judged).
    let notAnAddress: string | null = null;
    let every = true;
    const lookup = rv.length * lv.length > 64 ? listLookup(lv) : null;
    for (const x of rv) {
      const found = lookup === null ? inListOrRanges(x, lv) : lookup(x);
      if (typeof found === 'string') notAnAddress ??= found;
      else if (found && !all) return true;
      else if (!found) every = false;
    }
    if (notAnAddress !== null) return fail(p, rightFrom, rightTo, notAnAddress);
    return all && every;
  };
}

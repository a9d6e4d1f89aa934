/**
 * A deliberately naive reference evaluator: it walks the syntax tree of every policy for
 * every request, with no index, no compilation and no fast paths, following
 * docs/language.md line by line. The engine is tested against it on generated policies
 * and requests; where they disagree, one of them is wrong.
 */
import type { Constraint, Expr, Policy, Root } from '../../src/language/ast.js';
import { BUILTINS } from '../../src/language/builtins/registry.js';
import { BuiltinFailure } from '../../src/language/builtins/builtin.js';
import { Cidr, IpAddress, parseIp } from '../../src/language/eval/ip.js';
import type { Value } from '../../src/language/eval/value.js';
import { EntityRef } from '../../src/language/eval/value.js';

type Json = { [k: string]: unknown };
const ERROR = Symbol('error');
type R = unknown; // a value, or ERROR

const isRecord = (v: unknown): v is Json => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};
const get = (o: unknown, k: string): unknown => (isRecord(o) && Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined);

/** The first attribute under a root: entity roots read `properties` first. */
function firstAttr(request: Json, root: Root, name: string): unknown {
  const value = request[root];
  if (root === 'action' && typeof value === 'string') return name === 'name' ? value : undefined;
  if (!isRecord(value)) return undefined;
  if (root === 'subject' || root === 'resource' || root === 'action') {
    if (root === 'action' ? name === 'name' : name === 'type' || name === 'id') return get(value, name);
    const props = get(value, 'properties');
    if (isRecord(props) && Object.prototype.hasOwnProperty.call(props, name)) return props[name];
    return name === 'properties' ? undefined : get(value, name);
  }
  if (root === 'token' && name === 'scope') {
    const raw = get(value, 'scope');
    return typeof raw === 'string' ? raw.split(' ').filter((s) => s !== '') : raw;
  }
  return get(value, name);
}

function rootChain(e: Expr): { root: Root; names: string[] } | null {
  if (e.kind === 'root') return { root: e.root, names: [] };
  if (e.kind !== 'attr') return null;
  const inner = rootChain(e.object);
  return inner && { root: inner.root, names: [...inner.names, e.name] };
}

function readPath(request: Json, root: Root, names: string[]): unknown {
  let v = firstAttr(request, root, names[0]);
  for (const n of names.slice(1)) v = get(v, n);
  return v;
}

function toIp(v: unknown): IpAddress | null {
  if (v instanceof IpAddress) return v;
  return typeof v === 'string' ? parseIp(v) : null;
}

/** `==`: an ip value equals a string holding the same address — the values compared, not items nested in them. */
function equal(a: unknown, b: unknown): boolean {
  if (a instanceof IpAddress && typeof b === 'string') return a.equals(parseIp(b));
  if (b instanceof IpAddress && typeof a === 'string') return b.equals(parseIp(a));
  return same(a, b);
}

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (a instanceof EntityRef || b instanceof EntityRef) return a instanceof EntityRef && b instanceof EntityRef && a.type === b.type && a.id === b.id;
  if (a instanceof IpAddress || a instanceof Cidr) return a.equals(b);
  if (isRecord(a) && isRecord(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && same(a[k], b[k]));
  }
  return false;
}

function member(x: unknown, list: unknown[]): boolean {
  return list.some((item) => {
    if (item instanceof Cidr) {
      const ip = toIp(x);
      return ip !== null && item.contains(ip);
    }
    return equal(x, item);
  });
}

/** With ranges in the list, a value must be an address to be judged (as `x in [cidr(…)]`). */
function notAddressAmongRanges(x: unknown, list: unknown[]): boolean {
  return list.some((item) => item instanceof Cidr) && toIp(x) === null;
}

export function globToRegExp(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') out += pattern[++i].replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    else if (c === '*' && pattern[i + 1] === '*') (out += '[\\s\\S]*'), i++;
    else if (c === '*') out += '[^/]*';
    else out += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${out}$`, 'u');
}

export function evaluate(e: Expr, request: Json): R {
  const chain = rootChain(e);
  if (chain !== null && chain.names.length > 0) {
    const v = readPath(request, chain.root, chain.names);
    return v === undefined ? ERROR : v;
  }
  switch (e.kind) {
    case 'literal':
      return e.value;
    case 'entity':
      return new EntityRef(e.type, e.id);
    case 'list': {
      const items = e.items.map((i) => evaluate(i, request));
      return items.includes(ERROR) ? ERROR : items;
    }
    case 'root': {
      if (e.root === 'action') {
        const name = firstAttr(request, 'action', 'name');
        return typeof name === 'string' ? name : ERROR;
      }
      const v = request[e.root];
      if (!isRecord(v)) return ERROR;
      if (e.root !== 'subject' && e.root !== 'resource') return v;
      return typeof v.type === 'string' && typeof v.id === 'string' && Object.prototype.hasOwnProperty.call(v, 'type') && Object.prototype.hasOwnProperty.call(v, 'id') ? new EntityRef(v.type, v.id) : ERROR;
    }
    case 'variable':
      return ERROR;
    case 'attr': {
      const o = evaluate(e.object, request);
      if (o === ERROR || !isRecord(o)) return ERROR;
      const v = get(o, e.name);
      return v === undefined ? ERROR : v;
    }
    case 'has': {
      if (e.object.kind === 'root') return firstAttr(request, e.object.root, e.name) !== undefined;
      const o = evaluate(e.object, request);
      return o === ERROR || !isRecord(o) ? ERROR : get(o, e.name) !== undefined;
    }
    case 'like': {
      const s = evaluate(e.subject, request);
      if (typeof s !== 'string') return ERROR;
      try {
        return globToRegExp(e.pattern).test(s);
      } catch {
        return ERROR; // an invalid pattern
      }
    }
    case 'not': {
      const v = evaluate(e.operand, request);
      return typeof v === 'boolean' ? !v : ERROR;
    }
    case 'negate': {
      const v = evaluate(e.operand, request);
      return typeof v === 'number' ? -v : ERROR;
    }
    case 'and':
    case 'or': {
      const stop = e.kind === 'or';
      const l = evaluate(e.left, request);
      if (l === stop) return l;
      if (l !== !stop) return ERROR;
      const r = evaluate(e.right, request);
      return typeof r === 'boolean' ? r : ERROR;
    }
    case 'binary': {
      const l = evaluate(e.left, request);
      if (l === ERROR) return ERROR;
      const r = evaluate(e.right, request);
      if (r === ERROR) return ERROR;
      switch (e.op) {
        case '==':
          return equal(l, r);
        case '!=':
          return !equal(l, r);
        case '<':
        case '<=':
        case '>':
        case '>=':
          if (typeof l !== 'number' || typeof r !== 'number') return ERROR;
          return e.op === '<' ? l < r : e.op === '<=' ? l <= r : e.op === '>' ? l > r : l >= r;
        case 'in':
          if (r instanceof Cidr) {
            const ip = toIp(l);
            return ip === null ? ERROR : r.contains(ip);
          }
          if (!Array.isArray(r)) return ERROR;
          if (member(l, r)) return true;
          // With ranges in the list, the left side must be an address (as for `in cidr(…)`).
          return notAddressAmongRanges(l, r) ? ERROR : false;
        case 'contains':
          if (!Array.isArray(l)) return ERROR;
          return member(r, l) ? true : notAddressAmongRanges(r, l) ? ERROR : false;
        case 'contains_any':
        case 'contains_all': {
          if (!Array.isArray(l) || !Array.isArray(r)) return ERROR;
          if (e.op === 'contains_any' && r.some((x) => member(x, l))) return true;
          if (r.some((x) => !member(x, l) && notAddressAmongRanges(x, l))) return ERROR;
          return e.op === 'contains_all' ? r.every((x) => member(x, l)) : false;
        }
      }
    }
    // falls through: unreachable, every op returns
    case 'call': {
      const b = BUILTINS.get(e.name);
      if (b === undefined || b.params.length !== e.args.length) return ERROR;
      const args = e.args.map((a) => evaluate(a, request));
      if (args.includes(ERROR)) return ERROR;
      const out = b.impl(args as Value[]);
      return out instanceof BuiltinFailure ? ERROR : out;
    }
  }
}

function targetValue(c: Exclude<Constraint, { kind: 'any' }>, request: Json): unknown {
  if (c.path.length > 0) return readPath(request, c.root, c.path);
  if (c.root === 'action') return firstAttr(request, 'action', 'name');
  const type = firstAttr(request, c.root, 'type');
  const id = firstAttr(request, c.root, 'id');
  return typeof type === 'string' && typeof id === 'string' ? new EntityRef(type, id) : undefined;
}

const literalOf = (e: Expr): unknown => (e.kind === 'entity' ? new EntityRef(e.type, e.id) : e.kind === 'literal' ? e.value : undefined);
/** Targets compare exactly: no IP coercion, and a missing attribute never matches. */
const sameTarget = (v: unknown, w: unknown) => (w instanceof EntityRef ? v instanceof EntityRef && v.type === w.type && v.id === w.id : v === w);

function targetMatches(policy: Policy, request: Json): boolean {
  return (policy.target ?? []).every((c) => {
    if (c.kind === 'any') return true;
    const v = targetValue(c, request);
    if (v === undefined) return false;
    if (c.kind === 'eq') return sameTarget(v, literalOf(c.value));
    if (c.kind === 'in') return c.values.some((w) => sameTarget(v, literalOf(w)));
    try {
      return typeof v === 'string' && globToRegExp(c.pattern).test(v);
    } catch {
      return false;
    }
  });
}

/** `true`, `false`, or `'error'`. */
function conditionsHold(policy: Policy, request: Json): boolean | 'error' {
  for (const c of policy.conditions) {
    const v = evaluate(c.body, request);
    if (typeof v !== 'boolean') return 'error';
    if (v !== (c.kind === 'when')) return false;
  }
  return true;
}

export interface ReferenceDecision {
  decision: boolean;
  determining: string[];
  errors: string[];
}

/** The decision rule of docs/language.md, over (id, policy) pairs. */
export function referenceDecide(policies: { id: string; policy: Policy }[], request: Json): ReferenceDecision {
  const forbids: string[] = [];
  const permits: string[] = [];
  const errors: string[] = [];
  for (const { id, policy } of policies) {
    if (!targetMatches(policy, request)) continue;
    const r = conditionsHold(policy, request);
    if (r === 'error') errors.push(id);
    if (r === true || (r === 'error' && policy.effect === 'forbid')) (policy.effect === 'forbid' ? forbids : permits).push(id);
  }
  if (forbids.length > 0) return { decision: false, determining: forbids, errors };
  return { decision: permits.length > 0, determining: permits, errors };
}

import type { Span } from '../ast.js';
import type { Cidr, IpAddress } from './ip.js';

/**
 * A runtime value. Request data stays as the JSON the caller sent (strings, numbers,
 * booleans, null, arrays, plain objects); the language adds entity references and IP
 * addresses and ranges.
 */
export type Value = string | number | boolean | null | readonly Value[] | Record | EntityRef | IpAddress | Cidr;
export interface Record {
  readonly [key: string]: Value;
}

/** `Type::"id"`, and the value of a bare `subject` or `resource`. */
export class EntityRef {
  constructor(
    readonly type: string,
    readonly id: string,
  ) {}
}

/**
 * An evaluation error. Errors are values: operators pass them up, and the engine decides
 * what they mean (a permit that errors does not apply; a forbid that errors does).
 */
export class EvalError {
  constructor(
    readonly message: string,
    readonly span: Span,
  ) {}
}

export type Result = Value | EvalError;

export function isRecord(v: unknown): v is Record {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Own properties only: a request's `constructor` or `__proto__` is data, never the prototype's. */
export function own(record: Record, key: string): Value | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** Deep equality bounded in depth, so a hostile request cannot exhaust the stack. */
export function valueEquals(a: unknown, b: unknown, depth = 0): boolean {
  if (a === b) return true;
  if (depth > 64 || typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!valueEquals(a[i], b[i], depth + 1)) return false;
    return true;
  }
  if (a instanceof EntityRef) return b instanceof EntityRef && a.type === b.type && a.id === b.id;
  if (isRecord(a) && isRecord(b)) {
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    for (const k of keys) if (!Object.hasOwn(b, k) || !valueEquals(a[k], b[k], depth + 1)) return false;
    return true;
  }
  const ea = (a as { equals?: (x: unknown) => boolean }).equals;
  return typeof ea === 'function' && ea.call(a, b);
}

/**
 * A text that two records, lists or entities share exactly when `valueEquals` holds between
 * them — keys sorted, as record equality ignores their order — so a long list of them can be
 * searched through a Map. `null` for what has no such text: a value that equals nothing
 * (NaN), one nested past `valueEquals`' depth, or a kind compared by its own `equals`.
 */
export function valueKey(v: unknown, depth = 0): string | null {
  if (typeof v === 'string') return JSON.stringify(v);
  // -0 and 0 are equal, and NaN equals nothing; other doubles print uniquely.
  if (typeof v === 'number') return Number.isNaN(v) ? null : v === 0 ? '0' : String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v === null) return 'null';
  if (depth > 64 || typeof v !== 'object') return null;
  if (Array.isArray(v)) {
    const items: string[] = [];
    for (const item of v) {
      const k = valueKey(item, depth + 1);
      if (k === null) return null;
      items.push(k);
    }
    return `[${items.join(',')}]`;
  }
  if (v instanceof EntityRef) return `&${JSON.stringify(v.type)}:${JSON.stringify(v.id)}`;
  if (!isRecord(v)) return null;
  const members: string[] = [];
  for (const name of Object.keys(v).sort()) {
    const k = valueKey(v[name], depth + 1);
    if (k === null) return null;
    members.push(`${JSON.stringify(name)}:${k}`);
  }
  return `{${members.join(',')}}`;
}

/** The name of a value's type as messages show it. */
export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (v instanceof EntityRef) return 'entity';
  if (typeof v === 'object') return (v as { kindName?: string }).kindName ?? 'record';
  return typeof v;
}

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

/** The name of a value's type as messages show it. */
export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (v instanceof EntityRef) return 'entity';
  if (typeof v === 'object') return (v as { kindName?: string }).kindName ?? 'record';
  return typeof v;
}

import type { BinaryOp } from '../ast.js';
import { valueEquals } from '../eval/value.js';
import { admits, inBounds, isScalar, matches, patternsDisjoint, type PathFacts, type Scalar } from './knowledge.js';
import type { Value } from '../eval/value.js';

/*
 * What the facts about one path imply for a relation on it: `true`, `false`, or `null`
 * when they do not decide it. Only called for a path the facts say is present, so reading
 * it cannot fail; `typed` says whether the relation can still fail on the path's type.
 */

export interface Implied {
  value: boolean;
  /** The relation may still be a type error (`<` on a path not known to be a number). */
  mayError: boolean;
}

export function impliedRelation(f: PathFacts, op: BinaryOp, c: Value): Implied | null {
  switch (op) {
    case '==':
    case '!=': {
      if (!isScalar(c)) return null;
      const eq = impliedEquals(f, c);
      return eq === null ? null : { value: eq === (op === '=='), mayError: false };
    }
    case 'in':
      return Array.isArray(c) && c.every(isScalar) ? impliedIn(f, c as Scalar[]) : null;
    case 'contains':
      return isScalar(c) && f.kind === 'list' && f.contains.some((x) => valueEquals(x, c)) ? { value: true, mayError: false } : null;
    case '<':
    case '<=':
    case '>':
    case '>=':
      return typeof c === 'number' ? impliedOrder(f, op, c) : null;
    default:
      return null;
  }
}

function impliedEquals(f: PathFacts, c: Value): boolean | null {
  if (!admits(f, c)) return false;
  if (f.oneOf !== null && f.oneOf.length === 1) return true;
  return null;
}

function impliedIn(f: PathFacts, list: Scalar[]): Implied | null {
  if (f.oneOf !== null && f.oneOf.every((v) => list.some((w) => valueEquals(v, w)))) return { value: true, mayError: false };
  if (list.every((v) => !admits(f, v))) return { value: false, mayError: false };
  return null;
}

export function impliedLike(f: PathFacts, pattern: string): Implied | null {
  if (f.patterns.includes(pattern)) return { value: true, mayError: false };
  if (f.patterns.some((known) => patternsDisjoint(known, pattern))) return { value: false, mayError: false };
  if (f.oneOf !== null) {
    // Facts that make the value a string (a `like` fact) leave only the strings of a list it is in.
    const strings = f.oneOf.filter((v): v is string => typeof v === 'string');
    if (strings.length === 0 || (f.kind !== 'string' && strings.length < f.oneOf.length)) return null;
    const hits = strings.filter((v) => matches(pattern, v)).length;
    if (hits === strings.length) return { value: true, mayError: false };
    if (hits === 0) return { value: false, mayError: false };
  }
  return null;
}

function impliedOrder(f: PathFacts, op: '<' | '<=' | '>' | '>=', c: number): Implied | null {
  if (f.kind !== 'number') return null;
  if (f.oneOf !== null && f.oneOf.every((v) => typeof v === 'number')) {
    const values = (f.oneOf as number[]).filter((v) => inBounds(f, v));
    const hits = values.filter((v) => compare(op, v, c)).length;
    if (hits === values.length) return { value: true, mayError: false };
    if (hits === 0) return { value: false, mayError: false };
    return null;
  }
  const { lower, upper } = f;
  const below = (b: typeof upper, strict: boolean) => b !== null && (b.value < c || (b.value === c && (strict ? !b.inclusive : true)));
  const above = (b: typeof lower, strict: boolean) => b !== null && (b.value > c || (b.value === c && (strict ? !b.inclusive : true)));
  switch (op) {
    case '<':
      return below(upper, true) ? { value: true, mayError: false } : lower !== null && lower.value >= c ? { value: false, mayError: false } : null;
    case '<=':
      return below(upper, false) ? { value: true, mayError: false } : above(lower, true) ? { value: false, mayError: false } : null;
    case '>':
      return above(lower, true) ? { value: true, mayError: false } : upper !== null && upper.value <= c ? { value: false, mayError: false } : null;
    case '>=':
      return above(lower, false) ? { value: true, mayError: false } : below(upper, true) ? { value: false, mayError: false } : null;
  }
}

function compare(op: '<' | '<=' | '>' | '>=', x: number, y: number): boolean {
  return op === '<' ? x < y : op === '<=' ? x <= y : op === '>' ? x > y : x >= y;
}

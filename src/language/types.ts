/**
 * Static types, used by the checker and declared by schemas. `any` is the type of what a
 * schema does not describe: checks on it are left to evaluation.
 */
export type Type =
  | { kind: 'string' }
  | { kind: 'number' }
  | { kind: 'boolean' }
  | { kind: 'null' }
  | { kind: 'ip' }
  | { kind: 'cidr' }
  | { kind: 'entity' }
  | { kind: 'any' }
  | { kind: 'list'; of: Type }
  /**
   * `attrs` null: an open record whose attributes are all of type `rest`. `optional`: the
   * attributes a request may lack (`"manager?"` in a schema), to be tested with `has` first.
   */
  | { kind: 'record'; attrs: Map<string, Type> | null; rest: Type | null; optional?: ReadonlySet<string> };

export const T = {
  string: { kind: 'string' },
  number: { kind: 'number' },
  boolean: { kind: 'boolean' },
  null: { kind: 'null' },
  ip: { kind: 'ip' },
  cidr: { kind: 'cidr' },
  entity: { kind: 'entity' },
  any: { kind: 'any' },
  list: (of: Type): Type => ({ kind: 'list', of }),
  openRecord: { kind: 'record', attrs: null, rest: { kind: 'any' } },
} as const satisfies { [k: string]: Type | ((of: Type) => Type) };

export function showType(t: Type): string {
  switch (t.kind) {
    case 'list':
      return `list<${showType(t.of)}>`;
    case 'record':
      return 'record';
    default:
      return t.kind;
  }
}

/** Whether a value of type `actual` may be where `expected` is wanted. `any` fits both ways. */
export function fits(actual: Type, expected: Type): boolean {
  if (actual.kind === 'any' || expected.kind === 'any') return true;
  // An IP address is written as a string in requests; strings are parsed where an ip is wanted.
  if (expected.kind === 'ip' && actual.kind === 'string') return true;
  if (actual.kind !== expected.kind) return false;
  if (actual.kind === 'list' && expected.kind === 'list') return fits(actual.of, expected.of);
  return true;
}

/** The type of a list literal's items: their common type, or `any`. */
export function join(types: Type[]): Type {
  if (types.length === 0) return T.any;
  const first = types[0];
  return types.every((t) => t.kind === first.kind && (t.kind !== 'list' || showType(t) === showType(first))) ? first : T.any;
}

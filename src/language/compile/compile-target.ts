import type { Constraint, Expr, Policy, Root, TargetRoot } from '../ast.js';
import type { Activation } from '../eval/activation.js';
import { compileGlob, literalPrefix, parseGlob } from '../eval/glob.js';
import { EntityRef, isRecord, own, valueEquals, type Value } from '../eval/value.js';
import { setOf } from './compile-binary.js';

/*
 * Targets: constraints an index can decide by lookup, compiled to tests, and the index keys
 * they give a policy.
 */

export type TargetConstraint = Exclude<Constraint, { kind: 'any' }>;

/** Target lookups a policy can be indexed by; each list holds the values any of which may match. */
export interface IndexKeys {
  actions: string[] | null;
  resourceTypes: string[] | null;
  resources: { type: string; id: string }[] | null;
  pathPrefix: string | null;
  /** The one dimension the index files the policy under: the most selective it offers. */
  dimension: IndexDimension | null;
  /**
   * The constraint (position in the target) that finding the policy under `dimension`
   * proves: an exact lookup of the same attribute. A path prefix proves nothing.
   */
  implied: number | null;
}

export type IndexDimension = 'resource' | 'type' | 'path' | 'action';

/** The constraints that test something: `ROOT` alone matches any request. */
export function constraintsOf(policy: Policy): TargetConstraint[] {
  return (policy.target ?? []).filter((c): c is TargetConstraint => c.kind !== 'any');
}

/** Reads a target path; `undefined` when missing. The root itself reads as `action.name` or an entity. */
function readTarget(a: Activation, root: TargetRoot, path: TargetPath): Value | undefined {
  if (typeof path === 'string') return a.attr(root, path);
  if (path.length > 0) {
    let v = a.attr(root, path[0]);
    for (let i = 1; i < path.length; i++) {
      if (!isRecord(v)) return undefined;
      v = own(v, path[i]);
    }
    return v;
  }
  if (root === 'action') return a.attr('action', 'name');
  const type = a.attr(root, 'type');
  const id = a.attr(root, 'id');
  return typeof type === 'string' && typeof id === 'string' ? new EntityRef(type, id) : undefined;
}

/** A constraint's values: one array for its compiled test and the index keys to share. */
export function valuesOf(c: TargetConstraint): Value[] | null {
  return c.kind === 'eq' ? [literal(c.value)] : c.kind === 'in' ? c.values.map(literal) : null;
}

function literal(e: Expr): Value {
  if (e.kind === 'literal') return e.value;
  if (e.kind === 'entity') return new EntityRef(e.type, e.id);
  // INVARIANT: the parser only builds constraints over literals and entity references.
  throw new Error(`not a constant: ${e.kind}`);
}

/*
 * One closure per constraint, reading its path itself, each made in a function of its own:
 * a closure capturing a constant declared in a nested block costs a V8 context for the
 * block, on top of the function's.
 */
export function compileConstraint(c: TargetConstraint, values: Value[] | null): (a: Activation) => boolean {
  const path = pathOf(c.path);
  switch (c.kind) {
    case 'eq':
      return equalTo(c.root, path, values![0]);
    case 'in':
      return oneOf(c.root, path, values!);
    case 'like':
      return likeGlob(c.root, path, c.pattern);
  }
}

/** A one-name path as the name itself: most are, and a string is shared where an array is not. */
type TargetPath = string | readonly string[];

function pathOf(path: readonly string[]): TargetPath {
  return path.length === 1 ? path[0] : path;
}

function equalTo(root: TargetRoot, path: TargetPath, want: Value): (a: Activation) => boolean {
  if (!(want instanceof EntityRef)) return (a) => readTarget(a, root, path) === want;
  if (typeof path !== 'string' && path.length === 0 && root !== 'action') return isEntity(root, want.type, want.id);
  return (a) => valueEquals(readTarget(a, root, path), want);
}

function isEntity(root: Root, type: string, id: string): (a: Activation) => boolean {
  return (a) => a.attr(root, 'type') === type && a.attr(root, 'id') === id;
}

function oneOf(root: TargetRoot, path: TargetPath, values: Value[]): (a: Activation) => boolean {
  if (values.some((v) => v instanceof EntityRef)) {
    return (a) => {
      const v = readTarget(a, root, path);
      return v !== undefined && values.some((w) => valueEquals(v, w));
    };
  }
  return inSet(root, path, values, setOf(values));
}

function inSet(root: TargetRoot, path: TargetPath, values: readonly Value[], set: ReadonlySet<Value> | null): (a: Activation) => boolean {
  return (a) => {
    const v = readTarget(a, root, path);
    return v !== undefined && (set === null ? values.includes(v) : set.has(v));
  };
}

function likeGlob(root: TargetRoot, path: TargetPath, pattern: string): (a: Activation) => boolean {
  const pieces = parseGlob(pattern);
  if ('error' in pieces) return () => false;
  const match = compileGlob(pieces);
  return (a) => {
    const v = readTarget(a, root, path);
    return typeof v === 'string' && match(v);
  };
}

export function indexKeys(target: TargetConstraint[], constants: (Value[] | null)[]): IndexKeys {
  const keys: IndexKeys = { actions: null, resourceTypes: null, resources: null, pathPrefix: null, dimension: null, implied: null };
  const source: Partial<Record<IndexDimension, number>> = {};
  for (const [n, c] of target.entries()) {
    const values = constants[n];
    // `action.name == "x"` reads what `action == "x"` does (readTarget): both are keys, and both name the action to a search.
    const actionName = c.path.length === 0 || (c.path.length === 1 && c.path[0] === 'name');
    if (c.root === 'action' && actionName && values?.every((v) => typeof v === 'string')) {
      keys.actions = values as string[];
      source.action = n;
    }
    if (c.root === 'resource' && c.path.length === 0 && values?.every((v) => v instanceof EntityRef)) {
      keys.resources = (values as EntityRef[]).map(({ type, id }) => ({ type, id }));
      source.resource = n;
    }
    if (c.root === 'resource' && c.path.length === 1 && c.path[0] === 'type' && values?.every((v) => typeof v === 'string')) {
      keys.resourceTypes = values as string[];
      source.type = n;
    }
    if (c.root === 'resource' && c.kind === 'like' && c.path.length === 1 && c.path[0] === 'path') {
      const pieces = parseGlob(c.pattern);
      if (!('error' in pieces)) {
        const exact = pieces.length === 1 && pieces[0].kind === 'text';
        const prefix = literalPrefix(pieces);
        // Key on whole segments: a request path is looked up at each `/`, plus its full text.
        keys.pathPrefix = exact ? prefix : prefix.slice(0, prefix.lastIndexOf('/') + 1) || null;
      }
    }
  }
  keys.dimension =
    keys.resources !== null ? 'resource'
    : keys.resourceTypes !== null ? 'type'
    : keys.pathPrefix !== null && keys.pathPrefix.length > 1 ? 'path'
    : keys.actions !== null ? 'action'
    : null;
  keys.implied = keys.dimension === null || keys.dimension === 'path' ? null : (source[keys.dimension] ?? null);
  return keys;
}

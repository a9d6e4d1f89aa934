import type { Annotation, Condition, Constraint, Effect, Expr, Policy, Span } from '../ast.js';
import type { Activation } from '../eval/activation.js';
import { compileGlob, literalPrefix, parseGlob } from '../eval/glob.js';
import { EntityRef, EvalError, valueEquals, type Value } from '../eval/value.js';
import { chain, printChainPart, printConstraint } from '../format/print-expr.js';
import { compileExpr, pathAccessor, type Fn } from './compile-expr.js';

/** Target lookups a policy can be indexed by; each list holds the values any of which may match. */
export interface IndexKeys {
  actions: string[] | null;
  resourceTypes: string[] | null;
  resources: { type: string; id: string }[] | null;
  pathPrefix: string | null;
}

/** The part of a policy that made it not apply, for explanations. */
export interface Failure {
  part: 'target' | 'when' | 'unless';
  text: string;
  span: Span;
}

export interface CompiledPolicy {
  id: string;
  effect: Effect;
  file: string;
  span: Span;
  annotations: Annotation[];
  reason: string | null;
  /** The source syntax tree, for explanations, formatting and analysis. */
  ast: Policy;
  keys: IndexKeys;
  /** Whether the target matches. Never an error: a target that cannot be read does not match. */
  matches: (a: Activation) => boolean;
  /** Whether the conditions hold: `true`, `false`, or the error that stopped them. */
  holds: (a: Activation) => boolean | EvalError;
  /** The first part that failed, evaluated part by part (slower; for explanations only). */
  explainFailure: (a: Activation) => Failure | null;
}

export function compilePolicy(policy: Policy, id: string, file: string): CompiledPolicy {
  const target = (policy.target ?? []).filter((c) => c.kind !== 'any');
  const constraints = target.map(compileConstraint);
  const conditions = policy.conditions.map(compileCondition);
  return {
    id,
    effect: policy.effect,
    file,
    span: policy.span,
    annotations: policy.annotations,
    reason: policy.reason,
    ast: policy,
    keys: indexKeys(target),
    matches: all(constraints),
    holds: allHold(conditions),
    explainFailure: (a) => explainFailure(target, constraints, policy.conditions, a),
  };
}

function all(tests: ((a: Activation) => boolean)[]): (a: Activation) => boolean {
  if (tests.length === 0) return () => true;
  if (tests.length === 1) return tests[0];
  if (tests.length === 2) {
    const [x, y] = tests;
    return (a) => x(a) && y(a);
  }
  return (a) => tests.every((t) => t(a));
}

type CompiledCondition = (a: Activation) => boolean | EvalError;

function compileCondition(c: Condition): CompiledCondition {
  const body = compileExpr(c.body);
  const wanted = c.kind === 'when';
  const notBoolean = new EvalError(`\`${c.kind}\` condition is not a boolean`, c.body.span);
  return (a) => {
    const v = body(a);
    if (typeof v === 'boolean') return v === wanted;
    return v instanceof EvalError ? v : notBoolean;
  };
}

function allHold(conditions: CompiledCondition[]): (a: Activation) => boolean | EvalError {
  if (conditions.length === 0) return () => true;
  if (conditions.length === 1) return conditions[0];
  return (a) => {
    for (const c of conditions) {
      const r = c(a);
      if (r !== true) return r;
    }
    return true;
  };
}

/** Reads a target path; `undefined` when missing. The root itself reads as `action.name` or an entity. */
function targetValue(c: Exclude<Constraint, { kind: 'any' }>): (a: Activation) => Value | undefined {
  if (c.path.length > 0) return pathAccessor(c.root, c.path);
  if (c.root === 'action') return (a) => a.attr('action', 'name');
  const root = c.root;
  return (a) => {
    const type = a.attr(root, 'type');
    const id = a.attr(root, 'id');
    return typeof type === 'string' && typeof id === 'string' ? new EntityRef(type, id) : undefined;
  };
}

function literal(e: Expr): Value {
  if (e.kind === 'literal') return e.value;
  if (e.kind === 'entity') return new EntityRef(e.type, e.id);
  // INVARIANT: the parser only builds constraints over literals and entity references.
  throw new Error(`not a constant: ${e.kind}`);
}

function compileConstraint(c: Exclude<Constraint, { kind: 'any' }>): (a: Activation) => boolean {
  const get = targetValue(c);
  switch (c.kind) {
    case 'eq': {
      const want = literal(c.value);
      if (want instanceof EntityRef) {
        const { type, id } = want;
        const root = c.root;
        if (c.path.length === 0) return (a) => a.attr(root, 'type') === type && a.attr(root, 'id') === id;
        return (a) => valueEquals(get(a), want);
      }
      return (a) => get(a) === want;
    }
    case 'in': {
      const values = c.values.map(literal);
      if (values.every((v) => !(v instanceof EntityRef))) {
        const set = new Set<Value>(values);
        return (a) => {
          const v = get(a);
          return v !== undefined && set.has(v);
        };
      }
      return (a) => {
        const v = get(a);
        return v !== undefined && values.some((w) => valueEquals(v, w));
      };
    }
    case 'like': {
      const pieces = parseGlob(c.pattern);
      if ('error' in pieces) return () => false;
      const match = compileGlob(pieces);
      return (a) => {
        const v = get(a);
        return typeof v === 'string' && match(v);
      };
    }
  }
}

function indexKeys(target: Exclude<Constraint, { kind: 'any' }>[]): IndexKeys {
  const keys: IndexKeys = { actions: null, resourceTypes: null, resources: null, pathPrefix: null };
  for (const c of target) {
    const values = c.kind === 'eq' ? [literal(c.value)] : c.kind === 'in' ? c.values.map(literal) : null;
    if (c.root === 'action' && c.path.length === 0 && values?.every((v) => typeof v === 'string')) keys.actions = values as string[];
    if (c.root === 'resource' && c.path.length === 0 && values?.every((v) => v instanceof EntityRef)) {
      keys.resources = (values as EntityRef[]).map(({ type, id }) => ({ type, id }));
    }
    if (c.root === 'resource' && c.path.length === 1 && c.path[0] === 'type' && values?.every((v) => typeof v === 'string')) {
      keys.resourceTypes = values as string[];
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
  return keys;
}

function explainFailure(target: Exclude<Constraint, { kind: 'any' }>[], constraints: ((a: Activation) => boolean)[], conditions: Condition[], a: Activation): Failure | null {
  const failed = constraints.findIndex((c) => !c(a));
  if (failed >= 0) return { part: 'target', text: printConstraint(target[failed]), span: target[failed].span };
  for (const c of conditions) {
    if (c.kind === 'unless') {
      if (compileExpr(c.body)(a) !== false) return { part: 'unless', text: chainText(c.body), span: c.body.span };
      continue;
    }
    const { op, parts } = chain(c.body);
    const checked = op === '&&' ? parts : [c.body];
    for (const part of checked) {
      if (compileExpr(part)(a) !== true) return { part: 'when', text: printChainPart(part, op === '&&' ? op : null), span: part.span };
    }
  }
  return null;
}

function chainText(e: Expr): string {
  return printChainPart(e, null);
}

export type { Fn };

import type { Annotation, Condition, Effect, Expr, Policy, Span } from '../ast.js';
import type { Activation } from '../eval/activation.js';
import { EvalError } from '../eval/value.js';
import { chain, printChainPart, printConstraint, printExpr } from '../format/print-expr.js';
import { BOOLEAN_KINDS, compileExpr, type Fn } from './compile-expr.js';
import { compileConstraint, constraintsOf, indexKeys, valuesOf, type IndexKeys } from './compile-target.js';
import { exprAt, type ErrorSource } from './error-source.js';
import { riskReads, tokenReads } from './reads.js';

export type { IndexKeys } from './compile-target.js';

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
  /**
   * The source syntax tree, for explanations, formatting and analysis. In a policy set it
   * is not kept in memory: reading it re-parses the policy's text (the result is reused
   * while it is still referenced somewhere).
   */
  readonly ast: Policy;
  keys: IndexKeys;
  /** The `risk` members the conditions read (`ip`, `velocity`; `*` for all), sorted. */
  readonly riskReads: readonly string[];
  /** The `token` claims the conditions read (`scope`; `*` for all), sorted. */
  readonly tokenReads: readonly string[];
  /** Whether the target matches. Never an error: a target that cannot be read does not match. */
  matches: (a: Activation) => boolean;
  /**
   * `matches` for a policy the index selected: without the constraint its lookup already
   * proved (`keys.implied`). Only for candidates from this policy's own index dimension.
   */
  matchesCandidate: (a: Activation) => boolean;
  /** Whether the conditions hold: `true`, `false`, or the error that stopped them. */
  holds: (a: Activation) => boolean | EvalError;
  /** The first part that failed, evaluated part by part (slower; for explanations only). */
  explainFailure: (a: Activation) => Failure | null;
}

/**
 * Where a compiled policy recovers what it does not keep: its syntax tree, parsed again,
 * and positions, computed from offsets. Both from the text it was parsed from.
 */
export interface PolicyText {
  /** The policy at `span`, parsed again. */
  policy(span: Span): Policy;
  /** The span between two offsets, with the lines and columns the parser gives. */
  span(start: number, end: number): Span;
}

/**
 * Compiles one checked policy. With `source`, the compiled policy keeps no syntax tree:
 * `ast`, explanations and error messages get it back on demand. Without it, `policy` is
 * kept.
 */
export function compilePolicy(policy: Policy, id: string, file: string, source?: PolicyText): CompiledPolicy {
  return new Compiled(policy, id, file, source);
}

/**
 * A class rather than an object literal: `ast` is a getter, and V8 keeps an object literal
 * with an accessor in slow (dictionary) mode — about 800 bytes per policy. It is the
 * ErrorSource of its own compiled code, and keeps the texts it printed, so that a request
 * failing the same way again does not print them again.
 */
class Compiled implements CompiledPolicy, ErrorSource {
  readonly id: string;
  readonly effect: Effect;
  readonly file: string;
  readonly span: Span;
  readonly annotations: Annotation[];
  readonly reason: string | null;
  readonly keys: IndexKeys;
  readonly riskReads: readonly string[];
  readonly tokenReads: readonly string[];
  readonly matches: (a: Activation) => boolean;
  readonly matchesCandidate: (a: Activation) => boolean;
  readonly holds: (a: Activation) => boolean | EvalError;
  readonly #source: PolicyText | undefined;
  /** The syntax tree: held when there is no `source`, else held weakly once parsed again. */
  #tree: Policy | WeakRef<Policy> | undefined;
  #texts: Map<number, string> | undefined;

  constructor(policy: Policy, id: string, file: string, source: PolicyText | undefined) {
    const target = constraintsOf(policy);
    const values = target.map(valuesOf);
    this.id = id;
    this.effect = policy.effect;
    this.file = file;
    this.span = policy.span;
    this.annotations = policy.annotations;
    this.reason = policy.reason;
    this.keys = indexKeys(target, values);
    this.riskReads = riskReads(policy);
    this.tokenReads = tokenReads(policy);
    this.#source = source;
    this.#tree = source === undefined ? policy : undefined;
    const constraints = target.map((c, i) => compileConstraint(c, values[i]));
    this.matches = all(constraints);
    const implied = this.keys.implied;
    this.matchesCandidate = implied === null ? this.matches : all(constraints.filter((_, i) => i !== implied));
    this.holds = allHold(policy.conditions.map((c) => compileCondition(c, this)));
  }

  get ast(): Policy {
    if (this.#source === undefined) return this.#tree as Policy;
    let tree = (this.#tree as WeakRef<Policy> | undefined)?.deref();
    if (tree === undefined) this.#tree = new WeakRef((tree = this.#source.policy(this.span)));
    return tree;
  }

  spanAt(start: number, end: number): Span {
    return this.#source === undefined ? exprAt(bodies(this.ast), start, end).span : this.#source.span(start, end);
  }

  textAt(start: number, end: number): string {
    // Offsets are below PARSE_LIMITS.fileBytes (2^23), so the pair fits a safe integer.
    const key = start * 2 ** 24 + end;
    let text = this.#texts?.get(key);
    if (text === undefined) {
      text = printExpr(exprAt(bodies(this.ast), start, end));
      (this.#texts ??= new Map()).set(key, text);
    }
    return text;
  }

  explainFailure(a: Activation): Failure | null {
    return explainFailure(this.ast, a);
  }
}

function bodies(policy: Policy): Expr[] {
  return policy.conditions.map((c) => c.body);
}

const ALWAYS = (): boolean => true;

function all(tests: ((a: Activation) => boolean)[]): (a: Activation) => boolean {
  if (tests.length === 0) return ALWAYS;
  if (tests.length === 1) return tests[0];
  if (tests.length === 2) return both(tests[0], tests[1]);
  return (a) => tests.every((t) => t(a));
}

function both(x: (a: Activation) => boolean, y: (a: Activation) => boolean): (a: Activation) => boolean {
  return (a) => x(a) && y(a);
}

type CompiledCondition = (a: Activation) => boolean | EvalError;

function compileCondition(c: Condition, errors: ErrorSource): CompiledCondition {
  const body = compileExpr(c.body, errors);
  const wanted = c.kind === 'when';
  // A `when` over a body that answers only booleans and errors would pass its answer on as is.
  if (wanted && BOOLEAN_KINDS.has(c.body.kind)) return body as CompiledCondition;
  const from = c.body.span.start.offset;
  const to = c.body.span.end.offset;
  return (a) => {
    const v = body(a);
    if (typeof v === 'boolean') return v === wanted;
    return v instanceof EvalError ? v : new EvalError(wanted ? '`when` condition is not a boolean' : '`unless` condition is not a boolean', errors.spanAt(from, to));
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

function explainFailure(policy: Policy, a: Activation): Failure | null {
  // The target is compiled again, as the conditions are: explanations are the slow path.
  const failed = constraintsOf(policy).find((c) => !compileConstraint(c, valuesOf(c))(a));
  if (failed !== undefined) return { part: 'target', text: printConstraint(failed), span: failed.span };
  for (const c of policy.conditions) {
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

/**
 * Partial evaluation: a policy over a request that is only partly known.
 *
 * ```ts
 * const facts = parseFacts([{ file: '--where#1', text: 'resource.type == "patient_record"' }]);
 * if ('knowledge' in facts) partialPolicy(policy, facts.knowledge);
 * ```
 *
 * Facts are expressions of the policy language that hold on every request considered (a
 * "completion" of the facts). What is left of a policy's target and conditions is a
 * residual expression over the attributes the facts leave unknown, simplified, plus
 * whether evaluating it may error (which makes a forbid apply: fail closed).
 */
import type { Expr, Policy, Span } from '../ast.js';
import { diagnostic, sortDiagnostics, type Diagnostic } from '../diagnostic.js';
import { valueEquals } from '../eval/value.js';
import { chain, printChainPart, printConstraint } from '../format/print-expr.js';
import { constraintsOf, type TargetConstraint } from '../compile/compile-target.js';
import { parseExpression } from '../parse/parse.js';
import { admits, isScalar, knowledgeOf, matches, pathKey, patternsDisjoint, type Knowledge } from './knowledge.js';
import { partialEval } from './partial-eval.js';
import { and, constraintExpr, isBooleanExpr, known, not, residual, type Partial } from './residual.js';
import { ROOTS } from '../ast.js';
import { Checker } from '../check/checker.js';
import type { Schema } from '../check/schema.js';
import { fits, showType, T } from '../types.js';

export type { Knowledge } from './knowledge.js';
export type { Partial } from './residual.js';
export { partialEval } from './partial-eval.js';

export interface FactSource {
  /** Names the fact in diagnostics (`--where#2`). */
  file: string;
  text: string;
}

/** Parses facts and gathers what they say; every bad fact is a located diagnostic. */
export function parseFacts(facts: readonly FactSource[], schema: Schema | null = null): { knowledge: Knowledge } | { diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const parsed: { file: string; expr: Expr }[] = [];
  for (const { file, text } of facts) {
    const r = parseExpression(file, text);
    diagnostics.push(...r.diagnostics);
    if (r.expr === null) continue;
    const unknown = unknownName(r.expr);
    if (unknown !== null) {
      diagnostics.push(diagnostic('unknown-variable', file, unknown.span, `unknown name \`${unknown.name}\``, `names are ${ROOTS.join(', ')}`));
      continue;
    }
    // Against the policies' schema, as their own conditions are: a misspelt attribute or a
    // number where a string is declared would otherwise be a fact about nothing, silently.
    if (schema !== null) {
      const found: Diagnostic[] = [];
      const t = new Checker(file, schema, found, { strict: true, facts: true }).typeOf(r.expr);
      if (!fits(t, T.boolean)) found.push(diagnostic('type-mismatch', file, r.expr.span, `a fact is a boolean condition, not ${showType(t)}`));
      diagnostics.push(...found);
      if (found.length > 0) continue;
    }
    parsed.push({ file, expr: r.expr });
  }
  const { knowledge, diagnostics: more } = knowledgeOf(parsed);
  diagnostics.push(...more);
  return diagnostics.length > 0 ? { diagnostics: sortDiagnostics(diagnostics) } : { knowledge };
}

function unknownName(e: Expr): { name: string; span: Span } | null {
  switch (e.kind) {
    case 'variable':
      return { name: e.name, span: e.span };
    case 'attr':
    case 'has':
      return unknownName(e.object);
    case 'like':
      return unknownName(e.subject);
    case 'not':
    case 'negate':
      return unknownName(e.operand);
    case 'binary':
    case 'and':
    case 'or':
      return unknownName(e.left) ?? unknownName(e.right);
    case 'list':
    case 'call':
      return (e.kind === 'list' ? e.items : e.args).reduce<{ name: string; span: Span } | null>((found, x) => found ?? unknownName(x), null);
    default:
      return null;
  }
}

/** The part of a policy the facts make fail, for reports. */
export interface FailedPart {
  part: 'target' | 'when' | 'unless';
  text: string;
  span: Span;
}

export interface PolicyPartial {
  /** What is left of the target. Targets never error: a missing attribute does not match. */
  target: Partial;
  /** What is left of the conditions, all of them joined with `&&` (an `unless` negated). */
  conditions: Partial;
  /** When the target or the conditions are known to fail: the first part that does. */
  failed: FailedPart | null;
}

export function partialPolicy(policy: Policy, k: Knowledge): PolicyPartial {
  const target = partialTarget(constraintsOf(policy), k);
  if (target.partial.known && target.partial.value === false) return { target: target.partial, conditions: known(false), failed: target.failed };
  const conditions = partialConditions(policy, k);
  return { target: target.partial, ...conditions };
}

function partialTarget(constraints: TargetConstraint[], k: Knowledge): { partial: Partial; failed: FailedPart | null } {
  let left: Expr | null = null;
  for (const c of constraints) {
    const r = partialConstraint(c, k);
    if (r === false) return { partial: known(false), failed: { part: 'target', text: printConstraint(c), span: c.span } };
    if (r === true) continue;
    left = left === null ? r : and(left, r);
  }
  return { partial: left === null ? known(true) : residual(left, false), failed: null };
}

/** A target constraint under the facts: decided, or the condition it stands for. */
function partialConstraint(c: TargetConstraint, k: Knowledge): boolean | Expr {
  const f = k.get(pathKey(c.root, c.path));
  if (f?.absent) return false;
  if (f === undefined || !f.present) return constraintExpr(c);
  switch (c.kind) {
    case 'eq': {
      const p = partialEval(constraintExpr(c), k);
      return p.known && typeof p.value === 'boolean' ? p.value : constraintExpr(c);
    }
    case 'in': {
      const p = partialEval(constraintExpr(c), k);
      if (p.known && typeof p.value === 'boolean') return p.value;
      // A target never errors: values of another type simply do not match.
      const values = c.values.map((v) => partialEval(v, k));
      if (values.every((v) => v.known && isScalar(v.value) && !admits(f, v.value))) return false;
      return constraintExpr(c);
    }
    case 'like': {
      if (f.patterns.includes(c.pattern)) return true;
      if (f.patterns.some((known) => patternsDisjoint(known, c.pattern))) return false;
      if (f.kind !== null && f.kind !== 'string') return false;
      if (f.oneOf !== null) {
        const hits = f.oneOf.filter((v) => typeof v === 'string' && matches(c.pattern, v)).length;
        if (hits === f.oneOf.length) return true;
        if (hits === 0) return false;
      }
      return constraintExpr(c);
    }
  }
}

function partialConditions(policy: Policy, k: Knowledge): { conditions: Partial; failed: FailedPart | null } {
  let result: Partial = known(true);
  for (const c of policy.conditions) {
    const body = partialEval(c.body, k);
    let part = c.kind === 'when' ? body : negated(body);
    // A condition that is not a boolean is an error on every request.
    if (part.known && typeof part.value !== 'boolean') part = residual(c.body, true);
    const mayError = part.mayError || (!body.known && !isBooleanExpr(body.expr));
    // Conditions run in order and stop at the first that does not hold, as `&&` does.
    if (result.known) result = part.known ? known(part.value, result.mayError || mayError) : residual(part.expr, result.mayError || mayError);
    else if (part.known) result = part.value === true ? { ...result, mayError: result.mayError || mayError } : known(false, result.mayError || mayError);
    else result = residual(and(result.expr, part.expr), result.mayError || mayError);
    if (result.known && result.value === false) return { conditions: result, failed: failedPart(c.kind, c.body, k) };
  }
  return { conditions: result, failed: null };
}

function negated(p: Partial): Partial {
  if (p.known) return typeof p.value === 'boolean' ? known(!p.value, p.mayError) : p;
  return residual(not(p.expr), p.mayError);
}

/** The first operand of a `when`'s `&&` chain the facts make false; an `unless` as a whole. */
function failedPart(kind: 'when' | 'unless', body: Expr, k: Knowledge): FailedPart {
  if (kind === 'unless') return { part: 'unless', text: printChainPart(body, null), span: body.span };
  const { op, parts } = chain(body);
  const checked = op === '&&' ? parts : [body];
  const part = checked.find((p) => {
    const r = partialEval(p, k);
    return r.known && valueEquals(r.value, false);
  }) ?? body;
  return { part: 'when', text: printChainPart(part, op === '&&' && part !== body ? op : null), span: part.span };
}

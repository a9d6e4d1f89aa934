import type { Expr } from '../language/ast.js';
import type { CompiledPolicy } from '../language/compile/compile-policy.js';
import type { Request } from '../language/eval/activation.js';
import { chain, printExpr } from '../language/format/print-expr.js';
import { partialEval } from '../language/partial/partial-eval.js';
import type { Knowledge } from '../language/partial/knowledge.js';
import { requestKnowledge } from '../language/partial/request-knowledge.js';
import { and, not, or } from '../language/partial/residual.js';
import { decide } from './decide.js';
import type { Decision } from './decision.js';
import type { PolicySet } from './policy-set.js';

/*
 * "Why was this denied?" (`gavel eval --why`): the forbids that fired, each with what would
 * make it stop applying, and the permits whose target matched the request but whose
 * conditions did not hold — each with what would have to be true for it to allow. A
 * permit's needs are not enough while a forbid fired: the forbid wins (a permit's needs
 * met, the request was still denied, and "would allow" had said otherwise).
 */

export interface FiredForbid {
  id: string;
  location: string;
  reason: string | null;
  /** Set when the forbid applied because evaluating it failed (fail closed). */
  error: string | null;
  /**
   * What would make it stop applying: one of its `when` conditions failing or one of its
   * `unless` conditions holding, as written. `null` for a forbid without conditions, which
   * applies to every request its target matches. A permit's `needs` allows only once every
   * fired forbid stops applying.
   */
  stops: string | null;
}

export interface MissedPermit {
  id: string;
  location: string;
  /** The first part that did not hold, as `--explain` reports it; `null` when it errored. */
  failed: { part: 'when' | 'unless'; condition: string; location: string } | null;
  error: string | null;
  /**
   * What must become true for the permit to apply: its conditions with the request's
   * attributes filled in, the parts that already hold dropped, and what the request lacks
   * left as conditions. In the policy language.
   */
  needs: string;
}

/** A permit whose conditions held: it would allow, but a forbid overrode it. */
export interface OverriddenPermit {
  id: string;
  location: string;
}

export interface WhyNot {
  decision: Decision;
  forbids: FiredForbid[];
  permits: MissedPermit[];
  /** Permits that were satisfied, overridden by the forbids that fired. */
  overridden: OverriddenPermit[];
}

export function whyNot(set: PolicySet, request: Request): WhyNot {
  const decision = decide(set, request, { explain: true });
  const forbids: FiredForbid[] = [];
  const permits: MissedPermit[] = [];
  const overridden: OverriddenPermit[] = [];
  for (const t of decision.explanation!.trace) {
    const p = set.byId.get(t.id)!;
    if (t.effect === 'forbid') {
      if (t.outcome !== 'not-satisfied') forbids.push({ id: t.id, location: t.location, reason: p.reason, error: t.error ?? null, stops: stops(p) });
      continue;
    }
    if (t.outcome === 'satisfied') {
      // Overridden only when a forbid decided: on an allow it is what allowed.
      if (!decision.decision) overridden.push({ id: t.id, location: t.location });
      continue;
    }
    if (t.failed?.part === 'target') continue;
    const failed = t.failed === undefined ? null : { part: t.failed.part as 'when' | 'unless', condition: t.failed.condition, location: t.failed.location };
    permits.push({ id: t.id, location: t.location, failed, error: t.error ?? null, needs: needs(p, request, failedAt(decision, t.id)) });
  }
  // The trace is in index order; reports are read by people, in id order.
  const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  return { decision, forbids: forbids.sort(byId), permits: permits.sort(byId), overridden: overridden.sort(byId) };
}

/**
 * Where a permit's evaluation failed on values the request has (a type error, a bad
 * address), as `line:col`; `null` when it did not, or only because the request lacks an
 * attribute — which a residual names.
 */
function failedAt(decision: Decision, id: string): { line: number; col: number } | null {
  const e = decision.errors.find((x) => x.policy === id);
  if (e === undefined || / is missing( from the request)?$/.test(e.message)) return null;
  const m = /:(\d+):(\d+)$/.exec(e.location);
  return m === null ? null : { line: Number(m[1]), col: Number(m[2]) };
}

const contains = (e: Expr, at: { line: number; col: number }): boolean => {
  const { start, end } = e.span;
  const after = at.line > start.line || (at.line === start.line && at.col >= start.col);
  const before = at.line < end.line || (at.line === end.line && at.col <= end.col);
  return after && before;
};

/**
 * The conditions that do not hold yet on `request`, those it decides left as written. A part
 * holding the expression that failed on the request's own values is left as written too: its
 * residual folds the error away (`error && false` is false) and would name a need the
 * request already meets instead of the part that failed.
 */
function needs(p: CompiledPolicy, request: Request, failed: { line: number; col: number } | null): string {
  const policy = p.ast;
  const k = requestKnowledge(policy, request);
  const parts: Expr[] = [];
  const keep = (e: Expr) => {
    const r = failed !== null && contains(e, failed) ? e : remaining(e, k);
    if (r !== null) parts.push(r);
  };
  for (const c of policy.conditions) {
    if (c.kind === 'unless') {
      keep(not(c.body, c.body.span));
      continue;
    }
    const { op, parts: operands } = chain(c.body);
    for (const part of op === '&&' ? operands : [c.body]) keep(part);
  }
  return parts.length === 0 ? 'true' : printExpr(parts.reduce((l, r) => and(l, r)));
}

/** A forbid applies while each `when` conjunct holds and no `unless` does: any one of those turned is enough. */
function stops(p: CompiledPolicy): string | null {
  const ways: Expr[] = [];
  for (const c of p.ast.conditions) {
    if (c.kind === 'unless') ways.push(c.body);
    else {
      const { op, parts } = chain(c.body);
      for (const part of op === '&&' ? parts : [c.body]) ways.push(not(part));
    }
  }
  return ways.length === 0 ? null : printExpr(ways.reduce((l, r) => or(l, r)));
}

/** `null` when the request already makes `e` true; else `e` as written, or its residual over what the request lacks. */
function remaining(e: Expr, k: Knowledge): Expr | null {
  const r = partialEval(e, k);
  if (r.known) return r.value === true && !r.mayError ? null : e;
  return r.expr;
}

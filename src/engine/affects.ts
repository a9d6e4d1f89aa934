import type { Effect } from '../language/ast.js';
import type { CompiledPolicy } from '../language/compile/compile-policy.js';
import { valueEquals, type Value } from '../language/eval/value.js';
import { printExpr, printLiteral } from '../language/format/print-expr.js';
import { and } from '../language/partial/residual.js';
import { partialPolicy, type FailedPart, type Knowledge, type Partial } from '../language/partial/partial.js';
import { pathKey } from '../language/partial/knowledge.js';
import type { PolicySet } from './policy-set.js';

/*
 * "Which policies affect …?": every policy of a set classified against facts that fix part
 * of a request (docs/compliance.md). Over every request consistent with the facts:
 *
 * - `applies`: the policy decides (its target matches and its conditions hold) on every
 *   request on which evaluating it raises no error. A forbid also applies when it errors
 *   (fail closed), so an applying forbid applies on every such request, full stop.
 * - `does-not-apply`: on no such request does the engine count it — not even through an
 *   error: a forbid that could error is never put here.
 * - `may-apply`: it depends on what the facts leave unknown; `condition` says on what.
 */

export type Status = 'applies' | 'may-apply' | 'does-not-apply';

/** One policy's answer. Plain JSON: the HTTP API and the CLI print it as is. */
export interface AffectsRow {
  id: string;
  effect: Effect;
  status: Status;
  tags: string[];
  owner: string | null;
  /** `file:line:col` of the policy. */
  location: string;
  /** `may-apply`: the residual condition, in the policy language; `null` when only an error makes a forbid apply. */
  condition: string | null;
  /** `does-not-apply`: the target constraint or condition the facts make fail — for an `unless`, the condition that holds. */
  because: string | null;
  /** Where `because` is: in the target, a `when` (it fails) or an `unless` (it holds); `null` with `because`. */
  because_part: 'target' | 'when' | 'unless' | null;
  /**
   * An attribute the policy reads may be missing or of another type on some of the
   * requests: a forbid then applies (fail closed), a permit does not.
   */
  may_error: boolean;
  /** The policy's `reason`, for a forbid. */
  reason: string | null;
}

export interface AffectsFilters {
  /** Keep policies carrying any of these tags. */
  tags?: readonly string[];
  /** Keep policies owned by any of these owners. */
  owners?: readonly string[];
  effect?: Effect;
  /** Keep `does-not-apply` rows too (by default they are left out). */
  all?: boolean;
}

const ORDER: Record<Status, number> = { applies: 0, 'may-apply': 1, 'does-not-apply': 2 };

/** Classifies every policy of `set` that passes `filters`; rows sorted by status, then id. */
export function affects(set: PolicySet, knowledge: Knowledge, filters: AffectsFilters = {}): AffectsRow[] {
  const rows: AffectsRow[] = [];
  for (const p of set.policies) {
    if (!selected(p, filters)) continue;
    const row = classify(p, knowledge);
    if (row.status !== 'does-not-apply' || filters.all) rows.push(row);
  }
  return rows.sort((a, b) => ORDER[a.status] - ORDER[b.status] || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export function annotation(p: CompiledPolicy, name: string): string[] {
  return p.annotations.find((a) => a.name === name)?.values ?? [];
}

function selected(p: CompiledPolicy, f: AffectsFilters): boolean {
  if (f.effect !== undefined && p.effect !== f.effect) return false;
  if (f.tags !== undefined && f.tags.length > 0 && !annotation(p, 'tags').some((t) => f.tags!.includes(t))) return false;
  if (f.owners !== undefined && f.owners.length > 0 && !f.owners.includes(annotation(p, 'owner')[0] ?? '')) return false;
  return true;
}

export function classify(p: CompiledPolicy, k: Knowledge): AffectsRow {
  const row = (status: Status, condition: string | null, because: Pick<FailedPart, 'part' | 'text'> | null, mayError: boolean): AffectsRow => ({
    id: p.id,
    effect: p.effect,
    status,
    tags: annotation(p, 'tags'),
    owner: annotation(p, 'owner')[0] ?? null,
    location: `${p.file}:${p.span.start.line}:${p.span.start.col}`,
    condition,
    because: because?.text ?? null,
    because_part: because?.part ?? null,
    may_error: mayError,
    reason: p.effect === 'forbid' ? p.reason : null,
  });
  // The index keys decide most targets without the syntax tree, which is parsed again on demand.
  const ruledOut = ruledOutByKeys(p, k);
  if (ruledOut !== null) return row('does-not-apply', null, { part: 'target', text: ruledOut }, false);
  const { target, conditions, failed } = partialPolicy(p.ast, k);
  if (isFalse(target)) return row('does-not-apply', null, failed, false);
  const mayError = conditions.mayError;
  if (isFalse(conditions) && (p.effect === 'permit' || !mayError)) return row('does-not-apply', null, failed, mayError);
  if (isTrue(target) && isTrue(conditions)) return row('applies', null, null, mayError);
  // What is left: the target's residual and the conditions'. A forbid whose conditions are
  // false save for errors applies only through an error: there is no condition to print.
  if (isFalse(conditions)) return row('may-apply', null, null, true);
  const parts = [target, conditions].flatMap((x) => (x.known ? [] : [x.expr]));
  return row('may-apply', printExpr(parts.reduce((l, r) => and(l, r))), null, mayError);
}

function isTrue(p: Partial): boolean {
  return p.known && p.value === true;
}

function isFalse(p: Partial): boolean {
  return p.known && p.value === false;
}

/** The target constraint the facts rule out, read from the index keys (`action in ["GET"]`); `null` when they do not. */
function ruledOutByKeys(p: CompiledPolicy, k: Knowledge): string | null {
  const { actions, resourceTypes } = p.keys;
  if (actions !== null && disjoint(k, pathKey('action', []), actions)) return constraintText('action', actions);
  if (resourceTypes !== null && disjoint(k, pathKey('resource', ['type']), resourceTypes)) return constraintText('resource.type', resourceTypes);
  return null;
}

function disjoint(k: Knowledge, key: string, values: readonly Value[]): boolean {
  const f = k.get(key);
  return f !== undefined && f.present && f.oneOf !== null && !f.oneOf.some((v) => values.some((w) => valueEquals(v, w)));
}

function constraintText(path: string, values: readonly string[]): string {
  return values.length === 1 ? `${path} == ${printLiteral(values[0])}` : `${path} in [${values.map(printLiteral).join(', ')}]`;
}

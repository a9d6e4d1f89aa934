/**
 * The policy inventory: one plain, JSON-able row per policy of a set, for people who ask
 * "which policies do we have?" (`gavel policies`, and later `GET /v1/policies` and the
 * console). Rows are data only — no spans, no syntax trees — so every transport can send
 * them as they are.
 */
import type { Effect, Policy, PolicyFile } from '../language/ast.js';
import { printChainPart, printConstraint, chain } from '../language/format/print-expr.js';
import { policyId } from './policy-set.js';

export interface InventoryRow {
  id: string;
  effect: Effect;
  tags: string[];
  owner: string | null;
  description: string | null;
  /** The target in the policy language (`action == "GET", resource.path like "/x/**"`); `""` when it constrains nothing. */
  target: string;
  /** Each `when { … }` / `unless { … }` on one line, in order: the conditions under which the policy applies. */
  conditions: string[];
  reason: string | null;
  /** Annotations other than `@id`, `@tags`, `@owner`, `@description`, as written. */
  annotations: Record<string, string[]>;
  /** Path relative to the policies folder, `/`-separated. */
  file: string;
  line: number;
}

export interface InventoryFilter {
  tag?: string;
  owner?: string;
  effect?: Effect;
}

const KNOWN = new Set(['id', 'tags', 'owner', 'description']);

/** Every policy of the files, in file order and then position: the order people read them in. */
export function inventory(files: readonly PolicyFile[]): InventoryRow[] {
  return files.flatMap((file) => file.policies.map((policy, n) => row(file.file, n + 1, policy)));
}

function row(file: string, ordinal: number, policy: Policy): InventoryRow {
  const one = (name: string) => policy.annotations.find((a) => a.name === name)?.values[0] ?? null;
  const others = policy.annotations.filter((a) => !KNOWN.has(a.name)).map((a) => [a.name, a.values] as const);
  return {
    id: policyId(file, ordinal, policy.annotations),
    effect: policy.effect,
    tags: policy.annotations.find((a) => a.name === 'tags')?.values ?? [],
    owner: one('owner'),
    description: one('description'),
    target: targetSummary(policy),
    conditions: policy.conditions.map((c) => `${c.kind} { ${conditionText(c.body)} }`),
    reason: policy.reason,
    annotations: Object.fromEntries(others),
    file,
    line: policy.span.start.line,
  };
}

/** The target on one line, as `gavel fmt` prints it, without the parentheses. */
export function targetSummary(policy: Policy): string {
  return (policy.target ?? []).map(printConstraint).join(', ');
}

function conditionText(body: Policy['conditions'][number]['body']): string {
  const { op, parts } = chain(body);
  return parts.map((p) => printChainPart(p, op)).join(` ${op} `);
}

/** Rows that satisfy every given filter; an absent filter keeps everything. */
export function filterInventory(rows: readonly InventoryRow[], filter: InventoryFilter): InventoryRow[] {
  return rows.filter(
    (r) =>
      (filter.tag === undefined || r.tags.includes(filter.tag)) &&
      (filter.owner === undefined || r.owner === filter.owner) &&
      (filter.effect === undefined || r.effect === filter.effect),
  );
}

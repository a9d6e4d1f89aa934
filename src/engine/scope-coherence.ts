import type { Expr } from '../language/ast.js';
import { parseFacts } from '../language/partial/partial.js';
import { printLiteral } from '../language/format/print-expr.js';
import { classify } from './affects.js';
import type { PolicySet } from './policy-set.js';

/*
 * The two halves of one policy set agree on scopes: the `mint` policies decide which scopes
 * the bundled issuer puts in tokens, the request-time policies which scopes a call needs
 * (`token.scope contains "invoice:read"`). A scope an API offers that no mint policy can
 * grant, or a scope a rule waits for that no API offers, is a rule or a registration that
 * can never take effect — found here before a user is refused for it.
 */

export type ScopeProblem =
  /** Offered by an API, but no mint permit can grant it (or a forbid refuses it to everyone). */
  | 'never-minted'
  /** Needed by a rule, but offered by no API: only another issuer's tokens can carry it. */
  | 'not-offered'
  /** Offered and mintable, but no rule reads it: granted, it decides nothing here. */
  | 'never-checked';

export interface ScopeRow {
  scope: string;
  /** The APIs (identifiers) offering it. */
  apis: string[];
  /** Mint permits that apply or may apply to it. */
  minted_by: string[];
  /** Policies whose conditions test `token.scope` for it. */
  checked_by: string[];
  problem: ScopeProblem | null;
}

export interface ApiScopes {
  identifier: string;
  scopes: readonly string[];
}

/** One row per scope an API offers or a rule reads, sorted by scope. */
export function scopeCoherence(set: PolicySet, apis: readonly ApiScopes[]): ScopeRow[] {
  const offered = new Map<string, string[]>();
  for (const api of apis) for (const s of api.scopes) offered.set(s, [...(offered.get(s) ?? []), api.identifier]);
  const checked = scopesRead(set);
  const scopes = [...new Set([...offered.keys(), ...checked.keys()])].sort();
  return scopes.map((scope) => {
    const minted = offered.has(scope) ? mintedBy(set, scope) : [];
    const readers = [...(checked.get(scope) ?? [])].sort();
    const problem: ScopeProblem | null = !offered.has(scope) ? 'not-offered' : minted.length === 0 ? 'never-minted' : readers.length === 0 ? 'never-checked' : null;
    return { scope, apis: offered.get(scope) ?? [], minted_by: minted, checked_by: readers, problem };
  });
}

/**
 * The permits that may grant `scope` at the token endpoint (the issuer asks `action ==
 * "mint"` about `scope::"<name>"`), by partial evaluation; none when a forbid refuses it to
 * every request.
 */
function mintedBy(set: PolicySet, scope: string): string[] {
  const facts = parseFacts([`action == "mint"`, `resource == scope::${printLiteral(scope)}`, `resource.type == "scope"`, `resource.id == ${printLiteral(scope)}`].map((text, i) => ({ file: `mint#${i + 1}`, text })), set.schema);
  // INVARIANT: the facts are well formed; a schema that types them otherwise refuses them.
  if ('diagnostics' in facts) return [];
  const permits: string[] = [];
  for (const p of set.policies) {
    const row = classify(p, facts.knowledge);
    if (p.effect === 'forbid' && row.status === 'applies') return [];
    if (p.effect === 'permit' && row.status !== 'does-not-apply') permits.push(p.id);
  }
  return permits.sort();
}

/** Scope → the policies whose conditions test `token.scope` for it with a literal. */
function scopesRead(set: PolicySet): Map<string, Set<string>> {
  const read = new Map<string, Set<string>>();
  const add = (scope: unknown, id: string) => {
    if (typeof scope === 'string') read.set(scope, (read.get(scope) ?? new Set()).add(id));
  };
  for (const p of set.policies) {
    const visit = (e: Expr): void => {
      switch (e.kind) {
        case 'binary':
          if (isTokenScope(e.left) && (e.op === 'contains' || e.op === 'contains_any' || e.op === 'contains_all')) literals(e.right).forEach((s) => add(s, p.id));
          if (isTokenScope(e.right) && e.op === 'in') literals(e.left).forEach((s) => add(s, p.id));
          visit(e.left);
          return visit(e.right);
        case 'and':
        case 'or':
          visit(e.left);
          return visit(e.right);
        case 'not':
        case 'negate':
          return visit(e.operand);
        case 'list':
          return e.items.forEach(visit);
        case 'call':
          return e.args.forEach(visit);
        default:
          return;
      }
    };
    for (const c of p.ast.conditions) visit(c.body);
  }
  return read;
}

const isTokenScope = (e: Expr): boolean => e.kind === 'attr' && e.name === 'scope' && e.object.kind === 'root' && e.object.root === 'token';

/** The string literals `e` holds: itself, or a list's items. */
function literals(e: Expr): unknown[] {
  if (e.kind === 'literal') return [e.value];
  if (e.kind === 'list') return e.items.flatMap((i) => (i.kind === 'literal' ? [i.value] : []));
  return [];
}

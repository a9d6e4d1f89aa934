import { subexpressions, type Expr } from '../language/ast.js';
import { parseFacts } from '../language/partial/partial.js';
import { printExpr, printLiteral } from '../language/format/print-expr.js';
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

/**
 * The context the token issuer gives a mint decision (src/issuer/issuer.ts, `mint`): any
 * other `context` attribute is absent there, and so is the whole `token` root.
 */
export const MINT_CONTEXT: readonly string[] = ['ip', 'grant_type', 'client_id', 'audience', 'time'];

/**
 * One row per scope an API offers or a rule reads, sorted by scope; or, when the facts about
 * mint requests do not fit the policies' schema (it types `resource` or `action` otherwise),
 * why — never a silent "never minted".
 */
export function scopeCoherence(set: PolicySet, apis: readonly ApiScopes[]): ScopeRow[] | { problems: string[] } {
  const offered = new Map<string, string[]>();
  for (const api of apis) for (const s of api.scopes) offered.set(s, [...(offered.get(s) ?? []), api.identifier]);
  const checked = scopesRead(set);
  const scopes = [...new Set([...offered.keys(), ...checked.keys()])].sort();
  const absent = absentAtMint(set);
  const minting = new Map<string, string[]>();
  for (const scope of offered.keys()) {
    const minted = mintedBy(set, scope, absent);
    if ('problems' in minted) return minted;
    minting.set(scope, minted.permits);
  }
  return scopes.map((scope) => {
    const minted = minting.get(scope) ?? [];
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
function mintedBy(set: PolicySet, scope: string, absent: readonly string[]): { permits: string[] } | { problems: string[] } {
  const texts = [`action == "mint"`, `resource == scope::${printLiteral(scope)}`, `resource.type == "scope"`, `resource.id == ${printLiteral(scope)}`, ...absent];
  const facts = parseFacts(texts.map((text, i) => ({ file: `mint#${i + 1}`, text })), set.schema);
  if ('diagnostics' in facts) return { problems: facts.diagnostics.map((d) => `a mint request for \`${scope}\` (${texts[Number(d.file.slice(5)) - 1]}): ${d.message}`) };
  const permits: string[] = [];
  for (const p of set.policies) {
    const row = classify(p, facts.knowledge);
    if (p.effect === 'forbid' && row.status === 'applies') return { permits: [] };
    if (p.effect === 'permit' && row.status !== 'does-not-apply') permits.push(p.id);
  }
  return { permits: permits.sort() };
}

/**
 * Facts that what the policies read of `context` beyond MINT_CONTEXT, and of `token`, is
 * absent from every mint request: `context has mfa` is false there, so a forbid `unless
 * { context has mfa && … }` refuses every mint.
 */
function absentAtMint(set: PolicySet): string[] {
  const names = { context: new Set<string>(), token: new Set<string>() };
  const visit = (e: Expr): void => {
    if ((e.kind === 'attr' || e.kind === 'has') && e.object.kind === 'root' && (e.object.root === 'context' || e.object.root === 'token')) names[e.object.root].add(e.name);
    for (const child of subexpressions(e)) visit(child);
  };
  for (const p of set.policies) for (const c of p.ast.conditions) visit(c.body);
  // Printed as `has` prints its name (bare, or quoted); the span is not printed.
  const at = { line: 1, col: 1, offset: 0 };
  const span = { start: at, end: at };
  const fact = (root: 'context' | 'token', name: string) => `!(${printExpr({ kind: 'has', object: { kind: 'root', root, span }, name, span })})`;
  return [...[...names.context].filter((n) => !MINT_CONTEXT.includes(n)).map((n) => fact('context', n)), ...[...names.token].map((n) => fact('token', n))];
}

/** Scope → the policies whose conditions test `token.scope` for it with a literal. */
function scopesRead(set: PolicySet): Map<string, Set<string>> {
  const read = new Map<string, Set<string>>();
  const add = (scope: unknown, id: string) => {
    if (typeof scope === 'string') read.set(scope, (read.get(scope) ?? new Set()).add(id));
  };
  for (const p of set.policies) {
    const visit = (e: Expr): void => {
      if (e.kind === 'binary') {
        if (isTokenScope(e.left) && (e.op === 'contains' || e.op === 'contains_any' || e.op === 'contains_all' || e.op === '==')) literals(e.right).forEach((s) => add(s, p.id));
        if (isTokenScope(e.right) && (e.op === 'in' || e.op === '==' || e.op === 'contains_any')) literals(e.left).forEach((s) => add(s, p.id));
      }
      subexpressions(e).forEach(visit);
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

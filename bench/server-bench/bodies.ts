/**
 * The engine workload (workload.ts) as what goes over the wire: Gavel policy files for a
 * server's folder, AuthZEN request bodies with and without an end-user token, and Cerbos
 * CheckResources bodies — plus readers of each answer's decision.
 *
 * A server takes `token` only from a verified JWT (`context.token`, docs/api.md), so the
 * workload's `token.scope contains "t7:read"` cannot be fed from a plain request body. The
 * plain variant therefore moves the scopes to the subject: `subject.scopes contains
 * "t7:read"` over `subject.properties.scopes`, a list (the same set semantics). The JWT
 * variant keeps the workload's policies unchanged and sends each request's scopes in a
 * signed token.
 */
import { typeCount, gavelPolicies, type BenchRequest } from '../workload.js';
import { toCerbosCheck } from '../peers/cerbos-policies.js';

/** Policy files a server folder holds: one file per this many resource types (5 policies each). */
const TYPES_PER_FILE = 20;

export type PolicyVariant = 'plain' | 'token';

/** The workload's Gavel policies, split into files; `plain` reads scopes from the subject. */
export function gavelPolicyFiles(policies: number, variant: PolicyVariant): Map<string, string> {
  let text = gavelPolicies(policies);
  if (variant === 'plain') {
    const from = 'token.scope contains';
    const count = text.split(from).length - 1;
    // Three permits per type read the scope: a drift in workload.ts must not go unnoticed here.
    if (count !== 3 * typeCount(policies)) throw new Error(`expected ${3 * typeCount(policies)} \`${from}\` in the workload's policies, found ${count}`);
    text = text.replaceAll(from, 'subject.scopes contains');
  }
  const lines = text.trim().split('\n');
  const files = new Map<string, string>();
  const perFile = 5 * TYPES_PER_FILE;
  for (let i = 0; i * perFile < lines.length; i++) {
    files.set(`bench-${String(i).padStart(3, '0')}.gavel`, lines.slice(i * perFile, (i + 1) * perFile).join('\n') + '\n');
  }
  return files;
}

export interface AuthzenBody {
  subject: { type: string; id: string; properties: Record<string, unknown> };
  action: { name: string };
  resource: { type: string; id: string; properties: Record<string, unknown> };
  context: Record<string, unknown>;
}

/** Scopes as a list on the subject (the `plain` policies). */
export function plainBody(r: BenchRequest): AuthzenBody {
  return {
    subject: { type: r.subject.type, id: r.subject.id, properties: { ...r.subject.properties, scopes: scopesOf(r) } },
    action: { name: r.action.name },
    resource: { type: r.resource.type, id: r.resource.id, properties: { ...r.resource.properties } },
    context: { ...r.context },
  };
}

/** The end user's JWT in `context.token`, its `scope` claim carrying the scopes (the `token` policies). */
export function tokenBody(r: BenchRequest, jwt: string): AuthzenBody {
  return {
    subject: { type: r.subject.type, id: r.subject.id, properties: { ...r.subject.properties } },
    action: { name: r.action.name },
    resource: { type: r.resource.type, id: r.resource.id, properties: { ...r.resource.properties } },
    context: { ...r.context, token: jwt },
  };
}

export function cerbosBody(r: BenchRequest, i: number): string {
  return JSON.stringify(toCerbosCheck(r, `bench-${i}`));
}

export function scopesOf(r: BenchRequest): string[] {
  return r.token.scope.split(' ').filter((s) => s !== '');
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** `decision` of an AuthZEN answer; throws on anything else (a token error is a bench bug here). */
export function authzenDecision(answer: unknown): boolean {
  if (!isObject(answer) || typeof answer.decision !== 'boolean') throw new Error(`not an AuthZEN decision: ${JSON.stringify(answer)}`);
  const context = answer.context;
  if (isObject(context) && context.token_error !== undefined) throw new Error(`the token did not verify: ${JSON.stringify(context.token_error)}`);
  if (isObject(context) && Array.isArray(context.errors) && context.errors.length > 0) throw new Error(`policy errors: ${JSON.stringify(context.errors)}`);
  return answer.decision;
}

/** The one action's effect in a Cerbos CheckResources answer (JSON). */
export function cerbosDecision(answer: unknown, action: string): boolean {
  const results = isObject(answer) ? answer.results : undefined;
  const first: unknown = Array.isArray(results) ? results[0] : undefined;
  const actions = isObject(first) ? first.actions : undefined;
  const effect = isObject(actions) ? actions[action] : undefined;
  if (effect !== 'EFFECT_ALLOW' && effect !== 'EFFECT_DENY') throw new Error(`not a Cerbos answer for \`${action}\`: ${JSON.stringify(answer)}`);
  return effect === 'EFFECT_ALLOW';
}

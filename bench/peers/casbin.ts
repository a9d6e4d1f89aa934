/**
 * casbin (node-casbin) in its ABAC style: the model (workload.ts `CASBIN_MODEL`) has policy
 * lines `p, <type>, <action regex>, <rule>, <allow|deny>` and the matcher
 * `r.obj.type == p.obj && regexMatch(r.act, p.act) && eval(p.rule)`, with deny overriding
 * allow. The policy lines are loaded from a CSV string through `StringAdapter` into an
 * enforcer built by `newEnforcer(newModelFromString(model), adapter)`; decisions use
 * `enforceSync`. casbin walks every policy line on every request (it has no index) and
 * compiles each distinct `eval` expression lazily on first use (then caches it), so the first
 * decision after loading is reported on its own.
 *
 * Request conversion (outside the timed region): `sub` is `{ id, role, department }`, `obj`
 * `{ type, id, department, owner }`, `act` the action name, `ctx` the context and `tok`
 * `{ scopes }` with the token's scopes split once into an array (the rules call
 * `scopes.includes(...)`); the address is matched with casbin's built-in `ipMatch`.
 */
import { newEnforcer, newModelFromString, StringAdapter, type Enforcer } from 'casbin';
import { CASBIN_MODEL, type BenchRequest, type Engine } from '../workload.js';

export interface CasbinRequest {
  sub: { id: string; role: string; department: string };
  obj: { type: string; id: string; department: string; owner: string };
  act: string;
  ctx: { risk_score: number; ip: string };
  tok: { scopes: string[] };
}

export function toCasbin(r: BenchRequest): CasbinRequest {
  return {
    sub: { id: r.subject.id, role: r.subject.properties.role, department: r.subject.properties.department },
    obj: { type: r.resource.type, id: r.resource.id, department: r.resource.properties.department, owner: r.resource.properties.owner },
    act: r.action.name,
    ctx: { risk_score: r.context.risk_score, ip: r.context.ip },
    tok: { scopes: r.token.scope.split(' ').filter((s) => s !== '') },
  };
}

export async function casbin(policyCsv: string): Promise<Engine<CasbinRequest>> {
  const enforcer: Enforcer = await newEnforcer(newModelFromString(CASBIN_MODEL), new StringAdapter(policyCsv));
  return {
    name: 'casbin',
    prepare: toCasbin,
    // enforceSync is typed `(...rvals: any[]) => boolean`; the request parts are plain objects.
    decide: (q) => enforcer.enforceSync(q.sub, q.obj, q.act, q.ctx, q.tok),
  };
}

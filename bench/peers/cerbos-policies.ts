/**
 * The workload of workload.ts as Cerbos resource policies (YAML), one file per resource type
 * `t<k>`, for the Cerbos server the HTTP and gRPC benchmarks run against.
 *
 * Cerbos has no `context` or `token` roots: what Gavel reads from `context` and from the
 * token travels as principal attributes (`department`, `scopes` as a list, `risk_score`,
 * `ip`); the role is the principal's one role. Rules, in the order of workload.ts:
 *   1. read/list for viewer and editor: same department and `"t<k>:read" in scopes`;
 *   2. update/delete for editor: `resource.attr.owner == principal.id` and `t<k>:write`;
 *   3. every action for admin with `t<k>:admin`;
 *   4. EFFECT_DENY for every role and action when `risk_score > 80`;
 *   5. EFFECT_DENY for create/update/delete unless the address is in 10.0.0.0/8
 *      (CEL `inIPAddrRange`).
 * Cerbos lets a matching DENY override any ALLOW, and denies a kind no policy names, as
 * the reference does.
 */
import type { BenchRequest } from '../workload.js';
import { typeCount } from '../workload.js';

/** One resource policy; conditions are plain CEL over `request.principal` and `request.resource`. */
export function cerbosPolicy(k: number): string {
  const t = `t${k}`;
  const p = 'request.principal';
  return `apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: ${t}
  rules:
    - actions: [read, list]
      effect: EFFECT_ALLOW
      roles: [viewer, editor]
      condition:
        match:
          expr: ${p}.attr.department == request.resource.attr.department && "${t}:read" in ${p}.attr.scopes
    - actions: [update, delete]
      effect: EFFECT_ALLOW
      roles: [editor]
      condition:
        match:
          expr: request.resource.attr.owner == ${p}.id && "${t}:write" in ${p}.attr.scopes
    - actions: ["*"]
      effect: EFFECT_ALLOW
      roles: [admin]
      condition:
        match:
          expr: '"${t}:admin" in ${p}.attr.scopes'
    - actions: ["*"]
      effect: EFFECT_DENY
      roles: ["*"]
      condition:
        match:
          expr: ${p}.attr.risk_score > 80.0
    - actions: [create, update, delete]
      effect: EFFECT_DENY
      roles: ["*"]
      condition:
        match:
          expr: '!${p}.attr.ip.inIPAddrRange("10.0.0.0/8")'
`;
}

/** File name → YAML for the N-policy workload (5 rules per type, one file per type). */
export function cerbosPolicies(policies: number): Map<string, string> {
  const files = new Map<string, string>();
  for (let k = 0; k < typeCount(policies); k++) files.set(`t${k}.yaml`, cerbosPolicy(k));
  return files;
}

/** The CheckResources input of one bench request, as Cerbos' JSON API and its protobuf take it. */
export interface CerbosCheck {
  requestId: string;
  principal: { id: string; roles: string[]; attr: { department: string; scopes: string[]; risk_score: number; ip: string } };
  resources: { actions: string[]; resource: { kind: string; id: string; attr: { department: string; owner: string } } }[];
}

export function toCerbosCheck(r: BenchRequest, requestId: string): CerbosCheck {
  return {
    requestId,
    principal: {
      id: r.subject.id,
      roles: [r.subject.properties.role],
      attr: {
        department: r.subject.properties.department,
        scopes: r.token.scope.split(' ').filter((s) => s !== ''),
        risk_score: r.context.risk_score,
        ip: r.context.ip,
      },
    },
    resources: [{ actions: [r.action.name], resource: { kind: r.resource.type, id: r.resource.id, attr: { ...r.resource.properties } } }],
  };
}

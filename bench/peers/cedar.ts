/**
 * Cedar through @cedar-policy/cedar-wasm (the `nodejs` build: the wasm module is compiled
 * synchronously when this file is imported, so that cost is not part of any load time).
 *
 * Two ways to call it, both measured:
 * - `cedar` (pre-parsed): `preparsePolicySet(id, { staticPolicies: text })` once, then
 *   `statefulIsAuthorized({ preparsedPolicySetId: id, ... })` per request. Policies are parsed
 *   once and kept in the wasm module's thread-local cache; each call still serialises its
 *   request and entities into wasm.
 * - `cedar-stateless`: `isAuthorized({ policies: { staticPolicies: text }, ... })` per
 *   request, the stateless API, which takes the policy set's text (or JSON) and parses it on
 *   every call.
 *
 * Request conversion (done outside the timed region, in `prepare`): principal `User::"<id>"`
 * with `role` and `department`; resource `<type>::"<id>"` with `department` and `owner` as an
 * entity reference to a `User`; action `Action::"<name>"`; context `{ risk_score, ip, scopes }`
 * with the address as an `ipaddr` extension value and the token's scopes as a set.
 */
import {
  isAuthorized,
  preparsePolicySet,
  statefulIsAuthorized,
  getCedarVersion,
  type AuthorizationAnswer,
  type AuthorizationCall,
  type StatefulAuthorizationCall,
} from '@cedar-policy/cedar-wasm/nodejs';
import type { BenchRequest, Engine } from '../workload.js';

export const cedarVersion = getCedarVersion();

type CedarRequest = Omit<AuthorizationCall, 'policies'>;

export function toCedar(r: BenchRequest): CedarRequest {
  const principal = { type: 'User', id: r.subject.id };
  const resource = { type: r.resource.type, id: r.resource.id };
  return {
    principal,
    action: { type: 'Action', id: r.action.name },
    resource,
    context: {
      risk_score: r.context.risk_score,
      ip: { __extn: { fn: 'ip', arg: r.context.ip } },
      scopes: r.token.scope.split(' ').filter((s) => s !== ''),
    },
    entities: [
      { uid: principal, attrs: { role: r.subject.properties.role, department: r.subject.properties.department }, parents: [] },
      {
        uid: resource,
        attrs: { department: r.resource.properties.department, owner: { __entity: { type: 'User', id: r.resource.properties.owner } } },
        parents: [],
      },
    ],
  };
}

function allowed(answer: AuthorizationAnswer): boolean {
  if (answer.type === 'failure') throw new Error(`cedar: ${answer.errors.map((e) => e.message).join('; ')}`);
  const errors = answer.response.diagnostics.errors;
  if (errors.length > 0) throw new Error(`cedar: policy evaluation errors: ${errors.map((e) => `${e.policyId}: ${e.error.message}`).join('; ')}`);
  return answer.response.decision === 'allow';
}

let sets = 0;

/** Pre-parses the policy text once; decides with `statefulIsAuthorized`. */
export function cedarPreparsed(policyText: string): Engine<StatefulAuthorizationCall> {
  const id = `bench-${++sets}`;
  const parsed = preparsePolicySet(id, { staticPolicies: policyText });
  if (parsed.type === 'failure') throw new Error(`cedar: ${parsed.errors.map((e) => e.message).join('; ')}`);
  return {
    name: 'cedar',
    prepare: (r) => ({ ...toCedar(r), preparsedPolicySetId: id }),
    decide: (call) => allowed(statefulIsAuthorized(call)),
  };
}

/** The stateless API: the policy text goes with every call and is parsed on every call. */
export function cedarStateless(policyText: string): Engine<AuthorizationCall> {
  return {
    name: 'cedar-stateless',
    prepare: (r) => ({ ...toCedar(r), policies: { staticPolicies: policyText } }),
    decide: (call) => allowed(isAuthorized(call)),
  };
}

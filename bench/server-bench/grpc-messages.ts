/**
 * The gRPC benchmark's messages: the workload as `gavel.v1.DecideRequest` and Cerbos
 * `CheckResourcesRequest`, an Envoy ext_authz `CheckRequest` mix for Gavel's Envoy
 * service, and readers of each answer's decision. Messages are encoded once, here, so the
 * load generator only sends bytes.
 *
 * The Envoy mix: Envoy asks about HTTP calls, which Gavel models as action = method,
 * resource = the route, token = the verified bearer token (docs/gateways.md); the workload's
 * attribute rules have no such shape, so three route policies of their own (ENVOY_POLICIES,
 * on resource type `route`, which no workload request names) decide them, and each
 * request of the engine mix becomes a call: its action as the method, its resource id in
 * the path, its address as Envoy's downstream peer, and a bearer token whose scopes follow
 * the subject's role.
 */
import { fromBinary, fromJson, toBinary, type JsonObject } from '@bufbuild/protobuf';
import { CheckResourcesRequestSchema } from '@cerbos/api/cerbos/request/v1/request_pb';
import { CheckResourcesResponseSchema } from '@cerbos/api/cerbos/response/v1/response_pb';
import { Effect } from '@cerbos/api/cerbos/effect/v1/effect_pb';
// The built protobuf-es code, as `gavel serve` itself uses it.
import { CheckRequestSchema, CheckResponseSchema } from '../../dist/gen/proto/envoy/service/auth/v3/external_auth_pb.js';
import { DecideRequestSchema, DecideResponseSchema } from '../../dist/gen/proto/gavel/v1/decision_pb.js';
import { inTenSlash8, type BenchRequest } from '../workload.js';
import { toCerbosCheck } from '../peers/cerbos-policies.js';
import { plainBody } from './bodies.js';

export const PATHS = {
  decide: '/gavel.v1.DecisionService/Decide',
  envoy: '/envoy.service.auth.v3.Authorization/Check',
  cerbos: '/cerbos.svc.v1.CerbosService/CheckResources',
} as const;

const base64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

/** Same request as the HTTP `plain` body: scopes as a list on the subject. */
export function decideMessage(r: BenchRequest): Uint8Array {
  return toBinary(DecideRequestSchema, fromJson(DecideRequestSchema, plainBody(r) as unknown as JsonObject));
}

export function decideAnswer(bytes: Uint8Array): boolean {
  return fromBinary(DecideResponseSchema, bytes).decision;
}

export function cerbosMessage(r: BenchRequest, i: number): Uint8Array {
  return toBinary(CheckResourcesRequestSchema, fromJson(CheckResourcesRequestSchema, toCerbosCheck(r, `bench-${i}`) as unknown as JsonObject));
}

export function cerbosAnswer(bytes: Uint8Array, action: string): boolean {
  const effect = fromBinary(CheckResourcesResponseSchema, bytes).results[0]?.actions[action];
  if (effect !== Effect.ALLOW && effect !== Effect.DENY) throw new Error(`cerbos: no effect for \`${action}\``);
  return effect === Effect.ALLOW;
}

// ---------------------------------------------------------------------------------------
// Envoy ext_authz.

export const ENVOY_POLICIES = `permit (action in ["GET", "HEAD"], resource.type == "route") when { resource.path like "/docs/**" && token.scope contains "docs:read" };
permit (action in ["POST", "PUT", "DELETE"], resource.type == "route") when { resource.path like "/docs/**" && token.scope contains "docs:write" };
forbid (action in ["POST", "PUT", "DELETE"], resource.type == "route") unless { context.ip in cidr("10.0.0.0/8") };
`;

const METHODS = { read: 'GET', list: 'GET', create: 'POST', update: 'PUT', delete: 'DELETE' } as const;
/** Three distinct tokens in all: the gateway's steady state is a cache hit. */
const SCOPES = { viewer: 'docs:read', editor: 'docs:read docs:write', admin: 'docs:read docs:write', auditor: 'openid profile' } as const;

export interface EnvoyCall {
  method: string;
  path: string;
  ip: string;
  scope: string;
}

export function envoyCall(r: BenchRequest, i: number): EnvoyCall {
  // Every tenth call is for a route no policy permits.
  const path = i % 10 === 0 ? `/admin/${r.resource.id}` : r.action.name === 'list' ? '/docs/' : `/docs/${r.resource.id}`;
  return { method: METHODS[r.action.name], path, ip: r.context.ip, scope: SCOPES[r.subject.properties.role] };
}

/** The route policies' meaning in plain JS. */
export function envoyReference(c: EnvoyCall): boolean {
  if (!c.path.startsWith('/docs/')) return false;
  const write = c.method === 'POST' || c.method === 'PUT' || c.method === 'DELETE';
  if (write && !inTenSlash8(c.ip)) return false;
  return c.scope.split(' ').includes(write ? 'docs:write' : 'docs:read');
}

/** What Envoy's ext_authz filter sends: the HTTP request's attributes, a few usual headers, the peer. */
export function envoyMessage(c: EnvoyCall, token: string, i: number): Uint8Array {
  const json = {
    attributes: {
      source: { address: { socketAddress: { address: c.ip, portValue: 40_000 + (i % 20_000) } } },
      destination: { address: { socketAddress: { address: '10.0.0.2', portValue: 8080 } } },
      request: {
        http: {
          id: `bench-${i}`,
          method: c.method,
          path: c.path,
          host: 'api.example.test',
          scheme: 'https',
          protocol: 'HTTP/1.1',
          headers: {
            ':authority': 'api.example.test',
            ':method': c.method,
            ':path': c.path,
            accept: 'application/json',
            authorization: `Bearer ${token}`,
            'user-agent': 'bench/1.0',
            'x-forwarded-proto': 'https',
            'x-request-id': `bench-${i}`,
          },
        },
      },
    },
  };
  return toBinary(CheckRequestSchema, fromJson(CheckRequestSchema, json));
}

/** Allowed when Envoy's answer carries status OK (0); denials are 7 or 16. */
export function envoyAnswer(bytes: Uint8Array): boolean {
  return (fromBinary(CheckResponseSchema, bytes).status?.code ?? -1) === 0;
}

export const encoded = (messages: readonly Uint8Array[]): string[] => messages.map(base64);

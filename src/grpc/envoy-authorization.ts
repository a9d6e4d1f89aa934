import { create } from '@bufbuild/protobuf';
import { HeaderValueOption_HeaderAppendAction } from '../gen/proto/envoy/config/core/v3/base_pb.js';
import { CheckRequestSchema, CheckResponseSchema, type AttributeContext, type AttributeContext_HttpRequest, type AttributeContext_Peer } from '../gen/proto/envoy/service/auth/v3/external_auth_pb.js';
import { gatewayRequest, gatewayVerdict, headerValue, RETRY_AFTER_S, type EnvoyAttributes, type EnvoyPeer } from '../engine/gateway.js';
import { routePath } from '../engine/route-path.js';
import type { ServerLog } from '../server/server-log.js';
import { forwardedProto } from '../http/forwarded-proto.js';
import { verifyPresented } from '../tokens/dpop.js';
import type { LivePolicySet } from '../engine/live-set.js';
import type { Decider } from '../server/decider.js';
import { requestIdFrom } from '../server/request-id.js';
import type { ForwardAuthOptions } from '../http/routes/forward-auth.js';
import { GrpcError, unary } from './service-definition.js';
import { status } from '@grpc/grpc-js';
import { peerAddress } from './decision-service.js';
import { canonical, type TrustedProxies } from '../signals/client-address.js';

/** google.rpc.Code values Envoy reads from CheckResponse.status. */
const Code = { OK: 0, INVALID_ARGUMENT: 3, PERMISSION_DENIED: 7, UNAVAILABLE: 14, UNAUTHENTICATED: 16 } as const;

const header = (key: string, value: string) => ({ header: { key, value }, appendAction: HeaderValueOption_HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD });

/**
 * What Envoy says of the call besides the HTTP request, for policies as `context.envoy`: the
 * route's `context_extensions` (per-route settings of the ext_authz filter, never sent
 * upstream), the peers' `principal` (from the certificates Envoy verified: a URI SAN such as
 * a SPIFFE ID, else a DNS SAN, else the subject), `service` and `labels` (not identities:
 * Envoy takes `source.service` from a request header; docs/gateways.md), and the SNI
 * (`include_tls_session`). Members Envoy left empty are
 * absent, as in its JSON, so `context.envoy.source has principal` tells whether the client
 * presented a certificate. `undefined` when it said none of these.
 *
 * Like the rest of a CheckRequest they are the caller's word: a caller that is not Envoy
 * decides only for itself. The source address is the exception handled apart, since
 * velocity counters and IP reputation are kept under it (`trusted_proxies`).
 */
function envoyAttributes(a: AttributeContext): EnvoyAttributes | undefined {
  const out: EnvoyAttributes = {};
  if (Object.keys(a.contextExtensions).length > 0) out.context_extensions = { ...a.contextExtensions };
  const source = a.source === undefined ? undefined : envoyPeer(a.source);
  if (source !== undefined) out.source = source;
  const destination = a.destination === undefined ? undefined : envoyPeer(a.destination);
  if (destination !== undefined) out.destination = destination;
  if (a.tlsSession !== undefined && a.tlsSession.sni !== '') out.tls_session = { sni: a.tlsSession.sni };
  return Object.keys(out).length > 0 ? out : undefined;
}

function envoyPeer(p: AttributeContext_Peer): EnvoyPeer | undefined {
  const out: EnvoyPeer = {};
  if (p.principal !== '') out.principal = p.principal;
  if (p.service !== '') out.service = p.service;
  if (Object.keys(p.labels).length > 0) out.labels = { ...p.labels };
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * The HTTP request's headers, from `headers` or — with `encode_raw_headers` — `header_map`,
 * whose repeated keys are joined as `headers` would have them. A raw value that is not UTF-8
 * (a Latin-1 `Referer` or `Cookie`, which HTTP allows and Envoy passes on as bytes there) has
 * its bad bytes replaced by U+FFFD, as Envoy sanitises such values into `headers` without
 * `encode_raw_headers`: the same request is decided the same way in both modes.
 */
function requestHeaders(http: AttributeContext_HttpRequest): Record<string, string> {
  if (http.headerMap === undefined || http.headerMap.headers.length === 0) return http.headers;
  const joined: Record<string, string> = {};
  for (const h of http.headerMap.headers) {
    const key = h.key.toLowerCase();
    const value = h.rawValue.length > 0 ? utf8.decode(h.rawValue) : h.value;
    joined[key] = Object.hasOwn(joined, key) ? `${joined[key]},${value}` : value;
  }
  return joined;
}
// ignoreBOM: a value starting with EF BB BF is decided with those bytes, as the upstream gets it.
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

const denied = (code: number, httpStatus: number, reason: string, headers: { key: string; value: string }[] = []) =>
  create(CheckResponseSchema, {
    status: { code, message: reason },
    httpResponse: { case: 'deniedResponse', value: { status: { code: httpStatus }, headers: headers.map((h) => header(h.key, h.value)), body: reason } },
  });

/**
 * What Check answers a caller without a valid client key: a denial, not a gRPC error — Envoy
 * counts any gRPC error as the service failing, which `failure_mode_allow` lets through.
 */
export const refusedCaller = () => denied(Code.PERMISSION_DENIED, 403, 'the authorization service refused the proxy (client key)');

/** What Check answers a CheckRequest it cannot decode (a header that is not UTF-8, say): a 400 denial, for the same reason. */
export const undecodableCheck = (reason: string) => denied(Code.INVALID_ARGUMENT, 400, `the check request could not be read: ${reason}`);

/**
 * envoy.service.auth.v3.Authorization/Check: Envoy's ext_authz filter asks about each HTTP
 * request. Allowed: OK, with headers for the upstream (overwriting any the client sent).
 * Denied: UNAUTHENTICATED with a 401 and a Bearer challenge, or PERMISSION_DENIED with a
 * 403 and the reason — Envoy sends `denied_response` to the client as is. Nothing is
 * answered with a gRPC error that a decision could answer instead: Envoy's
 * `failure_mode_allow` would let such a request through.
 */
export function envoyAuthorization(policies: LivePolicySet, decider: Decider, options: ForwardAuthOptions, callers: TrustedProxies, proxies: TrustedProxies, log: ServerLog) {
  // Callers told once that the client address they send is not believed (an Envoy not yet in trusted_proxies).
  const told = new Set<string>();
  return {
    check: unary<typeof CheckRequestSchema, typeof CheckResponseSchema>(async (r, info) => {
      const attributes = r.attributes;
      const http = attributes?.request?.http;
      // The network (TCP) filter, or a malformed call: there is no HTTP request to decide on.
      if (attributes === undefined || http === undefined) return denied(Code.PERMISSION_DENIED, 403, 'the check request has no HTTP request attributes');
      const at = http.path.indexOf('?');
      const route = routePath(at < 0 ? http.path : http.path.slice(0, at));
      // Decided on a path the upstream may resolve differently, a permit could cover what it serves.
      if ('problem' in route) return denied(Code.PERMISSION_DENIED, 400, `path: ${route.problem}`);
      const headers = requestHeaders(http);
      // A CheckRequest's `source` is whatever its sender wrote: it is Envoy's word for the
      // client only when the sender is a trusted proxy (`trusted_proxies`), as X-Forwarded-For
      // is over HTTP. From anyone else, the client is the sender itself — else any caller of
      // Check could pick the address its risk signals and velocity counters are kept under.
      const caller = peerAddress(info.peer) ?? '';
      const source = attributes.source?.address?.address;
      const trustedSender = caller !== '' && callers.trusts(caller);
      const claimed = source?.case === 'socketAddress' ? source.value.address : '';
      if (!trustedSender && claimed !== '' && canonical(claimed) !== caller && told.size < 100 && !told.has(caller)) {
        told.add(caller);
        log.warn(`Envoy Check calls from ${caller || 'a caller without an address'} name the client (${claimed}), which is not believed: the client address is taken to be the caller's own; if that is Envoy, add its address to trusted_proxies`);
      }
      const peer = !trustedSender ? caller : claimed;
      // Envoy sends the address of the connection it accepted (the last hop), not one it
      // resolved from X-Forwarded-For: behind a trusted load balancer, the client is in the header.
      const ip = peer === '' ? '' : !trustedSender ? peer : proxies.clientAddress(peer, headers[proxies.header] === undefined ? [] : [headers[proxies.header]!]);
      // The scheme the client used (policies' resource.scheme, and what a DPoP proof's htu
      // names): behind a balancer that ends TLS, Envoy's own is http, and the balancer says
      // https in X-Forwarded-Proto.
      const said = trustedSender && peer !== '' && proxies.trusts(canonical(peer) ?? peer) ? forwardedProto(headers['x-forwarded-proto']) : null;
      const scheme = said ?? (http.scheme.toLowerCase() || 'http');
      const call = {
        method: http.method,
        path: route.path,
        query: at < 0 ? '' : http.path.slice(at + 1),
        host: http.host,
        scheme,
        headers,
        ip,
        envoy: envoyAttributes(attributes),
      };
      const original = { method: call.method, url: `${scheme}://${call.host}${at < 0 ? http.path : http.path.slice(0, at)}` };
      const verified = await verifyPresented(headers.authorization, headers.dpop, original, options.verifyToken, options.replay);
      // Envoy gave up while the token's keys were fetched (its timeout, 200 ms by default) and
      // applied its failure mode: a decision now would be logged and counted, never enforced.
      if (info.cancelled()) throw new GrpcError(status.CANCELLED, 'the call was cancelled, or its deadline passed, before it was decided');
      // Envoy's `id` is its stream id; the request id its access log shows is X-Request-ID.
      const id = requestIdFrom(headers['x-request-id'] || http.id);
      const d = decider.decide('envoy', id, policies.current, gatewayRequest(call, verified?.ok ? verified.claims : undefined, options.headers, options.subjectType), {}, { address: canonical(ip) });
      const verdict = gatewayVerdict(d, verified, options.responseHeaders, headers.authorization);
      switch (verdict.kind) {
        case 'allow':
          return create(CheckResponseSchema, {
            status: { code: Code.OK },
            httpResponse: { case: 'okResponse', value: { headers: Object.entries(verdict.headers).map(([k, v]) => header(k, v)) } },
          });
        case 'unauthenticated':
          return denied(Code.UNAUTHENTICATED, 401, 'authentication required', [{ key: 'www-authenticate', value: verdict.challenge }]);
        case 'unavailable':
          // A denial Envoy passes on (503), not a gRPC error: failure_mode_allow must not let it through.
          return denied(Code.UNAVAILABLE, 503, verdict.reason, [{ key: 'retry-after', value: RETRY_AFTER_S }, { key: 'x-gavel-reason', value: headerValue(verdict.reason) }]);
        case 'forbidden':
          return denied(Code.PERMISSION_DENIED, 403, verdict.reason, [{ key: 'x-gavel-reason', value: headerValue(verdict.reason) }]);
      }
    }, log),
  };
}

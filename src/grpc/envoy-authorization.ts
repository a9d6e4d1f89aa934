import { create } from '@bufbuild/protobuf';
import { randomUUID } from 'node:crypto';
import { HeaderValueOption_HeaderAppendAction } from '../gen/proto/envoy/config/core/v3/base_pb.js';
import { CheckRequestSchema, CheckResponseSchema } from '../gen/proto/envoy/service/auth/v3/external_auth_pb.js';
import { gatewayRequest, gatewayVerdict } from '../engine/gateway.js';
import { verifyPresented } from '../tokens/dpop.js';
import type { LivePolicySet } from '../engine/live-set.js';
import type { Decider } from '../server/decider.js';
import type { ForwardAuthOptions } from '../http/routes/forward-auth.js';
import { unary } from './service-definition.js';
import { canonical } from '../signals/client-address.js';

/** google.rpc.Code values Envoy reads from CheckResponse.status. */
const Code = { OK: 0, PERMISSION_DENIED: 7, UNAUTHENTICATED: 16 } as const;

const header = (key: string, value: string) => ({ header: { key, value }, appendAction: HeaderValueOption_HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD });

/**
 * envoy.service.auth.v3.Authorization/Check: Envoy's ext_authz filter asks about each HTTP
 * request. Allowed: OK, with headers for the upstream (overwriting any the client sent).
 * Denied: UNAUTHENTICATED with a 401 and a Bearer challenge, or PERMISSION_DENIED with a
 * 403 and the reason — Envoy sends `denied_response` to the client as is.
 */
export function envoyAuthorization(policies: LivePolicySet, decider: Decider, options: ForwardAuthOptions) {
  return {
    check: unary<typeof CheckRequestSchema, typeof CheckResponseSchema>(async (r) => {
      const http = r.attributes?.request?.http;
      const path = http?.path ?? '';
      const at = path.indexOf('?');
      const source = r.attributes?.source?.address?.address;
      const headers = http?.headers ?? {};
      const call = {
        method: http?.method ?? '',
        path: at < 0 ? path : path.slice(0, at),
        query: at < 0 ? '' : path.slice(at + 1),
        host: http?.host ?? '',
        headers,
        // Envoy reports the downstream peer it saw: the client's address, not a header's.
        ip: source?.case === 'socketAddress' ? (canonical(source.value.address) ?? source.value.address) : '',
      };
      const original = { method: call.method, url: `${http?.scheme || 'http'}://${call.host}${call.path}` };
      const verified = await verifyPresented(headers.authorization, headers.dpop, original, options.verifyToken, options.replay);
      // Envoy resolved the downstream address itself (its own xff_num_trusted_hops): take it as is.
      const d = decider.decide('envoy', http?.id || randomUUID(), policies.current, gatewayRequest(call, verified?.ok ? verified.claims : undefined, options.headers), {}, { address: canonical(call.ip) });
      const verdict = gatewayVerdict(d, verified, options.responseHeaders);
      switch (verdict.kind) {
        case 'allow':
          return create(CheckResponseSchema, {
            status: { code: Code.OK },
            httpResponse: { case: 'okResponse', value: { headers: Object.entries(verdict.headers).map(([k, v]) => header(k, v)) } },
          });
        case 'unauthenticated':
          return create(CheckResponseSchema, {
            status: { code: Code.UNAUTHENTICATED, message: 'authentication required' },
            httpResponse: { case: 'deniedResponse', value: { status: { code: 401 }, headers: [header('www-authenticate', verdict.challenge)], body: 'authentication required' } },
          });
        case 'forbidden':
          return create(CheckResponseSchema, {
            status: { code: Code.PERMISSION_DENIED, message: verdict.reason },
            httpResponse: { case: 'deniedResponse', value: { status: { code: 403 }, headers: [header('x-gavel-reason', verdict.reason)], body: verdict.reason } },
          });
      }
    }),
  };
}

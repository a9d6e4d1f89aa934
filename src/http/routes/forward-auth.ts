import type { FastifyInstance, FastifyRequest } from 'fastify';
import { gatewayRequest, gatewayVerdict } from '../../engine/gateway.js';
import { verifyPresented, type ReplayCache } from '../../tokens/dpop.js';
import type { LivePolicySet } from '../../engine/live-set.js';
import type { TokenResult } from '../../tokens/verify-token.js';
import type { Decider } from '../../server/decider.js';
import type { OriginOf } from '../origin.js';

export interface ForwardAuthOptions {
  verifyToken: (token: string) => Promise<TokenResult>;
  /** DPoP proofs seen, shared by every interface that checks them. */
  replay: ReplayCache;
  /** Request headers handed to policies as `context.headers`, lower-case. */
  headers: readonly string[];
  /** Response headers on allow, each from a claim: always all of them (Caddy 2.6 copies placeholders otherwise). */
  responseHeaders: Readonly<Record<string, string>>;
}

function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Forward-auth for gateways that decide on the status of an auth subrequest (nginx
 * `auth_request`, Caddy `forward_auth`, Traefik `ForwardAuth`): 200 allows, with headers
 * for the upstream; 401 with `WWW-Authenticate: Bearer` when the caller has no valid
 * token; 403 with the reason otherwise. The original call is read from `X-Original-*`
 * (nginx) or `X-Forwarded-*` (Caddy, Traefik); without its URI the answer is 400. A request
 * body, if any, is never read.
 */
export function forwardAuthRoutes(app: FastifyInstance, policies: LivePolicySet, decider: Decider, options: ForwardAuthOptions, origin: OriginOf): void {
  void app.register(async (scoped) => {
    // Gateways send no body, or (HAProxy's Lua client) a chunked one of any type: drain it, never parse it.
    scoped.removeAllContentTypeParsers();
    scoped.addContentTypeParser('*', (_request, payload, done) => {
      payload.resume();
      payload.on('end', () => done(null, undefined));
      payload.on('error', (err) => done(err, undefined));
    });
    scoped.all('/v1/forward-auth', async (request, reply) => {
      const uri = header(request, 'x-original-uri') ?? header(request, 'x-forwarded-uri');
      // Without it Gavel would decide on its own URL: a gateway configured so is told, not answered.
      if (uri === undefined) {
        return reply.status(400).send({ error: 'invalid_request', message: 'forward-auth decides on the original request: the gateway must send X-Original-URI (nginx: proxy_set_header X-Original-URI $request_uri) or X-Forwarded-Uri (Caddy, Traefik)' });
      }
      const from = origin(request);
      const at = uri.indexOf('?');
      // Every header, first value of each; gatewayRequest keeps the allow-listed ones, as for Envoy.
      const headers: Record<string, string> = {};
      for (const name of Object.keys(request.headers)) headers[name] = header(request, name) ?? '';
      const call = {
        method: header(request, 'x-original-method') ?? header(request, 'x-forwarded-method') ?? request.method,
        path: at < 0 ? uri : uri.slice(0, at),
        query: at < 0 ? '' : uri.slice(at + 1),
        host: header(request, 'x-original-host') ?? header(request, 'x-forwarded-host') ?? header(request, 'host') ?? '',
        headers,
        // The gateway's own address, unless it is a trusted proxy: then the client it forwarded.
        ip: from.address ?? '',
      };
      // The original request, for a DPoP proof's htm and htu.
      const original = { method: call.method, url: `${header(request, 'x-forwarded-proto') ?? 'http'}://${call.host}${call.path}` };
      const verified = await verifyPresented(header(request, 'authorization'), header(request, 'dpop'), original, options.verifyToken, options.replay);
      const d = decider.decide('forward_auth', request.id, policies.current, gatewayRequest(call, verified?.ok ? verified.claims : undefined, options.headers), {}, from);
      const verdict = gatewayVerdict(d, verified, options.responseHeaders);
      switch (verdict.kind) {
        case 'allow':
          return reply.status(200).headers(verdict.headers).send({ decision: true });
        case 'unauthenticated':
          return reply.status(401).header('www-authenticate', verdict.challenge).send({ decision: false, reason: 'authentication required' });
        case 'forbidden':
          return reply.status(403).header('x-gavel-reason', verdict.reason).send({ decision: false, reason: verdict.reason });
      }
    });
  });
}

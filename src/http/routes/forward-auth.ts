import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { LivePolicySet } from '../../engine/live-set.js';
import type { Request } from '../../language/eval/activation.js';
import type { TokenResult } from '../../tokens/verify-token.js';
import type { Decider } from '../decider.js';

export interface ForwardAuthOptions {
  verifyToken: (token: string) => Promise<TokenResult>;
  /** Request headers handed to policies as `context.headers`, lower-case. */
  headers: readonly string[];
  /** Response headers on allow, each from a claim: always all of them (Caddy 2.6 copies placeholders otherwise). */
  responseHeaders: Readonly<Record<string, string>>;
}

function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The original call, from the headers nginx (`X-Original-*`), Caddy and Traefik (`X-Forwarded-*`) send. */
function originalCall(request: FastifyRequest): { method: string; path: string; query: string; host: string } {
  const method = header(request, 'x-original-method') ?? header(request, 'x-forwarded-method') ?? request.method;
  const uri = header(request, 'x-original-uri') ?? header(request, 'x-forwarded-uri') ?? request.url;
  const at = uri.indexOf('?');
  const host = header(request, 'x-original-host') ?? header(request, 'x-forwarded-host') ?? header(request, 'host') ?? '';
  return { method: method.toUpperCase(), path: at < 0 ? uri : uri.slice(0, at), query: at < 0 ? '' : uri.slice(at + 1), host };
}

/** `Authorization: Bearer …` (RFC 6750 §2.1), or null when there is none. */
function bearer(request: FastifyRequest): string | null {
  const m = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(header(request, 'authorization') ?? '');
  return m === null ? null : m[1];
}

const quote = (s: string) => `"${s.replace(/["\\]/g, '')}"`;

/**
 * Forward-auth for gateways that decide on the status of an auth subrequest (nginx
 * `auth_request`, Caddy `forward_auth`, Traefik `ForwardAuth`): 200 allows, with headers
 * for the upstream; 401 with `WWW-Authenticate: Bearer` when the caller has no valid
 * token; 403 with the reason otherwise. The request body, if any, is never read.
 */
export function forwardAuthRoutes(app: FastifyInstance, policies: LivePolicySet, decider: Decider, options: ForwardAuthOptions): void {
  void app.register(async (scoped) => {
    // Gateways send no body, or (HAProxy's Lua client) a chunked one of any type: drain it, never parse it.
    scoped.removeAllContentTypeParsers();
    scoped.addContentTypeParser('*', (_request, payload, done) => {
      payload.resume();
      payload.on('end', () => done(null, undefined));
      payload.on('error', (err) => done(err, undefined));
    });
    scoped.all('/v1/forward-auth', async (request, reply) => {
      const call = originalCall(request);
      const token = bearer(request);
      const verified = token === null ? null : await options.verifyToken(token);
      const claims = verified?.ok ? verified.claims : undefined;
      const sub = typeof claims?.sub === 'string' ? claims.sub : typeof claims?.client_id === 'string' ? claims.client_id : '';
      const headers: Record<string, string> = {};
      for (const name of options.headers) {
        const v = header(request, name);
        if (v !== undefined) headers[name] = v;
      }
      const decisionRequest: Request = {
        subject: { type: claims === undefined ? 'anonymous' : claims.sub === undefined || claims.sub === claims.client_id ? 'client' : 'user', id: sub },
        action: { name: call.method },
        resource: { type: 'route', id: call.path, properties: { path: call.path, host: call.host, query: call.query } },
        context: { ip: request.socket.remoteAddress ?? '', headers, time: new Date().toISOString() },
        ...(claims === undefined ? {} : { token: claims }),
      };
      const d = decider.decide('forward_auth', request.id, policies.current, decisionRequest);
      if (d.decision) {
        for (const [name, claim] of Object.entries(options.responseHeaders)) {
          const v = claims?.[claim];
          reply.header(name, typeof v === 'string' || typeof v === 'number' ? String(v) : '');
        }
        return reply.status(200).send({ decision: true });
      }
      if (claims === undefined) {
        // RFC 6750 §3: no token → a bare challenge; a bad one → invalid_token with why.
        const challenge = verified === null ? 'Bearer' : `Bearer error="invalid_token", error_description=${quote(verified.ok ? '' : verified.reason)}`;
        return reply.status(401).header('www-authenticate', challenge).send({ decision: false, reason: 'authentication required' });
      }
      const reason = d.reasons[0] ?? 'denied by policy';
      return reply.status(403).header('x-gavel-reason', reason).send({ decision: false, reason });
    });
  });
}

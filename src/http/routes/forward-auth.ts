import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { forwardedProto } from '../forwarded-proto.js';
import { gatewayRequest, gatewayVerdict, headerValue, RETRY_AFTER_S, type SubjectType } from '../../engine/gateway.js';
import { verifyPresented, type ReplayCache } from '../../tokens/dpop.js';
import type { LivePolicySet } from '../../engine/live-set.js';
import type { VerifyToken } from '../../tokens/verify-token.js';
import type { Decider } from '../../server/decider.js';
import type { OriginOf } from '../origin.js';
import { decisionAnswers } from '../decision-answers.js';
import { routePath } from '../../engine/route-path.js';

export interface ForwardAuthOptions {
  verifyToken: VerifyToken;
  /** DPoP proofs seen, shared by every interface that checks them. */
  replay: ReplayCache;
  /** Request headers handed to policies as `context.headers`, lower-case. */
  headers: readonly string[];
  /** Response headers on allow, each from a claim: always all of them (Caddy 2.6 copies placeholders otherwise). */
  responseHeaders: Readonly<Record<string, string>>;
  /** The entity type of a verified token's subject (engine/gateway.ts); by default `client` when `sub` is the `client_id`, else `user`. */
  subjectType?: SubjectType;
}

/** Envoy's `path_prefix` for its HTTP ext_authz mode: the original path follows it. */
export const ENVOY_PREFIX = '/v1/forward-auth/envoy';

/**
 * Envoy takes any 5xx from its HTTP authorization service for the service failing, which
 * `failure_mode_allow` lets through: on its route every such answer — a token that cannot be
 * checked, a busy store, a server error — goes out as a denial, still saying to retry.
 */
async function neverFailToEnvoy(_request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  if (reply.statusCode < 500) return payload;
  void reply.status(403);
  if (!reply.hasHeader('retry-after')) void reply.header('retry-after', RETRY_AFTER_S);
  return payload;
}

function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Headers that say which request is decided, or with which credential. */
const ONCE: ReadonlySet<string> = new Set(['x-original-uri', 'x-original-method', 'x-original-host', 'x-forwarded-uri', 'x-forwarded-method', 'x-forwarded-host', 'host', 'authorization', 'dpop']);

/**
 * The first of those headers — or of the ones policies are handed (`forward_auth.headers`) —
 * the request carries more than once, or null. Node joins a repeated header's values with
 * `, ` (and keeps the first Host or Authorization), so the decision would be about a path,
 * credential or header value nobody sent — or about one of two, while the upstream acts on
 * the other: `X-Tenant: blocked` twice read as `blocked, blocked` passed a forbid on
 * `blocked`. A gateway that appends where it should set, or passes a client's second copy,
 * gets a 400 rather than a guess.
 */
function repeatedHeader(request: FastifyRequest, handed: ReadonlySet<string>): string | null {
  const raw = request.raw.rawHeaders;
  let seen: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (!ONCE.has(name) && !handed.has(name)) continue;
    seen ??= new Set();
    if (seen.has(name)) return name;
    seen.add(name);
  }
  return null;
}

type Family = { kind: 'one'; prefix: 'x-original' | 'x-forwarded'; uri: string } | { kind: 'none' } | { kind: 'both' };

/**
 * Which gateway's headers name the original request. Gateways pass the client's own headers
 * on to the auth request and overwrite only those they set — nginx X-Original-*, Caddy and
 * Traefik X-Forwarded-* — so a client can add the other family's, never remove the
 * gateway's. Reading one family whole (method and host with the URI), and refusing a request
 * carrying both URIs, leaves a client no header to decide its own request with.
 */
function originalFamily(request: FastifyRequest): Family {
  const original = header(request, 'x-original-uri');
  const forwarded = header(request, 'x-forwarded-uri');
  if (original !== undefined && forwarded !== undefined) return { kind: 'both' };
  if (original !== undefined) return { kind: 'one', prefix: 'x-original', uri: original };
  if (forwarded !== undefined) return { kind: 'one', prefix: 'x-forwarded', uri: forwarded };
  return { kind: 'none' };
}

/**
 * Forward-auth for gateways that decide on the status of an auth subrequest (nginx
 * `auth_request`, Caddy `forward_auth`, Traefik `ForwardAuth`): 200 allows, with headers
 * for the upstream; 401 with `WWW-Authenticate: Bearer` when the caller has no valid
 * token; 403 with the reason otherwise. The original call is read from `X-Original-*`
 * (nginx) or `X-Forwarded-*` (Caddy, Traefik), one family whole; without a URI, or with both,
 * the answer is 400. Envoy's HTTP ext_authz sends the original request under
 * `/v1/forward-auth/envoy`. A request body, if any, is never read.
 */
export function forwardAuthRoutes(app: FastifyInstance, policies: LivePolicySet, decider: Decider, options: ForwardAuthOptions, origin: OriginOf): void {
  const handed: ReadonlySet<string> = new Set(options.headers.map((h) => h.toLowerCase()));
  void app.register(async (scoped) => {
    // Gateways send no body, or (HAProxy's Lua client) a chunked one of any type: drain it, never parse it.
    scoped.removeAllContentTypeParsers();
    scoped.addContentTypeParser('*', (_request, payload, done) => {
      payload.resume();
      payload.on('end', () => done(null, undefined));
      payload.on('error', (err) => done(err, undefined));
    });
    scoped.all('/v1/forward-auth', async (request, reply) => {
      const family = originalFamily(request);
      if (family.kind === 'none') {
        // Without it Gavel would decide on its own URL: a gateway configured so is told, not answered.
        return reply.status(400).send({ error: 'invalid_request', message: 'forward-auth decides on the original request: the gateway must send X-Original-URI (nginx: proxy_set_header X-Original-URI $request_uri) or X-Forwarded-Uri (Caddy, Traefik)' });
      }
      if (family.kind === 'both') {
        return reply.status(400).send({ error: 'invalid_request', message: 'both X-Original-URI and X-Forwarded-Uri are present: one was sent by the client, and the original request is ambiguous' });
      }
      const { prefix, uri } = family;
      const call = { method: header(request, `${prefix}-method`) ?? request.method, uri, host: header(request, `${prefix}-host`) ?? header(request, 'host') ?? '', source: `${prefix}-uri` };
      return decideOriginal(request, reply, call);
    });
    // Envoy's HTTP ext_authz (`http_service` with `path_prefix: /v1/forward-auth/envoy`; Istio's
    // envoyExtAuthzHttp): the check is the original request itself — its method, its `:authority`
    // as Host, its `:path` and query after the prefix. Envoy always sends those and Authorization,
    // other headers only as `allowed_headers` says (ext_authz_http_impl.cc, toRequestMatchers).
    scoped.all(`${ENVOY_PREFIX}/*`, { onSend: neverFailToEnvoy }, async (request, reply) => {
      const url = request.raw.url ?? '';
      if (!url.startsWith(`${ENVOY_PREFIX}/`)) return reply.status(400).send({ error: 'invalid_request', message: `the request target must be the original path under ${ENVOY_PREFIX} (origin form)` });
      const call = { method: request.method, uri: url.slice(ENVOY_PREFIX.length), host: header(request, 'host') ?? '', source: `the path after ${ENVOY_PREFIX}` };
      return decideOriginal(request, reply, call);
    });

    /** Decides the original call and answers as the gateway expects. */
    async function decideOriginal(request: FastifyRequest, reply: FastifyReply, original: { method: string; uri: string; host: string; source: string }) {
      const repeated = repeatedHeader(request, handed);
      if (repeated !== null) return reply.status(400).send({ error: 'invalid_request', message: `the ${repeated} header is sent more than once: the request to decide is ambiguous` });
      const { uri } = original;
      const at = uri.indexOf('?');
      const route = routePath(at < 0 ? uri : uri.slice(0, at));
      // Decided on a path the upstream may resolve differently, a permit could cover what it serves.
      if ('problem' in route) return reply.status(400).send({ error: 'invalid_request', message: `${original.source}: ${route.problem}` });
      const from = origin(request);
      // Every header, first value of each; gatewayRequest keeps the allow-listed ones, as for Envoy.
      const headers: Record<string, string> = {};
      for (const name of Object.keys(request.headers)) headers[name] = header(request, name) ?? '';
      const call = {
        method: original.method,
        path: route.path,
        query: at < 0 ? '' : uri.slice(at + 1),
        host: original.host,
        // Caddy and Traefik send X-Forwarded-Proto; nginx when told to, Envoy when it is an allowed header (docs/gateways.md).
        scheme: forwardedProto(request.headers['x-forwarded-proto']) ?? 'http',
        headers,
        // The gateway's own address, unless it is a trusted proxy: then the client it forwarded.
        ip: from.address ?? '',
      };
      // The original request as the client wrote it, for a DPoP proof's htm and htu.
      const target = { method: call.method, url: `${call.scheme}://${call.host}${at < 0 ? uri : uri.slice(0, at)}` };
      const verified = await verifyPresented(header(request, 'authorization'), header(request, 'dpop'), target, options.verifyToken, options.replay);
      const d = decider.decide('forward_auth', request.id, policies.current, gatewayRequest(call, verified?.ok ? verified.claims : undefined, options.headers, options.subjectType), {}, from);
      const verdict = gatewayVerdict(d, verified, options.responseHeaders, header(request, 'authorization'));
      switch (verdict.kind) {
        case 'allow':
          return reply.status(200).headers(verdict.headers).send({ decision: true });
        case 'unauthenticated':
          decisionAnswers.add(reply);
          return reply.status(401).header('www-authenticate', verdict.challenge).send({ decision: false, reason: 'authentication required' });
        case 'unavailable':
          return reply.status(503).header('retry-after', RETRY_AFTER_S).header('x-gavel-reason', headerValue(verdict.reason)).send({ decision: false, reason: verdict.reason });
        case 'forbidden':
          decisionAnswers.add(reply);
          return reply.status(403).header('x-gavel-reason', headerValue(verdict.reason)).send({ decision: false, reason: verdict.reason });
      }
    }
  });
}

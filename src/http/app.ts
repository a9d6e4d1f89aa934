/**
 * The HTTP interface. `buildApp` wires routes over a live policy set and never listens:
 * `gavel serve` listens and handles signals; tests use `app.inject`.
 */
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import type { LivePolicySet } from '../engine/live-set.js';
import type { ReloadStatus } from '../engine/reload.js';
import type { DecisionLog } from '../engine/decision-log.js';
import type { Store } from '../store/store.js';
import { Metrics } from '../server/metrics.js';
import { Decider } from '../server/decider.js';
import type { LiveDirectory } from '../engine/directory.js';
import { errorHandler } from './error-handler.js';
import { ServerLog } from '../server/server-log.js';
import { tlsServerOptions, type TlsMaterial } from '../server/tls.js';
import { authzenRoutes } from './routes/authzen.js';
import { decideRoutes } from './routes/decide.js';
import { searchRoutes } from './routes/search.js';
import type { SearchLimits } from '../engine/search.js';
import { forwardAuthRoutes, type ForwardAuthOptions } from './routes/forward-auth.js';
import { adminRoutes, type AdminOptions } from './routes/admin.js';
import { ReplaySlot } from '../engine/replay-slot.js';
import { healthRoutes } from './routes/health.js';
import { requireClientKeys } from './client-auth.js';
import { originOf } from './origin.js';
import { decisionAnswers } from './decision-answers.js';
import type { LogTrouble } from './routes/health.js';
import { requestIdFrom } from '../server/request-id.js';
import { answerHeaders, clientError, CONNECTIONS_CHECK_MS, frameworkError, MAX_HEADER_BYTES, REQUEST_TIMEOUT_MS } from './client-errors.js';
import { AttemptLimit } from '../server/attempt-limit.js';
import { DEFAULT_REGISTRATIONS_PER_HOUR } from '../config.js';
import { ReplayCache } from '../tokens/dpop.js';
import { oauthRoutes } from './routes/oauth.js';
import type { Issuer } from '../issuer/issuer.js';
import { TrustedProxies } from '../signals/client-address.js';
import type { LiveIpLists } from '../signals/ip/live-ip-lists.js';
import { ClientKeys } from '../server/keys.js';
import { complianceRoutes } from './routes/compliance.js';
import { jsonBodies } from './json-body.js';
import { consoleRoutes, type ConsoleOptions } from '../console/routes.js';

export interface AppOptions {
  policies: LivePolicySet;
  /**
   * The URL clients reach this server at: the PDP identifier published in AuthZEN metadata
   * (asked at each request: `gavel serve` knows it once listening). Default: the address the
   * request arrived on — never the request's `Host`, which the caller chooses (AuthZEN's
   * identifier exists to prevent mix-ups, which an echoed Host would defeat).
   */
  baseUrl?: (() => string | null) | null;
  /** Largest request body in bytes (413 beyond). */
  bodyLimit?: number;
  /** How long a client may take to send a whole request (408 beyond), and how often that is checked (for tests). */
  requestTimeout?: { ms: number; checkMs: number };
  logger?: boolean;
  /** The server's metrics; a fresh registry when not given. */
  metrics?: Metrics;
  /** The reloader's status, shown by /readyz; `null` when policies are not watched. */
  reload?: ReloadStatus | null;
  /** Forward-auth for gateways; without it no token is ever valid there. */
  forwardAuth?: ForwardAuthOptions;
  /** Where decisions are logged; none when absent. */
  log?: DecisionLog | null;
  /** Why the decision log cannot be written now, shown by /readyz; `null` while it is written. */
  logFailing?: () => LogTrouble | null;
  /** The store, checked by /readyz. */
  store?: Store | null;
  /** The directory snapshot requests are enriched from; none when absent. */
  directory?: LiveDirectory | null;
  /** The admin key and what admin endpoints act on; disabled when absent. */
  admin?: AdminOptions;
  /** Keys callers of decision routes must present; anyone may call them when absent or empty. */
  clientKeys?: ClientKeys;
  /** The IP lists, shown by /readyz; none when absent. */
  ipLists?: LiveIpLists | null;
  /** Peers whose X-Forwarded-For (or Forwarded) names the client; none: the socket's peer is the client. */
  proxies?: TrustedProxies;
  /** Hears of a peer that sent X-Forwarded-For (or Forwarded) without being a trusted proxy: the header was ignored. */
  untrustedForwarder?: (peer: string) => void;
  /** The token issuer; its endpoints are not served when absent. */
  issuer?: Issuer | null;
  /** The decider shared with other interfaces (gRPC); made from the options above when absent. */
  decider?: Decider;
  /**
   * MACs search page tokens: servers given the same key accept each other's tokens. A
   * random key per app when absent (tokens then last as long as the process).
   */
  searchPageKey?: string | Buffer;
  /** Page sizes and the candidate bound of the search APIs; DEFAULT_SEARCH_LIMITS when absent. */
  searchLimits?: SearchLimits;
  /** The web console at /console (docs/console.md); not served when absent. */
  console?: Omit<ConsoleOptions, 'policies' | 'proxies' | 'attempts' | 'replays'> | null;
  /** Wrong admin keys per client address, shared by the admin APIs and the console's sign-in; a default AttemptLimit when absent. */
  adminAttempts?: AttemptLimit;
  /** Dynamic client registrations per client address (RFC 7591); default 20 an hour. */
  registrations?: AttemptLimit;
  /** Where failures inside a request are told (with their stacks); the process's stderr, as text, when absent. */
  serverLog?: ServerLog;
  /** Serve HTTPS with this certificate (and client CA: mutual TLS); plain HTTP when absent. A later one is set on `app.server` (setSecureContext). */
  tls?: TlsMaterial | null;
  /** Whether the server is stopping: answers then say `Connection: close`, so clients send nothing more on their connections. */
  stopping?: () => boolean;
}

const NO_ISSUERS: ForwardAuthOptions = {
  verifyToken: async () => ({ ok: false, reason: 'no trusted issuers are configured' }),
  headers: [],
  responseHeaders: { 'X-Gavel-Subject': 'sub' },
  replay: new ReplayCache(),
};

export const DEFAULT_BODY_LIMIT = 1 << 20;

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

export function buildApp(options: AppOptions): FastifyInstance {
  const serverOptions = {
    maxHeaderSize: MAX_HEADER_BYTES,
    headersTimeout: Math.min(60_000, options.requestTimeout?.ms ?? REQUEST_TIMEOUT_MS),
    connectionsCheckingInterval: options.requestTimeout?.checkMs ?? CONNECTIONS_CHECK_MS,
  };
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    // A decision is looked up by its request id in the path (/v1/decisions/:id, the console):
    // up to 200 characters are logged, percent-encoded up to three times as long.
    routerOptions: { maxParamLength: 1024 },
    // AuthZEN: a PEP's X-Request-ID is echoed; without one (or with one too long to log), the PDP makes one.
    requestIdHeader: false,
    genReqId: (request) => requestIdFrom(request.headers['x-request-id']),
    // `verbose`: a refused value and its schema reach the error handler, which words the message from them.
    ajv: { customOptions: { allErrors: false, coerceTypes: false, removeAdditional: false, verbose: true } },
    requestTimeout: options.requestTimeout?.ms ?? REQUEST_TIMEOUT_MS,
    // Node checks the whole request's time only when the headers' own limit (60 s by default) is no longer than it.
    http: serverOptions,
    // Node's HTTPS server takes the HTTP server's options with the TLS ones.
    ...(options.tls ? { https: { ...serverOptions, ...tlsServerOptions(options.tls) } } : {}),
    clientErrorHandler: clientError(options.requestTimeout?.ms ?? REQUEST_TIMEOUT_MS),
    frameworkErrors: frameworkError,
    // A request on a kept-alive connection while the server stops is decided, not answered 503:
    // a stop finishes what arrives until its connections close, and Envoy would let a 503 pass
    // under failure_mode_allow.
    return503OnClosing: false,
  });
  const serverLog = options.serverLog ?? ServerLog.toProcess();
  app.setErrorHandler(errorHandler(serverLog));
  jsonBodies(app);
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    // A route that exists for other methods is a 405 naming them (RFC 9110 §15.5.6): `GET /access/v1/evaluation` is a POST route.
    const allowed = METHODS.filter((method) => app.hasRoute({ method, url: path }));
    if (allowed.length > 0) return void reply.status(405).header('allow', allowed.join(', ')).send({ error: 'method_not_allowed', message: `${path} takes ${allowed.join(' or ')}, not ${request.method}` });
    void reply.status(404).send({ error: 'not_found', message: `no route for ${request.method} ${path}` });
  });
  // A callback hook, not an async one: every response passes here, and a promise per response costs.
  const metrics = options.metrics ?? new Metrics(options.policies);
  const stopping = options.stopping ?? (() => false);
  app.addHook('onSend', (request, reply, payload, done) => {
    answerHeaders(request, reply);
    if (stopping()) reply.header('connection', 'close');
    if (reply.statusCode >= 400 && !decisionAnswers.has(reply)) metrics.refusals.http(request.routeOptions.url ?? 'unmatched', reply.statusCode);
    done(null, payload);
  });
  requireClientKeys(app, options.clientKeys ?? new ClientKeys({}), metrics.refusals);
  const decider = options.decider ?? new Decider(metrics, options.log ?? null, options.directory ?? null);
  const gateway = options.forwardAuth ?? NO_ISSUERS;
  const origin = originOf(options.proxies ?? new TrustedProxies([]), options.untrustedForwarder);
  authzenRoutes(app, options.policies, options.baseUrl ?? null, decider, gateway.verifyToken, origin);
  searchRoutes(app, options.policies, decider, gateway.verifyToken, origin, { pageKey: options.searchPageKey ?? randomBytes(32), limits: options.searchLimits });
  decideRoutes(app, options.policies, decider, gateway.verifyToken, origin);
  forwardAuthRoutes(app, options.policies, decider, gateway, origin);
  if (options.issuer) oauthRoutes(app, options.issuer, origin, options.registrations ?? new AttemptLimit(DEFAULT_REGISTRATIONS_PER_HOUR, 3_600_000), serverLog);
  healthRoutes(app, options.policies, metrics, options.reload ?? null, options.store ?? null, options.ipLists ?? null, options.logFailing ?? (() => null));
  const limits = { attempts: options.adminAttempts ?? new AttemptLimit(), origin };
  const gate = { ...limits, key: options.admin?.key ?? null };
  const replays = new ReplaySlot();
  adminRoutes(app, options.admin ?? { key: null, store: null, reload: null }, options.policies, gate, serverLog, replays);
  complianceRoutes(app, options.policies, gate);
  if (options.console) consoleRoutes(app, { ...options.console, policies: options.policies, proxies: options.proxies ?? new TrustedProxies([]), attempts: limits, replays });
  return app;
}

import { createHash } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { BrowserAnswer, Issuer } from '../../issuer/issuer.js';
import { errorDescription, OAuthError } from '../../issuer/oauth-error.js';
import { RegistrationError } from '../../issuer/registration.js';
import { redirectWith } from '../../issuer/authorization.js';
import { FORM_POST_SCRIPT, formPostPage } from '../../issuer/login-page.js';
import { signInId } from '../../issuer/browser-state.js';
import type { Presented } from '../../issuer/client-auth.js';
import type { OriginOf } from '../origin.js';
import { attemptKey, type AttemptLimit } from '../../server/attempt-limit.js';
import { logServerError, STORE_RETRY_AFTER_S, storeUnavailable, storeWarnings } from '../error-handler.js';
import type { ServerLog } from '../../server/server-log.js';

/** RFC 6749 §5.1: token responses, and anything else carrying tokens, are never cached. */
function noStore(reply: FastifyReply): FastifyReply {
  return reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
}

function presented(request: FastifyRequest): Presented {
  const dpop = request.headers.dpop;
  return { authorization: request.headers.authorization, form: request.body instanceof URLSearchParams ? request.body : new URLSearchParams(), ...(typeof dpop === 'string' ? { dpop } : {}) };
}

/** Errors of the OAuth endpoints in RFC 6749 §5.2's shape: `{error, error_description}`. */
const oauthErrors = (log: ServerLog, mediaType = 'application/x-www-form-urlencoded') => {
  const storeWarning = storeWarnings(log);
  return (err: FastifyError | OAuthError, request: FastifyRequest, reply: FastifyReply): void => oauthError(err, request, reply, log, mediaType, storeWarning);
};

function oauthError(err: FastifyError | OAuthError, request: FastifyRequest, reply: FastifyReply, log: ServerLog, mediaType: string, storeWarning: (request: FastifyRequest, err: Error) => void): void {
  noStore(reply);
  if (err instanceof OAuthError) {
    if (err.challenge !== null) reply.header('www-authenticate', err.challenge);
    void reply.status(err.status).send({ error: err.error, error_description: errorDescription(err.description) });
    return;
  }
  const status = err.statusCode ?? 500;
  if (storeUnavailable(err)) {
    // RFC 6749 §4.1.2.1's `temporarily_unavailable`, with a status a client retries on.
    storeWarning(request, err);
    void reply.status(503).header('retry-after', STORE_RETRY_AFTER_S).send({ error: 'temporarily_unavailable', error_description: 'the store cannot be written now (busy or full); try again shortly' });
    return;
  }
  if (status >= 500) {
    logServerError(log, request, err);
    void reply.status(500).send({ error: 'server_error', error_description: 'internal error; see the server log' });
    return;
  }
  const description = err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? `the body must be ${mediaType}` : err.message;
  void reply.status(status === 413 ? 413 : 400).send({ error: 'invalid_request', error_description: errorDescription(description) });
}

/** A sign-in's CSRF cookie, named by its transaction's id (base64url, so a valid cookie name). */
const csrfCookieName = (tx: string): string => `gavel_csrf_${tx}`;
const FORM_POST_SCRIPT_HASH = `sha256-${createHash('sha256').update(FORM_POST_SCRIPT).digest('base64')}`;

function cookie(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

/** Browser answers: the page (framing, scripts and caching refused) or a redirect. */
function browser(reply: FastifyReply, answer: BrowserAnswer, status302or303: 302 | 303, issuerUrl: string): FastifyReply {
  noStore(reply).header('referrer-policy', 'no-referrer');
  // The path the browser sees: under the issuer's own path when a proxy in front strips it.
  const path = `${new URL(issuerUrl).pathname.replace(/\/$/, '')}/oauth2/authorize`;
  const secure = issuerUrl.startsWith('https:') ? '; Secure' : '';
  if (answer.kind === 'redirect' && answer.clearCsrf !== undefined) reply.header('set-cookie', `${csrfCookieName(answer.clearCsrf)}=; Path=${path}; Max-Age=0; HttpOnly; SameSite=Strict${secure}`);
  if (answer.kind === 'redirect' && answer.mode === 'query') return reply.status(status302or303).header('location', redirectWith(answer.to, answer.params)).send();
  if (answer.kind === 'redirect') {
    // The client's callback sees this issuer's origin (no path, no query): under no-referrer
    // a cross-origin post carries `Origin: null`, which CSRF checks of some frameworks refuse.
    return reply
      .header('referrer-policy', 'origin')
      .status(200)
      .header('content-type', 'text/html; charset=utf-8')
      .header('content-security-policy', `default-src 'none'; script-src '${FORM_POST_SCRIPT_HASH}'; frame-ancestors 'none'`)
      .header('x-frame-options', 'DENY')
      .send(formPostPage(answer.to, answer.params));
  }
  if (answer.csrfCookie !== undefined) {
    const { tx, value, maxAgeS } = answer.csrfCookie;
    reply.header('set-cookie', `${csrfCookieName(tx)}=${value}; Path=${path}; Max-Age=${maxAgeS}; HttpOnly; SameSite=Strict${secure}`);
  }
  if (answer.retryAfter !== undefined) reply.header('retry-after', String(answer.retryAfter));
  return reply
    .status(answer.status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
    .header('x-frame-options', 'DENY')
    .send(answer.html);
}

/**
 * CORS for what a browser-based client calls itself (OAuth 2.0 for Browser-Based Apps §6.3):
 * discovery and the JWKS from any page — they are public; the token, revocation and userinfo
 * endpoints from the issuer's own origin and those of the clients' redirect URIs. A page of
 * another origin is refused before anything is done: a form POST is a CORS "simple request"
 * the browser sends without asking, and a code redeemed for a page that may not read the
 * answer was used up, its retry then a replay that revoked what it had issued.
 */
type Cors = { public: true } | { public: false; methods: string };
const PUBLIC_CORS: Cors = { public: true };
const EXPOSED = 'www-authenticate, dpop-nonce, retry-after';

function corsHook(issuer: Issuer, cors: Cors) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    // Public answers say `*` to every request, Origin or not: a shared cache keeps one copy for all.
    if (cors.public) {
      void reply.header('access-control-allow-origin', '*');
      return undefined;
    }
    const from = request.headers.origin;
    if (from === undefined) return undefined;
    void reply.header('vary', 'origin');
    if (!issuer.webOriginAllowed(from)) {
      noStore(reply);
      return reply.status(403).send({ error: 'invalid_request', error_description: errorDescription(`a page of ${from} may not call this endpoint: it is not the origin of a registered redirect URI`) });
    }
    void reply.header('access-control-allow-origin', from).header('access-control-expose-headers', EXPOSED);
    return undefined;
  };
}

/** The preflight of a CORS request to `path`: what may be sent, to which origins (corsHook). */
function preflight(app: FastifyInstance, issuer: Issuer, path: string, cors: Cors): void {
  app.options(path, async (request, reply) => {
    const from = request.headers.origin;
    void reply.header('vary', 'origin');
    if (from === undefined || (!cors.public && !issuer.webOriginAllowed(from))) return reply.status(204).send();
    return reply
      .status(204)
      .header('access-control-allow-origin', cors.public ? '*' : from)
      .header('access-control-allow-methods', cors.public ? 'GET' : cors.methods)
      .header('access-control-allow-headers', 'authorization, content-type, dpop')
      .header('access-control-max-age', '600')
      .send();
  });
}

/** The token issuer's endpoints: metadata, JWKS, authorization, token, introspection, revocation. */
export function oauthRoutes(app: FastifyInstance, issuer: Issuer, origin: OriginOf, registrations: AttemptLimit, log: ServerLog): void {
  const metadata = async (_request: FastifyRequest, reply: FastifyReply) => reply.header('cache-control', 'max-age=300').send(issuer.metadata());
  const publicCors = { onRequest: corsHook(issuer, PUBLIC_CORS) };
  const tokenCors: Cors = { public: false, methods: 'POST' };
  const userinfoCors: Cors = { public: false, methods: 'GET, POST' };
  for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration', '/oauth2/jwks']) preflight(app, issuer, path, PUBLIC_CORS);
  preflight(app, issuer, '/oauth2/token', tokenCors);
  preflight(app, issuer, '/oauth2/revoke', tokenCors);
  preflight(app, issuer, '/oauth2/par', tokenCors);
  preflight(app, issuer, '/oauth2/userinfo', userinfoCors);
  app.get('/.well-known/oauth-authorization-server', publicCors, metadata);
  app.get('/.well-known/openid-configuration', publicCors, metadata);
  // RFC 8414 §3.1: an issuer with a path (`https://example.com/auth`, Gavel behind a proxy
  // that strips it) is looked up at /.well-known/oauth-authorization-server/auth — the path
  // after the well-known name. Only the issuer's own path answers.
  preflight(app, issuer, '/.well-known/oauth-authorization-server/*', PUBLIC_CORS);
  app.get('/.well-known/oauth-authorization-server/*', publicCors, async (request, reply) => {
    const path = new URL(issuer.url).pathname;
    const asked = request.url.slice('/.well-known/oauth-authorization-server'.length).split('?')[0];
    if (path === '/' || asked !== path) return reply.status(404).send({ error: 'not_found', message: `no authorization server metadata at ${request.url.split('?')[0]}` });
    return metadata(request, reply);
  });
  app.get('/oauth2/jwks', publicCors, async (_request, reply) => reply.header('cache-control', 'max-age=300').send(issuer.jwks()));
  const userinfo = async (request: FastifyRequest, reply: FastifyReply) => {
    noStore(reply);
    try {
      const dpop = request.headers.dpop;
      return reply.send(await issuer.userinfo(userinfoCredentials(request), typeof dpop === 'string' ? dpop : undefined, request.method));
    } catch (err: unknown) {
      if (!(err instanceof OAuthError)) throw err;
      const description = errorDescription(err.description);
      reply.status(err.status).header('www-authenticate', err.challenge ?? 'Bearer');
      // RFC 6750 §3.1: a request without credentials is answered with the challenge and no error code.
      return err.status === 401 && err.error === 'invalid_request' ? reply.send({ error_description: description }) : reply.send({ error: err.error, error_description: description });
    }
  };
  // OpenID Connect Core §5.3: GET and POST; a POST may carry the token in its form body (below).
  app.get('/oauth2/userinfo', { onRequest: corsHook(issuer, userinfoCors) }, userinfo);
  // A body that is not a JSON object is answered as OAuth errors are (RFC 7591 §3.2.2: `error_description`, not cached).
  app.post('/oauth2/register', { schema: { body: { type: 'object' } }, errorHandler: oauthErrors(log, 'a JSON object (application/json)') }, async (request, reply) => {
    noStore(reply);
    if (!issuer.registrationOpen) return reply.status(404).send({ error: 'not_found', error_description: 'dynamic registration is not enabled (issuer.software_statement_jwks_file)' });
    // Each registration adds a client for good, and a software statement may be replayed:
    // every attempt, answered or refused, counts against the address.
    const address = attemptKey(origin(request).address ?? 'unknown');
    const wait = registrations.retryAfter(address);
    if (wait > 0) {
      return reply.status(429).header('retry-after', String(wait)).send({ error: 'too_many_requests', error_description: `too many registrations from this address; try again in ${wait} s` });
    }
    registrations.count(address);
    try {
      return reply.status(201).send(await issuer.register(request.body));
    } catch (err: unknown) {
      if (err instanceof RegistrationError) return reply.status(400).send({ error: err.error, error_description: errorDescription(err.description) });
      throw err;
    }
  });
  app.get('/oauth2/authorize', async (request, reply) => {
    const query = withoutEmpty(new URLSearchParams(request.url.slice(request.url.indexOf('?') + 1 || request.url.length)));
    return browser(reply, await issuer.authorize(query), 302, issuer.url);
  });

  // OpenID Connect Core §5.3.1: a POST may carry the token in a form body (RFC 6750 §2.2) or in
  // the header with any body, which is then not read.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, formBody);
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, _body, done) => done(null, undefined));
    scope.post('/oauth2/userinfo', { onRequest: corsHook(issuer, userinfoCors) }, userinfo);
  });

  void app.register(async (forms) => {
    forms.removeAllContentTypeParsers();
    forms.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, formBody);
    forms.setErrorHandler(oauthErrors(log));
    forms.post('/oauth2/token', { onRequest: corsHook(issuer, tokenCors) }, async (request, reply) => {
      const { mint: _mint, ...response } = await issuer.token(presented(request), origin(request), request.id);
      return noStore(reply).send(response);
    });
    forms.post('/oauth2/authorize', async (request, reply) => {
      const form = presented(request).form;
      // OpenID Connect Core §3.1.2.1: the authorization request itself may be POSTed (a form,
      // as some relying parties send long requests); the login form always carries its `tx`.
      if (!form.has('tx') && (form.has('response_type') || form.has('request_uri'))) return browser(reply, await issuer.authorize(form), 303, issuer.url);
      const answer = await issuer.login(form, cookie(request, csrfCookieName(signInId(form.get('tx') ?? ''))), origin(request), request.id);
      return browser(reply, answer, 303, issuer.url);
    });
    // RFC 9126 §2.2: 201 Created with the request_uri.
    forms.post('/oauth2/par', { onRequest: corsHook(issuer, tokenCors) }, async (request, reply) => noStore(reply).status(201).send(await issuer.pushAuthorization(presented(request), origin(request))));
    forms.post('/oauth2/introspect', async (request, reply) => noStore(reply).send(await issuer.introspect(presented(request), origin(request))));
    forms.post('/oauth2/revoke', { onRequest: corsHook(issuer, tokenCors) }, async (request, reply) => {
      await issuer.revoke(presented(request), origin(request));
      return noStore(reply).status(200).send();
    });
  });
}

/** A form body, as the OAuth endpoints read it. */
function formBody(_request: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void): void {
  done(null, withoutEmpty(new URLSearchParams(body as string)));
}

/** RFC 6749 §3.1: a parameter sent without a value is treated as omitted (`scope=` is no scope). */
function withoutEmpty(form: URLSearchParams): URLSearchParams {
  for (const [key, value] of [...form]) if (value === '') form.delete(key, '');
  return form;
}

/**
 * The userinfo request's access token as an Authorization value: the header, or (RFC 6750
 * §2.2) `access_token` in a POST's form body. Both at once is refused (RFC 6750 §2: one method only).
 */
function userinfoCredentials(request: FastifyRequest): string | undefined {
  const form = request.body instanceof URLSearchParams ? request.body : null;
  const inBody = form?.getAll('access_token') ?? [];
  if (inBody.length === 0) return request.headers.authorization;
  if (inBody.length > 1 || request.headers.authorization !== undefined) throw new OAuthError('invalid_request', 'send the access token once: in the Authorization header or as `access_token` in the body, not both', 400, 'Bearer error="invalid_request"');
  return `Bearer ${inBody[0]}`;
}

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { registeredRedirect } from './redirect-uri.js';
import type { RegistryView } from './live-registry.js';
import type { Api, Client } from './registry.js';

/** A `scope` parameter's scopes: space-separated, each once (RFC 6749 §3.3: the scope is a set). */
export function scopeList(text: string): string[] {
  return [...new Set(text.split(' ').filter((s) => s !== ''))];
}

/** A validated authorization request, waiting for the user to sign in. */
export interface PendingAuthorization {
  client: Client;
  api: Api;
  redirectUri: string;
  scopes: string[];
  state: string | null;
  challenge: string;
  /** OpenID Connect: `openid` was asked for and the client may have it. */
  openid: boolean;
  nonce: string | null;
  /** RFC 9449 §10: the DPoP key (its JWK SHA-256 thumbprint) the code is bound to, or null. */
  dpopJkt: string | null;
  /** How the answer goes back: in the redirect's query, or posted by the browser (OAuth 2.0 Form Post Response Mode). */
  responseMode: ResponseMode;
  csrf: string;
  expiresAt: number;
}

export type ResponseMode = 'query' | 'form_post';

/** Where the browser goes: back to the client with an error, or an error page when the client cannot be trusted with one. */
export type AuthorizeProblem = { kind: 'page'; message: string } | { kind: 'redirect'; redirectUri: string; error: string; description: string; state: string | null; responseMode: ResponseMode };

/** RFC 7636 §4.4: S256 only — `plain` and a missing challenge are refused. */
export function challengeOf(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

export function verifierMatches(verifier: string, challenge: string): boolean {
  // RFC 7636 §4.1: 43 to 128 unreserved characters.
  if (!/^[A-Za-z0-9\-._~]{43,128}$/.test(verifier)) return false;
  const a = Buffer.from(challengeOf(verifier));
  const b = Buffer.from(challenge);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Checks an authorization request (RFC 6749 §4.1.1, RFC 7636, RFC 8707). The client and
 * its redirect_uri are checked first and exactly: until both are known good, errors are
 * shown on a page, never redirected (an open redirector otherwise).
 */
export function checkAuthorization(query: URLSearchParams, view: RegistryView, nowMs: number, userinfo: Api, idTokenAlgs: readonly string[]): PendingAuthorization | AuthorizeProblem {
  for (const key of ['client_id', 'redirect_uri', 'response_type', 'response_mode', 'scope', 'state', 'nonce', 'prompt', 'code_challenge', 'code_challenge_method', 'resource', 'dpop_jkt', 'request', 'request_uri']) {
    if (query.getAll(key).length > 1) return { kind: 'page', message: `\`${key}\` is given more than once` };
  }
  const clientId = query.get('client_id');
  const client = clientId === null ? undefined : view.clients.get(clientId);
  if (client === undefined) return { kind: 'page', message: 'unknown client' };
  const redirectUri = query.get('redirect_uri');
  if (redirectUri === null || !registeredRedirect(client.redirectUris, redirectUri)) return { kind: 'page', message: 'the redirect_uri is not registered for this client (it must match exactly; only a loopback IP address may differ in its port)' };
  const state = query.get('state');
  const asked = query.get('response_mode');
  const responseMode: ResponseMode = asked === 'form_post' ? 'form_post' : 'query';
  const fail = (error: string, description: string): AuthorizeProblem => ({ kind: 'redirect', redirectUri, error, description, state, responseMode });
  if (query.get('response_type') !== 'code') return fail('unsupported_response_type', 'response_type must be code');
  // The code comes back in the query, or posted (form_post, the default of ASP.NET Core's
  // OpenID Connect handler); another mode (fragment, the JWT modes) is refused, not answered in
  // a way the client does not read.
  if (asked !== null && asked !== 'query' && asked !== 'form_post') return fail('invalid_request', `response_mode ${asked} is not supported: use query or form_post`);
  // OpenID Connect Core §6.1: request objects are not supported, and must not be ignored.
  if (query.has('request')) return fail('request_not_supported', 'request objects are not supported: send the parameters in the query');
  // A pushed request's request_uri was replaced by its parameters before this check (Issuer.authorize).
  if (query.has('request_uri')) return fail('invalid_request_uri', 'request_uri must be one this server\'s pushed_authorization_request_endpoint (RFC 9126) issued; other request URIs are not fetched');
  // §3.1.2.1: `prompt=none` asks for no page; Gavel keeps no sign-in session, so a user is never signed in already.
  if ((query.get('prompt') ?? '').split(' ').includes('none')) return fail('login_required', 'prompt=none: there is no sign-in session; the user must sign in');
  if (!client.grantTypes.includes('authorization_code')) return fail('unauthorized_client', 'this client may not use the authorization code flow');
  const challenge = query.get('code_challenge');
  const method = query.get('code_challenge_method');
  if (challenge === null) return fail('invalid_request', 'PKCE is required: send code_challenge with code_challenge_method=S256');
  if (method !== 'S256') return fail('invalid_request', 'code_challenge_method must be S256 (plain is not accepted)');
  if (!/^[A-Za-z0-9_-]{43}$/.test(challenge)) return fail('invalid_request', 'code_challenge is not a base64url SHA-256');
  const dpopJkt = query.get('dpop_jkt');
  if (dpopJkt !== null && !JKT.test(dpopJkt)) return fail('invalid_request', 'dpop_jkt must be the base64url SHA-256 JWK thumbprint (RFC 7638) of the DPoP key');
  const requested = scopeList(query.get('scope') ?? '');
  const resource = query.get('resource');
  let api: Api | undefined;
  if (resource !== null) {
    api = view.apis.get(resource);
    if (api === undefined) return fail('invalid_target', `\`${resource}\` is not a registered API`);
  } else {
    // profile and email are an API's own scopes when one registers them and the client may hold them.
    const apiScopes = requested.filter((s) => s !== 'openid' && !(IDENTITY_SCOPES.has(s) && !(view.apisOfScope.has(s) && client.scopes.includes(s))));
    const apis = new Set(apiScopes.flatMap((s) => view.apisOfScope.get(s) ?? []));
    if (apiScopes.length === 0 && requested.includes('openid')) api = userinfo;
    // No `resource` was sent: scopes no API registers are unknown scopes (RFC 6749 §4.1.2.1), not a bad target.
    else if (apis.size === 0) return fail('invalid_scope', 'no registered API has the requested scopes');
    else if (apis.size > 1) return fail('invalid_target', 'the scopes belong to several APIs: say which with `resource`');
    else api = [...apis][0];
  }
  const openid = requested.includes('openid') && client.scopes.includes('openid');
  const scopes = grantableScopes(requested, client, api, openid);
  if (scopes.length === 0) return fail('invalid_scope', 'none of the requested scopes is allowed to this client for this API');
  // Refused before the user signs in, not after: an ID token in another algorithm would be rejected by the client.
  const algProblem = openid ? idTokenAlgProblem(client, idTokenAlgs) : null;
  if (algProblem !== null) return fail('invalid_request', algProblem);
  return { client, api, redirectUri, scopes, state, challenge, openid, nonce: query.get('nonce'), dpopJkt, responseMode, csrf: randomBytes(24).toString('base64url'), expiresAt: nowMs + 10 * 60_000 };
}

/** Of the scopes asked for, those `client` may hold at `api`, and with `openid` the claim scopes (`profile`, `email`) for userinfo. */
export function grantableScopes(requested: readonly string[], client: Pick<Client, 'scopes'>, api: Pick<Api, 'scopes'>, openid: boolean): string[] {
  return requested.filter((s) => (client.scopes.includes(s) && api.scopes.includes(s)) || (openid && isClaimScope(s, api)));
}

/** A JWK SHA-256 thumbprint (RFC 7638), base64url: 32 bytes in 43 characters. */
const JKT = /^[A-Za-z0-9_-]{43}$/;

/** Why `client`'s ID tokens cannot be signed — the algorithm it registered is not one of `algs` — or null. */
export function idTokenAlgProblem(client: Pick<Client, 'idTokenAlg'>, algs: readonly string[]): string | null {
  if (client.idTokenAlg === undefined || algs.includes(client.idTokenAlg)) return null;
  return `this client's id_token_signed_response_alg ${client.idTokenAlg} is not one this issuer signs with (${algs.join(', ')})`;
}

/**
 * OpenID Connect scopes that ask about the user, not for access to an API: asked alone, the
 * sign-in is for the userinfo endpoint only (the issuer's `userinfo` pseudo-API).
 */
const IDENTITY_SCOPES = new Set(['openid', 'profile', 'email']);

/**
 * Whether `scope` asks for the user's claims at userinfo (OpenID Connect Core §5.4: `profile`,
 * `email`) rather than for access to `api`, which may register the same name as its own. Such
 * a scope goes with `openid`: in the token when `openid` is granted, out of it when not.
 */
export function isClaimScope(scope: string, api: Pick<Api, 'scopes'>): boolean {
  return (scope === 'profile' || scope === 'email') && !api.scopes.includes(scope);
}

/** The client's redirect with RFC 6749 §4.1.2 parameters and RFC 9207 `iss`. */
export function redirectWith(redirectUri: string, params: Record<string, string | null>): string {
  const url = new URL(redirectUri);
  for (const [k, v] of Object.entries(params)) if (v !== null) url.searchParams.set(k, v);
  return url.toString();
}

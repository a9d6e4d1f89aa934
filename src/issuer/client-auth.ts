import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose';
import type { Replay } from '../tokens/dpop.js';
import type { Client } from './registry.js';
import { clientSecretMatches } from './secrets.js';
import { OAuthError } from './oauth-error.js';

/** How long a client assertion may have lived, or may still live when it has no `iat`. */
const ASSERTION_MAX_AGE_S = 300;
/** How far a client's clock may be ahead or behind: as for the bearer tokens Gavel verifies. */
const ASSERTION_SKEW_S = 30;
/**
 * The `typ` a client assertion may have: none, the generic JWT, or the explicit type of
 * draft-ietf-oauth-rfc7523bis. Another one (`at+jwt`, `dpop+jwt`, an ID token's) is a JWT made
 * for something else, which must not pass as a client's credentials.
 */
const ASSERTION_TYPES = new Set(['jwt', 'client-authentication+jwt']);

export interface Presented {
  /** The Authorization header, if any. */
  authorization: string | undefined;
  /** The form body. */
  form: URLSearchParams;
  /** The DPoP header (RFC 9449), if any. */
  dpop?: string;
}

/** RFC 6749 §2.3.1: client id and secret are form-urlencoded before Basic's base64. */
function formDecode(text: string): string {
  return decodeURIComponent(text.replace(/\+/g, ' '));
}

/**
 * Authenticates the client of a token, introspection or revocation request by the method
 * it registered: `client_secret_basic` (Authorization: Basic) or `client_secret_post` (form
 * fields). Two methods at once, an unknown client or a wrong secret is `invalid_client`,
 * with the same message for the last two so the answer does not tell which client ids exist.
 */
/**
 * The client id and secret of an `Authorization: Basic` header, form-decoded (RFC 6749
 * §2.3.1); `null` without one, `'malformed'` when it cannot be read.
 */
export function basicCredentials(header: string | undefined): { id: string; secret: string } | 'malformed' | null {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (m === null) return null;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return 'malformed';
  try {
    return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    return 'malformed';
  }
}

export function authenticateClient(presented: Presented, lookup: (id: string) => Client | undefined): { client: Client; method: 'client_secret_basic' | 'client_secret_post' | 'none' } {
  const basic = basicCredentials(presented.authorization);
  const postedId = presented.form.get('client_id');
  const postedSecret = presented.form.get('client_secret');
  if (basic !== null && postedSecret !== null) throw new OAuthError('invalid_request', 'use one client authentication method, not Basic and client_secret together');
  let id: string;
  let secret: string;
  let method: 'client_secret_basic' | 'client_secret_post';
  if (basic !== null) {
    if (basic === 'malformed') throw new OAuthError('invalid_client', 'malformed Basic credentials');
    ({ id, secret } = basic);
    method = 'client_secret_basic';
  } else if (postedId !== null && postedSecret !== null) {
    id = postedId;
    secret = postedSecret;
    method = 'client_secret_post';
  } else {
    // A public client (token_endpoint_auth_method "none") names itself; PKCE binds its code.
    const publicClient = postedId === null ? undefined : lookup(postedId);
    if (publicClient !== undefined && publicClient.authMethod === 'none') return { client: publicClient, method: 'none' };
    throw new OAuthError('invalid_client', 'client authentication is required (client_secret_basic or client_secret_post)');
  }
  if (postedId !== null && postedId !== id) throw new OAuthError('invalid_request', 'client_id does not match the authenticated client');
  const client = lookup(id);
  if (client === undefined || client.secretHash === null || !clientSecretMatches(secret, client.secretHash)) throw new OAuthError('invalid_client', 'unknown client or wrong secret');
  if (client.authMethod !== method) throw new OAuthError('invalid_client', `this client authenticates with ${client.authMethod}`);
  return { client, method };
}

/** The JWS algorithms a `private_key_jwt` assertion may use; metadata publishes the same list. */
export const ASSERTION_ALGS = ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'];

export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/**
 * `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9): a JWT the client signed with
 * a key of its registered JWKS, `iss` = `sub` = its id, `aud` one of `audiences` (this issuer;
 * its token endpoint too when the operator allows it) and nothing else, short-lived, and a
 * `jti` never seen before.
 */
export async function authenticateAssertion(presented: Presented, lookup: (id: string) => Client | undefined, audiences: string[], replay: Replay, nowMs: number): Promise<Client> {
  const form = presented.form;
  if (form.get('client_assertion_type') !== JWT_BEARER_ASSERTION) throw new OAuthError('invalid_client', `client_assertion_type must be ${JWT_BEARER_ASSERTION}`);
  // RFC 6749 §2.3: a client uses one authentication method per request.
  if ((presented.authorization !== undefined && /^Basic\s/i.test(presented.authorization)) || form.has('client_secret')) throw new OAuthError('invalid_request', 'use one client authentication method');
  const assertion = form.get('client_assertion') ?? '';
  let claimed: unknown;
  let aud: unknown;
  try {
    ({ sub: claimed, aud } = decodeJwt(assertion));
  } catch {
    throw new OAuthError('invalid_client', 'client_assertion is not a JWT');
  }
  // One audience: an assertion naming this server beside another could have been made for
  // that other server and replayed here (the audience confusion of the OpenID Foundation's
  // 2025 advisory; draft-ietf-oauth-rfc7523bis asks for a single value).
  if (Array.isArray(aud) && aud.length !== 1) throw new OAuthError('invalid_client', 'client_assertion must name one audience: this issuer');
  const client = typeof claimed === 'string' ? lookup(claimed) : undefined;
  if (client === undefined || client.authMethod !== 'private_key_jwt' || !client.jwks) throw new OAuthError('invalid_client', 'unknown client or wrong key');
  let jti: string;
  let lifetimeMs: number;
  try {
    const { payload, protectedHeader } = await jwtVerify(assertion, createLocalJWKSet(client.jwks as unknown as JSONWebKeySet), {
      issuer: client.id,
      subject: client.id,
      audience: audiences,
      algorithms: ASSERTION_ALGS,
      requiredClaims: ['exp', 'jti'],
      currentDate: new Date(nowMs),
      clockTolerance: ASSERTION_SKEW_S,
    });
    const typ = protectedHeader.typ?.toLowerCase().replace(/^application\//, '');
    if (typ !== undefined && !ASSERTION_TYPES.has(typ)) throw new Error('a JWT of another type');
    // Fresh: made within five minutes, or — without `iat`, which RFC 7523 §3 leaves optional —
    // expiring within five minutes, so an assertion never lives long either way.
    const now = nowMs / 1000;
    const fresh = typeof payload.iat === 'number' ? payload.iat <= now + ASSERTION_SKEW_S && now - payload.iat <= ASSERTION_MAX_AGE_S : payload.iat === undefined && payload.exp! - now <= ASSERTION_MAX_AGE_S;
    if (!fresh || typeof payload.jti !== 'string') throw new Error('stale, or no jti');
    [jti, lifetimeMs] = [payload.jti, (payload.exp ?? 0) * 1000 + 60_000 - nowMs];
  } catch {
    throw new OAuthError('invalid_client', 'unknown client or wrong key');
  }
  // Outside the catch: a store that cannot record the jti now (busy) is the store's 503, not
  // the client's 401 — which a client takes as its credentials being wrong.
  if (await replay.check(`${client.id}:${jti}`, lifetimeMs)) throw new OAuthError('invalid_client', 'unknown client or wrong key');
  // Checked once the assertion is the client's: before, the answer told which ids are
  // private_key_jwt clients to anyone sending an unsigned assertion.
  const postedId = form.get('client_id');
  if (postedId !== null && postedId !== client.id) throw new OAuthError('invalid_request', 'client_id does not match the assertion');
  return client;
}

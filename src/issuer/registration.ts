import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import type { SigningAlgorithm } from './keys.js';
import { GRANT_TYPES, type Client, type GrantType } from './registry.js';
import { hashClientSecret, randomToken } from './secrets.js';
import { safeRedirect } from './redirect-uri.js';

/** RFC 7591 §3.2.2 errors. */
export class RegistrationError extends Error {
  constructor(
    readonly error: 'invalid_software_statement' | 'unapproved_software_statement' | 'invalid_redirect_uri' | 'invalid_client_metadata',
    readonly description: string,
  ) {
    super(description);
  }
}

type Json = { [k: string]: unknown };

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): string[] | null => (typeof v === 'string' ? v.split(' ').filter((s) => s !== '') : Array.isArray(v) && v.every((s) => typeof s === 'string') ? v : null);

/**
 * RFC 7591 dynamic registration, admitted only with a software statement: a JWT signed by
 * a configured trusted key. The statement caps what the new client may ever receive —
 * `allowed_scopes`, and when present `redirect_uris` and `grant_types` — and the request
 * may only narrow those caps (§2.3: the statement's values win). The client gets a
 * random id and secret; the secret is shown once and stored hashed.
 */
export async function register(body: unknown, trusted: JSONWebKeySet, knownScopes: ReadonlySet<string>, nowMs: number, idTokenAlgs: readonly SigningAlgorithm[]): Promise<{ client: Client; secret: string; response: Json }> {
  if (!isObject(body)) throw new RegistrationError('invalid_client_metadata', 'the body is a JSON object of client metadata');
  if (typeof body.software_statement !== 'string') throw new RegistrationError('invalid_software_statement', 'a software_statement is required');
  let statement: JWTPayload;
  try {
    ({ payload: statement } = await jwtVerify(body.software_statement, createLocalJWKSet(trusted), { algorithms: ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'], currentDate: new Date(nowMs) }));
  } catch {
    throw new RegistrationError('unapproved_software_statement', 'the software statement is not signed by a trusted key, or has expired');
  }
  // RFC 7591 §2.3: a statement MUST name who attests to it; a JWT a trusted key signed for some
  // other purpose (an access token, say) names no such party, and is not a registration ticket.
  if (typeof statement.iss !== 'string' || statement.iss === '') throw new RegistrationError('invalid_software_statement', 'the software statement must name its issuer (iss), the party attesting to it (RFC 7591 §2.3)');
  const allowedScopes = list(statement.allowed_scopes);
  if (allowedScopes === null) throw new RegistrationError('invalid_software_statement', 'the software statement must name allowed_scopes');
  const capRedirects = list(statement.redirect_uris);
  const capGrants = list(statement.grant_types);
  const requestedScopes = list(body.scope) ?? allowedScopes;
  const beyond = requestedScopes.filter((s) => !allowedScopes.includes(s));
  if (beyond.length > 0) throw new RegistrationError('invalid_client_metadata', `the software statement does not allow ${beyond.join(', ')}`);
  const scopes = requestedScopes.filter((s) => knownScopes.has(s));
  if (scopes.length === 0) throw new RegistrationError('invalid_client_metadata', 'none of the scopes belongs to a registered API');
  if (typeof statement.exp !== 'number') throw new RegistrationError('invalid_software_statement', 'the software statement must expire (exp)');
  // What the statement does not allow is not allowed: client credentials only, no redirects.
  const grants = list(body.grant_types) ?? capGrants ?? ['client_credentials'];
  if (capGrants === null && grants.some((g) => g !== 'client_credentials')) throw new RegistrationError('invalid_client_metadata', 'the software statement allows only client_credentials (it names no grant_types)');
  const badGrant = grants.find((g) => !(GRANT_TYPES as readonly string[]).includes(g) || (capGrants !== null && !capGrants.includes(g)));
  if (badGrant !== undefined) throw new RegistrationError('invalid_client_metadata', `grant type \`${badGrant}\` is not allowed`);
  const redirects = list(body.redirect_uris) ?? capRedirects ?? [];
  const badRedirect = redirects.find((u) => !safeRedirect(u) || capRedirects === null || !capRedirects.includes(u));
  if (badRedirect !== undefined) throw new RegistrationError('invalid_redirect_uri', `\`${badRedirect}\` is not allowed by the software statement or is not an absolute URI`);
  if (grants.includes('authorization_code') && redirects.length === 0) throw new RegistrationError('invalid_redirect_uri', 'the authorization code grant needs redirect_uris');
  const method = body.token_endpoint_auth_method ?? 'client_secret_basic';
  if (method !== 'client_secret_basic' && method !== 'client_secret_post') throw new RegistrationError('invalid_client_metadata', 'token_endpoint_auth_method must be client_secret_basic or client_secret_post');
  // OpenID Connect Registration §2: an algorithm the issuer does not sign with is refused, not
  // replaced; without one, the default now is stored (RFC 7591 §3.2.1: the answer is what is registered).
  const idTokenAlg = body.id_token_signed_response_alg;
  if (idTokenAlg !== undefined && !(idTokenAlgs as readonly unknown[]).includes(idTokenAlg)) throw new RegistrationError('invalid_client_metadata', `id_token_signed_response_alg must be one of ${idTokenAlgs.join(', ')}`);
  const id = `dyn-${randomToken(12)}`;
  const secret = randomToken(32);
  const name = typeof body.client_name === 'string' ? body.client_name : typeof statement.software_id === 'string' ? statement.software_id : id;
  const client: Client = { id, secretHash: hashClientSecret(secret), grantTypes: grants as GrantType[], redirectUris: redirects, scopes, authMethod: method, attributes: { client_name: name, software_id: statement.software_id ?? null, dynamic: true }, idTokenAlg: (idTokenAlg ?? idTokenAlgs[0]) as SigningAlgorithm };
  const response: Json = {
    client_id: id,
    client_secret: secret,
    client_id_issued_at: Math.floor(nowMs / 1000),
    client_secret_expires_at: 0,
    client_name: name,
    grant_types: grants,
    redirect_uris: redirects,
    scope: scopes.join(' '),
    token_endpoint_auth_method: method,
    id_token_signed_response_alg: client.idTokenAlg,
    software_statement: body.software_statement,
  };
  return { client, secret, response };
}

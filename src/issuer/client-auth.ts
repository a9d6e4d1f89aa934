import type { Client } from './registry.js';
import { clientSecretMatches } from './secrets.js';
import { OAuthError } from './oauth-error.js';

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
export function authenticateClient(presented: Presented, lookup: (id: string) => Client | undefined): { client: Client; method: 'client_secret_basic' | 'client_secret_post' | 'none' } {
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(presented.authorization ?? '');
  const postedId = presented.form.get('client_id');
  const postedSecret = presented.form.get('client_secret');
  if (basic !== null && postedSecret !== null) throw new OAuthError('invalid_request', 'use one client authentication method, not Basic and client_secret together');
  let id: string;
  let secret: string;
  let method: 'client_secret_basic' | 'client_secret_post';
  if (basic !== null) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new OAuthError('invalid_client', 'malformed Basic credentials', 401, 'Basic realm="gavel"');
    try {
      id = formDecode(decoded.slice(0, colon));
      secret = formDecode(decoded.slice(colon + 1));
    } catch {
      throw new OAuthError('invalid_client', 'malformed Basic credentials', 401, 'Basic realm="gavel"');
    }
    method = 'client_secret_basic';
  } else if (postedId !== null && postedSecret !== null) {
    id = postedId;
    secret = postedSecret;
    method = 'client_secret_post';
  } else {
    // A public client (token_endpoint_auth_method "none") names itself; PKCE binds its code.
    const publicClient = postedId === null ? undefined : lookup(postedId);
    if (publicClient !== undefined && publicClient.authMethod === 'none') return { client: publicClient, method: 'none' };
    throw new OAuthError('invalid_client', 'client authentication is required (client_secret_basic or client_secret_post)', 401, 'Basic realm="gavel"');
  }
  if (postedId !== null && postedId !== id) throw new OAuthError('invalid_request', 'client_id does not match the authenticated client');
  const client = lookup(id);
  const challenge = method === 'client_secret_basic' ? 'Basic realm="gavel"' : null;
  if (client === undefined || client.secretHash === null || !clientSecretMatches(secret, client.secretHash)) throw new OAuthError('invalid_client', 'unknown client or wrong secret', 401, challenge);
  if (client.authMethod !== method) throw new OAuthError('invalid_client', `this client authenticates with ${client.authMethod}`, 401, challenge);
  return { client, method };
}

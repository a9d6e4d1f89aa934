import { grantableScopes, type PendingAuthorization } from './authorization.js';
import { registeredRedirect } from './redirect-uri.js';
import type { Api, Client } from './registry.js';
import type { SealedState } from './sealed-state.js';

/**
 * What the issuer hands the browser to carry instead of keeping it, sealed (SealedState): a
 * sign-in in progress in the login form's `tx`, a pushed request in its `request_uri`.
 */

/** A sign-in in progress, as the login form carries it back, with the id its CSRF cookie and its answer are kept under. */
export interface SignIn extends PendingAuthorization {
  id: string;
}

/** What the form carries: the checked request, the client and API by name (read again from the registry when it comes back). */
type Carried = Omit<PendingAuthorization, 'client' | 'api'> & { v: 1; id: string; clientId: string; audience: string };

const PURPOSE = 'sign-in';
const PUSHED = 'pushed authorization request';

/**
 * The login form's `tx`: `ID.SEALED`. The id (plain, 24 base64url characters) names the
 * sign-in's CSRF cookie and the answer a finished one is kept under; the sealed part is the
 * checked authorization request, which any process serving the store can open.
 */
export function sealSignIn(sealed: SealedState, p: PendingAuthorization, id: string): string {
  const carried: Carried = {
    v: 1,
    id,
    clientId: p.client.id,
    audience: p.api.identifier,
    redirectUri: p.redirectUri,
    scopes: p.scopes,
    state: p.state,
    challenge: p.challenge,
    openid: p.openid,
    nonce: p.nonce,
    dpopJkt: p.dpopJkt,
    responseMode: p.responseMode,
    csrf: p.csrf,
    expiresAt: p.expiresAt,
  };
  return `${id}.${sealed.seal(PURPOSE, carried)}`;
}

/** The id part of a `tx` (what its CSRF cookie is named after); anything before the first `.`. */
export function signInId(tx: string): string {
  const dot = tx.indexOf('.');
  return dot < 0 ? tx : tx.slice(0, dot);
}

/**
 * The sign-in a `tx` carries, or null: not sealed by this issuer's secret, changed, or no
 * longer what the registry allows — its client or API gone, the redirect URI or the
 * authorization code flow taken from the client, every scope it asked for withdrawn. A form
 * outlives a restart, so the registry of now is what counts, not the one that checked it;
 * scopes withdrawn meanwhile are left out. Expiry is the caller's to check (`expiresAt`).
 */
export function openSignIn(sealed: SealedState, tx: string, lookup: { client(id: string): Client | undefined; api(audience: string): Api | undefined }): SignIn | null {
  const dot = tx.indexOf('.');
  if (dot < 0) return null;
  const c = sealed.open(PURPOSE, tx.slice(dot + 1));
  if (!isCarried(c) || c.id !== tx.slice(0, dot)) return null;
  const client = lookup.client(c.clientId);
  const api = lookup.api(c.audience);
  if (client === undefined || api === undefined) return null;
  if (!client.grantTypes.includes('authorization_code') || !registeredRedirect(client.redirectUris, c.redirectUri)) return null;
  const openid = c.openid && client.scopes.includes('openid');
  const scopes = grantableScopes(c.scopes, client, api, openid);
  if (scopes.length === 0) return null;
  return { id: c.id, client, api, redirectUri: c.redirectUri, scopes, state: c.state, challenge: c.challenge, openid, nonce: c.nonce, dpopJkt: c.dpopJkt, responseMode: c.responseMode, csrf: c.csrf, expiresAt: c.expiresAt };
}

/** Sealed by this issuer, so well-formed unless sealed by another version of it: only the version and types are checked. */
function isCarried(x: unknown): x is Carried {
  if (typeof x !== 'object' || x === null) return false;
  const c = x as Record<string, unknown>;
  const text = (k: string) => typeof c[k] === 'string';
  const textOrNull = (k: string) => c[k] === null || typeof c[k] === 'string';
  return (
    c.v === 1 &&
    ['id', 'clientId', 'audience', 'redirectUri', 'challenge', 'csrf'].every(text) &&
    ['state', 'nonce', 'dpopJkt'].every(textOrNull) &&
    Array.isArray(c.scopes) &&
    c.scopes.every((s) => typeof s === 'string') &&
    typeof c.openid === 'boolean' &&
    (c.responseMode === 'query' || c.responseMode === 'form_post') &&
    typeof c.expiresAt === 'number'
  );
}

/** A pushed authorization request (RFC 9126), as its `request_uri` carries it. */
export interface Pushed {
  id: string;
  clientId: string;
  /** The checked authorization request's parameters, form-encoded. */
  params: string;
  expiresAt: number;
}

/** The sealed part of a pushed request's `request_uri`. */
export function sealPushed(sealed: SealedState, pushed: Pushed): string {
  return sealed.seal(PUSHED, { v: 1, ...pushed });
}

/** The pushed request a `request_uri`'s sealed part carries, or null: not sealed by this issuer's secret, or changed. Expiry is the caller's to check. */
export function openPushed(sealed: SealedState, text: string): Pushed | null {
  const x = sealed.open(PUSHED, text);
  if (typeof x !== 'object' || x === null) return null;
  const p = x as Record<string, unknown>;
  if (p.v !== 1 || typeof p.id !== 'string' || typeof p.clientId !== 'string' || typeof p.params !== 'string' || typeof p.expiresAt !== 'number') return null;
  return { id: p.id, clientId: p.clientId, params: p.params, expiresAt: p.expiresAt };
}

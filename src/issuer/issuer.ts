import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { LivePolicySet } from '../engine/live-set.js';
import type { Decider, Origin } from '../server/decider.js';
import type { Velocity } from '../signals/velocity.js';
import type { Store } from '../store/store.js';
import { authenticateClient, type Presented } from './client-auth.js';
import type { KeyRing } from './keys.js';
import type { RegistryView } from './live-registry.js';
import { OAuthError } from './oauth-error.js';
import type { Api, Client } from './registry.js';

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
}

export interface IssuerOptions {
  keys: KeyRing;
  registry: () => RegistryView;
  decider: Decider;
  policies: LivePolicySet;
  store: Store;
  /** Fed with token requests and failed client authentications; `null`: not counted. */
  velocity: Velocity | null;
  now?: () => number;
}

/** What a mint decision said about one scope. */
export interface MintOutcome {
  scope: string;
  granted: boolean;
  reasons: string[];
}

/**
 * The bundled OAuth 2.0 authorization server. Every scope it mints is decided by the
 * policies: candidate scopes (requested ∩ the client's ∩ the API's) go through the PDP as
 * `mint` decisions in one batch, with the request's context and Gavel's risk signals, and
 * only the permitted ones are in the token.
 */
export class Issuer {
  /** The issuer identifier (`iss`): set once the server knows where it listens. */
  url = '';
  private revoked: Map<string, number>;
  private readonly now: () => number;

  constructor(private readonly options: IssuerOptions) {
    this.now = options.now ?? Date.now;
    this.revoked = options.store.revokedTokens(Math.floor(this.now() / 1000));
  }

  /** RFC 8414 metadata: only what is implemented is listed. */
  metadata(): Record<string, unknown> {
    const scopes = [...new Set(this.options.registry().registry.apis.flatMap((a) => a.scopes))].sort();
    return {
      issuer: this.url,
      token_endpoint: `${this.url}/oauth2/token`,
      jwks_uri: `${this.url}/oauth2/jwks`,
      introspection_endpoint: `${this.url}/oauth2/introspect`,
      revocation_endpoint: `${this.url}/oauth2/revoke`,
      grant_types_supported: ['client_credentials'],
      response_types_supported: [],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      token_endpoint_auth_signing_alg_values_supported: [],
      scopes_supported: scopes,
      authorization_response_iss_parameter_supported: true,
    };
  }

  private authenticate(presented: Presented, origin: Origin): Client {
    try {
      return authenticateClient(presented, (id) => this.options.registry().clients.get(id)).client;
    } catch (err: unknown) {
      if (err instanceof OAuthError && err.error === 'invalid_client') this.count('auth_failures', presented, origin);
      throw err;
    }
  }

  private count(event: 'token_requests' | 'auth_failures', presented: Presented, origin: Origin, client?: string): void {
    const reads = this.options.policies.current.riskReads;
    if (this.options.velocity === null || !(reads.has('velocity') || reads.has('*'))) return;
    this.options.velocity.record(event, { client: client ?? presented.form.get('client_id') ?? basicId(presented.authorization), address: origin.address });
  }

  /** POST /oauth2/token. */
  async token(presented: Presented, origin: Origin, requestId: string): Promise<TokenResponse & { mint: MintOutcome[] }> {
    const client = this.authenticate(presented, origin);
    this.count('token_requests', presented, origin, client.id);
    const form = presented.form;
    for (const key of ['grant_type', 'scope', 'resource', 'audience']) {
      if (form.getAll(key).length > 1) throw new OAuthError('invalid_request', `\`${key}\` is given more than once`);
    }
    const grant = form.get('grant_type');
    if (grant === null) throw new OAuthError('invalid_request', '`grant_type` is required');
    if (grant !== 'client_credentials') throw new OAuthError('unsupported_grant_type', `\`${grant}\` is not supported; this issuer supports client_credentials`);
    if (!client.grantTypes.includes(grant)) throw new OAuthError('unauthorized_client', `client \`${client.id}\` may not use ${grant}`);
    const requested = form.get('scope');
    const api = this.audience(form.get('resource') ?? form.get('audience'), requested, client);
    const wanted = requested === null ? client.scopes.filter((s) => api.scopes.includes(s)) : requested.split(' ').filter((s) => s !== '');
    const candidates = [...new Set(wanted)].filter((s) => client.scopes.includes(s) && api.scopes.includes(s));
    if (candidates.length === 0) throw new OAuthError('invalid_scope', requested === null ? `client \`${client.id}\` has no scopes of ${api.identifier}` : `none of the requested scopes is allowed to client \`${client.id}\` for ${api.identifier}`);
    const mint = this.mint(client, api, grant, candidates, origin, requestId);
    const granted = mint.filter((m) => m.granted).map((m) => m.scope);
    if (granted.length === 0) {
      const reasons = [...new Set(mint.flatMap((m) => m.reasons))];
      throw new OAuthError('invalid_scope', `the policies granted none of the requested scopes${reasons.length > 0 ? `: ${reasons.join('; ')}` : ''}`);
    }
    const iat = Math.floor(this.now() / 1000);
    const scope = granted.join(' ');
    const claims: JWTPayload = { iss: this.url, sub: client.id, aud: api.identifier, iat, exp: iat + api.accessTokenTtl, jti: randomUUID(), client_id: client.id, scope };
    const accessToken = await this.options.keys.sign(claims, 'at+jwt');
    return { access_token: accessToken, token_type: 'Bearer', expires_in: api.accessTokenTtl, scope, mint };
  }

  /** RFC 8707 `resource` (or `audience`): a registered API; without one, the only API the scopes point to. */
  private audience(resource: string | null, requested: string | null, client: Client): Api {
    const view = this.options.registry();
    if (resource !== null) {
      const api = view.apis.get(resource);
      if (api === undefined) throw new OAuthError('invalid_target', `\`${resource}\` is not a registered API`);
      return api;
    }
    const scopes = requested === null ? client.scopes : requested.split(' ').filter((s) => s !== '');
    const apis = new Set(scopes.flatMap((s) => view.apisOfScope.get(s) ?? []));
    if (apis.size === 1) return [...apis][0];
    throw new OAuthError('invalid_target', apis.size === 0 ? 'no registered API has the requested scopes' : 'the scopes belong to several APIs: say which with `resource`');
  }

  /** One batch of PDP decisions, on one policy revision: may this client get each scope? */
  private mint(client: Client, api: Api, grant: string, scopes: string[], origin: Origin, requestId: string): MintOutcome[] {
    const set = this.options.policies.current;
    const context = { ip: origin.address ?? '', grant_type: grant, client_id: client.id, audience: api.identifier, time: new Date(this.now()).toISOString() };
    const subject = { type: 'client', id: client.id, properties: client.attributes };
    return scopes.map((scope, i) => {
      const d = this.options.decider.decide('mint', `${requestId}#${i}`, set, { subject, action: { name: 'mint' }, resource: { type: 'scope', id: scope }, context }, {}, origin);
      return { scope, granted: d.decision, reasons: d.reasons };
    });
  }

  /** RFC 7662: the token's claims while it is valid and not revoked; else `{active: false}`. */
  async introspect(presented: Presented, origin: Origin): Promise<Record<string, unknown>> {
    this.authenticate(presented, origin);
    const token = presented.form.get('token');
    if (token === null) throw new OAuthError('invalid_request', '`token` is required');
    const claims = await this.verify(token);
    if (claims === null) return { active: false };
    return { active: true, token_type: 'Bearer', ...claims };
  }

  /** RFC 7009: revokes a token the caller was issued; unknown or invalid tokens are fine (200). */
  async revoke(presented: Presented, origin: Origin): Promise<void> {
    const client = this.authenticate(presented, origin);
    const token = presented.form.get('token');
    if (token === null) throw new OAuthError('invalid_request', '`token` is required');
    const claims = await this.verify(token);
    if (claims === null || typeof claims.jti !== 'string') return;
    if (claims.client_id !== client.id) throw new OAuthError('invalid_request', 'the token was issued to another client');
    this.options.store.revokeToken(claims.jti, claims.exp ?? 0);
    this.revoked.set(claims.jti, claims.exp ?? 0);
  }

  jwks(): ReturnType<KeyRing['jwks']> {
    return this.options.keys.jwks();
  }

  isRevoked(jti: unknown): boolean {
    return typeof jti === 'string' && this.revoked.has(jti);
  }

  /** The claims of a token this issuer signed, still valid and not revoked; else `null`. */
  async verify(token: string): Promise<JWTPayload | null> {
    try {
      const { payload } = await jwtVerify(token, createLocalJWKSet(this.options.keys.jwks()), { issuer: this.url, typ: 'at+jwt', currentDate: new Date(this.now()) });
      return this.isRevoked(payload.jti) ? null : payload;
    } catch {
      return null;
    }
  }
}

function basicId(header: string | undefined): string | null {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)/i.exec(header ?? '');
  if (m === null) return null;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? null : decoded.slice(0, colon);
}

import { hash, randomUUID } from 'node:crypto';
import { errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { register } from './registration.js';
import { steadyNow } from '../tokens/clock.js';
import { attemptKey } from '../server/attempt-limit.js';
import { SharedAttemptLimit, SharedOnce, SharedReplay } from './shared-limits.js';
import { PendingSignIns } from './pending-sign-ins.js';
import { SealedState } from './sealed-state.js';
import { openPushed, openSignIn, sealPushed, sealSignIn, signInId, type SignIn } from './browser-state.js';
import type { LivePolicySet } from '../engine/live-set.js';
import type { Decider, Origin } from '../server/decider.js';
import { subjectKey, type Velocity } from '../signals/velocity.js';
import type { Store } from '../store/store.js';
import { ASSERTION_ALGS, authenticateAssertion, authenticateClient, basicCredentials, type Presented } from './client-auth.js';
import type { KeyRing, SigningAlgorithm } from './keys.js';
import type { RegistryView } from './live-registry.js';
import { errorDescription, OAuthError, type OAuthErrorCode } from './oauth-error.js';
import { roleScopes, type Api, type Client, type User } from './registry.js';
import { checkAuthorization, idTokenAlgProblem, isClaimScope, scopeList, verifierMatches, type PendingAuthorization, type ResponseMode } from './authorization.js';
import { errorPage, loginPage } from './login-page.js';
import { passwordMatches, randomToken } from './secrets.js';
import { seal, unseal } from './keys.js';
import { accessToken, bindingProblem, boundKey, dpopChallenge, DPOP_ALGORITHMS, verifyProof } from '../tokens/dpop.js';

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer' | 'DPoP';
  expires_in: number;
  scope: string;
  refresh_token?: string;
  /** OpenID Connect, with `openid` in scope. */
  id_token?: string;
  /** RFC 8693 §2.2.1, for token exchange. */
  issued_token_type?: string;
}

/** What the browser gets from /oauth2/authorize. */
/** A page; or the answer to the client at its redirect URI, as its response mode says (in the query, or posted by the browser). */
export type BrowserAnswer =
  | { kind: 'html'; status: number; html: string; csrfCookie?: { tx: string; value: string; maxAgeS: number }; retryAfter?: number }
  /** `clearCsrf`: the transaction whose CSRF cookie has served its purpose (cookies of finished sign-ins would pile up in the browser for ten minutes). */
  | { kind: 'redirect'; to: string; params: Record<string, string>; mode: ResponseMode; clearCsrf?: string };

/** RFC 6749 §4.1.2 parameters and RFC 9207 `iss` for the client; absent ones (a request without `state`) left out. */
const answerTo = (to: string, mode: ResponseMode, params: Record<string, string | null>): BrowserAnswer => ({
  kind: 'redirect',
  to,
  mode,
  params: Object.fromEntries(Object.entries(params).filter((e): e is [string, string] => e[1] !== null)),
});

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
/** Finished sign-ins' answers kept at once, in all and for one client address (generous: a company's users may share one NAT address). */
const FINISHED_MAX = 100_000;
const FINISHED_PER_ADDRESS = 1_000;
/** How long a finished sign-in's answer is kept for a duplicate of its form. */
const FINISHED_KEPT_MS = 60_000;
/** Sends of one sign-in's form, and how long the form is good for (checkAuthorization's ten minutes). */
const SIGN_IN_TRIES = 5;
const SIGN_IN_LIFETIME_MS = 10 * 60_000;
/** RFC 9126 §2.2: a pushed request's `request_uri` is short-lived (the specification's example: 60 s) and used once. */
const PUSHED_LIFETIME_S = 60;
const PUSHED_PREFIX = 'urn:ietf:params:oauth:request_uri:';
/**
 * The longest `request_uri` a pushed request may make: the browser carries it in the request
 * line, and proxies refuse long ones (nginx's default buffer for a request line is 8 KiB).
 */
const MAX_REQUEST_URI = 6_000;

/** What a sign-in's form is answered once the sign-in was finished, and its answer cannot be given again. */
const COMPLETED: BrowserAnswer = { kind: 'html', status: 400, html: errorPage('this sign-in was already completed; go back to the application') };
/** One answer for a subject token that is forged, expired, revoked or not the caller's to present. */
const SUBJECT_TOKEN_REFUSED = 'subject_token is not a live token of this issuer that this client may present (one issued to it, or for an API it serves: apis[].resource_servers)';
const ACTOR_TOKEN_REFUSED = 'actor_token is not a live token of this issuer issued to the calling client for itself';

/** A scrypt hash no password matches, checked for unknown users so their answer takes as long. */
/** Failed sign-ins in a minute after which an address, or a user name, must wait for the minute to end. */
export const SIGN_IN_FAILURES_PER_ADDRESS = 10;
export const SIGN_IN_FAILURES_PER_USER = 20;

const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

/** What userinfo answers, of a user's attributes, for `profile` and for `email` (OpenID Connect Core §5.4; those Gavel's users may have). */
const PROFILE_CLAIMS = ['name', 'preferred_username', 'locale'];
const EMAIL_CLAIMS = ['email', 'email_verified'];

const sha256 = (text: string): string => hash('sha256', text, 'base64url');

export interface IssuerOptions {
  keys: KeyRing;
  registry: () => RegistryView;
  decider: Decider;
  policies: LivePolicySet;
  store: Store;
  /** Fed with token requests and failed client authentications; `null`: not counted. */
  velocity: Velocity | null;
  /** Seals refresh-token successors kept for the grace window. */
  secret: string;
  /** Trusted keys of software statements; `null`: dynamic registration is off. */
  softwareStatementKeys?: JSONWebKeySet | null;
  /** Told after a client was registered, so the registry view includes it. */
  registered?: () => void;
  /**
   * Reads the registry again when another process changed it since it was last read; answers
   * whether it did. Asked when a client fails to authenticate, before saying so: a script that
   * runs `gavel apply` and then asks for a token at once must not depend on the 1 s poll.
   */
  freshen?: () => Promise<boolean>;
  /** Refresh token lifetime (seconds); default 30 days. */
  refreshTtl?: number;
  /** How long a rotated refresh token may be replayed for the same successor (seconds); default 10. */
  refreshGrace?: number;
  /** Whether client assertions may name the token endpoint's URL as `aud` (older clients do); default: the issuer identifier only. */
  acceptTokenEndpointAudience?: boolean;
  /** Authorization requests only by a request_uri from the PAR endpoint (RFC 9126 §5); default false. */
  requirePushedAuthorizationRequests?: boolean;
  now?: () => number;
}

/** What a mint decision said about one scope. */
export interface MintOutcome {
  scope: string;
  granted: boolean;
  reasons: string[];
  /** The shortest `@token_ttl` of the policies that granted it, in seconds; `null`: no cap. */
  ttlCap: number | null;
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
  /** DPoP proofs and client assertions used, at this process or another serving the store. */
  private readonly replay: SharedReplay;
  /** Sign-ins in progress and pushed requests, carried by the browser (sealed) rather than kept here. */
  private readonly sealed: SealedState;
  /** Sign-ins finished and pushed requests used, at this process or another serving the store. */
  private readonly once: SharedOnce;
  /** Tries per sign-in (a form may be sent five times), counted at every process serving the store. */
  private readonly signInTries: SharedAttemptLimit;
  /** Sign-ins whose code is being stored, by transaction id: the answer a duplicate of the form waits for (finished()). */
  private readonly finishing = new Map<string, { subject: string; answer: Promise<BrowserAnswer> }>();
  /** Sign-ins just finished, by transaction id: what a duplicate of the form is answered (finished()). */
  private readonly done = new PendingSignIns<{ answer: BrowserAnswer; subject: string | null; expiresAt: number }>(FINISHED_MAX, FINISHED_PER_ADDRESS);
  /**
   * Failed sign-ins in the last minute, per client address (its /64 for IPv6) and per user
   * name: past either limit a sign-in is refused before the password is checked, so a
   * guesser learns nothing from the answer and costs no scrypt run. A new sign-in
   * transaction does not reset them (its own five tries are a separate cap). The per-user
   * limit is higher: anyone may spend it, and a user locked out for a minute is the price of
   * stopping a guesser who spreads its tries over many addresses.
   */
  private readonly signInsByAddress: SharedAttemptLimit;
  private readonly signInsByUser: SharedAttemptLimit;
  /**
   * What a sign-in for no API — `openid` alone — is for: the userinfo endpoint. Its tokens
   * carry `openid` only, minted by a decision about `scope::"openid"`; Gavel's decision
   * interfaces do not accept them (their audience is no registered API).
   */
  get userinfoApi(): Api {
    return { identifier: `${this.url}/oauth2/userinfo`, scopes: ['openid'], tokenFormat: 'jwt', accessTokenTtl: 3600 };
  }

  /** The API a grant was made for: a registered one, or the userinfo endpoint. */
  private apiOf(audience: string): Api | undefined {
    return audience === this.userinfoApi.identifier ? this.userinfoApi : this.options.registry().apis.get(audience);
  }

  /** Seconds a rotated refresh token may be presented again for the same successor. */
  get refreshGrace(): number {
    return this.options.refreshGrace ?? 10;
  }

  /** Forgets the sealed successors whose grace window has passed (serve calls it with its sweep of expired grants). */
  forgetSuccessors(nowSeconds: number, limit?: number): number {
    return this.options.store.forgetSuccessors(nowSeconds - this.refreshGrace, limit);
  }

  constructor(private readonly options: IssuerOptions) {
    // Never back: the token endpoint's freshness checks (client assertions, DPoP proofs) read it.
    this.now = options.now ?? steadyNow;
    this.revoked = options.store.revokedTokens(Math.floor(this.now() / 1000));
    // Shared through the store: every process serving it refuses what one has seen.
    this.replay = new SharedReplay(options.store, this.now);
    this.signInsByAddress = new SharedAttemptLimit(options.store, 'address', SIGN_IN_FAILURES_PER_ADDRESS, 60_000, this.now);
    this.signInsByUser = new SharedAttemptLimit(options.store, 'user', SIGN_IN_FAILURES_PER_USER, 60_000, this.now);
    this.signInTries = new SharedAttemptLimit(options.store, 'sign_in', SIGN_IN_TRIES, SIGN_IN_LIFETIME_MS, this.now);
    this.sealed = new SealedState(options.secret);
    this.once = new SharedOnce(options.store, this.now);
  }

  /** RFC 8414 metadata: only what is implemented is listed. */
  metadata(): Record<string, unknown> {
    const scopes = [...new Set(['openid', ...this.options.registry().registry.apis.flatMap((a) => a.scopes)])].sort();
    return {
      issuer: this.url,
      token_endpoint: `${this.url}/oauth2/token`,
      jwks_uri: `${this.url}/oauth2/jwks`,
      introspection_endpoint: `${this.url}/oauth2/introspect`,
      revocation_endpoint: `${this.url}/oauth2/revoke`,
      authorization_endpoint: `${this.url}/oauth2/authorize`,
      pushed_authorization_request_endpoint: `${this.url}/oauth2/par`,
      require_pushed_authorization_requests: this.options.requirePushedAuthorizationRequests === true,
      userinfo_endpoint: `${this.url}/oauth2/userinfo`,
      // OpenID Connect Discovery §3: RS256 must be among them — the default, unless configured
      // otherwise. A client may register any of them (id_token_signed_response_alg).
      id_token_signing_alg_values_supported: this.idTokenAlgs,
      subject_types_supported: ['public'],
      grant_types_supported: ['client_credentials', 'authorization_code', 'refresh_token', TOKEN_EXCHANGE],
      response_types_supported: ['code'],
      response_modes_supported: ['query', 'form_post'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
      introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
      revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
      // RFC 8414 §2: each endpoint listing private_key_jwt must say which algorithms its assertions may use.
      token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
      introspection_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
      revocation_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
      scopes_supported: scopes,
      authorization_response_iss_parameter_supported: true,
      ...(this.registrationOpen ? { registration_endpoint: `${this.url}/oauth2/register` } : {}),
      dpop_signing_alg_values_supported: DPOP_ALGORITHMS,
    };
  }

  private async authenticate(presented: Presented, origin: Origin): Promise<Client> {
    const once = async (): Promise<Client> => {
      const lookup = (id: string) => this.options.registry().clients.get(id);
      if (presented.form.has('client_assertion')) {
        // The issuer identifier alone (draft-ietf-oauth-rfc7523bis §4: the token endpoint's URL
        // MUST NOT be an audience — it is the value a malicious server can get a client to sign,
        // by naming this server's token endpoint as its own); RFC 7523 §3's token endpoint only
        // when the operator lets older clients use it.
        const audiences = this.options.acceptTokenEndpointAudience === true ? [this.url, `${this.url}/oauth2/token`] : [this.url];
        return await authenticateAssertion(presented, lookup, audiences, this.replay, this.now());
      }
      return authenticateClient(presented, lookup).client;
    };
    const invalid = (err: unknown) => err instanceof OAuthError && err.error === 'invalid_client';
    try {
      try {
        return await once();
      } catch (err: unknown) {
        // A client (or its new secret) another process applied a moment ago: read, then tried once more.
        if (invalid(err) && this.options.freshen !== undefined && (await this.options.freshen())) return await once();
        throw err;
      }
    } catch (err: unknown) {
      if (invalid(err)) this.count('auth_failures', presented, origin);
      throw err;
    }
  }

  private count(event: 'token_requests' | 'auth_failures', presented: Presented, origin: Origin, client?: string): void {
    const reads = this.options.policies.current.riskReads;
    if (this.options.velocity === null || !(reads.has('velocity') || reads.has('*'))) return;
    this.options.velocity.record(event, { client: client ?? presented.form.get('client_id') ?? claimedBasicId(presented.authorization), address: origin.address });
  }

  /** POST /oauth2/token. */
  async token(presented: Presented, origin: Origin, requestId: string): Promise<TokenResponse & { mint: MintOutcome[] }> {
    const client = await this.authenticate(presented, origin);
    // Counted once decided, as every velocity counter is: a request's mint decisions see the requests before it, not itself.
    try {
      return await this.grant(client, presented, origin, requestId);
    } finally {
      this.count('token_requests', presented, origin, client.id);
    }
  }

  private async grant(client: Client, presented: Presented, origin: Origin, requestId: string): Promise<TokenResponse & { mint: MintOutcome[] }> {
    const form = presented.form;
    // RFC 6749 §3.2: no parameter may be given twice.
    for (const key of new Set(form.keys())) {
      if (form.getAll(key).length <= 1) continue;
      // RFC 8707 §2 lets a client name several resources; a Gavel token is for one API.
      if (key === 'resource') throw new OAuthError('invalid_target', 'one `resource` per token request: a token is for one API');
      // RFC 8693 §2.1 lets a token exchange name several audiences; §2.2.2: one it cannot serve is invalid_target.
      if (key === 'audience') throw new OAuthError('invalid_target', 'one `audience` per token request: a token is for one API');
      throw new OAuthError('invalid_request', `\`${key}\` is given more than once`);
    }
    const grant = form.get('grant_type');
    if (grant === null) throw new OAuthError('invalid_request', '`grant_type` is required');
    if (grant !== 'client_credentials' && grant !== 'authorization_code' && grant !== 'refresh_token' && grant !== TOKEN_EXCHANGE) {
      throw new OAuthError('unsupported_grant_type', `\`${grant}\` is not supported; this issuer supports client_credentials, authorization_code, refresh_token and token exchange`);
    }
    if (!client.grantTypes.includes(grant)) throw new OAuthError('unauthorized_client', `client \`${client.id}\` may not use ${grant}`);
    // RFC 9449: a DPoP proof for this request binds the access token to the proof's key. It is
    // held against replay while the grant runs and let go if the grant fails: a request that
    // fails for another reason (anyone may send a public client's id without a code) leaves
    // no entry in the cache.
    if (presented.dpop === undefined) return this.granted(client, form, grant, origin, requestId, null);
    const proof = await verifyProof(presented.dpop, { method: 'POST', url: `${this.url}/oauth2/token`, replay: this.replay, releasable: true });
    if (!proof.ok) throw new OAuthError('invalid_dpop_proof', proof.reason);
    try {
      return await this.granted(client, form, grant, origin, requestId, proof.jkt);
    } catch (err: unknown) {
      proof.release();
      throw err;
    }
  }

  private async granted(client: Client, form: URLSearchParams, grant: string, origin: Origin, requestId: string, jkt: string | null): Promise<TokenResponse & { mint: MintOutcome[] }> {
    if (grant === TOKEN_EXCHANGE) return this.exchange(client, form, origin, requestId, jkt);
    if (grant === 'authorization_code') return this.codeGrant(client, form, origin, requestId, jkt);
    if (grant === 'refresh_token') return this.refreshGrant(client, form, origin, requestId, jkt);
    const requested = form.get('scope');
    const api = this.audience(targetOf(form), requested, client);
    const wanted = requested === null ? client.scopes.filter((s) => api.scopes.includes(s)) : scopeList(requested);
    const candidates = wanted.filter((s) => client.scopes.includes(s) && api.scopes.includes(s));
    if (candidates.length === 0) throw new OAuthError('invalid_scope', requested === null ? `client \`${client.id}\` has no scopes of ${api.identifier}` : `none of the requested scopes is allowed to client \`${client.id}\` for ${api.identifier}`);
    const mint = this.mint(client, api, grant, candidates, origin, requestId);
    const granted = mint.filter((m) => m.granted).map((m) => m.scope);
    if (granted.length === 0) {
      const reasons = [...new Set(mint.flatMap((m) => m.reasons))];
      throw new OAuthError('invalid_scope', `the policies granted none of the requested scopes${reasons.length > 0 ? `: ${reasons.join('; ')}` : ''}`);
    }
    // The answer made, then `mint` set on it: a spread into a new literal took V8's slow path (perf, `npm run bench:issuer`).
    return Object.assign(await this.accessToken(client, api, client.id, granted, null, jkt, ttlOf(mint)), { mint });
  }

  /**
   * RFC 8707 §2.2: `resource` on a code or refresh request names the API the token is for; the
   * grant was made for one API, so another one — or one that is not registered — is `invalid_target`.
   */
  private targetProblem(resource: string | null, audience: string): string | null {
    if (resource === null || resource === audience) return null;
    if (!this.options.registry().apis.has(resource)) return `\`${resource}\` is not a registered API`;
    return `the grant is for ${audience}, not \`${resource}\``;
  }

  /** RFC 8707 `resource` (or RFC 8693 `audience`): a registered API; without one, the only API the scopes point to. */
  private audience(resource: string | null, requested: string | null, client: Client): Api {
    const view = this.options.registry();
    if (resource !== null) {
      const api = view.apis.get(resource);
      if (api === undefined) throw new OAuthError('invalid_target', `\`${resource}\` is not a registered API`);
      return api;
    }
    const scopes = requested === null ? client.scopes : scopeList(requested);
    const apis = new Set(scopes.flatMap((s) => view.apisOfScope.get(s) ?? []));
    if (apis.size === 1) return [...apis][0];
    // No `resource` was sent: scopes no API registers are unknown scopes (RFC 6749 §5.2), not a bad target.
    if (apis.size === 0) throw new OAuthError('invalid_scope', 'no registered API has the requested scopes');
    throw new OAuthError('invalid_target', 'the scopes belong to several APIs: say which with `resource`');
  }

  /**
   * A user grant's mint decisions (sign-in and refresh): `openid` when asked for, decided like
   * any scope, and of the API scopes asked (already cut to the client's and the API's) those
   * the user's roles hold for this client. `refused` says why when nothing the grant is for
   * was granted — `openid` for a sign-in only (the userinfo pseudo-API), an API scope otherwise.
   */
  private mintForUser(client: Client, api: Api, grant: string, asked: readonly string[], openid: boolean, user: User, origin: Origin, requestId: string): { mint: MintOutcome[]; granted: string[]; refused: string | null } {
    const signInOnly = api.identifier === this.userinfoApi.identifier;
    const held = roleScopes(this.options.registry().registry, user, client.id);
    const candidates = [...(openid ? ['openid'] : []), ...(signInOnly ? [] : asked.filter((s) => s !== 'openid' && !isClaimScope(s, api) && held.has(s)))];
    const mint = this.mint(client, api, grant, candidates, origin, requestId, user.id);
    const granted = mint.filter((m) => m.granted).map((m) => m.scope);
    // `profile` and `email` only say which of the user's claims userinfo releases: the mint of `openid` decides them.
    if (granted.includes('openid')) granted.splice(1, 0, ...asked.filter((s) => isClaimScope(s, api)));
    if (signInOnly ? granted.length > 0 : granted.some((s) => s !== 'openid' && !isClaimScope(s, api))) return { mint, granted, refused: null };
    const reasons = [...new Set(mint.flatMap((m) => m.reasons))];
    return { mint, granted, refused: `${signInOnly ? 'this user may not sign in to this client' : 'the policies granted none of the scopes'}${reasons.length > 0 ? `: ${reasons.join('; ')}` : ''}` };
  }

  /** One batch of PDP decisions, on one policy revision: may this client get each scope? */
  /**
   * The mint decisions for `scopes`, about the user, or else about the client `about` — the
   * caller, except in a token exchange of another client's token, which is decided about the
   * token's client. `context.client_id` is always the caller.
   */
  private mint(client: Client, api: Api, grant: string, scopes: string[], origin: Origin, requestId: string, user: string | null = null, about: Client = client): MintOutcome[] {
    const set = this.options.policies.current;
    const context = { ip: origin.address ?? '', grant_type: grant, client_id: client.id, audience: api.identifier, time: new Date(this.now()).toISOString() };
    // A user grant asks about the user (the directory adds their attributes, roles and groups).
    const subject = user === null ? { type: 'client', id: about.id, properties: about.attributes } : { type: 'user', id: user };
    return scopes.map((scope, i) => {
      const d = this.options.decider.decide('mint', `${requestId}#${i}`, set, { subject, action: { name: 'mint' }, resource: { type: 'scope', id: scope }, context }, {}, origin);
      // A granting policy may cap the lifetime of tokens carrying the scope: `@token_ttl("300")`.
      const caps = d.decision ? d.determining.flatMap((id) => set.byId.get(id)?.annotations.filter((a) => a.name === 'token_ttl').map((a) => Number(a.values[0])) ?? []) : [];
      return { scope, granted: d.decision, reasons: d.reasons, ttlCap: caps.length > 0 ? Math.min(...caps) : null };
    });
  }

  /** GET /oauth2/authorize: the login and consent page, or the client's redirect with an error. */
  async authorize(asked: URLSearchParams): Promise<BrowserAnswer> {
    const query = await this.pushedParams(asked);
    if (typeof query === 'string') return { kind: 'html', status: 400, html: errorPage(query) };
    const checked = checkAuthorization(query, this.options.registry(), this.now(), this.userinfoApi, this.idTokenAlgs);
    if ('kind' in checked) {
      if (checked.kind === 'page') return { kind: 'html', status: 400, html: errorPage(checked.message) };
      return answerTo(checked.redirectUri, checked.responseMode, { error: checked.error, error_description: errorDescription(checked.description), state: checked.state, iss: this.url });
    }
    // The sign-in is the form's to carry (sealed), not this process's to keep: any process
    // serving the store finishes it, and a flood of requests leaves nothing behind.
    const tx = sealSignIn(this.sealed, checked, randomToken(18));
    return { kind: 'html', status: 200, html: loginPage({ tx, csrf: checked.csrf, client: checked.client.id, scopes: checked.scopes, audience: checked.api.identifier, error: null, username: '' }), csrfCookie: this.csrfCookie(tx, checked) };
  }

  /**
   * POST /oauth2/par (RFC 9126): an authorization request sent by the client itself,
   * authenticated as at the token endpoint and checked as /oauth2/authorize checks it, good
   * for PUSHED_LIFETIME_S as a `request_uri` the browser then carries instead of the
   * parameters: sealed in it, so they cannot be read or changed there, and any process
   * serving the store takes it up, once. Errors are the token endpoint's kind (JSON), since
   * no redirect is involved yet.
   */
  async pushAuthorization(presented: Presented, origin: Origin): Promise<{ request_uri: string; expires_in: number }> {
    const client = await this.authenticate(presented, origin);
    const form = new URLSearchParams(presented.form);
    // §2.1: the request may not point to another pushed one.
    if (form.has('request_uri')) throw new OAuthError('invalid_request', '`request_uri` may not be pushed');
    const named = form.getAll('client_id');
    if (named.length > 1 || (named.length === 1 && named[0] !== client.id)) throw new OAuthError('invalid_request', '`client_id` does not match the authenticated client');
    if (named.length === 0) form.set('client_id', client.id);
    // Client credentials are not authorization parameters: not kept with them.
    for (const key of ['client_secret', 'client_assertion', 'client_assertion_type']) form.delete(key);
    const release = presented.dpop === undefined ? null : await this.pushedKey(presented.dpop, form);
    const checked = checkAuthorization(form, this.options.registry(), this.now(), this.userinfoApi, this.idTokenAlgs);
    if ('kind' in checked) {
      // A refused request leaves its proof unremembered, as a failed grant does.
      release?.();
      throw new OAuthError(checked.kind === 'page' ? 'invalid_request' : pushedError(checked.error), checked.kind === 'page' ? checked.message : checked.description);
    }
    const requestUri = `${PUSHED_PREFIX}${sealPushed(this.sealed, { id: randomToken(18), clientId: client.id, params: form.toString(), expiresAt: this.now() + PUSHED_LIFETIME_S * 1000 })}`;
    if (requestUri.length > MAX_REQUEST_URI) {
      release?.();
      throw new OAuthError('invalid_request', `the pushed request is too large: its request_uri would be ${requestUri.length} characters, more than the ${MAX_REQUEST_URI} a browser's request line carries safely through proxies`);
    }
    return { request_uri: requestUri, expires_in: PUSHED_LIFETIME_S };
  }

  /**
   * RFC 9449 §10.1: a DPoP proof sent with a pushed request binds the code to its key, as
   * `dpop_jkt` does; with both, they must name the same key. The proof is checked as at the
   * token endpoint (for this endpoint's URL) and remembered against replay.
   */
  private async pushedKey(dpop: string, form: URLSearchParams): Promise<() => void> {
    const proof = await verifyProof(dpop, { method: 'POST', url: `${this.url}/oauth2/par`, replay: this.replay, releasable: true });
    if (!proof.ok) throw new OAuthError('invalid_dpop_proof', proof.reason);
    const named = form.getAll('dpop_jkt');
    if (named.length === 0) form.set('dpop_jkt', proof.jkt);
    else if (named.length === 1 && named[0] !== proof.jkt) {
      proof.release();
      throw new OAuthError('invalid_request', '`dpop_jkt` is not the thumbprint of the DPoP proof\'s key');
    }
    return proof.release;
  }

  /**
   * The authorization request's parameters: the query as sent, or — with a `request_uri`
   * (RFC 9126 §4) — what the client pushed, used up here; the query's other parameters are
   * then ignored but `client_id`, which must be the pusher's. A string says why neither.
   */
  private async pushedParams(query: URLSearchParams): Promise<URLSearchParams | string> {
    if (query.getAll('request_uri').length > 1 || query.getAll('client_id').length > 1) return '`request_uri` or `client_id` is given more than once';
    const uri = query.get('request_uri');
    // Said on a page, not sent to the redirect_uri: unpushed, that is the unchecked query's.
    if (this.options.requirePushedAuthorizationRequests === true && (uri === null || !uri.startsWith(PUSHED_PREFIX))) return 'this server takes authorization requests only through its pushed_authorization_request_endpoint (RFC 9126): the application must push the request first';
    if (uri === null || !uri.startsWith(PUSHED_PREFIX)) return query;
    const pushed = openPushed(this.sealed, uri.slice(PUSHED_PREFIX.length));
    const gone = 'this authorization request has expired or was already used; start again from the application';
    if (pushed === null || pushed.expiresAt < this.now()) return gone;
    if (query.get('client_id') !== pushed.clientId) return 'the client_id does not match the pushed authorization request';
    // RFC 9126 §4: used once — at this process or any other serving the store.
    if (!(await this.once.claim('pushed', pushed.id, pushed.expiresAt))) return gone;
    return new URLSearchParams(pushed.params);
  }

  /**
   * The answer a sign-in just finished with, for the same form sent again (a double click):
   * the browser shows the second request's answer, so it must carry the same redirect — the
   * one code — or the user is left on an error page and the client never gets the code.
   * Asked only once the form passed what the first did (its CSRF token and cookie, a right
   * password), and given only to the same user, for FINISHED_KEPT_MS, at the process that
   * finished it (another finds the code in the store: signedIn), and — for a code — while no
   * client has redeemed it. Anyone else holding the form is told the sign-in was completed.
   */
  private finished(id: string, subject: string): Promise<BrowserAnswer> | BrowserAnswer | null {
    // Still finishing (its code waiting for the store's lock): the answer it is about to give.
    const finishing = this.finishing.get(id);
    if (finishing !== undefined) return finishing.subject === subject ? finishing.answer : COMPLETED;
    const f = this.done.get(id);
    if (f === undefined || f.expiresAt < this.now()) return null;
    if (f.subject !== subject) return COMPLETED;
    // A code the client redeemed meanwhile is not sent again: presented twice, it would revoke what it issued.
    const code = f.answer.kind === 'redirect' ? f.answer.params.code : undefined;
    if (code !== undefined && !this.options.store.codeWaiting(sha256(code), Math.floor(this.now() / 1000))) return COMPLETED;
    return f.answer;
  }

  /** A sign-in's CSRF cookie, one per transaction: with one for all, a second sign-in in another tab overwrote the first's, whose form then failed the check. */
  private csrfCookie(tx: string, p: PendingAuthorization): { tx: string; value: string; maxAgeS: number } {
    return { tx: signInId(tx), value: p.csrf, maxAgeS: Math.max(1, Math.ceil((p.expiresAt - this.now()) / 1000)) };
  }

  /**
   * Takes the sign-in for this request, when it ends without a code (the user's refusal, too
   * many tries, the policies refusing): whichever request gets here first, at any process
   * serving the store, answers; the others are told it was completed. A code is stored with
   * its claim in one transaction instead (signedIn). So one authorization request yields one
   * answer, however often its sealed form is sent.
   */
  private async claim(p: SignIn): Promise<boolean> {
    return this.once.claim('sign-in', p.id, p.expiresAt);
  }

  /**
   * POST /oauth2/authorize: the signed-in user's answer. The form must carry the
   * transaction's CSRF token, equal to the cookie set with the page (SameSite=Strict), so
   * another site cannot submit it. Granted scopes: the requested ones the user's roles hold,
   * each permitted by a mint decision about the user; the code carries them.
   */
  async login(form: URLSearchParams, cookieCsrf: string | undefined, origin: Origin, requestId: string): Promise<BrowserAnswer> {
    const tx = form.get('tx') ?? '';
    const p = openSignIn(this.sealed, tx, { client: (id) => this.options.registry().clients.get(id), api: (audience) => this.apiOf(audience) });
    if (p === null || p.expiresAt < this.now()) return { kind: 'html', status: 400, html: errorPage('this sign-in has expired; start again from the application') };
    if (form.get('csrf') !== p.csrf || cookieCsrf !== p.csrf) return { kind: 'html', status: 403, html: errorPage('the form was not sent by this page (CSRF check failed); start again from the application') };
    // The answer, kept for a second click of the same form by the same user (`null`: none signed in).
    const back = (params: Record<string, string | null>, subject: string | null = null): BrowserAnswer => {
      const answer = { ...answerTo(p.redirectUri, p.responseMode, { ...params, state: p.state, iss: this.url }), clearCsrf: p.id };
      this.done.add(p.id, attemptKey(origin.address ?? 'unknown'), { answer, subject, expiresAt: this.now() + FINISHED_KEPT_MS }, this.now());
      return answer;
    };
    if (form.get('decision') === 'deny') return (await this.claim(p)) ? back({ error: 'access_denied', error_description: 'the user denied the request' }) : COMPLETED;
    const username = form.get('username') ?? '';
    const user = this.options.registry().users.get(username);
    // At most five tries per sign-in, counted at every process serving the store; then the application must start again.
    if ((await this.signInTries.count(p.id)) > 0) return (await this.claim(p)) ? back({ error: 'access_denied', error_description: 'too many failed sign-in attempts' }) : COMPLETED;
    const address = attemptKey(origin.address ?? 'unknown');
    // A name is counted as given (users are looked up exactly), up to a length no user id has:
    // a megabyte of name per guess must not become a megabyte of memory per key.
    const name = username.length > 256 ? `sha256:${sha256(username)}` : username;
    // Counted as a failure before the password is checked, and the limit checked in the same
    // step: thousands of guesses sent at once — to this process or others sharing the store —
    // would otherwise all pass the check while scrypt runs. A right password takes its count
    // back, and so does an attempt refused here, which is not checked.
    const wait = Math.max(await this.signInsByAddress.count(address), await this.signInsByUser.count(name));
    if (wait > 0) {
      this.signInsByAddress.release(address);
      this.signInsByUser.release(name);
      // The same answer whatever the password: it is not checked.
      const error = `Too many failed sign-ins. Try again in ${wait} seconds.`;
      return { kind: 'html', status: 429, retryAfter: wait, html: loginPage({ tx, csrf: p.csrf, client: p.client.id, scopes: p.scopes, audience: p.api.identifier, error, username }), csrfCookie: this.csrfCookie(tx, p) };
    }
    // An unknown user costs the same scrypt as a known one: timing does not tell who exists.
    const ok = await passwordMatches(form.get('password') ?? '', user?.passwordHash ?? DUMMY_HASH);
    if (!ok || user === undefined || user.passwordHash === null) {
      this.options.velocity?.record('auth_failures', { subject: subjectKey('user', name), address: origin.address });
      return { kind: 'html', status: 401, html: loginPage({ tx, csrf: p.csrf, client: p.client.id, scopes: p.scopes, audience: p.api.identifier, error: 'Wrong user or password.', username }), csrfCookie: this.csrfCookie(tx, p) };
    }
    this.signInsByAddress.release(address);
    this.signInsByUser.release(name);
    // The same form sent twice (a double click) ran two password checks at once: the second
    // to get here gives the first's answer, finishing or finished.
    const twin = this.finished(p.id, user.id);
    if (twin !== null) return twin;
    // Set in this turn, before anything is waited for: a twin arriving meanwhile finds it.
    const answer = this.signedIn(p, user, origin, requestId, back);
    this.finishing.set(p.id, { subject: user.id, answer });
    try {
      return await answer;
    } finally {
      this.finishing.delete(p.id);
    }
  }

  /**
   * A user who signed in: the mint decisions made, and the code stored with the sign-in's
   * claim in one transaction — a store that refuses the write (busy: a 503) takes neither, so
   * the same form may be sent again. The code follows from the sign-in (a MAC of its id under
   * the issuer secret) and of the user: a twin of the form that reached another process (a
   * double click behind a load balancer) finds the sign-in taken and answers with the same
   * code, while no client has redeemed it — the browser shows the second answer, and must not
   * be left without one.
   */
  private async signedIn(p: SignIn, user: User, origin: Origin, requestId: string, back: (params: Record<string, string | null>, subject?: string | null) => BrowserAnswer): Promise<BrowserAnswer> {
    // Of the sign-in and the user: another user signing in with the same form derives another
    // code, which no row holds, and is told the sign-in was completed.
    const code = this.sealed.derive(`code/${p.id}/${user.id}`);
    const sameCode = (): BrowserAnswer => (this.options.store.codeWaiting(sha256(code), Math.floor(this.now() / 1000)) ? back({ code }, user.id) : COMPLETED);
    const { mint, granted, refused } = this.mintForUser(p.client, p.api, 'authorization_code', p.scopes, p.openid, user, origin, requestId);
    if (refused !== null) return (await this.claim(p)) ? back({ error: 'access_denied', error_description: refused }) : sameCode();
    const now = Math.floor(this.now() / 1000);
    const stored = await this.options.store.write((s) =>
      s.saveCodeOnce(
        {
          hash: sha256(code),
          clientId: p.client.id,
          redirectUri: p.redirectUri,
          challenge: p.challenge,
          subject: user.id,
          scope: granted.join(' '),
          audience: p.api.identifier,
          expiresAt: now + 60,
          nonce: p.nonce,
          authTime: now,
          ttlCap: ttlOf(mint),
          dpopJkt: p.dpopJkt,
        },
        this.once.claimOf('sign-in', p.id, p.expiresAt),
      ),
    );
    return stored ? back({ code }, user.id) : sameCode();
  }

  /** authorization_code (RFC 6749 §4.1.3, RFC 7636 §4.6): single use, bound to client, redirect and challenge. */
  private async codeGrant(client: Client, form: URLSearchParams, _origin: Origin, _requestId: string, jkt: string | null): Promise<TokenResponse & { mint: MintOutcome[] }> {
    const code = form.get('code');
    const verifier = form.get('code_verifier');
    if (code === null) throw new OAuthError('invalid_request', '`code` is required');
    if (verifier === null) throw new OAuthError('invalid_request', '`code_verifier` is required (PKCE)');
    const now = Math.floor(this.now() / 1000);
    const redirectUri = form.get('redirect_uri');
    const resource = form.get('resource');
    let offTarget = false;
    // Checked before the code is used up: a request that fails them does not burn it.
    // The family the code's tokens start, tied to the code as it is used: a replay from then on revokes it.
    const family = randomUUID();
    const use = await this.options.store.write((s) => s.useCode(sha256(code), now, (c) => {
      if (c.clientId !== client.id) return 'the code was issued to another client';
      if (redirectUri !== c.redirectUri) return 'redirect_uri does not match the authorization request';
      if (!verifierMatches(verifier, c.challenge)) return 'code_verifier does not match the code_challenge';
      // RFC 9449 §10: a stolen code is no use without the key the authorization request named.
      if (c.dpopJkt != null && c.dpopJkt !== jkt) return jkt === null ? 'the code is bound to a DPoP key (dpop_jkt): send a DPoP proof by that key' : 'the DPoP proof is by another key than the authorization request\'s dpop_jkt';
      // The client's ID token algorithm may have changed since it signed in: refused while the code is still good.
      if (c.scope.split(' ').includes('openid')) {
        const algProblem = idTokenAlgProblem(client, this.idTokenAlgs);
        if (algProblem !== null) return algProblem;
      }
      const problem = this.targetProblem(resource, c.audience);
      offTarget = problem !== null;
      return problem;
    }, client.id, family));
    if (use.kind === 'reused') {
      // RFC 6749 §4.1.2: a code used twice revokes what it issued.
      if (use.family !== null) await this.revokeFamily(use.family);
      throw new OAuthError('invalid_grant', 'the code was already used; what it issued is revoked');
    }
    if (use.kind === 'refused') throw new OAuthError(offTarget ? 'invalid_target' : 'invalid_grant', use.reason);
    if (use.kind !== 'ok') throw new OAuthError('invalid_grant', use.kind === 'expired' ? 'the code expired' : 'unknown code');
    const c = use.code;
    const api = this.apiOf(c.audience);
    if (api === undefined) throw new OAuthError('invalid_grant', 'the API is no longer registered');
    const tokens = await this.userTokens(client, api, c.subject, c.scope.split(' '), family, [], jkt, c.ttlCap ?? null);
    if (!c.scope.split(' ').includes('openid')) return tokens;
    return { ...tokens, id_token: await this.idToken(client, c.subject, c.nonce ?? null, c.authTime ?? null) };
  }

  /** An OpenID Connect ID token (Core §2): who signed in, for the client. */
  private async idToken(client: Client, subject: string, nonce: string | null, authTime: number | null): Promise<string> {
    const iat = Math.floor(this.now() / 1000);
    const claims: JWTPayload = { iss: this.url, sub: subject, aud: client.id, iat, exp: iat + 300, ...(authTime === null ? {} : { auth_time: authTime }), ...(nonce === null ? {} : { nonce }) };
    return this.options.keys.sign(claims, 'JWT', client.idTokenAlg ?? this.options.keys.idTokenAlg);
  }

  /** The algorithms an ID token may be signed with: the ring's, the ID tokens' default first. */
  get idTokenAlgs(): SigningAlgorithm[] {
    const keys = this.options.keys;
    return [keys.idTokenAlg, ...keys.inUse.filter((a) => a !== keys.idTokenAlg)];
  }

  /** GET/POST /oauth2/userinfo: the signed-in user's claims, for an access token with `openid`. */
  async userinfo(authorization: string | undefined, dpop: string | undefined, method: string): Promise<Record<string, unknown>> {
    const presented = accessToken(authorization);
    // RFC 6750 §3.1: a request without credentials gets the challenges (Bearer, and DPoP as
    // RFC 9449 §7.1 offers it) without an error code.
    if (presented === null) {
      // A token in the wrong shape is a malformed request (400), not an absent one.
      if (/^(bearer|dpop)\s/i.test(authorization ?? '')) throw new OAuthError('invalid_request', 'the access token is malformed: send `Bearer TOKEN` (or `DPoP TOKEN`), the token in base64url', 400, 'Bearer error="invalid_request"');
      throw new OAuthError('invalid_request', 'an access token with the openid scope is required', 401, `Bearer, ${dpopChallenge()}`);
    }
    const claims = await this.verify(presented.token);
    if (claims === null) throw new OAuthError('invalid_token', 'the access token is not valid: expired, revoked, or not issued by this server', 401, 'Bearer error="invalid_token"');
    // The key first: a bound token presented without its proof is refused as the gateways refuse
    // it, whatever its scope — a 403 would tell whoever holds a stolen one that it is live.
    const problem = await bindingProblem(claims, presented.scheme, presented.token, dpop, { method, url: `${this.url}/oauth2/userinfo` }, this.replay);
    if (problem !== null) {
      const code = problem.badProof ? 'invalid_dpop_proof' : 'invalid_token';
      throw new OAuthError(code, problem.reason, 401, dpopChallenge({ code, description: problem.reason }));
    }
    // RFC 6750 §3.1 / OpenID Connect Core §5.3.3: a valid token without the scope is 403, so
    // that a client does not throw the token away as invalid.
    if (typeof claims.scope !== 'string' || !claims.scope.split(' ').includes('openid')) {
      throw new OAuthError('insufficient_scope', 'the access token lacks the openid scope', 403, 'Bearer error="insufficient_scope", scope="openid"');
    }
    const user = typeof claims.sub === 'string' ? this.options.registry().users.get(claims.sub) : undefined;
    if (user === undefined) throw new OAuthError('invalid_token', 'the user no longer exists', 401, 'Bearer error="invalid_token"');
    // OpenID Connect Core §5.4: the claims each scope the token holds asks for, and no others.
    const scopes = claims.scope.split(' ');
    const released = [...(scopes.includes('profile') ? PROFILE_CLAIMS : []), ...(scopes.includes('email') ? EMAIL_CLAIMS : [])];
    const picked = Object.fromEntries(released.filter((k) => user.attributes[k] !== undefined).map((k) => [k, user.attributes[k]]));
    return { sub: user.id, ...picked };
  }

  /**
   * refresh_token with rotation (RFC 9700 §4.14.2): each use returns a new one; reuse
   * revokes the family. Everything is checked before the token is rotated — the client,
   * that the user and API still exist, the scopes (the stored ones, narrowed as asked, cut
   * again to what the client, the API and the user's roles allow today), the DPoP key of a
   * bound family, and the mint decisions with this request's context — so a refused
   * refresh leaves the token usable. Successors keep the family's original expiry.
   */
  private async refreshGrant(client: Client, form: URLSearchParams, origin: Origin, requestId: string, jkt: string | null): Promise<TokenResponse & { mint: MintOutcome[] }> {
    const presented = form.get('refresh_token');
    if (presented === null) throw new OAuthError('invalid_request', '`refresh_token` is required');
    const hash = sha256(presented);
    const stored = this.options.store.refreshToken(hash);
    // RFC 9449 §5: a bound family refreshes only with a proof by its key.
    if (stored?.jkt && stored.clientId === client.id && stored.jkt !== jkt) throw new OAuthError('invalid_grant', 'the refresh token is DPoP-bound: send a DPoP proof by its key');
    const now = Math.floor(this.now() / 1000);
    const successor = randomToken();
    const requested = form.get('scope');
    const view = this.options.registry();
    const resource = form.get('resource');
    let outcome: { api: Api; granted: string[]; mint: MintOutcome[] } | null = null;
    let revoke = false;
    // The error a refusal answers, set where the refusal is made (not read back from its text).
    let refusal: OAuthErrorCode = 'invalid_grant';
    const use = await this.options.store.write((s) => s.rotateRefreshToken(hash, sha256(successor), seal(this.options.secret, successor), now, this.refreshGrace, (t) => {
      if (t.clientId !== client.id) return 'the refresh token was issued to another client';
      const target = this.targetProblem(resource, t.audience);
      if (target !== null) return (refusal = 'invalid_target'), target;
      const api = this.apiOf(t.audience);
      const user = view.users.get(t.subject);
      if (api === undefined || user === undefined) {
        revoke = true;
        return api === undefined ? 'the API is no longer registered' : 'the user no longer exists';
      }
      const held = t.scope.split(' ');
      const asked = requested === null ? held : scopeList(requested);
      if (asked.some((x) => !held.includes(x))) return (refusal = 'invalid_scope'), 'a refresh cannot widen the scope';
      // Decided again as at sign-in, with the refresh request's context.
      const openid = asked.includes('openid') && client.scopes.includes('openid');
      const { mint, granted, refused } = this.mintForUser(client, api, 'refresh_token', asked.filter((x) => (client.scopes.includes(x) && api.scopes.includes(x)) || isClaimScope(x, api)), openid, user, origin, requestId);
      // No API scope granted is the scope's fault; a user refused a sign-in only, the grant's.
      if (refused !== null) return (refusal = api.identifier === this.userinfoApi.identifier ? 'invalid_grant' : 'invalid_scope'), refused;
      outcome = { api, granted, mint };
      return null;
      // RFC 9449 §5: a public client's refresh tokens are bound to the key of the proof it sends,
      // from the first refresh that sends one when its sign-in did not.
    }, client.id, client.authMethod === 'none' ? jkt : null));
    if (use.kind === 'reused') {
      this.reloadRevoked();
      throw new OAuthError('invalid_grant', 'the refresh token was already used; its whole family is revoked');
    }
    if (use.kind === 'unknown' || use.kind === 'expired') throw new OAuthError('invalid_grant', use.kind === 'expired' ? 'the refresh token expired' : 'unknown or revoked refresh token');
    if (use.kind === 'refused') {
      if (revoke) await this.revokeFamily(use.token.family);
      throw new OAuthError(refusal, use.reason);
    }
    const done = outcome as { api: Api; granted: string[]; mint: MintOutcome[] } | null;
    if (done === null) throw new Error('refresh checked without an outcome');
    const refresh = use.kind === 'replayed' ? unseal(this.options.secret, use.successorSealed) : successor;
    // A lost answer is answered again only to the key its successor is bound to (RFC 9449 §5):
    // a family bound at this rotation would otherwise hand the unbound original's holder,
    // within the grace window, a token for any key or none.
    const bound = use.kind === 'replayed' ? (this.options.store.refreshToken(sha256(refresh))?.jkt ?? null) : null;
    if (bound !== null && bound !== jkt) throw new OAuthError('invalid_grant', 'the refresh token is DPoP-bound: send a DPoP proof by its key');
    return { ...(await this.accessToken(client, done.api, use.token.subject, done.granted, use.token.family, jkt, ttlOf(done.mint))), refresh_token: refresh, mint: done.mint };
  }

  /**
   * RFC 8693 token exchange: a token this issuer minted (`subject_token`) becomes a token for
   * another API (`resource`/`audience`) with at most its scopes — never more — for the
   * calling client, which is recorded as the actor (`act`, nested when the subject token
   * already had one; an `actor_token` must be the caller's own). The policies decide each
   * scope again, about the token's subject.
   */
  private async exchange(client: Client, form: URLSearchParams, origin: Origin, requestId: string, jkt: string | null): Promise<TokenResponse & { mint: MintOutcome[] }> {
    const subjectToken = form.get('subject_token');
    if (subjectToken === null) throw new OAuthError('invalid_request', '`subject_token` is required');
    if (form.get('subject_token_type') !== ACCESS_TOKEN_TYPE) throw new OAuthError('invalid_request', `subject_token_type must be ${ACCESS_TOKEN_TYPE}`);
    const requestedType = form.get('requested_token_type');
    if (requestedType !== null && requestedType !== ACCESS_TOKEN_TYPE) throw new OAuthError('invalid_request', `only ${ACCESS_TOKEN_TYPE} can be issued`);
    const subject = await this.verify(subjectToken);
    // RFC 8693 §2.2.2: a subject or actor token that is invalid, or unacceptable by policy, is `invalid_request`.
    // A token reaches a client legitimately by being issued to it, or by being presented to
    // an API the client serves; any other client holding it got it some other way. Such a
    // client hears what it would of a forged or revoked token: a different answer would tell
    // it the token is live, which introspection does not tell it either.
    if (subject === null || typeof subject.sub !== 'string' || !this.mayHold(client, subject)) throw new OAuthError('invalid_request', SUBJECT_TOKEN_REFUSED);
    // A DPoP-bound token is exchanged only with a proof by its key, and the new token stays bound to it.
    const bound = boundKey(subject);
    if (bound !== null && bound !== jkt) throw new OAuthError('invalid_request', 'subject_token is DPoP-bound: send a DPoP proof by its key');
    let actor: JWTPayload = { sub: client.id };
    const actorToken = form.get('actor_token');
    if (actorToken !== null) {
      if (form.get('actor_token_type') !== ACCESS_TOKEN_TYPE) throw new OAuthError('invalid_request', `actor_token_type must be ${ACCESS_TOKEN_TYPE}`);
      const verified = await this.verify(actorToken);
      // The actor is the caller: its own token (RFC 8693 §2.1, the acting party). A token it
      // holds for someone else — a user's, or one exchanged for another client — would name as
      // the actor a party that never acted, and drop the caller from the chain. Another
      // party's token is not told apart from a forged one, as for the subject token.
      if (verified === null || verified.sub !== client.id || verified.client_id !== client.id) throw new OAuthError('invalid_request', ACTOR_TOKEN_REFUSED);
      if (boundKey(verified) !== null && boundKey(verified) !== jkt) throw new OAuthError('invalid_request', 'actor_token is DPoP-bound: send a DPoP proof by its key');
      actor = { sub: verified.sub };
    }
    const held = typeof subject.scope === 'string' ? subject.scope.split(' ').filter((x) => x !== '') : [];
    const requested = form.get('scope');
    const wanted = requested === null ? held : scopeList(requested);
    const beyond = wanted.filter((x) => !held.includes(x));
    if (beyond.length > 0) throw new OAuthError('invalid_scope', `the subject token does not hold ${beyond.join(', ')}: an exchange cannot widen scope`);
    const api = this.audience(targetOf(form), wanted.join(' '), client);
    // Whose token it is, by the registry (user and client ids never coincide): `sub` equal to
    // `client_id` marks only a client's first token — one it exchanged already names the
    // exchanging client in `client_id`, and must not turn its client subject into a user.
    const view = this.options.registry();
    const person = view.users.get(subject.sub);
    const user = person === undefined ? null : person.id;
    const subjectClient = person === undefined ? view.clients.get(subject.sub) : undefined;
    if (person === undefined && subjectClient === undefined) throw new OAuthError('invalid_request', 'the subject token\'s user or client no longer exists');
    const byRoles = person === undefined ? null : roleScopes(view.registry, person, client.id);
    const candidates = wanted.filter((x) => api.scopes.includes(x) && client.scopes.includes(x) && (byRoles === null || byRoles.has(x)));
    if (candidates.length === 0) throw new OAuthError('invalid_scope', `none of the scopes is both the client's and ${api.identifier}'s${byRoles === null ? '' : ", and held by the user's roles for this client"}`);
    // About the token's subject: a forbid for that client must not be passed by exchanging its token.
    const mint = this.mint(client, api, TOKEN_EXCHANGE, candidates, origin, requestId, user, subjectClient ?? client);
    const granted = mint.filter((m) => m.granted).map((m) => m.scope);
    if (granted.length === 0) throw new OAuthError('invalid_scope', `the policies granted none of the scopes: ${[...new Set(mint.flatMap((m) => m.reasons))].join('; ')}`);
    const iat = Math.floor(this.now() / 1000);
    // Never outlive the token it came from, nor a policy's @token_ttl.
    const cap = Math.min(ttlOf(mint) ?? Infinity, typeof subject.exp === 'number' ? subject.exp - iat : 0);
    const act = subject.act === undefined ? actor : { ...actor, act: subject.act };
    // As any access token to the API: its format (JWT or opaque), its custom claims.
    // The user is the subject token's `sub` unless that token was a client's own (as for its mint decisions).
    // A token exchanged from one issued in a family (a sign-in's) joins the family: revoking it
    // — a revocation, a replayed code, a reused refresh token — revokes what was exchanged too.
    const family = typeof subject.jti === 'string' ? this.options.store.familyOfAccess(subject.jti) : null;
    // Revoking the subject token revokes this one too, whatever its family (a client's own token has none).
    const access = await this.accessToken(client, api, subject.sub, granted, family, jkt, cap, { act }, user, typeof subject.jti === 'string' ? subject.jti : null);
    return { ...access, issued_token_type: ACCESS_TOKEN_TYPE, mint };
  }

  private async userTokens(client: Client, api: Api, subject: string, scopes: string[], family: string, mint: MintOutcome[], jkt: string | null, cap: number | null): Promise<TokenResponse & { mint: MintOutcome[] }> {
    const access = await this.accessToken(client, api, subject, scopes, family, jkt, cap);
    if (!client.grantTypes.includes('refresh_token')) return { ...access, mint };
    const refresh = randomToken();
    const now = Math.floor(this.now() / 1000);
    // RFC 9449 §5: a public client's refresh tokens are bound to its DPoP key, when it has one.
    const bound = client.authMethod === 'none' ? jkt : null;
    const saved = await this.options.store.write((s) => s.saveRefreshToken({ hash: sha256(refresh), family, clientId: client.id, subject, scope: scopes.join(' '), audience: api.identifier, expiresAt: now + (this.options.refreshTtl ?? 30 * 86_400), jkt: bound }));
    if (!saved) throw revokedMeanwhile();
    return { ...access, refresh_token: refresh, mint };
  }

  /** An access token to `api`, in its format with its custom claims; `extra` claims (a token exchange's `act`) are added. */
  private async accessToken(client: Client, api: Api, subject: string, scopes: string[], family: string | null, jkt: string | null, cap: number | null = null, extra: JWTPayload = {}, user: string | null = subject === client.id ? null : subject, exchangedFrom: string | null = null): Promise<TokenResponse> {
    const iat = Math.floor(this.now() / 1000);
    const ttl = Math.min(api.accessTokenTtl, cap ?? Infinity);
    const scope = scopes.join(' ');
    const jti = randomUUID();
    const claims: JWTPayload = { ...this.mappedClaims(api, client, user), iss: this.url, sub: subject, aud: api.identifier, iat, exp: iat + ttl, jti, client_id: client.id, scope, ...extra, ...(jkt === null ? {} : { cnf: { jkt } }) };
    // Recorded before the token is signed; refused when the grant was revoked while it ran (a
    // code replayed, a refresh token reused or revoked, the subject token revoked): its
    // revocation did not see this token, which so is never handed out.
    if (family !== null && !(await this.options.store.write((s) => s.recordFamilyAccess(family, jti, iat + ttl)))) throw revokedMeanwhile();
    if (exchangedFrom !== null && !(await this.options.store.write((s) => s.recordExchange(exchangedFrom, jti, iat + ttl)))) throw revokedMeanwhile();
    const tokenType = jkt === null ? 'Bearer' : 'DPoP';
    if (api.tokenFormat === 'opaque') {
      // A reference token: random, meaningless to its holder; introspection resolves it.
      const token = randomToken();
      await this.options.store.write((s) => s.saveOpaqueToken(sha256(token), claims, iat + ttl));
      return { access_token: token, token_type: tokenType, expires_in: ttl, scope };
    }
    return { access_token: await this.options.keys.sign(claims, 'at+jwt'), token_type: tokenType, expires_in: ttl, scope };
  }

  /** The API's custom claims, from the user's (user grants) or the client's attributes; absent ones are left out. */
  private mappedClaims(api: Api, client: Client, userId: string | null): Record<string, unknown> {
    if (api.claims === undefined) return {};
    const user = userId === null ? undefined : this.options.registry().users.get(userId);
    const out: Record<string, unknown> = {};
    for (const [claim, source] of Object.entries(api.claims)) {
      const [from, attribute] = source.split('.');
      const value = from === 'user' ? user?.attributes[attribute] : client.attributes[attribute];
      if (value !== undefined) out[claim] = value;
    }
    return out;
  }

  private async revokeFamily(family: string): Promise<void> {
    await this.options.store.write((s) => s.revokeFamily(family, Math.floor(this.now() / 1000)));
    this.reloadRevoked();
  }

  /** Reads the revoked tokens again: another process sharing the store revoked one (the revocation marker moved). */
  revocationsChanged(): void {
    this.reloadRevoked();
  }

  private reloadRevoked(): void {
    this.revoked = this.options.store.revokedTokens(Math.floor(this.now() / 1000));
  }

  /** Whether a browser page of `origin` may call the token, revocation and userinfo endpoints: the issuer's own, or a client's redirect URI's. */
  webOriginAllowed(origin: string): boolean {
    return origin === new URL(this.url).origin || this.options.registry().webOrigins.has(origin);
  }

  /** Whether dynamic registration is on: software statements have trusted keys. */
  get registrationOpen(): boolean {
    return Boolean(this.options.softwareStatementKeys);
  }

  /** POST /oauth2/register (RFC 7591), with a software statement; only while `registrationOpen`. */
  async register(body: unknown): Promise<Record<string, unknown>> {
    const keys = this.options.softwareStatementKeys;
    if (!keys) throw new Error('dynamic registration is off');
    // `openid` is the issuer's own (sign-in), as discovery's scopes_supported says: a statement may allow it.
    const scopes = new Set(['openid', ...this.options.registry().registry.apis.flatMap((a) => a.scopes)]);
    const { client, response } = await register(body, keys, scopes, this.now(), this.idTokenAlgs);
    await this.options.store.write((s) => s.addClient(client));
    this.options.registered?.();
    return response;
  }

  /** RFC 7662: the token's claims while it is valid and not revoked; else `{active: false}`. */
  async introspect(presented: Presented, origin: Origin): Promise<Record<string, unknown>> {
    const caller = await this.authenticate(presented, origin);
    // A public client proves nothing about itself: it may not look into tokens.
    if (caller.authMethod === 'none') throw new OAuthError('invalid_client', 'introspection needs an authenticated client', 401);
    const token = onlyToken(presented.form);
    const claims = await this.verify(token);
    if (claims === null) {
      // A refresh token (RFC 7662 §2.1 covers them): its own client's to look into, no one else's.
      const refresh = this.options.store.liveRefreshToken(sha256(token), Math.floor(this.now() / 1000));
      if (refresh === null || refresh.clientId !== caller.id) return { active: false };
      return { active: true, client_id: refresh.clientId, sub: refresh.subject, scope: refresh.scope, aud: refresh.audience, exp: refresh.expiresAt, iss: this.url };
    }
    // RFC 7662 §4: a caller learns about the tokens it was issued and those of the APIs it
    // serves, and nothing else — to anyone else a live token is as good as unknown.
    if (!this.mayHold(caller, claims)) return { active: false };
    return { active: true, token_type: boundKey(claims) === null ? 'Bearer' : 'DPoP', ...claims };
  }

  /** Whether a token is the caller's to see: issued to it, or for an API listing it among its resource servers. */
  private mayHold(caller: Client, claims: JWTPayload): boolean {
    if (claims.client_id === caller.id) return true;
    const apis = this.options.registry().apis;
    const audiences = Array.isArray(claims.aud) ? claims.aud : claims.aud === undefined ? [] : [claims.aud];
    return audiences.some((aud) => apis.get(aud)?.resourceServers?.includes(caller.id) === true);
  }

  /** RFC 7009: revokes a token the caller was issued; unknown or invalid tokens are fine (200). */
  async revoke(presented: Presented, origin: Origin): Promise<void> {
    const client = await this.authenticate(presented, origin);
    const token = onlyToken(presented.form);
    // A refresh token revokes its whole family, with the access tokens issued in it (RFC 7009 §2.1).
    if (await this.options.store.write((s) => s.revokeRefreshFamily(sha256(token), client.id, Math.floor(this.now() / 1000)))) return this.reloadRevoked();
    const claims = await this.verify(token);
    if (claims === null || typeof claims.jti !== 'string') return;
    // Another client's token is, to this caller, as good as unknown (RFC 7009 §2.2: 200), and
    // is not revoked: an error here would tell anyone with a client id which tokens are live.
    if (claims.client_id !== client.id) return;
    // What was exchanged from it goes with it: a leaked token's derived tokens are as leaked.
    const jti = claims.jti;
    const exchanged = await this.options.store.write((s) => s.revokeToken(jti, claims.exp ?? 0));
    this.revoked.set(claims.jti, claims.exp ?? 0);
    if (exchanged.length > 0) this.reloadRevoked();
    // Now and then the ids of tokens expired since leave (the store's list is pruned as it is read).
    if (this.revoked.size % 1024 === 0) {
      const now = Math.floor(this.now() / 1000);
      for (const [jti, exp] of this.revoked) if (exp < now) this.revoked.delete(jti);
    }
  }

  jwks(): ReturnType<KeyRing['jwks']> {
    return this.options.keys.jwks();
  }

  isRevoked(jti: unknown): boolean {
    return typeof jti === 'string' && this.revoked.has(jti);
  }

  /** The claims of a token this issuer signed (or an opaque one it issued), still valid and not revoked; else `null`. */
  async verify(token: string): Promise<JWTPayload | null> {
    const checked = await this.checkToken(token);
    return 'claims' in checked ? checked.claims : null;
  }

  /**
   * As `verify`, saying why a token is not good where that tells its holder what to do: a token
   * that expired or was revoked (its signature good) is said to be so, the same each time it is
   * presented — a decision interface had said "token expired" only the first time, while the
   * verified token was still cached.
   */
  async checkToken(token: string): Promise<{ claims: JWTPayload } | { problem: 'expired' | 'revoked' | 'invalid' }> {
    if (!token.includes('.')) {
      // Read whatever its expiry (0: any row still kept), so an expired one is said to be expired.
      const now = Math.floor(this.now() / 1000);
      const claims = this.options.store.opaqueToken(sha256(token), 0);
      if (claims === null) return { problem: 'invalid' };
      if (typeof claims.exp !== 'number' || claims.exp <= now) return { problem: 'expired' };
      return this.isRevoked(claims.jti) ? { problem: 'revoked' } : { claims: claims as JWTPayload };
    }
    try {
      const { payload } = await jwtVerify(token, this.options.keys.verificationKeys(), { issuer: this.url, typ: 'at+jwt', currentDate: new Date(this.now()) });
      return this.isRevoked(payload.jti) ? { problem: 'revoked' } : { claims: payload };
    } catch (err: unknown) {
      // jose checks the signature before the claims: an expired token is one this issuer signed.
      return { problem: err instanceof joseErrors.JWTExpired ? 'expired' : 'invalid' };
    }
  }
}

/** The shortest lifetime cap among the granted scopes' policies. */
function ttlOf(mint: readonly MintOutcome[]): number | null {
  const caps = mint.filter((m) => m.granted && m.ttlCap !== null).map((m) => m.ttlCap!);
  return caps.length > 0 ? Math.min(...caps) : null;
}

/** The client id a Basic header claims, for counting a failure; `null` when there is none. */
function claimedBasicId(header: string | undefined): string | null {
  const basic = basicCredentials(header);
  return basic === null || basic === 'malformed' ? null : basic.id;
}

/** An authorization error as the PAR endpoint answers it: the codes RFC 6749 §4.1.2.1 and RFC 9126 §2.3 share with it. */
function pushedError(error: string): OAuthErrorCode {
  const known: readonly OAuthErrorCode[] = ['invalid_request', 'unauthorized_client', 'invalid_scope', 'invalid_target', 'unsupported_response_type'];
  return (known as readonly string[]).includes(error) ? (error as OAuthErrorCode) : 'invalid_request';
}

/** A grant whose code, refresh token or subject token was revoked while it was being issued. */
const revokedMeanwhile = (): OAuthError => new OAuthError('invalid_grant', 'the grant was revoked while this token was being issued');

/**
 * The API a token request names: RFC 8707 `resource` or RFC 8693 `audience`. A token is for
 * one API, so with both they must name the same one — else one of them would be dropped
 * without a word, and the client would hold a token for a target it did not ask for.
 */
function targetOf(form: URLSearchParams): string | null {
  const resource = form.get('resource');
  const audience = form.get('audience');
  if (resource !== null && audience !== null && resource !== audience) throw new OAuthError('invalid_target', '`resource` and `audience` name different targets: a token is for one API');
  return resource ?? audience;
}

/**
 * The `token` of an introspection or revocation request. RFC 6749 §3.1: no parameter is sent
 * twice — with `token=A&token=B` one reader (Gavel) would take A and another (a proxy, a WAF,
 * an audit log) B, and a revocation would answer 200 for a token it left live.
 */
function onlyToken(form: URLSearchParams): string {
  for (const key of new Set(form.keys())) if (form.getAll(key).length > 1) throw new OAuthError('invalid_request', `\`${key}\` is given more than once`);
  const token = form.get('token');
  if (token === null) throw new OAuthError('invalid_request', '`token` is required');
  return token;
}

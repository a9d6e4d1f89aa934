/**
 * The token issuer's registry — APIs, clients, roles, groups and users — as `gavel apply`
 * reads it from the same declarative document as the directory. Each section, when
 * present, is the whole truth for its kind (absent sections are left as they are).
 */
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from './keys.js';
import { MIN_CLIENT_SECRET } from './secrets.js';
import { safeRedirect } from './redirect-uri.js';
import { NOT_WELL_FORMED, wellFormed } from '../formats/well-formed.js';

type Json = { [k: string]: unknown };
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

export const GRANT_TYPES = ['client_credentials', 'authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:token-exchange'] as const;
export type GrantType = (typeof GRANT_TYPES)[number];
export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

/** A protected API: its identifier is the audience of the tokens minted for it. */
export interface Api {
  identifier: string;
  scopes: string[];
  /** `jwt` (RFC 9068) or `opaque` (only introspection resolves it). */
  tokenFormat: 'jwt' | 'opaque';
  /** Access token lifetime, seconds. */
  accessTokenTtl: number;
  /** Extra claims in its access tokens: claim name → `user.ATTRIBUTE` or `client.ATTRIBUTE`. */
  claims?: Record<string, string>;
  /**
   * Clients that are this API's own services (resource servers): they may introspect its
   * tokens and exchange them (RFC 8693) for tokens to other APIs. Any other client sees
   * only the tokens it was issued itself.
   */
  resourceServers?: string[];
}

/** Claims the issuer sets itself: a mapping may not replace them. */
const RESERVED_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'client_id', 'scope', 'cnf', 'act', 'auth_time', 'nonce']);

export interface Client {
  id: string;
  /** `sha256$…` of the secret; never the secret. */
  secretHash: string | null;
  /** Public keys of a `private_key_jwt` client (RFC 7523 assertions); `null` otherwise. */
  jwks?: { keys: Json[] } | null;
  grantTypes: GrantType[];
  redirectUris: string[];
  /** Every scope the client may ever receive. */
  scopes: string[];
  authMethod: AuthMethod;
  /** What policies read as `subject.properties` when the client asks for scopes. */
  attributes: Json;
  /**
   * The algorithm of this client's ID tokens (OpenID Connect Registration
   * `id_token_signed_response_alg`); absent, the issuer's `id_token_signing_alg`.
   */
  idTokenAlg?: SigningAlgorithm;
}

export interface Role {
  name: string;
  scopes: string[];
  /**
   * An application-level role: its scopes count only in grants to these clients (the
   * applications). Without it the role is organization-level: it counts in every grant.
   */
  applications?: string[];
}

export interface Group {
  name: string;
  roles: string[];
}

/** A user: also a directory entity of type "user", with `roles` and `groups` among its attributes. */
export interface User {
  id: string;
  /** `scrypt$…`; `null`: the user cannot log in with a password. */
  passwordHash: string | null;
  attributes: Json;
  roles: string[];
  groups: string[];
}

export interface Registry {
  apis: Api[];
  clients: Client[];
  roles: Role[];
  groups: Group[];
  users: User[];
}

export type RegistrySection = keyof Registry;
export const REGISTRY_SECTIONS: readonly RegistrySection[] = ['apis', 'clients', 'roles', 'groups', 'users'];

/** A section as read from the document: secrets and passwords still in the clear, to be hashed. */
export interface ClientInput extends Omit<Client, 'secretHash'> {
  secret: string | null;
}
export interface UserInput extends Omit<User, 'passwordHash'> {
  /** `undefined`: the document leaves the password out, and a stored one stays (passwords need not live in git); `null` removes it. */
  password: string | null | undefined;
}
export interface RegistryInput {
  apis?: Api[];
  clients?: ClientInput[];
  roles?: Role[];
  groups?: Group[];
  users?: UserInput[];
}

/**
 * A section's items. One that is not an object is said, and the section's items are not read
 * further: read without it, every later item would be named by the wrong index.
 */
function list(value: unknown, where: string, problems: string[]): Json[] {
  if (!Array.isArray(value)) return problems.push(`${where}: expected a list`), [];
  const before = problems.length;
  value.forEach((item, i) => isObject(item) || problems.push(`${where}[${i}]: expected an object`));
  return problems.length > before ? [] : (value as Json[]);
}

/** An asymmetric public key: what `private_key_jwt` assertions are checked with. */
function isPublicKey(k: unknown): boolean {
  return isObject(k) && (k.kty === 'RSA' || k.kty === 'EC' || k.kty === 'OKP') && !['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'].some((m) => m in k);
}

function only(item: Json, keys: readonly string[], at: string, problems: string[]): void {
  for (const k of Object.keys(item)) if (!keys.includes(k)) problems.push(`${at}.${k}: unknown member; members are ${keys.join(', ')}`);
}

function name(item: Json, key: string, at: string, problems: string[]): string {
  const v = item[key];
  if (v === undefined) problems.push(`${at}.${key}: missing; it is required (a non-empty string)`);
  else if (typeof v !== 'string' || v === '') problems.push(`${at}.${key}: expected a non-empty string`);
  else if (!wellFormed(v)) problems.push(`${at}.${key}: ${NOT_WELL_FORMED}`);
  return typeof v === 'string' ? v : '';
}

function strings(item: Json, key: string, at: string, problems: string[], fallback?: string[]): string[] {
  const v = item[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (v === undefined) return problems.push(`${at}.${key}: missing; it is required (a list of strings)`), [];
  if (!isStrings(v)) return problems.push(`${at}.${key}: expected a list of strings`), [];
  return v;
}

function unique<T>(items: T[], key: (t: T) => string, section: string, problems: string[]): void {
  const seen = new Set<string>();
  items.forEach((t, i) => {
    const k = key(t);
    if (seen.has(k)) problems.push(`${section}[${i}]: \`${k}\` is listed twice`);
    seen.add(k);
  });
}

const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]+$/; // RFC 6749 §3.3 scope-token

/** Reads the registry sections of an apply document; every problem with its path. */
export function readRegistry(doc: Json): { registry: RegistryInput; problems: string[] } {
  const problems: string[] = [];
  const registry: RegistryInput = {};
  if (doc.apis !== undefined) {
    registry.apis = list(doc.apis, 'apis', problems).map((item, i) => {
      const at = `apis[${i}]`;
      only(item, ['identifier', 'scopes', 'token_format', 'access_token_ttl', 'claims', 'resource_servers'], at, problems);
      const claims = item.claims;
      if (claims !== undefined) {
        if (!isObject(claims)) problems.push(`${at}.claims: expected an object of claim name to "user.ATTRIBUTE" or "client.ATTRIBUTE"`);
        else
          for (const [claim, source] of Object.entries(claims)) {
            if (RESERVED_CLAIMS.has(claim)) problems.push(`${at}.claims.${claim}: the issuer sets \`${claim}\` itself`);
            if (typeof source !== 'string' || !/^(user|client)\.[A-Za-z0-9_]+$/.test(source)) problems.push(`${at}.claims.${claim}: expected "user.ATTRIBUTE" or "client.ATTRIBUTE"`);
          }
      }
      const identifier = name(item, 'identifier', at, problems);
      if (identifier !== '' && !URL.canParse(identifier)) problems.push(`${at}.identifier: an API identifier is an absolute URI (RFC 8707), like https://api.example.com`);
      const scopes = strings(item, 'scopes', at, problems);
      scopes.filter((s) => !SCOPE.test(s)).forEach((s) => problems.push(`${at}.scopes: \`${s}\` is not a scope (printable ASCII without spaces, quotes or backslashes)`));
      const format = item.token_format ?? 'jwt';
      if (format !== 'jwt' && format !== 'opaque') problems.push(`${at}.token_format: expected "jwt" or "opaque"`);
      const ttl = item.access_token_ttl ?? 3600;
      if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 60 || ttl > 86_400) problems.push(`${at}.access_token_ttl: expected whole seconds from 60 to 86400`);
      const servers = strings(item, 'resource_servers', at, problems, []);
      return {
        identifier,
        scopes,
        tokenFormat: format === 'opaque' ? 'opaque' : 'jwt',
        accessTokenTtl: typeof ttl === 'number' ? ttl : 3600,
        ...(isObject(claims) ? { claims: claims as Record<string, string> } : {}),
        ...(servers.length > 0 ? { resourceServers: servers } : {}),
      };
    });
    unique(registry.apis, (a) => a.identifier, 'apis', problems);
  }
  if (doc.clients !== undefined) {
    registry.clients = list(doc.clients, 'clients', problems).map((item, i) => {
      const at = `clients[${i}]`;
      only(item, ['id', 'secret', 'jwks', 'grant_types', 'redirect_uris', 'scopes', 'token_endpoint_auth_method', 'attributes', 'id_token_signed_response_alg'], at, problems);
      const id = name(item, 'id', at, problems);
      const secret = item.secret === undefined ? null : item.secret;
      if (secret !== null && (typeof secret !== 'string' || secret.length < MIN_CLIENT_SECRET)) problems.push(`${at}.secret: use a random string of at least ${MIN_CLIENT_SECRET} characters`);
      const jwks = item.jwks;
      if (jwks !== undefined && !(isObject(jwks) && Array.isArray(jwks.keys) && jwks.keys.length > 0 && jwks.keys.every(isPublicKey))) problems.push(`${at}.jwks: expected a JWKS of one or more public keys ({"keys": [...]}: RSA, EC or OKP, no private members; a shared \`oct\` key would be stored in the clear)`);
      const grantTypes = strings(item, 'grant_types', at, problems, ['client_credentials']);
      grantTypes.filter((g) => !(GRANT_TYPES as readonly string[]).includes(g)).forEach((g) => problems.push(`${at}.grant_types: \`${g}\` is not one of ${GRANT_TYPES.join(', ')}`));
      const method = item.token_endpoint_auth_method ?? 'client_secret_basic';
      if (!(AUTH_METHODS as readonly unknown[]).includes(method)) problems.push(`${at}.token_endpoint_auth_method: expected one of ${AUTH_METHODS.join(', ')}`);
      if (method === 'private_key_jwt' && (jwks === undefined || secret !== null)) problems.push(`${at}: a private_key_jwt client has \`jwks\` and no \`secret\``);
      if (method !== 'private_key_jwt' && jwks !== undefined) problems.push(`${at}.jwks: only for token_endpoint_auth_method "private_key_jwt"`);
      if (method !== 'none' && method !== 'private_key_jwt' && secret === null) problems.push(`${at}: a client authenticating with ${String(method)} needs a \`secret\``);
      if (method === 'none' && secret !== null) problems.push(`${at}: a public client (token_endpoint_auth_method "none") has no secret`);
      if (method === 'none' && grantTypes.includes('client_credentials')) problems.push(`${at}: a public client cannot use client_credentials`);
      const redirectUris = strings(item, 'redirect_uris', at, problems, []);
      redirectUris.filter((u) => !safeRedirect(u)).forEach((u) => problems.push(`${at}.redirect_uris: \`${u}\` must be an https URI (http only on loopback) with a host, without a fragment, user info, wildcards or spaces`));
      if (grantTypes.includes('authorization_code') && redirectUris.length === 0) problems.push(`${at}.redirect_uris: an authorization_code client needs at least one (its codes are sent there)`);
      if (item.attributes !== undefined && !isObject(item.attributes)) problems.push(`${at}.attributes: expected an object`);
      // Apply keeps clients so marked when its clients section leaves them out: a document must not make one it cannot remove.
      else if (isObject(item.attributes) && Object.hasOwn(item.attributes, 'dynamic')) problems.push(`${at}.attributes.dynamic: reserved: it marks clients registered through /oauth2/register, which apply keeps`);
      const idTokenAlg = item.id_token_signed_response_alg;
      if (idTokenAlg !== undefined && !(SIGNING_ALGORITHMS as readonly unknown[]).includes(idTokenAlg)) problems.push(`${at}.id_token_signed_response_alg: expected one of ${SIGNING_ALGORITHMS.join(', ')}`);
      return {
        id,
        secret: typeof secret === 'string' ? secret : null,
        grantTypes: grantTypes as GrantType[],
        redirectUris,
        scopes: strings(item, 'scopes', at, problems),
        authMethod: method as AuthMethod,
        attributes: isObject(item.attributes) ? item.attributes : {},
        ...(isObject(jwks) && Array.isArray(jwks.keys) ? { jwks: { keys: jwks.keys as Json[] } } : {}),
        ...(typeof idTokenAlg === 'string' && (SIGNING_ALGORITHMS as readonly string[]).includes(idTokenAlg) ? { idTokenAlg: idTokenAlg as SigningAlgorithm } : {}),
      };
    });
    unique(registry.clients, (c) => c.id, 'clients', problems);
  }
  if (doc.roles !== undefined) {
    registry.roles = list(doc.roles, 'roles', problems).map((item, i) => {
      only(item, ['name', 'scopes', 'applications'], `roles[${i}]`, problems);
      const role: Role = { name: name(item, 'name', `roles[${i}]`, problems), scopes: strings(item, 'scopes', `roles[${i}]`, problems) };
      if (item.applications !== undefined) {
        role.applications = strings(item, 'applications', `roles[${i}]`, problems);
        // An empty list would make a role that counts in no grant at all.
        if (role.applications.length === 0) problems.push(`roles[${i}].applications: name at least one client, or leave it out for an organization-level role`);
      }
      return role;
    });
    unique(registry.roles, (r) => r.name, 'roles', problems);
  }
  if (doc.groups !== undefined) {
    registry.groups = list(doc.groups, 'groups', problems).map((item, i) => {
      only(item, ['name', 'roles'], `groups[${i}]`, problems);
      return { name: name(item, 'name', `groups[${i}]`, problems), roles: strings(item, 'roles', `groups[${i}]`, problems, []) };
    });
    unique(registry.groups, (g) => g.name, 'groups', problems);
  }
  if (doc.users !== undefined) {
    registry.users = list(doc.users, 'users', problems).map((item, i) => {
      const at = `users[${i}]`;
      only(item, ['id', 'password', 'attributes', 'roles', 'groups'], at, problems);
      const password = item.password;
      if (password !== undefined && password !== null && (typeof password !== 'string' || password.length < 8)) problems.push(`${at}.password: at least 8 characters, or null to remove it`);
      if (item.attributes !== undefined && !isObject(item.attributes)) problems.push(`${at}.attributes: expected an object`);
      return {
        id: name(item, 'id', at, problems),
        password: password === undefined ? undefined : typeof password === 'string' ? password : null,
        attributes: isObject(item.attributes) ? item.attributes : {},
        roles: strings(item, 'roles', at, problems, []),
        groups: strings(item, 'groups', at, problems, []),
      };
    });
    unique(registry.users, (u) => u.id, 'users', problems);
  }
  // With problems, the registry is what could be read (a member in error takes a neutral value): enough to check references in the same round.
  return { registry, problems };
}

/** Cross-references that must hold in the registry as it will be: roles of groups and users exist, client scopes are some API's. */
export function registryProblems(r: Registry): string[] {
  const problems: string[] = [];
  const roles = new Set(r.roles.map((x) => x.name));
  const groups = new Set(r.groups.map((x) => x.name));
  const scopes = new Set(r.apis.flatMap((a) => a.scopes));
  for (const g of r.groups) for (const role of g.roles) if (!roles.has(role)) problems.push(`group \`${g.name}\`: no role \`${role}\``);
  for (const u of r.users) {
    for (const role of u.roles) if (!roles.has(role)) problems.push(`user \`${u.id}\`: no role \`${role}\``);
    for (const group of u.groups) if (!groups.has(group)) problems.push(`user \`${u.id}\`: no group \`${group}\``);
  }
  for (const c of r.clients) for (const s of c.scopes) if (!scopes.has(s) && s !== 'openid') problems.push(`client \`${c.id}\`: scope \`${s}\` belongs to no API`);
  for (const role of r.roles) for (const s of role.scopes) if (!scopes.has(s) && s !== 'openid') problems.push(`role \`${role.name}\`: scope \`${s}\` belongs to no API`);
  // `openid` is the issuer's own (sign-in, userinfo): an API holding it would turn userinfo tokens into its tokens.
  for (const a of r.apis) if (a.scopes.includes('openid')) problems.push(`api \`${a.identifier}\`: \`openid\` is the issuer's own scope (OpenID Connect), not an API's`);
  const clientIds = new Set(r.clients.map((c) => c.id));
  // A token's `sub` is a user's id or, for a client's own token, its client id: one name for both would be read as either.
  for (const u of r.users) if (clientIds.has(u.id)) problems.push(`user \`${u.id}\`: also a client's id; a token's subject would not tell which it names`);
  for (const role of r.roles) for (const app of role.applications ?? []) if (!clientIds.has(app)) problems.push(`role \`${role.name}\`: application \`${app}\` is no client`);
  const byId = new Map(r.clients.map((c) => [c.id, c]));
  for (const a of r.apis) {
    for (const id of a.resourceServers ?? []) {
      const client = byId.get(id);
      if (client === undefined) problems.push(`api \`${a.identifier}\`: resource server \`${id}\` is no client`);
      // Anyone can claim a public client's id: it cannot be trusted with other parties' tokens.
      else if (client.authMethod === 'none') problems.push(`api \`${a.identifier}\`: resource server \`${id}\` is a public client (token_endpoint_auth_method none)`);
    }
  }
  return problems;
}

/**
 * The scopes a user's roles hold in a grant to `client`: every organization-level role's, and
 * the application-level roles' for that client only.
 */
export function roleScopes(r: Pick<Registry, 'groups' | 'roles'>, user: User, client: string): Set<string> {
  const held = new Set(userRoles(r, user));
  return new Set(r.roles.filter((role) => held.has(role.name) && (role.applications === undefined || role.applications.includes(client))).flatMap((role) => role.scopes));
}

/** A user's effective roles: their own and their groups'. */
export function userRoles(r: Pick<Registry, 'groups'>, user: User): string[] {
  const byGroup = new Map(r.groups.map((g) => [g.name, g.roles]));
  return [...new Set([...user.roles, ...user.groups.flatMap((g) => byGroup.get(g) ?? [])])].sort();
}

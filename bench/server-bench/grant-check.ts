/**
 * The issuer benchmark's correctness check, run on every server before anything is measured
 * and again after: a client_credentials grant answers 200 with an access token that verifies
 * against the server's own JWKS (ES256, `typ: at+jwt`, the server's issuer, the API as
 * audience) and carries exactly the expected scopes; two grants give two tokens; a wrong
 * secret answers 401 `invalid_client`. Anything else stops the benchmark — figures for a
 * server that does not issue what the other does would compare nothing.
 */
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';

export interface GrantRequest {
  clientId: string;
  clientSecret: string;
  /** Space-separated, as sent. */
  scope: string;
  resource: string;
}

/** Where a server says its token endpoint and keys are (RFC 8414 / OpenID discovery). */
export interface Discovered {
  issuer: string;
  tokenEndpoint: string;
  jwksUri: string;
}

export interface GrantChecked {
  name: string;
  /** The verified token's header and claims, for the report. */
  header: string;
  claims: string;
}

export class GrantCheckFailed extends Error {}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic's base64. */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  const enc = (s: string): string => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(clientId)}:${enc(clientSecret)}`).toString('base64')}`;
}

export function grantBody(g: GrantRequest): string {
  return new URLSearchParams({ grant_type: 'client_credentials', scope: g.scope, resource: g.resource }).toString();
}

export const FORM = 'application/x-www-form-urlencoded';

const field = (x: unknown, key: string): unknown => (typeof x === 'object' && x !== null ? Reflect.get(x, key) : undefined);

async function getJson(url: string): Promise<unknown> {
  const r = await fetch(url);
  if (!r.ok) throw new GrantCheckFailed(`GET ${url}: HTTP ${r.status}`);
  return (await r.json()) as unknown;
}

export async function discover(name: string, metadataUrl: string): Promise<Discovered> {
  const m = await getJson(metadataUrl);
  const [issuer, tokenEndpoint, jwksUri] = ['issuer', 'token_endpoint', 'jwks_uri'].map((k) => field(m, k));
  if (typeof issuer !== 'string' || typeof tokenEndpoint !== 'string' || typeof jwksUri !== 'string') throw new GrantCheckFailed(`${name}: ${metadataUrl} lacks issuer, token_endpoint or jwks_uri`);
  return { issuer, tokenEndpoint, jwksUri };
}

async function post(url: string, authorization: string, body: string): Promise<{ status: number; json: unknown; text: string }> {
  const r = await fetch(url, { method: 'POST', headers: { authorization, 'content-type': FORM }, body });
  const text = await r.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text) as unknown;
  } catch {
    // Left null: the checks below say what was expected.
  }
  return { status: r.status, json, text };
}

const sameScopes = (a: unknown, b: string): boolean => typeof a === 'string' && [...new Set(a.split(' '))].sort().join(' ') === b.split(' ').sort().join(' ');

export async function checkGrant(name: string, at: Discovered, g: GrantRequest): Promise<GrantChecked> {
  const fail = (what: string): never => {
    throw new GrantCheckFailed(`${name}: ${what}`);
  };
  const authorization = basicAuthorization(g.clientId, g.clientSecret);
  const tokens: string[] = [];
  let checked: GrantChecked | null = null;
  for (let i = 0; i < 2; i++) {
    const r = await post(at.tokenEndpoint, authorization, grantBody(g));
    if (r.status !== 200) fail(`the grant answered HTTP ${r.status}: ${r.text.slice(0, 500)}`);
    const token = field(r.json, 'access_token');
    if (typeof token !== 'string') return fail(`no access_token in ${r.text.slice(0, 500)}`);
    if (String(field(r.json, 'token_type')).toLowerCase() !== 'bearer') fail(`token_type is \`${String(field(r.json, 'token_type'))}\`, not Bearer`);
    if (!sameScopes(field(r.json, 'scope'), g.scope)) fail(`the response's scope is \`${String(field(r.json, 'scope'))}\`, expected \`${g.scope}\``);
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, createRemoteJWKSet(new URL(at.jwksUri)), { issuer: at.issuer, audience: g.resource, typ: 'at+jwt', algorithms: ['ES256'], requiredClaims: ['exp', 'iat', 'jti'] }));
    } catch (err: unknown) {
      return fail(`the access token does not verify against ${at.jwksUri}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!sameScopes(payload.scope, g.scope)) fail(`the token's scope claim is \`${String(payload.scope)}\`, expected \`${g.scope}\``);
    if (payload.client_id !== g.clientId || payload.sub !== g.clientId) fail(`client_id \`${String(payload.client_id)}\` and sub \`${String(payload.sub)}\` should both be \`${g.clientId}\``);
    tokens.push(token);
    const h = decodeProtectedHeader(token);
    checked = { name, header: `alg ${h.alg}, typ ${h.typ}`, claims: Object.keys(payload).join(', ') };
  }
  if (tokens[0] === tokens[1]) fail('two grants answered the same token: a fresh token is signed for each grant');
  const wrong = await post(at.tokenEndpoint, basicAuthorization(g.clientId, `${g.clientSecret}-wrong`), grantBody(g));
  if (wrong.status !== 401 || field(wrong.json, 'error') !== 'invalid_client') fail(`a wrong secret answered HTTP ${wrong.status} ${wrong.text.slice(0, 300)}, not 401 invalid_client`);
  return checked ?? fail('no grant checked');
}

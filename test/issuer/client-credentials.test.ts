import { cpSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT, generateKeyPair } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { gavel, ROOT, serveProcess, workspace, type Served } from '../cli/helpers.js';

/**
 * The token issuer driven by a real OAuth client (openid-client): `gavel apply` of the
 * example registry, then `gavel serve` with the example IP lists, over real sockets.
 */
const API = 'https://api.example.com';
const REPORTING = { id: 'reporting-app', secret: 'reporting-app-example-secret-0123456789' };
const BILLING = { id: 'billing-service', secret: 'billing-service-example-secret-0123456789' };

let ws: ReturnType<typeof workspace>;
let server: Served;

beforeAll(async () => {
  ws = workspace();
  cpSync(join(ROOT, 'examples'), join(ws.dir, 'examples'), { recursive: true });
  const applied = await gavel(['apply', 'examples/registry.json'], { cwd: ws.dir });
  expect(applied.code, applied.stderr).toBe(0);
  server = await serveProcess(ws.dir, ['--ip-list', 'firehol-level1=examples/lists/firehol-level1.netset', '--ip-list', 'reputation=examples/lists/reputation.csv']);
});

afterAll(() => {
  server.stop();
  ws.remove();
});

async function discover(id: string, secret: string, auth: 'basic' | 'post' = 'basic'): Promise<oidc.Configuration> {
  const method = auth === 'basic' ? oidc.ClientSecretBasic(secret) : oidc.ClientSecretPost(secret);
  return oidc.discovery(new URL(server.url), id, undefined, method, { execute: [oidc.allowInsecureRequests], algorithm: 'oauth2' });
}

/** A form POST to the token endpoint from a chosen local address. */
function tokenFrom(localAddress: string, form: Record<string, string>, basic?: { id: string; secret: string }): Promise<{ status: number; body: Record<string, string> }> {
  const body = new URLSearchParams(form).toString();
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (basic) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(basic.id)}:${encodeURIComponent(basic.secret)}`).toString('base64')}`;
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}/oauth2/token`, { method: 'POST', localAddress, headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, string> }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('client_credentials through openid-client', () => {
  test('discovery finds the endpoints; the metadata lists only what is supported', async () => {
    const config = await discover(REPORTING.id, REPORTING.secret);
    const meta = config.serverMetadata();
    expect(meta).toMatchObject({
      issuer: server.url,
      token_endpoint: `${server.url}/oauth2/token`,
      authorization_endpoint: `${server.url}/oauth2/authorize`,
      grant_types_supported: ['client_credentials', 'authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:token-exchange'],
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
    });
    expect(meta.registration_endpoint).toBeUndefined();
    // RFC 8414 §2: every endpoint that lists private_key_jwt says which assertion algorithms it takes.
    for (const endpoint of ['token', 'introspection', 'revocation']) {
      expect(meta[`${endpoint}_endpoint_auth_methods_supported`]).toContain('private_key_jwt');
      expect(meta[`${endpoint}_endpoint_auth_signing_alg_values_supported`]).toEqual(expect.arrayContaining(['ES256', 'RS256']));
    }
  });

  test('without trusted software statement keys, registration is not found — however often it is asked for', async () => {
    // More than the 20 attempts an hour an address may make while registration is on: none of these counts.
    for (let i = 0; i < 25; i++) {
      const r = await fetch(`${server.url}/oauth2/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(r.status).toBe(404);
      expect(((await r.json()) as { error: string }).error).toBe('not_found');
    }
  });

  test('a token with the scopes the policies granted: an RFC 9068 JWT that verifies against the JWKS', async () => {
    const config = await discover(REPORTING.id, REPORTING.secret);
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'invoice:read customers:read', resource: API });
    expect(tokens).toMatchObject({ token_type: 'bearer', scope: 'invoice:read customers:read', expires_in: 3600 });
    expect(decodeProtectedHeader(tokens.access_token)).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${server.url}/oauth2/jwks`)), { issuer: server.url, audience: API, typ: 'at+jwt' });
    expect(payload).toMatchObject({ sub: REPORTING.id, client_id: REPORTING.id, scope: 'invoice:read customers:read' });
    expect(typeof payload.jti).toBe('string');
  });

  test('client_secret_post works for a client registered with it; a granting policy\'s @token_ttl caps the lifetime', async () => {
    const config = await discover(BILLING.id, BILLING.secret, 'post');
    const capped = await oidc.clientCredentialsGrant(config, { scope: 'payments:write' });
    expect(capped).toMatchObject({ scope: 'payments:write', expires_in: 300 });
    const claims = decodeJwt(capped.access_token);
    expect(claims.exp! - claims.iat!).toBe(300);
    // The API maps the client's `team` attribute into its tokens.
    expect(claims.team).toBe('payments');
    expect((await oidc.clientCredentialsGrant(config, { scope: 'invoice:read' })).expires_in).toBe(3600);
  });

  test('scopes beyond the client are not minted; when none remain, invalid_scope', async () => {
    const config = await discover(REPORTING.id, REPORTING.secret);
    expect((await oidc.clientCredentialsGrant(config, { scope: 'invoice:read payments:write' })).scope).toBe('invoice:read');
    await expect(oidc.clientCredentialsGrant(config, { scope: 'payments:write' })).rejects.toMatchObject({ error: 'invalid_scope' });
    await expect(oidc.clientCredentialsGrant(config, { scope: 'invoice:read', resource: 'https://elsewhere.example.com' })).rejects.toMatchObject({ error: 'invalid_target' });
  });

  test('without a resource, scopes no API registers are invalid_scope (RFC 6749 §5.2), not invalid_target', async () => {
    const config = await discover(REPORTING.id, REPORTING.secret);
    await expect(oidc.clientCredentialsGrant(config, { scope: 'bogus' })).rejects.toMatchObject({ error: 'invalid_scope', error_description: 'no registered API has the requested scopes' });
  });

  test('a parameter without a value is as if omitted (RFC 6749 §3.1); two resources are invalid_target (a token is for one API)', async () => {
    const empty = await tokenFrom('127.0.0.1', { grant_type: 'client_credentials', scope: '', resource: API }, REPORTING);
    expect(empty.status).toBe(200);
    // No scope asked: every scope the client holds for the API, as the policies grant them.
    expect(empty.body.scope).toBe('invoice:read payments:read customers:read');
    const body = `grant_type=client_credentials&resource=${encodeURIComponent(API)}&resource=${encodeURIComponent('https://other.example.com')}`;
    const r = await fetch(`${server.url}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${REPORTING.id}:${REPORTING.secret}`).toString('base64')}` }, body });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: string }).error).toBe('invalid_target');
  });

  test('a wrong secret, an unknown client or the wrong method is invalid_client (401)', async () => {
    // Basic authentication that fails is answered with a Basic challenge (RFC 6749 §5.2), which openid-client surfaces.
    const basicChallenge = { status: 401, cause: [expect.objectContaining({ scheme: 'basic' })] };
    await expect(oidc.clientCredentialsGrant(await discover(REPORTING.id, 'x'.repeat(40)))).rejects.toMatchObject(basicChallenge);
    await expect(oidc.clientCredentialsGrant(await discover('nobody', 'x'.repeat(40)))).rejects.toMatchObject(basicChallenge);
    // Any failed client authentication answers with the challenge (RFC 9110 §15.5.2: a 401 names a scheme).
    await expect(oidc.clientCredentialsGrant(await discover(REPORTING.id, REPORTING.secret, 'post'))).rejects.toMatchObject(basicChallenge);
    const wrong = await tokenFrom('127.0.0.1', { grant_type: 'client_credentials' }, { id: REPORTING.id, secret: 'x'.repeat(40) });
    expect(wrong).toEqual({ status: 401, body: { error: 'invalid_client', error_description: 'unknown client or wrong secret' } });
  });

  test('every 401 names a scheme (RFC 9110 §15.5.2), whichever method failed; error_description keeps to RFC 6749 §5.2\'s characters', async () => {
    const post = (body: Record<string, string>) => fetch(`${server.url}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body) });
    const secretPost = await post({ grant_type: 'client_credentials', client_id: REPORTING.id, client_secret: 'x'.repeat(40) });
    expect(secretPost.status).toBe(401);
    expect(secretPost.headers.get('www-authenticate')).toBe('Basic realm="gavel"');
    const assertion = await post({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: 'not-a-jwt' });
    expect(assertion.status).toBe(401);
    expect(assertion.headers.get('www-authenticate')).toBe('Basic realm="gavel"');
    // A grant type with a quote, a backslash and a letter outside ASCII is quoted back without them.
    const odd = await fetch(`${server.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${REPORTING.id}:${REPORTING.secret}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'pä"ss\\word' }),
    });
    const { error, error_description: description } = (await odd.json()) as { error: string; error_description: string };
    expect(error).toBe('unsupported_grant_type');
    expect(description).toMatch(/^[\x20-\x21\x23-\x5b\x5d-\x7e]+$/);
    expect(description).toContain('p??ss?word');
  });

  test('a risky source address receives fewer scopes than a clean one for the same request', async () => {
    const form = { grant_type: 'client_credentials', scope: 'invoice:read payments:write' };
    // billing-service gets payments:write only from networks with reputation >= 50, read scopes from >= 20.
    const post = { ...form, client_id: BILLING.id, client_secret: BILLING.secret };
    expect((await tokenFrom('127.0.0.1', post)).body.scope).toBe('invoice:read payments:write');
    // 127.0.0.2 is block-listed: nothing is minted, and the answer says why.
    expect(await tokenFrom('127.0.0.2', post)).toMatchObject({ status: 400, body: { error: 'invalid_scope', error_description: expect.stringContaining('address is on a block list') } });
    // 127.0.0.3 has reputation 10: the read scope too is dropped.
    expect((await tokenFrom('127.0.0.3', post)).body.error).toBe('invalid_scope');
  });

  test('the token endpoint feeds velocity: after 11 failed authentications from an address, it mints nothing there', async () => {
    const form = { grant_type: 'client_credentials', scope: 'invoice:read' };
    // Someone tries client ids and secrets from 127.0.0.5.
    for (let i = 0; i < 11; i++) expect((await tokenFrom('127.0.0.5', form, { id: `probe-${i % 2}`, secret: 'y'.repeat(40) })).status).toBe(401);
    expect(await tokenFrom('127.0.0.5', form, REPORTING)).toMatchObject({ status: 400, body: { error: 'invalid_scope', error_description: expect.stringContaining('too many failed client authentications') } });
    // The same client from another address is unaffected.
    expect((await tokenFrom('127.0.0.6', form, REPORTING)).status).toBe(200);
  });

  test('failed authentications claiming a client\'s id do not lock the client out: anyone can claim an id', async () => {
    const form = { grant_type: 'client_credentials', scope: 'invoice:read' };
    for (let i = 0; i < 12; i++) expect((await tokenFrom('127.0.0.7', form, { id: REPORTING.id, secret: 'z'.repeat(40) })).status).toBe(401);
    expect((await tokenFrom('127.0.0.8', form, REPORTING)).status).toBe(200);
  });

  test("the example API's resource server exchanges a client's token for one it acts under (RFC 8693)", async () => {
    const { access_token: token } = await oidc.clientCredentialsGrant(await discover(REPORTING.id, REPORTING.secret), { scope: 'invoice:read' });
    const exchanged = await tokenFrom('127.0.0.1', {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: token,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      client_id: BILLING.id,
      client_secret: BILLING.secret,
    });
    expect(exchanged).toMatchObject({ status: 200, body: { issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', scope: 'invoice:read' } });
    expect(decodeJwt(exchanged.body.access_token!)).toMatchObject({ sub: REPORTING.id, aud: API, act: { sub: BILLING.id } });
    // Exchanged again, its subject is still the client reporting-app (its sub no longer equals
    // its client_id): not taken for a user, which would have failed as an unknown one.
    const again = await tokenFrom('127.0.0.1', {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: exchanged.body.access_token!,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      client_id: BILLING.id,
      client_secret: BILLING.secret,
    });
    expect(again).toMatchObject({ status: 200, body: { scope: 'invoice:read' } });
    expect(decodeJwt(again.body.access_token!)).toMatchObject({ sub: REPORTING.id, act: { sub: BILLING.id, act: { sub: BILLING.id } } });
    // At a gateway its subject is the client reporting-app too, not a user of that name.
    await fetch(`${server.url}/v1/forward-auth`, { headers: { 'x-forwarded-uri': '/invoices/1', 'x-forwarded-method': 'GET', 'x-request-id': 'exchanged-at-gateway', authorization: `Bearer ${again.body.access_token!}` } });
    type Logged = { request_id: string; subject: { type: string; id: string } };
    let logged: Logged | undefined;
    for (let i = 0; i < 50 && logged === undefined; i++) {
      const shown = await gavel(['log', '--json', '--via', 'forward_auth', '--limit', '20'], { cwd: ws.dir });
      logged = (JSON.parse(shown.stdout) as Logged[]).find((r) => r.request_id === 'exchanged-at-gateway');
      if (logged === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(logged?.subject).toEqual({ type: 'client', id: REPORTING.id });
  });

  test('introspection describes a live token, and after revocation says it is inactive', async () => {
    const config = await discover(REPORTING.id, REPORTING.secret);
    const { access_token: token } = await oidc.clientCredentialsGrant(config, { scope: 'invoice:read' });
    expect(await oidc.tokenIntrospection(config, token)).toMatchObject({ active: true, client_id: REPORTING.id, scope: 'invoice:read', aud: API });
    await oidc.tokenRevocation(config, token);
    expect(await oidc.tokenIntrospection(config, token)).toEqual({ active: false });
  });

  test('another client revoking a token hears what it would of an unknown one (200), and the token lives on', async () => {
    const { access_token: token } = await oidc.clientCredentialsGrant(await discover(REPORTING.id, REPORTING.secret), { scope: 'invoice:read' });
    const revoke = await fetch(`${server.url}/oauth2/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`invoice-web:invoice-web-example-secret-0123456789abc`).toString('base64')}` },
      body: new URLSearchParams({ token }),
    });
    expect(revoke.status).toBe(200);
    expect(await oidc.tokenIntrospection(await discover(REPORTING.id, REPORTING.secret), token)).toMatchObject({ active: true });
  });

  test('a token given twice (RFC 6749 §3.1) is invalid_request at revocation and introspection: neither answers for one of the two', async () => {
    const config = await discover(REPORTING.id, REPORTING.secret);
    const { access_token: token } = await oidc.clientCredentialsGrant(config, { scope: 'invoice:read' });
    for (const endpoint of ['revoke', 'introspect']) {
      const r = await fetch(`${server.url}/oauth2/${endpoint}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${REPORTING.id}:${REPORTING.secret}`).toString('base64')}` },
        body: `token=garbage&token=${token}`,
      });
      expect([endpoint, r.status, await r.json()]).toEqual([endpoint, 400, { error: 'invalid_request', error_description: '`token` is given more than once' }]);
    }
    expect(await oidc.tokenIntrospection(config, token)).toMatchObject({ active: true });
  });

  test('a revocation the store cannot take now (a lock held elsewhere past the busy timeout) is 503 temporarily_unavailable with Retry-After; the token stays active', async () => {
    const config = await discover(REPORTING.id, REPORTING.secret);
    const { access_token: token } = await oidc.clientCredentialsGrant(config, { scope: 'invoice:read' });
    const { default: Database } = await import('better-sqlite3');
    const holder = new Database(join(ws.dir, 'data', 'gavel.db'));
    try {
      holder.exec('BEGIN EXCLUSIVE');
      const revoke = await fetch(`${server.url}/oauth2/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${REPORTING.id}:${REPORTING.secret}`).toString('base64')}` },
        body: new URLSearchParams({ token }),
      });
      expect([revoke.status, revoke.headers.get('retry-after')]).toEqual([503, '5']);
      expect(await revoke.json()).toEqual({ error: 'temporarily_unavailable', error_description: 'the store cannot be written now (busy or full); try again shortly' });
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    expect(await oidc.tokenIntrospection(config, token)).toMatchObject({ active: true });
  }, 30_000);

  test("introspection shows a token to the client it was issued to and to its API's resource servers, and to no one else", async () => {
    const { access_token: token } = await oidc.clientCredentialsGrant(await discover(REPORTING.id, REPORTING.secret), { scope: 'invoice:read' });
    // billing-service is listed in the example API's resource_servers.
    expect(await oidc.tokenIntrospection(await discover(BILLING.id, BILLING.secret, 'post'), token)).toMatchObject({ active: true, client_id: REPORTING.id, aud: API });
    // invoice-web is an authenticated client too, but neither the token's client nor a server of its API.
    expect(await oidc.tokenIntrospection(await discover('invoice-web', 'invoice-web-example-secret-0123456789abc'), token)).toEqual({ active: false });
  });

  test('forged tokens are inactive: another key, alg none, HS256 with the public key', async () => {
    const config = await discover(REPORTING.id, REPORTING.secret);
    const other = await generateKeyPair('ES256');
    const claims = { iss: server.url, aud: API, sub: 'x', client_id: 'x', scope: 'invoice:read', exp: Math.floor(Date.now() / 1000) + 600 };
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'nope' }).sign(other.privateKey);
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
    const jwks = (await (await fetch(`${server.url}/oauth2/jwks`)).json()) as { keys: { kid: string; x: string }[] };
    const hs = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: jwks.keys[0].kid }).sign(new TextEncoder().encode(JSON.stringify(jwks.keys[0])));
    for (const token of [forged, none, hs, 'not-a-token']) expect(await oidc.tokenIntrospection(config, token)).toEqual({ active: false });
    // A verifier using the JWKS agrees.
    await expect(jwtVerify(forged, createLocalJWKSet(jwks as never))).rejects.toThrow();
  });

  test('Gavel trusts its own tokens: AuthZEN decides on a minted token with no issuer configured', async () => {
    const config = await discover(REPORTING.id, REPORTING.secret);
    const { access_token: token } = await oidc.clientCredentialsGrant(config, { scope: 'invoice:read' });
    const ask = async (t: string) =>
      (await (
        await fetch(`${server.url}/v1/decide`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ subject: { type: 'user', id: 'alice' }, action: { name: 'GET' }, resource: { type: 'route', id: '/invoices/1', properties: { path: '/invoices/1' } }, context: { token: t } }),
        })
      ).json()) as { token_error?: string; errors: { message: string }[] };
    // The token verified: no token_error (the invoice policies then want MFA, which a client token lacks).
    expect((await ask(token)).token_error).toBeUndefined();
    expect((await ask(`${token.slice(0, -4)}AAAA`)).token_error).toContain('not valid');
    // What a newcomer sends when the token request failed, and a token from another server's URL: each said for what it is.
    expect((await ask('undefined')).token_error).toBe('token is not a JWT (three dot-separated parts), nor a reference token this issuer minted that is still valid');
    const elsewhere = `${Buffer.from('{"alg":"ES256","typ":"at+jwt"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: 'http://127.0.0.1:1', sub: 'x', exp: 2e9 })).toString('base64url')}.AAAA`;
    expect((await ask(elsewhere)).token_error).toBe(`issuer \`http://127.0.0.1:1\` is not trusted; this server's own issuer is ${server.url}`);
    // AuthZEN answers a token verified before in the same turn (verify.now): it agrees.
    const evaluation = async (t: string) =>
      ((await (await fetch(`${server.url}/access/v1/evaluation`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ subject: { type: 'user', id: 'alice' }, action: { name: 'GET' }, resource: { type: 'route', id: '/invoices/1' }, context: { token: t } }) })).json()) as { context: { token_error?: string } }).context.token_error;
    expect(await evaluation(token)).toBeUndefined();
    await oidc.tokenRevocation(config, token);
    expect((await ask(token)).token_error).toBe('token revoked');
    expect(await evaluation(token)).toBe('token revoked');
  });

  test('a rotated signing key signs new tokens at once; tokens of the previous key keep verifying', async () => {
    const config = await discover(REPORTING.id, REPORTING.secret);
    const before = (await oidc.clientCredentialsGrant(config, { scope: 'invoice:read' })).access_token;
    const rotated = await gavel(['keys', 'rotate'], { cwd: ws.dir });
    expect(rotated.code, rotated.stderr).toBe(0);
    // One new key for each algorithm the issuer signs with: the access tokens' and the ID tokens'.
    expect(rotated.stdout).toMatch(/^rotated: key \S+ \(ES256\), key \S+ \(RS256\) sign from now on\n$/);
    const kid = /key (\S+) \(ES256\)/.exec(rotated.stdout)![1];
    let after = '';
    for (let i = 0; i < 100 && decodeProtectedHeader(after || before).kid !== kid; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      after = (await oidc.clientCredentialsGrant(config, { scope: 'invoice:read' })).access_token;
    }
    expect(decodeProtectedHeader(after).kid).toBe(kid);
    const jwks = createRemoteJWKSet(new URL(`${server.url}/oauth2/jwks`));
    await jwtVerify(before, jwks, { issuer: server.url });
    await jwtVerify(after, jwks, { issuer: server.url });
    expect(await oidc.tokenIntrospection(config, before)).toMatchObject({ active: true });
  });

  test('responses carrying tokens are never cached', async () => {
    const r = await tokenFrom('127.0.0.1', { grant_type: 'client_credentials', scope: 'invoice:read' }, REPORTING);
    expect(r.status).toBe(200);
    const raw = await fetch(`${server.url}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(raw.status).toBe(400);
    expect(raw.headers.get('cache-control')).toBe('no-store');
    expect(await raw.json()).toEqual({ error: 'invalid_request', error_description: 'the body must be application/x-www-form-urlencoded' });
  });
});

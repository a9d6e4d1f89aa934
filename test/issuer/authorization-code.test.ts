import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { gavel, ROOT, serveProcess, workspace, type Served } from '../cli/helpers.js';
import { issuerServer } from './issuer-server.js';

/**
 * The authorization code flow with PKCE, as a user lives it: openid-client builds the
 * request, Debian's chromium signs in on Gavel's login page, openid-client exchanges the
 * code and refreshes. Attacks on the flow get their own tests.
 */
const API = 'https://api.example.com';
const WEB = { id: 'invoice-web', secret: 'invoice-web-example-secret-0123456789abc' };
const REDIRECT = 'http://127.0.0.1:8080/callback';
const WEB_ES256 = 'invoice-web-es256';
const WEB_EDDSA = 'invoice-web-eddsa';
const SPA = 'invoice-spa';

let ws: ReturnType<typeof workspace>;
let server: Served;
let browser: Browser;

beforeAll(async () => {
  ws = workspace();
  cpSync(join(ROOT, 'examples'), join(ws.dir, 'examples'), { recursive: true });
  // The example registry, and carol — whom a policy refuses `openid` (sign-in, ID tokens, userinfo).
  const registry = JSON.parse(readFileSync(join(ROOT, 'examples/registry.json'), 'utf8')) as { users: object[]; clients: { id: string }[] };
  // The web app again, registered for ES256 ID tokens; and once for EdDSA, which this issuer does not sign with.
  const web = registry.clients.find((c) => c.id === WEB.id)!;
  registry.clients.push({ ...web, id: WEB_ES256, id_token_signed_response_alg: 'ES256' } as { id: string }, { ...web, id: WEB_EDDSA, id_token_signed_response_alg: 'EdDSA' } as { id: string });
  // A public client (a single-page app) with the same redirect.
  registry.clients.push({ id: SPA, grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'none', redirect_uris: [REDIRECT], scopes: ['invoice:read'] } as { id: string });
  registry.users.push({ id: 'carol', password: 'carol-example-password', groups: ['finance'] });
  // dave may sign in, but a policy refuses his sign-in (openid) at a refresh, with a reason that mentions a scope.
  registry.users.push({ id: 'dave', password: 'dave-example-password', groups: ['finance'] });
  writeFileSync(join(ws.dir, 'registry.json'), JSON.stringify(registry));
  writeFileSync(join(ws.dir, 'policies', 'no-openid.gavel'), '@id("no-openid-for-carol")\nforbid (action == "mint", resource == scope::"openid")\nwhen { subject.id == "carol" }\nreason "carol may not sign in with OpenID";\n');
  // …and whose refreshes a policy refuses, with a reason that names neither scopes nor policies.
  writeFileSync(join(ws.dir, 'policies', 'no-refresh.gavel'), '@id("no-refresh-for-carol")\nforbid (action == "mint")\nwhen { subject.id == "carol" && context.grant_type == "refresh_token" }\nreason "carol signs in again each time";\n');
  writeFileSync(join(ws.dir, 'policies', 'no-openid-refresh.gavel'), '@id("no-openid-refresh-for-dave")\nforbid (action == "mint", resource == scope::"openid")\nwhen { subject.id == "dave" && context.grant_type == "refresh_token" }\nreason "the openid scope ends at sign-in for dave";\n');
  const applied = await gavel(['apply', 'registry.json'], { cwd: ws.dir });
  expect(applied.code, applied.stderr).toBe(0);
  // A short refresh grace window, so reuse after it can be shown without a long wait.
  writeFileSync(join(ws.dir, 'gavel.json'), JSON.stringify({ issuer: { refresh_grace_seconds: 2 } }));
  server = await serveProcess(ws.dir, ['--config', 'gavel.json']);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  server?.stop();
  ws.remove();
});

const discover = () => oidc.discovery(new URL(server.url), WEB.id, undefined, oidc.ClientSecretBasic(WEB.secret), { execute: [oidc.allowInsecureRequests], algorithm: 'oauth2' });

/** Signs alice in through the browser; answers the callback URL the browser was sent to. */
async function signIn(authorizationUrl: URL, password = 'alice-example-password', username = 'alice'): Promise<URL> {
  const page = await browser.newPage();
  try {
    await page.goto(authorizationUrl.href);
    await page.fill('#username', username);
    await page.fill('#password', password);
    // The redirect to the client is what matters; nothing listens there, so the page itself then fails to load.
    const callback = page.waitForRequest(/^http:\/\/127\.0\.0\.1:8080\/callback/);
    await page.click('button[value=allow]', { noWaitAfter: true });
    return new URL((await callback).url());
  } finally {
    await page.close();
  }
}

async function start(scope = 'invoice:read customers:read') {
  const config = await discover();
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope, state, resource: API, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
  return { config, verifier, state, url };
}

/** The CSRF cookie of the sign-in a login form's `tx` carries: named by the id before its sealed part. */
const csrfCookie = (tx: string) => `gavel_csrf_${tx.split('.')[0]}`;

async function tokenRequest(form: Record<string, string>): Promise<{ status: number; body: Record<string, string> }> {
  const r = await fetch(`${server.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${WEB.id}:${WEB.secret}`).toString('base64')}` },
    body: new URLSearchParams(form),
  });
  return { status: r.status, body: (await r.json()) as Record<string, string> };
}

describe('authorization code with PKCE, in a real browser', () => {
  test('response_mode=form_post: the browser posts the code to the client (CSP allows only that one script), and openid-client redeems it', async () => {
    const { config, verifier, state } = await start();
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'invoice:read', state, resource: API, response_mode: 'form_post', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const page = await browser.newPage();
    try {
      await page.goto(url.href);
      await page.fill('#username', 'alice');
      await page.fill('#password', 'alice-example-password');
      const posted = page.waitForRequest(/^http:\/\/127\.0\.0\.1:8080\/callback/);
      await page.click('button[value=allow]', { noWaitAfter: true });
      const callback = await posted;
      expect(callback.method()).toBe('POST');
      // From the issuer's origin, which a client's CSRF check may ask for (not `null`, as under no-referrer).
      expect(await callback.headerValue('origin')).toBe(new URL(server.url).origin);
      // Nothing in the URL: the code travels in the body.
      expect(callback.url()).toBe(REDIRECT);
      const body = new URLSearchParams(callback.postData() ?? '');
      expect(Object.fromEntries(body)).toMatchObject({ state, iss: server.url, code: expect.any(String) });
      const request = new Request(REDIRECT, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });
      const tokens = await oidc.authorizationCodeGrant(config, request, { pkceCodeVerifier: verifier, expectedState: state });
      expect(tokens.scope).toBe('invoice:read');
    } finally {
      await page.close();
    }
  }, 30_000);

  test('a client registered with id_token_signed_response_alg ES256 gets ES256 ID tokens, which openid-client checks', async () => {
    const config = await oidc.discovery(new URL(server.url), WEB_ES256, { id_token_signed_response_alg: 'ES256' }, oidc.ClientSecretBasic(WEB.secret), { execute: [oidc.allowInsecureRequests], algorithm: 'oauth2' });
    const verifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid invoice:read', nonce, resource: API, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const tokens = await oidc.authorizationCodeGrant(config, await signIn(url), { pkceCodeVerifier: verifier, expectedNonce: nonce, idTokenExpected: true });
    expect(decodeProtectedHeader(tokens.id_token!)).toMatchObject({ alg: 'ES256', typ: 'JWT' });
    expect(tokens.claims()).toMatchObject({ iss: server.url, sub: 'alice', aud: WEB_ES256, nonce });
  }, 30_000);

  test('a client whose ID token algorithm changed to one the issuer does not sign with after sign-in: the code is refused, not used up', async () => {
    const registry = JSON.parse(readFileSync(join(ws.dir, 'registry.json'), 'utf8')) as { clients: { id: string; id_token_signed_response_alg?: string }[] };
    const applyWith = async (alg: string) => {
      registry.clients.find((c) => c.id === WEB_ES256)!.id_token_signed_response_alg = alg;
      writeFileSync(join(ws.dir, 'changed.json'), JSON.stringify({ clients: registry.clients }));
      const warnings = () => server.output().split(`client \`${WEB_ES256}\` asks for EdDSA`).length;
      const before = warnings();
      const applied = await gavel(['apply', 'changed.json'], { cwd: ws.dir });
      expect(applied.code, applied.stderr).toBe(0);
      // The server reads the store again within about a second, and warns about the client.
      if (alg === 'EdDSA') for (let i = 0; i < 50 && warnings() === before; i++) await new Promise((r) => setTimeout(r, 100));
    };
    const config = await oidc.discovery(new URL(server.url), WEB_ES256, { id_token_signed_response_alg: 'ES256' }, oidc.ClientSecretBasic(WEB.secret), { execute: [oidc.allowInsecureRequests], algorithm: 'oauth2' });
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid invoice:read', resource: API, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const callback = await signIn(url);
    const code = callback.searchParams.get('code')!;
    const exchange = () =>
      fetch(`${server.url}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${WEB_ES256}:${WEB.secret}`).toString('base64')}` },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }),
      });
    try {
      await applyWith('EdDSA');
      const refused = await exchange();
      expect(refused.status).toBe(400);
      expect(await refused.json()).toEqual({ error: 'invalid_grant', error_description: "this client's id_token_signed_response_alg EdDSA is not one this issuer signs with (RS256, ES256)" });
    } finally {
      await applyWith('ES256');
    }
    // Back to ES256 (read within about a second): the same code still works.
    let answered: Response | null = null;
    for (let i = 0; i < 50; i++) {
      answered = await exchange();
      if (answered.status !== 400) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(answered!.status).toBe(200);
    expect(decodeProtectedHeader(((await answered!.json()) as { id_token: string }).id_token)).toMatchObject({ alg: 'ES256' });
  }, 30_000);

  test('a client registered for an algorithm this issuer does not sign with is refused before sign-in, and the server said so at start', async () => {
    const url = new URL(`${server.url}/oauth2/authorize`);
    const verifier = oidc.randomPKCECodeVerifier();
    for (const [k, v] of Object.entries({ client_id: WEB_EDDSA, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid invoice:read', state: 's1', resource: API, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' })) url.searchParams.set(k, v);
    const r = await fetch(url, { redirect: 'manual' });
    expect(r.status).toBe(302);
    const back = new URL(r.headers.get('location')!);
    expect(Object.fromEntries(back.searchParams)).toMatchObject({ error: 'invalid_request', error_description: "this client's id_token_signed_response_alg EdDSA is not one this issuer signs with (RS256, ES256)", state: 's1', iss: server.url });
    expect(server.output()).toContain(`gavel: warning: client \`${WEB_EDDSA}\` asks for EdDSA ID tokens, and this issuer signs with RS256, ES256`);
  });

  test('alice signs in; the code becomes tokens with the scopes her roles hold and the policies grant', async () => {
    const { config, verifier, state, url } = await start();
    const callback = await signIn(url);
    expect(callback.searchParams.get('iss')).toBe(server.url);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
    // customers:read is the client's but not alice's (finance clerks read invoices and payments).
    expect(tokens).toMatchObject({ token_type: 'bearer', scope: 'invoice:read' });
    expect(typeof tokens.refresh_token).toBe('string');
    // The API maps the user's `department` attribute into its tokens.
    expect(await oidc.tokenIntrospection(config, tokens.access_token)).toMatchObject({ active: true, sub: 'alice', client_id: WEB.id, aud: API, department: 'finance' });
  }, 30_000);

  test('a pushed authorization request (RFC 9126, openid-client): the browser carries only client_id and request_uri, which works once', async () => {
    const config = await discover();
    expect(config.serverMetadata().pushed_authorization_request_endpoint).toBe(`${server.url}/oauth2/par`);
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = await oidc.buildAuthorizationUrlWithPAR(config, { redirect_uri: REDIRECT, scope: 'invoice:read', state, resource: API, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    expect(url.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    const callback = await signIn(url);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens).toMatchObject({ token_type: 'bearer', scope: 'invoice:read' });
    // Used: the same link again is an error page, never a second sign-in.
    const again = await fetch(url, { redirect: 'manual' });
    expect([again.status, await again.text()]).toEqual([400, expect.stringContaining('has expired or was already used')]);
  }, 30_000);

  test('a pushed request is checked as the client sends it: wrong credentials, another client_id, an unregistered redirect_uri or a pushed request_uri are refused as JSON; the link needs its own client_id', async () => {
    const push = (form: Record<string, string>, secret = WEB.secret) =>
      fetch(`${server.url}/oauth2/par`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${WEB.id}:${secret}`).toString('base64')}` }, body: new URLSearchParams(form) }).then(async (r) => [r.status, r.headers.get('cache-control'), await r.json()] as const);
    const good = { response_type: 'code', redirect_uri: REDIRECT, scope: 'invoice:read', resource: API, code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' };
    expect(await push(good, 'wrong')).toEqual([401, 'no-store', expect.objectContaining({ error: 'invalid_client' })]);
    expect(await push({ ...good, client_id: SPA })).toEqual([400, 'no-store', expect.objectContaining({ error: 'invalid_request', error_description: expect.stringContaining('client_id') })]);
    expect(await push({ ...good, redirect_uri: 'https://evil.example/cb' })).toEqual([400, 'no-store', expect.objectContaining({ error: 'invalid_request', error_description: expect.stringContaining('redirect_uri is not registered') })]);
    expect(await push({ ...good, code_challenge_method: 'plain' })).toEqual([400, 'no-store', expect.objectContaining({ error: 'invalid_request', error_description: expect.stringContaining('S256') })]);
    expect(await push({ ...good, request_uri: 'urn:ietf:params:oauth:request_uri:x' })).toEqual([400, 'no-store', expect.objectContaining({ error: 'invalid_request' })]);
    // The request travels sealed in the request_uri, through the browser's request line: one too large for proxies is refused, not issued.
    expect(await push({ ...good, state: 'x'.repeat(6_000) })).toEqual([400, 'no-store', { error: 'invalid_request', error_description: expect.stringContaining('the pushed request is too large') }]);
    const [status, , pushed] = await push(good);
    expect([status, pushed]).toEqual([201, { request_uri: expect.stringMatching(/^urn:ietf:params:oauth:request_uri:/), expires_in: 60 }]);
    const authorize = (clientId: string) => fetch(`${server.url}/oauth2/authorize?${new URLSearchParams({ client_id: clientId, request_uri: (pushed as { request_uri: string }).request_uri })}`, { redirect: 'manual' });
    const other = await authorize(SPA);
    expect([other.status, await other.text()]).toEqual([400, expect.stringContaining('client_id does not match')]);
    // Refused for another client, it is still there for its own.
    const own = await authorize(WEB.id);
    expect([own.status, await own.text()]).toEqual([200, expect.stringContaining('<form')]);
    // The authorization request POSTed as a form (OpenID Connect Core §3.1.2.1) may carry a pushed one too.
    const [, , again] = await push(good);
    const posted = await fetch(`${server.url}/oauth2/authorize`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ client_id: WEB.id, request_uri: (again as { request_uri: string }).request_uri }) });
    expect([posted.status, await posted.text()]).toEqual([200, expect.stringContaining('name="tx"')]);
  });

  test('with openid, the code also returns an ID token for the client, and userinfo answers who signed in', async () => {
    // No id_token_signed_response_alg: a relying party that registers none expects RS256 (OpenID Connect Core §2, Registration §2).
    const config = await oidc.discovery(new URL(server.url), WEB.id, undefined, oidc.ClientSecretBasic(WEB.secret), { execute: [oidc.allowInsecureRequests], algorithm: 'oauth2' });
    // RS256 first (the default), then the issuer's other algorithm, which a client may register.
    expect(config.serverMetadata().id_token_signing_alg_values_supported).toEqual(['RS256', 'ES256']);
    const verifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid profile email invoice:read', nonce, resource: API, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const tokens = await oidc.authorizationCodeGrant(config, await signIn(url), { pkceCodeVerifier: verifier, expectedNonce: nonce, idTokenExpected: true });
    expect(tokens.scope).toBe('openid profile email invoice:read');
    expect(tokens.claims()).toMatchObject({ iss: server.url, sub: 'alice', aud: WEB.id, nonce });
    // The ID token is RS256; the access token keeps the issuer's ES256 key.
    expect(decodeProtectedHeader(tokens.id_token!)).toMatchObject({ alg: 'RS256', typ: 'JWT' });
    expect(decodeProtectedHeader(tokens.access_token)).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    expect(await oidc.fetchUserInfo(config, tokens.access_token, 'alice')).toEqual({ sub: 'alice', name: 'Alice Example', email: 'alice@example.com' });
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.scope).toBe('openid profile email invoice:read');
    // Narrowed to `openid`, the token gets no claims beyond `sub` (OpenID Connect Core §5.4); a
    // scope named twice is one scope (RFC 6749 §3.3), decided once.
    const narrowed = await oidc.refreshTokenGrant(config, refreshed.refresh_token!, { scope: 'openid invoice:read openid invoice:read' });
    expect(narrowed.scope).toBe('openid invoice:read');
    expect(await oidc.fetchUserInfo(config, narrowed.access_token, 'alice')).toEqual({ sub: 'alice' });
  }, 30_000);

  test('a native app on a loopback address may use any port (RFC 8252 §7.3); anything else must match exactly', async () => {
    const { config, verifier, state } = await start();
    const port = 'http://127.0.0.1:51234/callback';
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: port, scope: 'invoice:read', state, resource: API, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const page = await browser.newPage();
    let callback: URL;
    try {
      await page.goto(url.href);
      await page.fill('#username', 'alice');
      await page.fill('#password', 'alice-example-password');
      const sent = page.waitForRequest(/^http:\/\/127\.0\.0\.1:51234\/callback/);
      await page.click('button[value=allow]', { noWaitAfter: true });
      callback = new URL((await sent).url());
    } finally {
      await page.close();
    }
    // The code is bound to the port it was sent to: the registered one is another redirect_uri.
    const code = callback.searchParams.get('code')!;
    expect(await tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier })).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: port, code_verifier: verifier })).toMatchObject({ status: 200, body: { scope: 'invoice:read' } });
    const base = { response_type: 'code', client_id: WEB.id, scope: 'invoice:read', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' };
    for (const other of ['http://localhost:8080/callback', 'http://127.0.0.1:51234/callback/', 'http://127.0.0.2:8080/callback', 'http://user@127.0.0.1:8080/callback']) {
      const r = await fetch(`${server.url}/oauth2/authorize?${new URLSearchParams({ ...base, redirect_uri: other })}`, { redirect: 'manual' });
      expect([other, r.status, r.headers.get('location')]).toEqual([other, 400, null]);
    }
  }, 30_000);

  test("a client's own web page (its redirect URI's origin) may call the token endpoint from the browser (CORS); another page's call is refused before the code is used", async () => {
    // Two real pages on loopback: one at the origin of a client's redirect URI, one elsewhere.
    const app = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>'));
    const other = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>other</title>'));
    await Promise.all([app, other].map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))));
    const origin = (s: typeof app) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    const page = await browser.newPage();
    try {
      const registry = JSON.parse(readFileSync(join(ws.dir, 'registry.json'), 'utf8')) as { clients: object[] };
      registry.clients.push({ id: 'web-page', grant_types: ['authorization_code'], token_endpoint_auth_method: 'none', redirect_uris: [`${origin(app)}/callback`], scopes: ['invoice:read'] });
      writeFileSync(join(ws.dir, 'registry-web.json'), JSON.stringify(registry));
      expect((await gavel(['apply', 'registry-web.json'], { cwd: ws.dir })).code).toBe(0);
      // The server reads the registry again within about a second.
      const allowed = async () => (await fetch(`${server.url}/oauth2/token`, { method: 'OPTIONS', headers: { origin: origin(app), 'access-control-request-method': 'POST' } })).headers.get('access-control-allow-origin');
      for (let i = 0; i < 50 && (await allowed()) === null; i++) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await allowed()).toBe(origin(app));
      // A public client's code redemption is a CORS "simple request" (a form, no Authorization
      // header): the browser sends it without asking first, and only hides the answer.
      const redeem = (form: Record<string, string>) =>
        page.evaluate(
          async ({ url, form }) => {
            try {
              const r = await fetch(url, { method: 'POST', body: new URLSearchParams(form) });
              return { status: r.status, body: (await r.json()) as Record<string, string> };
            } catch (err) {
              return { failed: String(err) };
            }
          },
          { url: `${server.url}/oauth2/token`, form },
        );
      const verifier = oidc.randomPKCECodeVerifier();
      const redirect = `${origin(app)}/callback`;
      const query = { response_type: 'code', client_id: 'web-page', redirect_uri: redirect, scope: 'invoice:read', resource: API, state: 'st', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' };
      await page.goto(`${server.url}/oauth2/authorize?${new URLSearchParams(query)}`);
      await page.fill('#username', 'alice');
      await page.fill('#password', 'alice-example-password');
      const sent = page.waitForRequest((r) => r.url().startsWith(redirect));
      await page.click('button[value=allow]');
      const code = new URL((await sent).url()).searchParams.get('code')!;
      const form = { grant_type: 'authorization_code', client_id: 'web-page', code, redirect_uri: redirect, code_verifier: verifier };
      await page.goto(`${origin(other)}/`);
      expect(await redeem(form)).toEqual({ failed: expect.stringContaining('Failed to fetch') });
      // Refused before it was used: the client's own page redeems the code.
      await page.goto(`${origin(app)}/`);
      expect(await redeem(form)).toMatchObject({ status: 200, body: { token_type: 'Bearer', scope: 'invoice:read' } });
    } finally {
      await page.close();
      for (const s of [app, other]) s.close();
    }
    // Discovery and the key set are public: any page may read them, and every answer says so (a shared cache keeps one).
    for (const path of ['/oauth2/jwks', '/.well-known/openid-configuration']) {
      for (const headers of [{ origin: 'https://anywhere.example' }, {}] as Record<string, string>[]) expect((await fetch(`${server.url}${path}`, { headers })).headers.get('access-control-allow-origin')).toBe('*');
    }
    // Without an Origin (a server-side client) nothing changes.
    expect((await fetch(`${server.url}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' })).headers.get('access-control-allow-origin')).toBeNull();
  }, 30_000);

  test('two sign-ins in one browser at once, in two tabs: each keeps its own CSRF cookie, and each succeeds', async () => {
    const context = await browser.newContext();
    try {
      const [first, second] = [await start(), await start()];
      const [a, b] = [await context.newPage(), await context.newPage()];
      await a.goto(first.url.href);
      await b.goto(second.url.href);
      const signInOn = async (page: typeof a) => {
        await page.fill('#username', 'alice');
        await page.fill('#password', 'alice-example-password');
        const sent = page.waitForRequest(/^http:\/\/127\.0\.0\.1:8080\/callback/);
        await page.click('button[value=allow]', { noWaitAfter: true });
        return new URL((await sent).url());
      };
      // The first tab's form after the second tab's page was shown: it had failed the CSRF check.
      const callbacks = [await signInOn(a), await signInOn(b)];
      expect(callbacks.map((c) => c.searchParams.get('state'))).toEqual([first.state, second.state]);
      expect(callbacks.every((c) => c.searchParams.get('code') !== null)).toBe(true);
    } finally {
      await context.close();
    }
  }, 30_000);

  test('refresh rotates; a lost response may be replayed briefly for the same successor; refreshes never widen scope', async () => {
    const { config, verifier, state, url } = await start();
    const tokens = await oidc.authorizationCodeGrant(config, await signIn(url), { pkceCodeVerifier: verifier, expectedState: state });
    // Introspection tells the client about its own refresh token (RFC 7662 §2.1)...
    expect(await oidc.tokenIntrospection(config, tokens.refresh_token!)).toMatchObject({ active: true, client_id: WEB.id, sub: 'alice', scope: 'invoice:read', aud: API });
    // ...and no other client about it.
    const reporting = { authorization: `Basic ${Buffer.from('reporting-app:reporting-app-example-secret-0123456789').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' };
    expect(await (await fetch(`${server.url}/oauth2/introspect`, { method: 'POST', headers: reporting, body: new URLSearchParams({ token: tokens.refresh_token! }) })).json()).toEqual({ active: false });
    const first = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(first.refresh_token).not.toBe(tokens.refresh_token);
    // ...which, rotated, is no longer live (only a lost response's replay may still present it).
    expect(await oidc.tokenIntrospection(config, tokens.refresh_token!)).toEqual({ active: false });
    // The same old token again within the grace window (a response lost on the way): the same successor.
    const again = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(again.refresh_token).toBe(first.refresh_token);
    await expect(oidc.refreshTokenGrant(config, first.refresh_token!, { scope: 'invoice:read payments:write' })).rejects.toMatchObject({ error: 'invalid_scope' });
    // The refused request did not use the token up.
    const next = await oidc.refreshTokenGrant(config, first.refresh_token!);
    // Revoking a refresh token ends its family: the newest one, and the access tokens issued in it.
    await oidc.tokenRevocation(config, next.refresh_token!);
    await expect(oidc.refreshTokenGrant(config, next.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await oidc.tokenIntrospection(config, next.access_token)).toEqual({ active: false });
  }, 30_000);

  test('a refresh token presented again after the grace window is reuse: its whole family is revoked, access tokens included', async () => {
    const { config, verifier, state, url } = await start('invoice:read');
    const tokens = await oidc.authorizationCodeGrant(config, await signIn(url), { pkceCodeVerifier: verifier, expectedState: state });
    const next = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(await oidc.tokenIntrospection(config, next.access_token)).toMatchObject({ active: true });
    // Whole seconds: 2 s after the rotation may still read as 2, inside the window; 3.2 s never does.
    await new Promise((resolve) => setTimeout(resolve, 3_200));
    // The old token again, now a stolen one: refused, and the family ends.
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(oidc.refreshTokenGrant(config, next.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await oidc.tokenIntrospection(config, next.access_token)).toEqual({ active: false });
  }, 30_000);

  test('RFC 8707 resource on the code and refresh requests: another API is invalid_target, and the code or token survives for the right one', async () => {
    const { verifier, url } = await start('invoice:read');
    const code = (await signIn(url)).searchParams.get('code')!;
    const form = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier };
    expect(await tokenRequest({ ...form, resource: 'https://elsewhere.example.com' })).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
    const tokens = await tokenRequest({ ...form, resource: API });
    expect(tokens.status).toBe(200);
    expect(await tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token, resource: 'https://elsewhere.example.com' })).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
    expect(await tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token, resource: API })).toMatchObject({ status: 200 });
  }, 30_000);

  test("a token exchanged from a sign-in's access token is revoked with the sign-in: revoking the refresh token ends both", async () => {
    const { config, verifier, state, url } = await start('invoice:read');
    const tokens = await oidc.authorizationCodeGrant(config, await signIn(url), { pkceCodeVerifier: verifier, expectedState: state });
    // billing-service, a resource server of the API (client_secret_post), exchanges the token presented to it.
    const exchange = await fetch(`${server.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: tokens.access_token,
        subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        scope: 'invoice:read',
        client_id: 'billing-service',
        client_secret: 'billing-service-example-secret-0123456789',
      }),
    });
    expect(exchange.status, await exchange.clone().text()).toBe(200);
    const exchanged = ((await exchange.json()) as { access_token: string }).access_token;
    // Asked by billing-service, which holds both tokens (the first as the API's resource server).
    const active = async (token: string) => {
      const r = await fetch(`${server.url}/oauth2/introspect`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, client_id: 'billing-service', client_secret: 'billing-service-example-secret-0123456789' }),
      });
      return ((await r.json()) as { active: boolean }).active;
    };
    expect([await active(tokens.access_token), await active(exchanged)]).toEqual([true, true]);
    await oidc.tokenRevocation(config, tokens.refresh_token!);
    expect([await active(tokens.access_token), await active(exchanged)]).toEqual([false, false]);
  });

  test('a code used twice is refused, and what its first use issued is revoked', async () => {
    const { config, verifier, url } = await start();
    const callback = await signIn(url);
    const form = { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier };
    const first = await tokenRequest(form);
    expect(first.status).toBe(200);
    expect(await tokenRequest(form)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await oidc.tokenIntrospection(config, first.body.access_token)).toEqual({ active: false });
    expect(await tokenRequest({ grant_type: 'refresh_token', refresh_token: first.body.refresh_token })).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  }, 30_000);

  test('a wrong verifier, a missing one, or another redirect_uri: invalid_grant, and the code survives for its real owner', async () => {
    for (const change of [{ code_verifier: oidc.randomPKCECodeVerifier() }, { redirect_uri: 'http://127.0.0.1:8080/other' }]) {
      const { verifier, url } = await start();
      const code = (await signIn(url)).searchParams.get('code')!;
      expect(await tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, ...change })).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      expect((await tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier })).status).toBe(200);
    }
    const { url } = await start();
    const code = (await signIn(url)).searchParams.get('code')!;
    expect(await tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT })).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
  }, 60_000);

  test('without PKCE, or with plain, the client is sent back an error; an unregistered redirect_uri is never redirected to', async () => {
    const base = { response_type: 'code', client_id: WEB.id, redirect_uri: REDIRECT, scope: 'invoice:read', state: 's1' };
    const noPkce = await fetch(`${server.url}/oauth2/authorize?${new URLSearchParams(base)}`, { redirect: 'manual' });
    expect(noPkce.status).toBe(302);
    const location = new URL(noPkce.headers.get('location')!);
    expect(Object.fromEntries(location.searchParams)).toMatchObject({ error: 'invalid_request', state: 's1', iss: server.url });
    const plain = await fetch(`${server.url}/oauth2/authorize?${new URLSearchParams({ ...base, code_challenge: 'x'.repeat(43), code_challenge_method: 'plain' })}`, { redirect: 'manual' });
    expect(new URL(plain.headers.get('location')!).searchParams.get('error_description')).toContain('S256');
    const evil = await fetch(`${server.url}/oauth2/authorize?${new URLSearchParams({ ...base, redirect_uri: 'https://evil.example.com/cb' })}`, { redirect: 'manual' });
    expect(evil.status).toBe(400);
    expect(evil.headers.get('location')).toBeNull();
    expect(await evil.text()).toContain('redirect_uri is not registered');
  });

  test('the authorization request may be POSTed as a form (OpenID Connect Core §3.1.2.1): the same page, or the same error sent back', async () => {
    const { url, state } = await start();
    const post = (params: URLSearchParams) => fetch(`${server.url}/oauth2/authorize`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: params });
    const page = await post(url.searchParams);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/name="tx" value="[^"]+"/);
    const plain = new URLSearchParams(url.searchParams);
    plain.set('code_challenge_method', 'plain');
    const refused = await post(plain);
    expect(refused.status).toBe(303);
    expect(Object.fromEntries(new URL(refused.headers.get('location')!).searchParams)).toMatchObject({ error: 'invalid_request', state, iss: server.url });
  });

  test('without a resource, a scope no API registers is sent back as invalid_scope (RFC 6749 §4.1.2.1)', async () => {
    const query = { response_type: 'code', client_id: WEB.id, redirect_uri: REDIRECT, scope: 'bogus', state: 's2', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' };
    const r = await fetch(`${server.url}/oauth2/authorize?${new URLSearchParams(query)}`, { redirect: 'manual' });
    expect(r.status).toBe(302);
    expect(Object.fromEntries(new URL(r.headers.get('location')!).searchParams)).toMatchObject({ error: 'invalid_scope', state: 's2', iss: server.url });
  });

  test('openid is decided like any scope: refused, the API token comes without an ID token, and a sign-in only is refused', async () => {
    const withApi = await start('openid invoice:read');
    const tokens = await oidc.authorizationCodeGrant(withApi.config, await signIn(withApi.url, 'carol-example-password', 'carol'), { pkceCodeVerifier: withApi.verifier, expectedState: withApi.state });
    expect(tokens.scope).toBe('invoice:read');
    expect(tokens.id_token).toBeUndefined();
    const only = await start('openid');
    only.url.searchParams.delete('resource');
    const refused = await signIn(only.url, 'carol-example-password', 'carol');
    expect(Object.fromEntries(refused.searchParams)).toMatchObject({ error: 'access_denied', error_description: expect.stringContaining('carol may not sign in with OpenID') });
  }, 30_000);

  test('a refresh the policies refuse is invalid_scope with their reason, and changes nothing: the refresh token is not rotated', async () => {
    const flow = await start('invoice:read');
    const tokens = await oidc.authorizationCodeGrant(flow.config, await signIn(flow.url, 'carol-example-password', 'carol'), { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
    expect(tokens.scope).toBe('invoice:read');
    const refused = await tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
    expect(refused).toMatchObject({ status: 400, body: { error: 'invalid_scope', error_description: expect.stringContaining('carol signs in again each time') } });
    // Not a use: presented again it is refused for the same reason, not taken for reuse (which would revoke the family).
    const again = await tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
    expect(again.body).toMatchObject({ error: 'invalid_scope' });
    const introspected = await oidc.tokenIntrospection(flow.config, tokens.access_token);
    expect(introspected.active).toBe(true);
  }, 30_000);

  test('a sign-in only refused at a refresh is invalid_grant, whatever words the policy\'s reason uses', async () => {
    const { config, verifier, state, url } = await start('openid');
    url.searchParams.delete('resource');
    const tokens = await oidc.authorizationCodeGrant(config, await signIn(url, 'dave-example-password', 'dave'), { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.scope).toBe('openid');
    const refused = await tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
    expect(refused).toMatchObject({ status: 400, body: { error: 'invalid_grant', error_description: expect.stringContaining('the openid scope ends at sign-in for dave') } });
  }, 30_000);

  test('a sign-in only (openid, no API): an ID token, and an access token userinfo accepts and the decision interfaces do not', async () => {
    const { config, verifier, state, url } = await start('openid profile');
    url.searchParams.delete('resource');
    url.searchParams.set('nonce', 'n-1');
    const tokens = await oidc.authorizationCodeGrant(config, await signIn(url), { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: 'n-1' });
    // `profile` goes with `openid` (OpenID Connect Core §5.4): it says which claims userinfo releases.
    expect(tokens.scope).toBe('openid profile');
    expect(tokens.claims()).toMatchObject({ sub: 'alice', aud: WEB.id, nonce: 'n-1' });
    expect(decodeJwt(tokens.access_token)).toMatchObject({ aud: `${server.url}/oauth2/userinfo`, scope: 'openid profile', sub: 'alice' });
    // Her name, not her email: `email` was not asked for.
    expect(await oidc.fetchUserInfo(config, tokens.access_token, 'alice')).toEqual({ sub: 'alice', name: 'Alice Example' });
    // Not a token to any API: a decision interface does not take it.
    const decided = (await (await fetch(`${server.url}/v1/decide`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ subject: { type: 'user', id: 'alice' }, action: { name: 'read' }, resource: { type: 'invoice', id: '1' }, context: { token: tokens.access_token } }) })).json()) as { token_error?: string };
    expect(decided.token_error).toContain('not a registered API');
    // POST, the token in the form body (RFC 6750 §2.2); but not in the body and the header at once.
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const posted = await fetch(`${server.url}/oauth2/userinfo`, { method: 'POST', headers: form, body: new URLSearchParams({ access_token: tokens.access_token }) });
    expect(posted.status).toBe(200);
    expect(await posted.json()).toMatchObject({ sub: 'alice' });
    const twice = await fetch(`${server.url}/oauth2/userinfo`, { method: 'POST', headers: { ...form, authorization: `Bearer ${tokens.access_token}` }, body: new URLSearchParams({ access_token: tokens.access_token }) });
    expect(twice.status).toBe(400);
    expect(await twice.json()).toMatchObject({ error: 'invalid_request', error_description: expect.stringContaining('not both') });
    // A POST with the token in the header and any body, which is not read (OpenID Connect Core §5.3.1).
    for (const [type, body] of [['application/x-www-form-urlencoded', ''], ['application/json', '{}'], ['text/plain', 'x']]) {
      const headerPost = await fetch(`${server.url}/oauth2/userinfo`, { method: 'POST', headers: { 'content-type': type, authorization: `Bearer ${tokens.access_token}` }, body });
      expect(headerPost.status, type).toBe(200);
    }
    // A token in the wrong shape is a malformed request, wherever it is sent.
    const malformed = [
      await fetch(`${server.url}/oauth2/userinfo`, { method: 'POST', headers: form, body: new URLSearchParams({ access_token: 'bad token' }) }),
      await fetch(`${server.url}/oauth2/userinfo`, { headers: { authorization: 'Bearer bad token' } }),
    ];
    for (const r of malformed) {
      expect(r.status).toBe(400);
      expect(r.headers.get('www-authenticate')).toBe('Bearer error="invalid_request"');
      expect(await r.json()).toMatchObject({ error: 'invalid_request' });
    }
    // It refreshes, still for userinfo only.
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.scope).toBe('openid profile');
  }, 30_000);

  test('what is not supported is said, not ignored: prompt=none, request objects, response modes other than query and form_post; a repeated nonce is refused', async () => {
    const { url, state } = await start();
    const redirected = async (extra: Record<string, string>) => {
      const u = new URL(url);
      for (const [k, v] of Object.entries(extra)) u.searchParams.append(k, v);
      const r = await fetch(u, { redirect: 'manual' });
      return r.headers.get('location') === null ? { status: r.status, text: await r.text() } : Object.fromEntries(new URL(r.headers.get('location')!).searchParams);
    };
    expect(await redirected({ prompt: 'none' })).toMatchObject({ error: 'login_required', state });
    expect(await redirected({ request: 'eyJhbGciOiJub25lIn0.e30.' })).toMatchObject({ error: 'request_not_supported', state });
    expect(await redirected({ request_uri: 'https://client.example/r' })).toMatchObject({ error: 'invalid_request_uri', state });
    // The code comes back in the query or posted: a client asking for it in the fragment (or a JWT) would not find it.
    for (const mode of ['fragment', 'jwt']) expect(await redirected({ response_mode: mode })).toMatchObject({ error: 'invalid_request', error_description: expect.stringContaining(`response_mode ${mode} is not supported`), state });
    for (const mode of ['query', 'form_post']) expect(await redirected({ response_mode: mode })).toMatchObject({ status: 200 });
    // An error goes back as the client asked too: posted.
    const posted = await redirected({ response_mode: 'form_post', prompt: 'none' });
    expect(posted).toMatchObject({ status: 200, text: expect.stringContaining(`<form method="post" action="${REDIRECT}"><input type="hidden" name="error" value="login_required">`) });
    expect((posted as { text: string }).text).toContain(`name="state" value="${state}"`);
    const u = new URL(url);
    u.searchParams.append('nonce', 'a');
    u.searchParams.append('nonce', 'b');
    const repeated = await fetch(u, { redirect: 'manual' });
    expect(repeated.status).toBe(400);
    expect(await repeated.text()).toContain('`nonce` is given more than once');
  });

  test('userinfo errors follow RFC 6750 §3.1: no token, a bad token, a token without openid; an oversize token request is 413', async () => {
    const r = await fetch(`${server.url}/oauth2/userinfo`);
    expect(r.status).toBe(401);
    // Without credentials: the schemes it takes, and no error code.
    expect(r.headers.get('www-authenticate')).toMatch(/^Bearer, DPoP algs="ES256 [^"]*"$/);
    expect(await r.json()).not.toHaveProperty('error');
    const bad = await fetch(`${server.url}/oauth2/userinfo`, { headers: { authorization: 'Bearer nope' } });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(await bad.json()).toMatchObject({ error: 'invalid_token' });
    // A valid token without openid is under-scoped, not invalid: a client must not discard it.
    const reporting = { authorization: `Basic ${Buffer.from('reporting-app:reporting-app-example-secret-0123456789').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' };
    const cc = (await (await fetch(`${server.url}/oauth2/token`, { method: 'POST', headers: reporting, body: `grant_type=client_credentials&resource=${encodeURIComponent(API)}` })).json()) as { access_token: string };
    const scoped = await fetch(`${server.url}/oauth2/userinfo`, { headers: { authorization: `Bearer ${cc.access_token}` } });
    expect(scoped.status).toBe(403);
    expect(scoped.headers.get('www-authenticate')).toBe('Bearer error="insufficient_scope", scope="openid"');
    expect(await scoped.json()).toMatchObject({ error: 'insufficient_scope' });
    const big = await fetch(`${server.url}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `grant_type=client_credentials&x=${'a'.repeat(1_100_000)}` });
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ error: 'invalid_request' });
  });

  test('the login form is refused without its CSRF cookie; a wrong password shows the page again', async () => {
    const { url } = await start();
    const page = await (await fetch(url.href)).text();
    const tx = /name="tx" value="([^"]+)"/.exec(page)![1];
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1];
    const post = (cookie: string | null, password: string) =>
      fetch(`${server.url}/oauth2/authorize`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie === null ? {} : { cookie: `${csrfCookie(tx)}=${cookie}` }) },
        body: new URLSearchParams({ tx, csrf, username: 'alice', password, decision: 'allow' }),
      });
    expect((await post(null, 'alice-example-password')).status).toBe(403);
    const wrong = await post(csrf, 'not-her-password');
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('Wrong user or password.');
    // Sent twice at once (a double click): one code, and both answers carry it — the browser
    // shows the second, which must not strand the user on an error page.
    const [right, again] = await Promise.all([post(csrf, 'alice-example-password'), post(csrf, 'alice-example-password')]);
    expect([right.status, again.status]).toEqual([303, 303]);
    expect(new URL(right.headers.get('location')!).searchParams.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(again.headers.get('location')).toBe(right.headers.get('location'));
    // The sign-in's CSRF cookie is done with: cleared, not left to pile up.
    expect(right.headers.get('set-cookie')).toMatch(new RegExp(`^${csrfCookie(tx)}=; Path=/oauth2/authorize; Max-Age=0`));
    // Only the same form gets it again: without its CSRF cookie, nothing.
    expect((await post(null, 'alice-example-password')).status).toBe(403);
  });

  test("a public client's refresh tokens are bound to the DPoP key of its first refresh with a proof, when its sign-in sent none (RFC 9449 §5)", async () => {
    const config = await oidc.discovery(new URL(server.url), SPA, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests], algorithm: 'oauth2' });
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'invoice:read', resource: API, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const code = (await signIn(url)).searchParams.get('code')!;
    const token = async (form: Record<string, string>, dpop?: string) => {
      const r = await fetch(`${server.url}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...(dpop === undefined ? {} : { dpop }) }, body: new URLSearchParams({ client_id: SPA, ...form }) });
      return { status: r.status, body: (await r.json()) as Record<string, string> };
    };
    // Signed in without DPoP: an unbound family.
    const first = await token({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT });
    expect(first).toMatchObject({ status: 200, body: { token_type: 'Bearer' } });
    const key = await generateKeyPair('ES256');
    const proof = async () =>
      new SignJWT({ htm: 'POST', htu: `${server.url}/oauth2/token`, jti: crypto.randomUUID(), iat: Math.floor(Date.now() / 1000) }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(key.publicKey) }).sign(key.privateKey);
    const bound = await token({ grant_type: 'refresh_token', refresh_token: first.body.refresh_token! }, await proof());
    expect(bound).toMatchObject({ status: 200, body: { token_type: 'DPoP' } });
    // The unbound original, replayed within the grace window (a lost answer), is answered only
    // with the key its successor is bound to: not without a proof, not with another key.
    const stranger = await generateKeyPair('ES256');
    const strangerProof = await new SignJWT({ htm: 'POST', htu: `${server.url}/oauth2/token`, jti: crypto.randomUUID(), iat: Math.floor(Date.now() / 1000) }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(stranger.publicKey) }).sign(stranger.privateKey);
    for (const replay of [undefined, strangerProof]) {
      expect(await token({ grant_type: 'refresh_token', refresh_token: first.body.refresh_token! }, replay)).toMatchObject({ status: 400, body: { error: 'invalid_grant', error_description: expect.stringContaining('DPoP-bound') } });
    }
    expect(await token({ grant_type: 'refresh_token', refresh_token: first.body.refresh_token! }, await proof())).toMatchObject({ status: 200, body: { token_type: 'DPoP', refresh_token: bound.body.refresh_token } });
    // From here the family is the key's: its refresh token without a proof (stolen) is refused.
    expect(await token({ grant_type: 'refresh_token', refresh_token: bound.body.refresh_token! })).toMatchObject({ status: 400, body: { error: 'invalid_grant', error_description: expect.stringContaining('DPoP-bound') } });
    expect(await token({ grant_type: 'refresh_token', refresh_token: bound.body.refresh_token! }, await proof())).toMatchObject({ status: 200, body: { token_type: 'DPoP' } });
  });

  test('dpop_jkt binds the code to a DPoP key (RFC 9449 §10): without a proof, or with another key, it is invalid_grant and survives; openid-client redeems it with its key', async () => {
    const config = await oidc.discovery(new URL(server.url), SPA, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests], algorithm: 'oauth2' });
    const keys = await generateKeyPair('ES256', { extractable: true });
    const jkt = await calculateJwkThumbprint(await exportJWK(keys.publicKey), 'sha256');
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'invoice:read', resource: API, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', dpop_jkt: jkt });
    const callback = await signIn(url);
    const redeem = async (dpop?: string) => {
      const r = await fetch(`${server.url}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...(dpop === undefined ? {} : { dpop }) }, body: new URLSearchParams({ client_id: SPA, grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier, redirect_uri: REDIRECT }) });
      return { status: r.status, body: (await r.json()) as Record<string, string> };
    };
    // Someone who stole the code and the verifier, but not the key.
    expect(await redeem()).toMatchObject({ status: 400, body: { error: 'invalid_grant', error_description: expect.stringContaining('bound to a DPoP key') } });
    const stranger = await generateKeyPair('ES256');
    const strangerProof = await new SignJWT({ htm: 'POST', htu: `${server.url}/oauth2/token`, jti: crypto.randomUUID(), iat: Math.floor(Date.now() / 1000) }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(stranger.publicKey) }).sign(stranger.privateKey);
    expect(await redeem(strangerProof)).toMatchObject({ status: 400, body: { error: 'invalid_grant', error_description: expect.stringContaining('another key') } });
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier }, undefined, { DPoP: oidc.getDPoPHandle(config, keys) });
    expect(tokens.token_type).toBe('dpop');
    expect(decodeJwt(tokens.access_token).cnf).toEqual({ jkt });
  }, 30_000);

  test('a pushed request with a DPoP proof binds its code to the proof\'s key (RFC 9449 §10.1); a dpop_jkt that names another key, or a malformed one, is refused', async () => {
    const config = await oidc.discovery(new URL(server.url), SPA, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests], algorithm: 'oauth2' });
    const keys = await generateKeyPair('ES256', { extractable: true });
    const dpop = oidc.getDPoPHandle(config, keys);
    const verifier = oidc.randomPKCECodeVerifier();
    const params = { redirect_uri: REDIRECT, scope: 'invoice:read', resource: API, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' };
    // openid-client sends the proof to the PAR endpoint itself.
    const url = await oidc.buildAuthorizationUrlWithPAR(config, params, { DPoP: dpop });
    const callback = await signIn(url);
    const plain = await fetch(`${server.url}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ client_id: SPA, grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier, redirect_uri: REDIRECT }) });
    expect([plain.status, ((await plain.json()) as { error: string }).error]).toEqual([400, 'invalid_grant']);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier }, undefined, { DPoP: dpop });
    expect(decodeJwt(tokens.access_token).cnf).toEqual({ jkt: await calculateJwkThumbprint(await exportJWK(keys.publicKey), 'sha256') });
    // A proof and a dpop_jkt for two different keys: which one the code would be bound to is unclear, so neither.
    const other = await calculateJwkThumbprint(await exportJWK((await generateKeyPair('ES256')).publicKey), 'sha256');
    const proof = await new SignJWT({ htm: 'POST', htu: `${server.url}/oauth2/par`, jti: crypto.randomUUID(), iat: Math.floor(Date.now() / 1000) }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(keys.publicKey) }).sign(keys.privateKey);
    const push = (form: Record<string, string>, headers: Record<string, string> = {}) =>
      fetch(`${server.url}/oauth2/par`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams({ client_id: SPA, response_type: 'code', ...params, ...form }) }).then(async (r) => [r.status, await r.json()] as const);
    expect(await push({ dpop_jkt: other }, { dpop: proof })).toEqual([400, { error: 'invalid_request', error_description: expect.stringContaining('dpop_jkt') }]);
    // The refused push did not use the proof up: it binds the next one.
    expect(await push({}, { dpop: proof })).toEqual([201, expect.objectContaining({ request_uri: expect.any(String) })]);
    // A proof for another endpoint is not a proof for this one.
    const forToken = await new SignJWT({ htm: 'POST', htu: `${server.url}/oauth2/token`, jti: crypto.randomUUID(), iat: Math.floor(Date.now() / 1000) }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(keys.publicKey) }).sign(keys.privateKey);
    expect(await push({}, { dpop: forToken })).toEqual([400, expect.objectContaining({ error: 'invalid_dpop_proof' })]);
    expect(await push({ dpop_jkt: 'not-a-thumbprint' })).toEqual([400, { error: 'invalid_request', error_description: expect.stringContaining('dpop_jkt must be') }]);
    // At the authorization endpoint a malformed dpop_jkt goes back to the client, as any bad parameter after a good redirect_uri.
    const sent = await fetch(oidc.buildAuthorizationUrl(config, { ...params, dpop_jkt: 'x' }), { redirect: 'manual' });
    expect(sent.status).toBe(302);
    expect(new URL(sent.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
  }, 30_000);

  test('guessing passwords: past 10 failures a minute from an address, or 20 for a user name, the password is not even checked', async () => {
    const { url } = await start();
    /** A GET or form POST from a chosen local address: status, Retry-After and page. */
    const from = (localAddress: string, method: 'GET' | 'POST', target: string, form?: URLSearchParams, cookie?: string) =>
      new Promise<{ status: number; retryAfter: string | undefined; text: string }>((resolve, reject) => {
        const headers: Record<string, string> = form === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded', ...(cookie === undefined ? {} : { cookie: `${csrfCookie(form.get('tx')!)}=${cookie}` }) };
        const r = request(target, { method, localAddress, headers }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, text }));
        });
        r.on('error', reject);
        r.end(form?.toString());
      });
    /** `tries` sign-ins as `username` from `localAddress`, each in a fresh transaction (its own five-try cap never applies). */
    const attempts = async (localAddress: string, username: string, passwords: string[]) => {
      const answers = [];
      for (const password of passwords) {
        const page = await from(localAddress, 'GET', url.href);
        const tx = /name="tx" value="([^"]+)"/.exec(page.text)![1]!;
        const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)![1]!;
        answers.push(await from(localAddress, 'POST', `${server.url}/oauth2/authorize`, new URLSearchParams({ tx, csrf, username, password, decision: 'allow' }), csrf));
      }
      return answers;
    };
    const wrong = (n: number) => Array.from({ length: n }, (_, i) => `guess-${i}`);
    expect((await attempts('127.0.0.31', 'alice', wrong(10))).map((a) => a.status)).toEqual(Array(10).fill(401));
    // The right password now gets the same answer as a wrong one: the guesser learns nothing.
    const [right, wrongAgain] = await attempts('127.0.0.31', 'alice', ['alice-example-password', 'guess-x']);
    for (const locked of [right, wrongAgain]) {
      expect(locked!.status).toBe(429);
      expect(Number(locked!.retryAfter)).toBeGreaterThan(0);
      expect(locked!.text).toContain('Too many failed sign-ins.');
    }
    // Another address signs alice in: ten failures do not lock the user.
    expect((await attempts('127.0.0.32', 'alice', ['alice-example-password']))[0]!.status).toBe(303);
    // Spread over addresses, twenty failures for one name lock the name (here one nobody has).
    for (const address of ['127.0.0.33', '127.0.0.34', '127.0.0.35']) await attempts(address, 'nobody', wrong(7).slice(0, address.endsWith('5') ? 6 : 7));
    expect((await attempts('127.0.0.36', 'nobody', ['anything']))[0]!.status).toBe(429);
    // Thirty guesses sent at once, each in its own sign-in: no more than ten get their password checked.
    const pages = [];
    for (let i = 0; i < 30; i++) pages.push(await from('127.0.0.37', 'GET', url.href));
    const answers = await Promise.all(
      pages.map((page, i) => {
        const tx = /name="tx" value="([^"]+)"/.exec(page.text)![1]!;
        const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)![1]!;
        return from('127.0.0.37', 'POST', `${server.url}/oauth2/authorize`, new URLSearchParams({ tx, csrf, username: `someone-${i % 3}`, password: 'x', decision: 'allow' }), csrf);
      }),
    );
    expect(answers.filter((a) => a.status === 401).length).toBe(10);
    expect(answers.filter((a) => a.status === 429).length).toBe(20);
  }, 60_000);

  test('a sign-in in progress is carried by its form, sealed: a changed form is refused, and a flood of login pages from one address pushes out no sign-in', async () => {
    const { url } = await start();
    const page = async () => {
      const text = await (await fetch(url.href)).text();
      return { tx: /name="tx" value="([^"]+)"/.exec(text)![1]!, csrf: /name="csrf" value="([^"]+)"/.exec(text)![1]! };
    };
    const signIn = ({ tx, csrf }: { tx: string; csrf: string }) =>
      fetch(`${server.url}/oauth2/authorize`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `${csrfCookie(tx)}=${csrf}` },
        body: new URLSearchParams({ tx, csrf, username: 'alice', password: 'alice-example-password', decision: 'allow' }),
      });
    const mine = await page();
    expect(mine.tx).toMatch(/^[A-Za-z0-9_-]{24}\.[A-Za-z0-9_-]+$/);
    // The sealed part changed by one character, or moved under another id: not this issuer's.
    const [id, sealed] = mine.tx.split('.') as [string, string];
    const flipped = `${id}.${sealed.slice(0, 40)}${sealed[40] === 'A' ? 'B' : 'A'}${sealed.slice(41)}`;
    for (const tx of [flipped, `${'x'.repeat(24)}.${sealed}`, id]) {
      const r = await signIn({ tx, csrf: mine.csrf });
      expect([r.status, await r.text()]).toEqual([400, expect.stringContaining('this sign-in has expired')]);
    }
    // A thousand and one login pages from one address: the first is as good as the last.
    const flood: { tx: string; csrf: string }[] = [];
    for (let i = 0; i < 1_001; i++) flood.push(await page());
    expect((await signIn(flood[0]!)).status).toBe(303);
    expect((await signIn(flood[1_000]!)).status).toBe(303);
    expect((await signIn(mine)).status).toBe(303);
  }, 60_000);
});

describe('a sign-in in progress and the registry of now', () => {
  test('a form carried across a change of the registry is held to the new one: a redirect URI taken from the client ends the sign-in, a withdrawn scope is left out', async () => {
    const registry = JSON.parse(readFileSync(join(ROOT, 'examples/registry.json'), 'utf8')) as { clients: { id: string; redirect_uris?: string[]; scopes: string[] }[] };
    const own = await issuerServer(registry);
    try {
      const config = await own.discover(WEB.id, WEB.secret);
      const page = async (scope: string) => {
        const text = await (await fetch(oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope, resource: API, code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' }))).text();
        return { tx: /name="tx" value="([^"]+)"/.exec(text)![1]!, csrf: /name="csrf" value="([^"]+)"/.exec(text)![1]! };
      };
      const signIn = ({ tx, csrf }: { tx: string; csrf: string }) =>
        fetch(`${own.server.url}/oauth2/authorize`, {
          method: 'POST',
          redirect: 'manual',
          headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `${csrfCookie(tx)}=${csrf}` },
          body: new URLSearchParams({ tx, csrf, username: 'alice', password: 'alice-example-password', decision: 'allow' }),
        });
      const two = await page('invoice:read customers:read');
      const apply = async (change: (web: { redirect_uris?: string[]; scopes: string[] }) => void) => {
        const web = registry.clients.find((c) => c.id === WEB.id)!;
        change(web);
        writeFileSync(join(own.dir, 'registry.json'), JSON.stringify(registry));
        const reloads = () => own.server.output().split('registry reloaded').length;
        const before = reloads();
        expect((await gavel(['apply', 'registry.json'], { cwd: own.dir })).code).toBe(0);
        // The server reads the registry again within a second of the change.
        for (let i = 0; i < 60 && reloads() === before; i++) await new Promise((resolve) => setTimeout(resolve, 50));
        expect(reloads()).toBeGreaterThan(before);
      };
      await apply((web) => (web.scopes = web.scopes.filter((x) => x !== 'customers:read')));
      const cut = await signIn(two);
      expect(cut.status).toBe(303);
      const code = new URL(cut.headers.get('location')!).searchParams.get('code')!;
      const r = await fetch(`${own.server.url}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${WEB.id}:${WEB.secret}`).toString('base64')}` }, body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk', redirect_uri: REDIRECT }) });
      expect(((await r.json()) as { scope: string }).scope).toBe('invoice:read');
      const one = await page('invoice:read');
      await apply((web) => (web.redirect_uris = ['http://127.0.0.1:8080/elsewhere']));
      const ended = await signIn(one);
      expect([ended.status, await ended.text()]).toEqual([400, expect.stringContaining('this sign-in has expired')]);
    } finally {
      own.stop();
    }
  }, 60_000);
});

describe('issuer.require_pushed_authorization_requests', () => {
  test('the authorization endpoint takes only a pushed request: the metadata says so, a plain request is shown an error page, a pushed one signs in', async () => {
    const strict = await issuerServer('examples', ['--config', 'gavel.json'], { 'gavel.json': JSON.stringify({ issuer: { require_pushed_authorization_requests: true } }) });
    try {
      const config = await strict.discover(WEB.id, WEB.secret);
      expect(config.serverMetadata().require_pushed_authorization_requests).toBe(true);
      const params = { redirect_uri: REDIRECT, scope: 'invoice:read', state: 's', resource: API, code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' };
      const plain = await fetch(oidc.buildAuthorizationUrl(config, params), { redirect: 'manual' });
      // Not redirected: the redirect_uri of a request that was not pushed is the browser's word.
      expect([plain.status, plain.headers.get('location'), await plain.text()]).toEqual([400, null, expect.stringContaining('only through its pushed_authorization_request_endpoint')]);
      const pushed = await fetch(await oidc.buildAuthorizationUrlWithPAR(config, params), { redirect: 'manual' });
      expect([pushed.status, await pushed.text()]).toEqual([200, expect.stringContaining('<form')]);
    } finally {
      strict.stop();
    }
  }, 30_000);
});

/**
 * Two `gavel serve` processes on one database and one issuer URL (a second server on the same
 * host, a restart overlapping the old process): what one revokes, the other refuses within a
 * second or two.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ROOT, serveProcess, type Served } from '../cli/helpers.js';
import { issuerServer, type IssuerServer } from './issuer-server.js';

const ISSUER = 'https://issuer.example.com';
const BASIC = `Basic ${Buffer.from('reporting-app:reporting-app-example-secret-0123456789').toString('base64')}`;
let first: IssuerServer;
let second: Served;
let signer: CryptoKey;

beforeAll(async () => {
  // The example registry, and a client that authenticates with signed assertions.
  const pair = await generateKeyPair('ES256');
  signer = pair.privateKey;
  const registry = JSON.parse(readFileSync(join(ROOT, 'examples/registry.json'), 'utf8')) as { clients: object[]; users: object[] };
  // Another user, who will hold alice's login form.
  registry.users.push({ id: 'mallory', password: 'mallory-example-password', groups: ['finance'] });
  registry.clients.push({ id: 'signer', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 's1', alg: 'ES256' }] }, scopes: ['invoice:read'] });
  const config = { 'gavel.json': JSON.stringify({ issuer: { url: ISSUER } }) };
  first = await issuerServer(registry, ['--config', 'gavel.json'], config);
  second = await serveProcess(first.dir, ['--config', 'gavel.json']);
}, 60_000);

afterAll(() => {
  second?.stop();
  first?.stop();
});

/** A form POST with the client's Basic credentials; its JSON answer (revocation answers none). */
async function post(base: string, path: string, form: Record<string, string>): Promise<Record<string, unknown>> {
  const r = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: BASIC }, body: new URLSearchParams(form) });
  expect(r.status, path).toBe(200);
  const text = await r.text();
  return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
}

describe('a store shared by two servers', () => {
  test('a token revoked at one server is refused by the other', async () => {
    const { access_token: token } = (await post(first.server.url, '/oauth2/token', { grant_type: 'client_credentials', scope: 'invoice:read', resource: 'https://api.example.com' })) as { access_token: string };
    expect(await post(second.url, '/oauth2/introspect', { token })).toMatchObject({ active: true });
    await post(first.server.url, '/oauth2/revoke', { token });
    let active = true;
    for (let waited = 0; active && waited < 5_000; waited += 100) {
      active = (await post(second.url, '/oauth2/introspect', { token })).active === true;
      if (active) await new Promise((r) => setTimeout(r, 100));
    }
    expect(active).toBe(false);
  }, 30_000);

  test('a client assertion used at one server is refused at the other (RFC 7523 §3)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ iss: 'signer', sub: 'signer', aud: ISSUER, jti: crypto.randomUUID(), iat: now, exp: now + 120 }).setProtectedHeader({ alg: 'ES256', kid: 's1' }).sign(signer);
    const grant = (base: string) =>
      fetch(`${base}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion }),
      });
    expect((await grant(first.server.url)).status).toBe(200);
    expect((await grant(second.url)).status).toBe(401);
  });

  test('a client assertion the store cannot record now (its write lock held elsewhere) is 503, not invalid_client; sent again once it can, it is accepted', async () => {
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ iss: 'signer', sub: 'signer', aud: ISSUER, jti: crypto.randomUUID(), iat: now, exp: now + 120 }).setProtectedHeader({ alg: 'ES256', kid: 's1' }).sign(signer);
    const grant = () =>
      fetch(`${first.server.url}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion }),
      });
    const { default: Database } = await import('better-sqlite3');
    const holder = new Database(join(first.dir, 'data', 'gavel.db'));
    try {
      holder.exec('BEGIN IMMEDIATE');
      const busy = await grant();
      expect([busy.status, busy.headers.get('retry-after'), await busy.json()]).toEqual([503, '5', { error: 'temporarily_unavailable', error_description: expect.any(String) }]);
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    expect((await grant()).status).toBe(200);
  }, 30_000);

  test('a DPoP proof used at one server is refused at the other (RFC 9449 §11.1)', async () => {
    const key = await generateKeyPair('ES256');
    const proof = await new SignJWT({ htm: 'POST', htu: `${ISSUER}/oauth2/token`, jti: crypto.randomUUID(), iat: Math.floor(Date.now() / 1000) })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(key.publicKey) })
      .sign(key.privateKey);
    const grant = (base: string) =>
      fetch(`${base}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: BASIC, dpop: proof },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'invoice:read', resource: 'https://api.example.com' }),
      });
    expect((await grant(first.server.url)).status).toBe(200);
    const replayed = await grant(second.url);
    expect(replayed.status).toBe(400);
    expect(await replayed.json()).toMatchObject({ error: 'invalid_dpop_proof' });
  });

  // Before the test below, which locks alice out at 127.0.0.1 for a minute.
  test('a sign-in begun at one server finishes at the other, once; a pushed request made at one is used at the other, once', async () => {
    const REQUEST = { response_type: 'code', client_id: 'invoice-web', redirect_uri: 'http://127.0.0.1:8080/callback', scope: 'invoice:read', resource: 'https://api.example.com', state: 's', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' };
    const page = await (await fetch(`${first.server.url}/oauth2/authorize?${new URLSearchParams(REQUEST)}`)).text();
    const tx = /name="tx" value="([^"]+)"/.exec(page)![1]!;
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
    const send = (base: string, username = 'alice', password = 'alice-example-password') =>
      fetch(`${base}/oauth2/authorize`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `gavel_csrf_${tx.split('.')[0]}=${csrf}` },
        body: new URLSearchParams({ tx, csrf, username, password, decision: 'allow' }),
      });
    // A load balancer sent the form to the other server: it finishes the sign-in. A double
    // click sent it to both at once: one sign-in, one code, and both answers carry it.
    const [done, twin] = await Promise.all([send(second.url), send(first.server.url)]);
    expect([done.status, twin.status]).toEqual([303, 303]);
    const code = new URL(done.headers.get('location')!).searchParams.get('code')!;
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(twin.headers.get('location')).toBe(done.headers.get('location'));
    // Someone else holding the form (its tx and CSRF value) who signs in as another user gets no code, at either server.
    for (const base of [second.url, first.server.url]) {
      const other = await send(base, 'mallory', 'mallory-example-password');
      expect([base, other.status, await other.text()]).toEqual([base, 400, expect.stringContaining('already completed')]);
    }
    // Once the client redeemed it, the form is used up at either server.
    const redeemed = await fetch(`${first.server.url}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('invoice-web:invoice-web-example-secret-0123456789abc').toString('base64')}` }, body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk', redirect_uri: 'http://127.0.0.1:8080/callback' }) });
    expect(redeemed.status).toBe(200);
    const again = await send(first.server.url);
    expect([again.status, await again.text()]).toEqual([400, expect.stringContaining('already completed')]);

    const par = await fetch(`${first.server.url}/oauth2/par`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('invoice-web:invoice-web-example-secret-0123456789abc').toString('base64')}` }, body: new URLSearchParams(REQUEST) });
    expect(par.status).toBe(201);
    const { request_uri } = (await par.json()) as { request_uri: string };
    const link = (base: string) => fetch(`${base}/oauth2/authorize?${new URLSearchParams({ client_id: 'invoice-web', request_uri })}`, { redirect: 'manual' });
    const atSecond = await link(second.url);
    expect([atSecond.status, await atSecond.text()]).toEqual([200, expect.stringContaining('name="tx"')]);
    const atFirst = await link(first.server.url);
    expect([atFirst.status, await atFirst.text()]).toEqual([400, expect.stringContaining('expired or was already used')]);
  }, 30_000);

  test('failed sign-ins count against the address at both servers: ten in all, not ten at each', async () => {
    const authorize = `/oauth2/authorize?${new URLSearchParams({ response_type: 'code', client_id: 'invoice-web', redirect_uri: 'http://127.0.0.1:8080/callback', scope: 'invoice:read', resource: 'https://api.example.com', state: 's', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' })}`;
    const attempt = async (base: string, password: string) => {
      const page = await (await fetch(`${base}${authorize}`)).text();
      const tx = /name="tx" value="([^"]+)"/.exec(page)![1]!;
      const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
      const r = await fetch(`${base}/oauth2/authorize`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `gavel_csrf_${tx.split('.')[0]}=${csrf}` },
        body: new URLSearchParams({ tx, csrf, username: 'alice', password, decision: 'allow' }),
      });
      return r.status;
    };
    const statuses = [];
    for (let i = 0; i < 10; i++) statuses.push(await attempt(i % 2 === 0 ? first.server.url : second.url, `guess-${i}`));
    expect(statuses).toEqual(Array(10).fill(401));
    // Locked at both: the right password is not even checked.
    expect(await attempt(first.server.url, 'alice-example-password')).toBe(429);
    expect(await attempt(second.url, 'alice-example-password')).toBe(429);
  }, 60_000);
});

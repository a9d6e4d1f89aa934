import { createHash, randomUUID } from 'node:crypto';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { gavel, ROOT, serveProcess, workspace, type Served } from '../cli/helpers.js';

/**
 * RFC 9449 DPoP: openid-client asks for a DPoP-bound token; a gateway then presents it to
 * Gavel's forward-auth with the client's proof for the original request, as it would pass
 * the headers on. Proofs are made with jose where a test needs one a client would not send.
 */
const REPORTING = { id: 'reporting-app', secret: 'reporting-app-example-secret-0123456789' };
let ws: ReturnType<typeof workspace>;
let server: Served;
let keys: { publicKey: CryptoKey; privateKey: CryptoKey };
let jwk: JWK;

beforeAll(async () => {
  ws = workspace();
  cpSync(join(ROOT, 'examples'), join(ws.dir, 'examples'), { recursive: true });
  expect((await gavel(['apply', 'examples/registry.json'], { cwd: ws.dir })).code).toBe(0);
  server = await serveProcess(ws.dir, []);
  keys = await generateKeyPair('ES256', { extractable: true });
  jwk = await exportJWK(keys.publicKey);
});

afterAll(() => {
  server.stop();
  ws.remove();
});

async function boundToken(): Promise<{ token: string; type: string }> {
  const config = await oidc.discovery(new URL(server.url), REPORTING.id, undefined, oidc.ClientSecretBasic(REPORTING.secret), { execute: [oidc.allowInsecureRequests], algorithm: 'oauth2' });
  const r = await oidc.clientCredentialsGrant(config, { scope: 'invoice:read' }, { DPoP: oidc.getDPoPHandle(config, keys) });
  return { token: r.access_token, type: r.token_type };
}

function proof(htm: string, htu: string, extra: Record<string, unknown> = {}, key = keys.privateKey, publicJwk = jwk): Promise<string> {
  return new SignJWT({ htm, htu, jti: randomUUID(), iat: Math.floor(Date.now() / 1000), ...extra }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: publicJwk }).sign(key);
}

const ath = (token: string) => createHash('sha256').update(token).digest('base64url');
const ORIGINAL = 'https://api.example.com/invoices/1';

/** What nginx or Caddy would send Gavel for GET https://api.example.com/invoices/1. */
function forwardAuth(authorization: string, dpop?: string): Promise<Response> {
  return fetch(`${server.url}/v1/forward-auth`, {
    headers: { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.com', 'x-forwarded-uri': '/invoices/1', authorization, ...(dpop === undefined ? {} : { dpop }) },
  });
}

describe('DPoP', () => {
  test('openid-client gets a token bound to its key: token_type DPoP, cnf.jkt the key thumbprint', async () => {
    const { token, type } = await boundToken();
    expect(type).toBe('dpop');
    expect(decodeJwt(token).cnf).toEqual({ jkt: await calculateJwkThumbprint(jwk, 'sha256') });
  });

  test('at the token endpoint, a replayed proof or one for another URL is invalid_dpop_proof', async () => {
    const url = `${server.url}/oauth2/token`;
    const basic = `Basic ${Buffer.from(`${REPORTING.id}:${REPORTING.secret}`).toString('base64')}`;
    const ask = (dpop: string) => fetch(url, { method: 'POST', headers: { authorization: basic, dpop, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials&scope=invoice:read' });
    const once = await proof('POST', url);
    expect((await ask(once)).status).toBe(200);
    const replayed = await ask(once);
    expect(replayed.status).toBe(400);
    expect(await replayed.json()).toEqual({ error: 'invalid_dpop_proof', error_description: 'the DPoP proof was already used (jti replay), or too many proofs are in flight' });
    expect(((await (await ask(await proof('POST', `${server.url}/elsewhere`))).json()) as { error: string }).error).toBe('invalid_dpop_proof');
    // A request that fails for another reason does not use its proof up (so failing requests cannot fill the replay cache).
    const kept = await proof('POST', url);
    const failing = await fetch(url, { method: 'POST', headers: { authorization: basic, dpop: kept, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials&scope=nowhere:read' });
    expect(((await failing.json()) as { error: string }).error).toBe('invalid_scope');
    expect((await ask(kept)).status).toBe(200);
    expect((await ask(kept)).status).toBe(400);
    expect(((await (await ask(await proof('GET', url))).json()) as { error: string }).error).toBe('invalid_dpop_proof');
  });

  test('a proof whose header jwk is not a key object is refused as a bad proof, not a 500', async () => {
    const url = `${server.url}/oauth2/token`;
    const basic = `Basic ${Buffer.from(`${REPORTING.id}:${REPORTING.secret}`).toString('base64')}`;
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const { token } = await boundToken();
    for (const jwkValue of ['abc', ['x'], 7, null]) {
      const forged = `${b64({ alg: 'ES256', typ: 'dpop+jwt', jwk: jwkValue })}.${b64({ htm: 'POST', htu: url, jti: randomUUID(), iat: Math.floor(Date.now() / 1000) })}.c2ln`;
      const r = await fetch(url, { method: 'POST', headers: { authorization: basic, dpop: forged, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials&scope=invoice:read' });
      expect(r.status, JSON.stringify(jwkValue)).toBe(400);
      expect(await r.json()).toEqual({ error: 'invalid_dpop_proof', error_description: 'the DPoP proof must carry a public jwk' });
      expect((await forwardAuth(`DPoP ${token}`, forged)).status).toBe(401);
    }
  });

  test('forward-auth admits a bound token only with a proof by its key for the original request', async () => {
    const { token } = await boundToken();
    const ok = await forwardAuth(`DPoP ${token}`, await proof('GET', ORIGINAL, { ath: ath(token) }));
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-gavel-subject')).toBe(REPORTING.id);
    const refused = async (authorization: string, dpop?: string) => {
      const r = await forwardAuth(authorization, dpop);
      expect(r.status).toBe(401);
      return r.headers.get('www-authenticate') ?? '';
    };
    // Presented as a bearer token, or without a proof: refused — with the scheme it was presented with (RFC 9449 §7.1).
    expect(await refused(`Bearer ${token}`)).toMatch(/^Bearer error="invalid_token", .*DPoP-bound/);
    // Without a proof the token is what is wrong; every challenge names the proof algorithms (RFC 9449 §7.1 `algs`).
    expect(await refused(`DPoP ${token}`)).toMatch(/^DPoP error="invalid_token", .*DPoP-bound.*, algs="ES256 [^"]*"$/);
    // A proof for another URL, another method, without ath, replayed, or by another key: the proof
    // fails RFC 9449 §4.3, which §7.1 answers with invalid_dpop_proof.
    const badProof = (detail: string) => new RegExp(`^DPoP error="invalid_dpop_proof", error_description="[^"]*${detail}[^"]*", algs="ES256 [^"]*"$`);
    expect(await refused(`DPoP ${token}`, await proof('GET', 'https://api.example.com/payments/1', { ath: ath(token) }))).toMatch(badProof('htu'));
    expect(await refused(`DPoP ${token}`, await proof('POST', ORIGINAL, { ath: ath(token) }))).toMatch(badProof('htm'));
    expect(await refused(`DPoP ${token}`, await proof('GET', ORIGINAL))).toMatch(badProof('ath'));
    const used = await proof('GET', ORIGINAL, { ath: ath(token) });
    expect((await forwardAuth(`DPoP ${token}`, used)).status).toBe(200);
    expect(await refused(`DPoP ${token}`, used)).toMatch(badProof('replay'));
    const other = await generateKeyPair('ES256', { extractable: true });
    expect(await refused(`DPoP ${token}`, await proof('GET', ORIGINAL, { ath: ath(token) }, other.privateKey, await exportJWK(other.publicKey)))).toMatch(badProof('another key'));
  });

  test('userinfo checks the key before the scope: a bound token without its proof is invalid_token, never a 403 that says it is live', async () => {
    const { token } = await boundToken();
    const userinfo = `${server.url}/oauth2/userinfo`;
    const stolen = await fetch(userinfo, { headers: { authorization: `Bearer ${token}` } });
    expect(stolen.status).toBe(401);
    expect(await stolen.json()).toMatchObject({ error: 'invalid_token' });
    // Its holder, with a proof by the key, learns what the token lacks.
    const held = await fetch(userinfo, { headers: { authorization: `DPoP ${token}`, dpop: await proof('GET', userinfo, { ath: ath(token) }) } });
    expect(held.status).toBe(403);
    expect(await held.json()).toMatchObject({ error: 'insufficient_scope' });
  });

  test('the decide API refuses a bound token: it cannot see the original request to check a proof', async () => {
    const { token } = await boundToken();
    const r = await fetch(`${server.url}/v1/decide`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ subject: { type: 'client', id: REPORTING.id }, action: { name: 'GET' }, resource: { type: 'route', id: '/invoices/1', properties: { path: '/invoices/1' } }, context: { token } }),
    });
    expect(((await r.json()) as { decision: boolean; token_error: string })).toMatchObject({ decision: false, token_error: expect.stringContaining('DPoP-bound') });
  });
});

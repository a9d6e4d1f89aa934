import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { issuerServer, type IssuerServer } from './issuer-server.js';

/** private_key_jwt client authentication (RFC 7523), with openid-client's PrivateKeyJwt. */
let issuer: IssuerServer;
let server: IssuerServer['server'];
let key: CryptoKey;
let publicJwk: JWK;

const registry = () => ({
  apis: [{ identifier: 'https://api.example.com', scopes: ['invoice:read'] }],
  clients: [{ id: 'signer', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ ...publicJwk, kid: 's1', alg: 'ES256' }] }, scopes: ['invoice:read'] }],
});

beforeAll(async () => {
  const pair = await generateKeyPair('ES256');
  key = pair.privateKey;
  publicJwk = await exportJWK(pair.publicKey);
  issuer = await issuerServer(registry());
  server = issuer.server;
});

afterAll(() => issuer.stop());

const form = (assertion: string, at = server.url) =>
  fetch(`${at}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion }),
  });

const assertion = (claims: Record<string, unknown> = {}, signWith: CryptoKey = key, typ?: string, at = server.url) => {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: 'signer', sub: 'signer', aud: at, jti: crypto.randomUUID(), iat: now, exp: now + 120, ...claims }).setProtectedHeader({ alg: 'ES256', kid: 's1', ...(typ === undefined ? {} : { typ }) }).sign(signWith);
};

describe('private_key_jwt', () => {
  test('openid-client authenticates with a signed assertion', async () => {
    const config = await oidc.discovery(new URL(server.url), 'signer', undefined, oidc.PrivateKeyJwt(key), { execute: [oidc.allowInsecureRequests], algorithm: 'oauth2' });
    expect((await oidc.clientCredentialsGrant(config, { scope: 'invoice:read' })).scope).toBe('invoice:read');
  });

  test('a replayed assertion, another key, another or a second audience, or an expired one is invalid_client', async () => {
    const once = await assertion();
    expect((await form(once)).status).toBe(200);
    expect((await form(once)).status).toBe(401);
    expect((await form(await assertion({}, (await generateKeyPair('ES256')).privateKey))).status).toBe(401);
    expect((await form(await assertion({ aud: 'https://elsewhere.example.com' }))).status).toBe(401);
    // The issuer identifier alone (draft-ietf-oauth-rfc7523bis): not the token endpoint's URL
    // (RFC 7523 §3 allowed it; it is what a malicious server gets a client to sign), not another
    // endpoint, not this server beside another.
    expect((await form(await assertion({ aud: `${server.url}/oauth2/token` }))).status).toBe(401);
    expect((await form(await assertion({ aud: `${server.url}/oauth2/introspect` }))).status).toBe(401);
    const two = await form(await assertion({ aud: ['https://elsewhere.example.com', server.url] }));
    expect(await two.json()).toEqual({ error: 'invalid_client', error_description: 'client_assertion must name one audience: this issuer' });
    expect((await form(await assertion({ aud: [server.url] }))).status).toBe(200);
    expect((await form(await assertion({ iat: Math.floor(Date.now() / 1000) - 600, exp: Math.floor(Date.now() / 1000) - 120 }))).status).toBe(401);
    expect(await (await form('not-a-jwt')).json()).toEqual({ error: 'invalid_client', error_description: 'client_assertion is not a JWT' });
  });

  test('iat is optional (RFC 7523 §3): without it an assertion must expire within five minutes; with it, be made within five, not in the future', async () => {
    const now = Math.floor(Date.now() / 1000);
    expect((await form(await assertion({ iat: undefined, exp: now + 240 }))).status).toBe(200);
    expect((await form(await assertion({ iat: undefined, exp: now + 3600 }))).status).toBe(401);
    expect((await form(await assertion({ iat: now - 400, exp: now + 60 }))).status).toBe(401);
    expect((await form(await assertion({ iat: now + 120, exp: now + 240 }))).status).toBe(401);
  });

  test('an assertion sent with a secret as well (two methods at once, RFC 6749 §2.3) is refused', async () => {
    const r = await fetch(`${server.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await assertion(), client_secret: 'anything' }),
    });
    expect(r.status).toBe(400);
    expect(await r.json()).toEqual({ error: 'invalid_request', error_description: 'use one client authentication method' });
  });

  test('an unsigned assertion naming a client gets the same answer as one naming no client: which ids use private_key_jwt is not told', async () => {
    const unsigned = (sub: string) => `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: sub, sub, aud: server.url })).toString('base64url')}.`;
    const answer = async (sub: string) => {
      const r = await fetch(`${server.url}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'someone-else', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: unsigned(sub) }),
      });
      return [r.status, await r.json()];
    };
    // (Each failure counts toward the example policies' limit of failed authentications per address: two only.)
    const [known, unknown] = [await answer('signer'), await answer('nobody')];
    expect(known).toEqual(unknown);
    expect(known).toEqual([401, { error: 'invalid_client', error_description: 'unknown client or wrong key' }]);
  });

  // On a server of its own: the other tests' failures count towards the example policies'
  // brute-force limit (more than 10 a minute from an address mint nothing).
  test('a JWT typed for something else (an access token, a DPoP proof) is not a client assertion; untyped, JWT and the explicit client-authentication+jwt are; a clock 20 s ahead is tolerated', async () => {
    const own = await issuerServer(registry());
    try {
      const at = own.server.url;
      for (const typ of [undefined, 'JWT', 'client-authentication+jwt', 'application/client-authentication+jwt']) expect((await form(await assertion({}, key, typ, at), at)).status, String(typ)).toBe(200);
      const now = Math.floor(Date.now() / 1000);
      // A client whose clock runs a little ahead is not locked out: 30 s, as for bearer tokens.
      expect((await form(await assertion({ iat: now + 20, exp: now + 140 }, key, undefined, at), at)).status).toBe(200);
      for (const typ of ['at+jwt', 'dpop+jwt', 'application/at+jwt']) expect((await form(await assertion({}, key, typ, at), at)).status, typ).toBe(401);
    } finally {
      own.stop();
    }
  }, 30_000);

  test('issuer.accept_token_endpoint_audience lets older clients name the token endpoint as the audience', async () => {
    const pair = await generateKeyPair('ES256');
    const older = await issuerServer(
      {
        apis: [{ identifier: 'https://api.example.com', scopes: ['invoice:read'] }],
        clients: [{ id: 'signer', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 's1', alg: 'ES256' }] }, scopes: ['invoice:read'] }],
      },
      ['--config', 'gavel.json'],
      { 'gavel.json': JSON.stringify({ issuer: { accept_token_endpoint_audience: true } }) },
    );
    try {
      const now = Math.floor(Date.now() / 1000);
      const signed = (aud: string) => new SignJWT({ iss: 'signer', sub: 'signer', aud, jti: crypto.randomUUID(), iat: now, exp: now + 120 }).setProtectedHeader({ alg: 'ES256', kid: 's1' }).sign(pair.privateKey);
      const grant = async (aud: string) =>
        (
          await fetch(`${older.server.url}/oauth2/token`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await signed(aud) }),
          })
        ).status;
      expect(await grant(`${older.server.url}/oauth2/token`)).toBe(200);
      expect(await grant(older.server.url)).toBe(200);
      expect(await grant(`${older.server.url}/oauth2/introspect`)).toBe(401);
    } finally {
      older.stop();
    }
  }, 30_000);
});

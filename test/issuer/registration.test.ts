import { cpSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { gavel, ROOT, serveProcess, workspace, type Served } from '../cli/helpers.js';

/** RFC 7591 registration admitted by a software statement, driven by openid-client. */
let ws: ReturnType<typeof workspace>;
let server: Served;
let trusted: CryptoKey;

beforeAll(async () => {
  ws = workspace();
  cpSync(join(ROOT, 'examples'), join(ws.dir, 'examples'), { recursive: true });
  expect((await gavel(['apply', 'examples/registry.json'], { cwd: ws.dir })).code).toBe(0);
  const keys = await generateKeyPair('ES256');
  trusted = keys.privateKey;
  writeFileSync(join(ws.dir, 'statements.jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(keys.publicKey)), kid: 'partner-1', alg: 'ES256' }] }));
  writeFileSync(join(ws.dir, 'gavel.json'), JSON.stringify({ policies: 'policies', issuer: { software_statement_jwks_file: 'statements.jwks.json' } }));
  server = await serveProcess(ws.dir, ['--config', 'gavel.json']);
});

afterAll(() => {
  server.stop();
  ws.remove();
});

const statement = (claims: Record<string, unknown>, key: CryptoKey = trusted) =>
  new SignJWT({ iss: 'https://partner.example.com', software_id: 'partner-reports', ...claims }).setProtectedHeader({ alg: 'ES256', kid: 'partner-1' }).setIssuedAt().setExpirationTime('10m').sign(key);

const registerRaw = async (body: Record<string, unknown>) => {
  const r = await fetch(`${server.url}/oauth2/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as Record<string, string> };
};

describe('dynamic client registration with a software statement', () => {
  test('a client registered under a trusted statement gets credentials, and tokens within its allowed scopes only', async () => {
    const registered = await oidc.dynamicClientRegistration(new URL(server.url), { software_statement: await statement({ allowed_scopes: 'invoice:read' }), grant_types: ['client_credentials'] }, undefined, {
      execute: [oidc.allowInsecureRequests],
      algorithm: 'oauth2',
    });
    const metadata = registered.clientMetadata();
    expect(metadata).toMatchObject({ scope: 'invoice:read', grant_types: ['client_credentials'] });
    const config = await oidc.discovery(new URL(server.url), metadata.client_id, undefined, oidc.ClientSecretBasic(metadata.client_secret as string), { execute: [oidc.allowInsecureRequests], algorithm: 'oauth2' });
    expect((await oidc.clientCredentialsGrant(config, { scope: 'invoice:read' })).scope).toBe('invoice:read');
    await expect(oidc.clientCredentialsGrant(config, { scope: 'payments:read' })).rejects.toMatchObject({ error: 'invalid_scope' });
  });

  test('no statement, an untrusted one, or asking beyond its caps is refused', async () => {
    expect(await registerRaw({ grant_types: ['client_credentials'] })).toMatchObject({ status: 400, body: { error: 'invalid_software_statement' } });
    const stranger = (await generateKeyPair('ES256')).privateKey;
    expect(await registerRaw({ software_statement: await statement({ allowed_scopes: 'invoice:read' }, stranger) })).toMatchObject({ status: 400, body: { error: 'unapproved_software_statement' } });
    expect(await registerRaw({ software_statement: await statement({ allowed_scopes: 'invoice:read' }), scope: 'invoice:read payments:write' })).toMatchObject({ status: 400, body: { error: 'invalid_client_metadata' } });
    const capped = await statement({ allowed_scopes: ['invoice:read'], redirect_uris: ['https://partner.example.com/cb'], grant_types: ['authorization_code'] });
    expect(await registerRaw({ software_statement: capped, redirect_uris: ['https://evil.example.com/cb'] })).toMatchObject({ status: 400, body: { error: 'invalid_redirect_uri' } });
    expect(await registerRaw({ software_statement: capped, grant_types: ['client_credentials'] })).toMatchObject({ status: 400, body: { error: 'invalid_client_metadata' } });
    // A statement that names no grant types allows client credentials only, and no redirects.
    expect(await registerRaw({ software_statement: await statement({ allowed_scopes: 'invoice:read' }), grant_types: ['authorization_code'], redirect_uris: ['https://partner.example.com/cb'] })).toMatchObject({ status: 400, body: { error: 'invalid_client_metadata' } });
    // A statement must name the party attesting to it (RFC 7591 §2.3).
    expect(await registerRaw({ software_statement: await statement({ iss: undefined, allowed_scopes: 'invoice:read' }) })).toMatchObject({ status: 400, body: { error: 'invalid_software_statement', error_description: expect.stringContaining('(iss)') } });
    const unsafe = await statement({ allowed_scopes: 'invoice:read', grant_types: ['authorization_code'], redirect_uris: ['javascript:alert(1)'] });
    expect(await registerRaw({ software_statement: unsafe })).toMatchObject({ status: 400, body: { error: 'invalid_redirect_uri' } });
  });

  test('a body that is not a JSON object is an OAuth error (RFC 7591 §3.2.2): error_description, not cached', async () => {
    for (const [type, body] of [['application/json', '{"software_statement": '], ['application/json', '[1]'], ['text/plain', 'x']]) {
      const r = await fetch(`${server.url}/oauth2/register`, { method: 'POST', headers: { 'content-type': type }, body });
      expect([body, r.status, r.headers.get('cache-control')]).toEqual([body, 400, 'no-store']);
      expect(await r.json()).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
    }
    const typed = await fetch(`${server.url}/oauth2/register`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
    expect(((await typed.json()) as { error_description: string }).error_description).toBe('the body must be a JSON object (application/json)');
  });

  test('id_token_signed_response_alg: one the issuer signs with is kept (RS256 when absent); another is refused, not replaced', async () => {
    const caps = { allowed_scopes: ['openid', 'invoice:read'], grant_types: ['authorization_code'], redirect_uris: ['https://partner.example.com/cb'] };
    const chosen = await registerRaw({ software_statement: await statement(caps), id_token_signed_response_alg: 'ES256' });
    // `openid` is the issuer's own scope, not an API's: a statement may allow it, and the client gets it.
    expect(chosen).toMatchObject({ status: 201, body: { scope: 'openid invoice:read', id_token_signed_response_alg: 'ES256' } });
    expect(await registerRaw({ software_statement: await statement(caps) })).toMatchObject({ status: 201, body: { id_token_signed_response_alg: 'RS256' } });
    expect(await registerRaw({ software_statement: await statement(caps), id_token_signed_response_alg: 'HS256' })).toEqual({ status: 400, body: { error: 'invalid_client_metadata', error_description: 'id_token_signed_response_alg must be one of RS256, ES256' } });
  });

  test('an address is limited to 20 registration attempts an hour (issuer.registrations_per_hour); others are not', async () => {
    const from = (localAddress: string) =>
      new Promise<{ status: number; retryAfter: string | undefined; body: Record<string, string> }>((resolve, reject) => {
        const req = request(`${server.url}/oauth2/register`, { method: 'POST', localAddress, headers: { 'content-type': 'application/json' } }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body: JSON.parse(text) as Record<string, string> }));
        });
        req.on('error', reject);
        req.end(JSON.stringify({ grant_types: ['client_credentials'] }));
      });
    // Refused attempts count too: a statement could be replayed, and each check costs a signature verification.
    for (let i = 0; i < 20; i++) expect((await from('127.0.0.8')).status).toBe(400);
    const limited = await from('127.0.0.8');
    expect(limited).toMatchObject({ status: 429, body: { error: 'too_many_requests' } });
    expect(Number(limited.retryAfter)).toBeGreaterThan(3500);
    expect((await from('127.0.0.1')).status).toBe(400);
  });

  test('a later gavel apply of the registry keeps dynamically registered clients', async () => {
    const { body } = await registerRaw({ software_statement: await statement({ allowed_scopes: 'invoice:read' }) });
    const applied = await gavel(['apply', 'examples/registry.json'], { cwd: ws.dir });
    expect(applied.stdout).toContain('0 removed');
    const basic = `Basic ${Buffer.from(`${body.client_id}:${body.client_secret}`).toString('base64')}`;
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const r = await fetch(`${server.url}/oauth2/token`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
    expect(r.status).toBe(200);
  });
});

import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { basicCredentials } from '../../src/issuer/client-auth.js';
import { issuerServer, type IssuerServer } from './issuer-server.js';

/**
 * RFC 6749 §2.3.1: client_secret_basic sends the id and the secret form-urlencoded, then
 * base64. A secret with `+`, `%`, `:` or a space only survives when both sides do that.
 */
const ODD = { id: 'odd-client', secret: 'a+b%2Fc:d e/f=g&h?i~0123456789-abcdefghijkl' };
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const form = (text: string) => new URLSearchParams({ x: text }).toString().slice(2);

describe('Basic credentials are form-decoded after base64', () => {
  test('the id and secret as the client form-encoded them', () => {
    expect(basicCredentials(`Basic ${b64(`${form(ODD.id)}:${form(ODD.secret)}`)}`)).toEqual(ODD);
    // Read raw, `+` would be a space and `%2F` a slash: the same bytes unencoded are another secret.
    expect(basicCredentials(`Basic ${b64(`${ODD.id}:${ODD.secret}`)}`)).not.toEqual(ODD);
    expect(basicCredentials(`Basic ${b64('no-colon')}`)).toBe('malformed');
    expect(basicCredentials(`Basic ${b64('id:%E0%A4%A')}`)).toBe('malformed');
    expect(basicCredentials('Bearer abc')).toBeNull();
  });
});

describe('a real OAuth client with such a secret', () => {
  let issuer: IssuerServer;
  beforeAll(async () => {
    issuer = await issuerServer(
      {
        apis: [{ identifier: 'https://api.example.com', scopes: ['invoice:read'] }],
        clients: [{ id: ODD.id, secret: ODD.secret, grant_types: ['client_credentials'], scopes: ['invoice:read'] }],
      },
      ['--config', 'gavel.json'],
      // An issuer identifier with a path, as behind a proxy that strips it.
      { 'gavel.json': JSON.stringify({ issuer: { url: 'https://id.example.com/auth' } }) },
    );
  });
  afterAll(() => issuer.stop());

  test('an issuer with a path answers RFC 8414 discovery at /.well-known/oauth-authorization-server/PATH, and only there', async () => {
    const found = await fetch(`${issuer.server.url}/.well-known/oauth-authorization-server/auth`);
    expect(found.status).toBe(200);
    expect(await found.json()).toMatchObject({ issuer: 'https://id.example.com/auth', token_endpoint: 'https://id.example.com/auth/oauth2/token' });
    expect((await fetch(`${issuer.server.url}/.well-known/oauth-authorization-server/other`)).status).toBe(404);
  });

  test('openid-client authenticates with client_secret_basic; the secret sent unencoded is refused', async () => {
    const metadata = (await (await fetch(`${issuer.server.url}/.well-known/oauth-authorization-server/auth`)).json()) as oidc.ServerMetadata;
    // The token endpoint as Gavel serves it (the proxy in front would strip /auth).
    const config = new oidc.Configuration({ ...metadata, token_endpoint: `${issuer.server.url}/oauth2/token` }, ODD.id, undefined, oidc.ClientSecretBasic(ODD.secret));
    oidc.allowInsecureRequests(config);
    const tokens = await oidc.clientCredentialsGrant(config, { resource: 'https://api.example.com' });
    expect(tokens.access_token).toBeTruthy();
    const raw = await fetch(`${issuer.server.url}/oauth2/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${b64(`${ODD.id}:${ODD.secret}`)}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&resource=https%3A%2F%2Fapi.example.com',
    });
    expect(raw.status).toBe(401);
    expect(((await raw.json()) as { error: string }).error).toBe('invalid_client');
  });
});

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
    issuer = await issuerServer({
      apis: [{ identifier: 'https://api.example.com', scopes: ['invoice:read'] }],
      clients: [{ id: ODD.id, secret: ODD.secret, grant_types: ['client_credentials'], scopes: ['invoice:read'] }],
    });
  });
  afterAll(() => issuer.stop());

  test('openid-client authenticates with client_secret_basic; the secret sent unencoded is refused', async () => {
    const tokens = await oidc.clientCredentialsGrant(await issuer.discover(ODD.id, ODD.secret), { resource: 'https://api.example.com' });
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

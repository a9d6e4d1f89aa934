import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { issuerServer, type IssuerServer } from './issuer-server.js';

/** What Gavel's decision interfaces say about a token its own issuer minted that is no longer good. */
const SECRET = 'short-lived-client-secret-0123456789abc';
let issuer: IssuerServer;

beforeAll(async () => {
  issuer = await issuerServer(
    {
      apis: [
        { identifier: 'https://short.example.com', scopes: ['short:read'] },
        { identifier: 'https://short-opaque.example.com', scopes: ['short:opaque'], token_format: 'opaque' },
      ],
      clients: [{ id: 'short-client', secret: SECRET, scopes: ['short:read', 'short:opaque'] }],
    },
    [],
    { 'policies/short.gavel': '@id("short.mint") @token_ttl("10") permit (action == "mint", resource in [scope::"short:read", scope::"short:opaque"]);\n' },
  );
});

afterAll(() => issuer?.stop());

describe("a token of Gavel's own issuer", () => {
  test('once expired, a JWT or a reference token, is said to be expired every time it is presented, not only while it was cached (the shortest lifetime a policy may set is 10 s)', async () => {
    const config = await issuer.discover('short-client', SECRET);
    const jwt = await oidc.clientCredentialsGrant(config, { scope: 'short:read' });
    const opaque = await oidc.clientCredentialsGrant(config, { scope: 'short:opaque' });
    expect([jwt.expires_in, opaque.expires_in]).toEqual([10, 10]);
    const tokenError = async (token: string) =>
      ((await (
        await fetch(`${issuer.server.url}/v1/decide`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ subject: { type: 'client', id: 'short-client' }, action: { name: 'read' }, resource: { type: 'doc', id: '1' }, context: { token } }),
        })
      ).json()) as { token_error?: string }).token_error;
    expect(await tokenError(jwt.access_token)).toBeUndefined();
    expect(await tokenError(opaque.access_token)).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    for (const token of [jwt.access_token, opaque.access_token]) {
      expect([await tokenError(token), await tokenError(token), await tokenError(token)]).toEqual(['token expired', 'token expired', 'token expired']);
    }
  }, 30_000);
});

import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { issuerServer, type IssuerServer } from './issuer-server.js';

/** What Gavel's decision interfaces say about a token its own issuer minted that is no longer good. */
const SECRET = 'short-lived-client-secret-0123456789abc';
let issuer: IssuerServer;

beforeAll(async () => {
  issuer = await issuerServer(
    { apis: [{ identifier: 'https://short.example.com', scopes: ['short:read'] }], clients: [{ id: 'short-client', secret: SECRET, scopes: ['short:read'] }] },
    [],
    { 'policies/short.gavel': '@id("short.mint") @token_ttl("10") permit (action == "mint", resource == scope::"short:read");\n' },
  );
});

afterAll(() => issuer?.stop());

describe("a token of Gavel's own issuer", () => {
  test('once expired, is said to be expired every time it is presented, not only while it was cached (the shortest lifetime a policy may set is 10 s)', async () => {
    const config = await issuer.discover('short-client', SECRET);
    const { access_token: token, expires_in } = await oidc.clientCredentialsGrant(config, { scope: 'short:read' });
    expect(expires_in).toBe(10);
    const tokenError = async () =>
      ((await (
        await fetch(`${issuer.server.url}/v1/decide`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ subject: { type: 'client', id: 'short-client' }, action: { name: 'read' }, resource: { type: 'doc', id: '1' }, context: { token } }),
        })
      ).json()) as { token_error?: string }).token_error;
    expect(await tokenError()).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    expect([await tokenError(), await tokenError(), await tokenError()]).toEqual(['token expired', 'token expired', 'token expired']);
  }, 30_000);
});

import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { issuerServer, type IssuerServer } from './issuer-server.js';

/** The token endpoint counts token requests per client for `risk.velocity`, and a policy can act on the count. */
const APP = { id: 'busy-app', secret: 'busy-app-example-secret-0123456789-abcdefgh' };
const API = 'https://api.example.com';

let issuer: IssuerServer;
beforeAll(async () => {
  issuer = await issuerServer(
    { apis: [{ identifier: API, scopes: ['invoice:read'] }], clients: [{ id: APP.id, secret: APP.secret, grant_types: ['client_credentials'], scopes: ['invoice:read'] }] },
    [],
    { 'policies/velocity.gavel': '@id("too-many-tokens")\nforbid (action == "mint", resource)\nwhen { risk.velocity.client_token_requests_1h >= 3 }\nreason "3 token requests this hour already";\n' },
  );
});
afterAll(() => issuer.stop());

describe('velocity fed by the token endpoint', () => {
  test("a client's fourth token request in the hour is refused by a policy reading client_token_requests_1h (the requests before it)", async () => {
    const config = await issuer.discover(APP.id, APP.secret);
    for (let i = 0; i < 3; i++) expect((await oidc.clientCredentialsGrant(config, { scope: 'invoice:read', resource: API })).scope).toBe('invoice:read');
    await expect(oidc.clientCredentialsGrant(config, { scope: 'invoice:read', resource: API })).rejects.toMatchObject({ error: 'invalid_scope', error_description: expect.stringContaining('3 token requests this hour already') });
  });
});

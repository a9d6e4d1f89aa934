import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { issuerServer, type IssuerServer } from './issuer-server.js';

/** Opaque (reference) access tokens: meaningless to their holder, resolved by introspection. */
const SECRET = 'opaque-client-example-secret-0123456789';
let issuer: IssuerServer;
let server: IssuerServer['server'];

beforeAll(async () => {
  issuer = await issuerServer({
    apis: [{ identifier: 'https://private.example.com', scopes: ['invoice:read'], token_format: 'opaque' }],
    clients: [{ id: 'opaque-client', secret: SECRET, scopes: ['invoice:read'] }],
  });
  server = issuer.server;
});

afterAll(() => issuer.stop());

describe('opaque access tokens', () => {
  test('a reference token is random; introspection resolves it, Gavel verifies it, revocation ends it', async () => {
    const config = await issuer.discover('opaque-client', SECRET);
    const { access_token: token } = await oidc.clientCredentialsGrant(config, { scope: 'invoice:read' });
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await oidc.tokenIntrospection(config, token)).toMatchObject({ active: true, sub: 'opaque-client', aud: 'https://private.example.com', scope: 'invoice:read' });
    const decide = async () =>
      ((await (
        await fetch(`${server.url}/v1/decide`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ subject: { type: 'client', id: 'opaque-client' }, action: { name: 'read' }, resource: { type: 'doc', id: '1' }, context: { token } }),
        })
      ).json()) as { token_error?: string });
    expect((await decide()).token_error).toBeUndefined();
    await oidc.tokenRevocation(config, token);
    expect(await oidc.tokenIntrospection(config, token)).toEqual({ active: false });
    expect((await decide()).token_error).toBe('token revoked');
    expect(await oidc.tokenIntrospection(config, 'x'.repeat(43))).toEqual({ active: false });
  });
});

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { gavel, serveProcess, workspace, type Served } from '../cli/helpers.js';

/** Opaque (reference) access tokens: meaningless to their holder, resolved by introspection. */
const SECRET = 'opaque-client-example-secret-0123456789';
let ws: ReturnType<typeof workspace>;
let server: Served;

beforeAll(async () => {
  ws = workspace();
  writeFileSync(
    join(ws.dir, 'registry.json'),
    JSON.stringify({
      apis: [{ identifier: 'https://private.example.com', scopes: ['invoice:read'], token_format: 'opaque' }],
      clients: [{ id: 'opaque-client', secret: SECRET, scopes: ['invoice:read'] }],
    }),
  );
  expect((await gavel(['apply', 'registry.json'], { cwd: ws.dir })).code).toBe(0);
  server = await serveProcess(ws.dir, []);
});

afterAll(() => {
  server.stop();
  ws.remove();
});

describe('opaque access tokens', () => {
  test('a reference token is random; introspection resolves it, Gavel verifies it, revocation ends it', async () => {
    const config = await oidc.discovery(new URL(server.url), 'opaque-client', undefined, oidc.ClientSecretBasic(SECRET), { execute: [oidc.allowInsecureRequests], algorithm: 'oauth2' });
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

import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { issuerServer, type IssuerServer } from './issuer-server.js';

/** RFC 8693 token exchange, driven by openid-client's genericGrantRequest. */
const SECRET = (id: string) => `${id}-example-secret-0123456789-abcdef`;
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS = 'urn:ietf:params:oauth:token-type:access_token';

let issuer: IssuerServer;

beforeAll(async () => {
  issuer = await issuerServer({
    apis: [
      { identifier: 'https://invoices.example.com', scopes: ['invoice:read', 'invoice:write'] },
      { identifier: 'https://archive.example.com', scopes: ['invoice:read'] },
    ],
    clients: [
      { id: 'frontend', secret: SECRET('frontend'), grant_types: ['client_credentials'], scopes: ['invoice:read'] },
      { id: 'invoice-service', secret: SECRET('invoice-service'), grant_types: [EXCHANGE], scopes: ['invoice:read', 'invoice:write'] },
    ],
  });
});

afterAll(() => issuer.stop());

const discover = (id: string) => issuer.discover(id, SECRET(id));

async function frontendToken(): Promise<string> {
  return (await oidc.clientCredentialsGrant(await discover('frontend'), { scope: 'invoice:read', resource: 'https://invoices.example.com' })).access_token;
}

describe('token exchange', () => {
  test('a token for one API becomes a token for another, for the calling service, which is recorded as the actor', async () => {
    const subject = await frontendToken();
    const exchanged = await oidc.genericGrantRequest(await discover('invoice-service'), EXCHANGE, {
      subject_token: subject,
      subject_token_type: ACCESS,
      resource: 'https://archive.example.com',
      scope: 'invoice:read',
    });
    expect(exchanged).toMatchObject({ issued_token_type: ACCESS, scope: 'invoice:read' });
    const claims = decodeJwt(exchanged.access_token);
    expect(claims).toMatchObject({ sub: 'frontend', aud: 'https://archive.example.com', client_id: 'invoice-service', act: { sub: 'invoice-service' } });
    expect(claims.exp!).toBeLessThanOrEqual(decodeJwt(subject).exp!);
  });

  test('an actor token must be the calling client\'s: another party cannot be claimed as the actor', async () => {
    const service = await discover('invoice-service');
    await expect(
      oidc.genericGrantRequest(service, EXCHANGE, { subject_token: await frontendToken(), subject_token_type: ACCESS, actor_token: await frontendToken(), actor_token_type: ACCESS, resource: 'https://archive.example.com' }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  test('an exchange cannot widen scope', async () => {
    const subject = await frontendToken();
    await expect(
      oidc.genericGrantRequest(await discover('invoice-service'), EXCHANGE, { subject_token: subject, subject_token_type: ACCESS, scope: 'invoice:read invoice:write', resource: 'https://invoices.example.com' }),
    ).rejects.toMatchObject({ error: 'invalid_scope' });
  });

  test('a forged, revoked or foreign subject token is invalid_grant; a client without the grant is unauthorized_client', async () => {
    const service = await discover('invoice-service');
    await expect(oidc.genericGrantRequest(service, EXCHANGE, { subject_token: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', subject_token_type: ACCESS })).rejects.toMatchObject({ error: 'invalid_grant' });
    const subject = await frontendToken();
    const frontend = await discover('frontend');
    await oidc.tokenRevocation(frontend, subject);
    await expect(oidc.genericGrantRequest(service, EXCHANGE, { subject_token: subject, subject_token_type: ACCESS })).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(oidc.genericGrantRequest(frontend, EXCHANGE, { subject_token: await frontendToken(), subject_token_type: ACCESS })).rejects.toMatchObject({ error: 'unauthorized_client' });
  });
});

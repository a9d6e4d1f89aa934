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
      // invoice-service is the invoices API's own service: tokens presented to it are its to exchange.
      { identifier: 'https://invoices.example.com', scopes: ['invoice:read', 'invoice:write'], resource_servers: ['invoice-service'] },
      { identifier: 'https://archive.example.com', scopes: ['invoice:read'] },
      // Reference tokens, with a custom claim from the calling client's attributes.
      { identifier: 'https://ledger.example.com', scopes: ['invoice:read'], token_format: 'opaque', claims: { team: 'client.team' } },
      // An API frontend may not reach, by the policy below.
      { identifier: 'https://vault.example.com', scopes: ['invoice:read'] },
    ],
    clients: [
      { id: 'frontend', secret: SECRET('frontend'), grant_types: ['client_credentials'], scopes: ['invoice:read'] },
      { id: 'invoice-service', secret: SECRET('invoice-service'), grant_types: [EXCHANGE], scopes: ['invoice:read', 'invoice:write'], attributes: { team: 'billing' } },
      { id: 'archive-service', secret: SECRET('archive-service'), grant_types: [EXCHANGE], scopes: ['invoice:read'] },
      { id: 'batch-job', secret: SECRET('batch-job'), grant_types: ['client_credentials', EXCHANGE], scopes: ['invoice:read'] },
    ],
  }, [], { 'policies/vault.gavel': '@id("vault.not-frontend") forbid (action == "mint", resource) when { subject.id == "frontend" && context.audience == "https://vault.example.com" } reason "frontend may not reach the vault";\n' });
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

  test('revoking a token revokes what was exchanged from it, and from those, JWT or opaque (RFC 7009 §2.1)', async () => {
    const frontend = await discover('frontend');
    const service = await discover('invoice-service');
    const subject = await frontendToken();
    const archive = await oidc.genericGrantRequest(service, EXCHANGE, { subject_token: subject, subject_token_type: ACCESS, resource: 'https://archive.example.com', scope: 'invoice:read' });
    // Exchanged again by the service it was issued to: a reference token this time.
    const ledger = await oidc.genericGrantRequest(service, EXCHANGE, { subject_token: archive.access_token, subject_token_type: ACCESS, resource: 'https://ledger.example.com', scope: 'invoice:read' });
    // Another token of the same client, exchanged too, stays: only what came from the revoked one goes.
    const sibling = await oidc.genericGrantRequest(service, EXCHANGE, { subject_token: await frontendToken(), subject_token_type: ACCESS, resource: 'https://archive.example.com', scope: 'invoice:read' });
    for (const token of [archive.access_token, ledger.access_token, sibling.access_token]) expect(await oidc.tokenIntrospection(service, token)).toMatchObject({ active: true });
    await oidc.tokenRevocation(frontend, subject);
    expect(await oidc.tokenIntrospection(frontend, subject)).toEqual({ active: false });
    expect(await oidc.tokenIntrospection(service, archive.access_token)).toEqual({ active: false });
    expect(await oidc.tokenIntrospection(service, ledger.access_token)).toEqual({ active: false });
    expect(await oidc.tokenIntrospection(service, sibling.access_token)).toMatchObject({ active: true });
    // Nor can it be exchanged once more.
    await expect(oidc.genericGrantRequest(service, EXCHANGE, { subject_token: archive.access_token, subject_token_type: ACCESS, resource: 'https://ledger.example.com', scope: 'invoice:read' })).rejects.toMatchObject({ error: 'invalid_request' });
  });

  test("the new token is made as any token to its API: an opaque API gets a reference token, with the API's custom claims", async () => {
    const service = await discover('invoice-service');
    const exchanged = await oidc.genericGrantRequest(service, EXCHANGE, { subject_token: await frontendToken(), subject_token_type: ACCESS, resource: 'https://ledger.example.com', scope: 'invoice:read' });
    expect(exchanged.access_token).not.toContain('.');
    expect(await oidc.tokenIntrospection(service, exchanged.access_token)).toMatchObject({ active: true, sub: 'frontend', aud: 'https://ledger.example.com', act: { sub: 'invoice-service' }, team: 'billing' });
  });

  test('an actor token must be the calling client\'s: another party cannot be claimed as the actor, nor told from a forged one', async () => {
    const service = await discover('invoice-service');
    const refused = async (actor: string) => {
      const err = await oidc
        .genericGrantRequest(service, EXCHANGE, { subject_token: await frontendToken(), subject_token_type: ACCESS, actor_token: actor, actor_token_type: ACCESS, resource: 'https://archive.example.com' })
        .then(() => null, (e: unknown) => e as { error: string; error_description: string });
      return { error: err?.error, error_description: err?.error_description };
    };
    const foreign = await refused(await frontendToken());
    // RFC 8693 §2.2.2: an unacceptable actor token is invalid_request.
    expect(foreign.error).toBe('invalid_request');
    expect(foreign).toEqual(await refused('eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'));
    // A token the caller holds for another party (here one it exchanged: issued to it, `sub` frontend)
    // would name frontend as acting, which it never did.
    const held = await oidc.genericGrantRequest(service, EXCHANGE, { subject_token: await frontendToken(), subject_token_type: ACCESS, resource: 'https://invoices.example.com' });
    expect(decodeJwt(held.access_token)).toMatchObject({ sub: 'frontend', client_id: 'invoice-service' });
    expect(await refused(held.access_token)).toEqual(foreign);
  });

  test("an exchange is decided about the token's subject: a forbid for that client holds whoever exchanges its token", async () => {
    const refused = await oidc
      .genericGrantRequest(await discover('invoice-service'), EXCHANGE, { subject_token: await frontendToken(), subject_token_type: ACCESS, resource: 'https://vault.example.com' })
      .then(() => null, (e: unknown) => e as { error: string; error_description: string });
    expect(refused).toMatchObject({ error: 'invalid_scope', error_description: expect.stringContaining('frontend may not reach the vault') });
    // Another client's own token is decided about that client, and passes.
    const job = await discover('batch-job');
    const own = await oidc.clientCredentialsGrant(job, { scope: 'invoice:read', resource: 'https://invoices.example.com' });
    expect(decodeJwt((await oidc.genericGrantRequest(job, EXCHANGE, { subject_token: own.access_token, subject_token_type: ACCESS, resource: 'https://vault.example.com' })).access_token)).toMatchObject({ sub: 'batch-job', aud: 'https://vault.example.com' });
  });

  test('only a service of the subject token\'s API — or the client it was issued to — may exchange it', async () => {
    // archive-service may exchange, but it does not serve the invoices API the token was issued for.
    const archive = await discover('archive-service');
    await expect(
      oidc.genericGrantRequest(archive, EXCHANGE, { subject_token: await frontendToken(), subject_token_type: ACCESS, resource: 'https://archive.example.com' }),
    ).rejects.toMatchObject({ error: 'invalid_request', error_description: expect.stringContaining('resource_servers') });
    // It hears what it would of a forged token: the answer does not say the token is live.
    const answer = (subject_token: string) =>
      oidc
        .genericGrantRequest(archive, EXCHANGE, { subject_token, subject_token_type: ACCESS, resource: 'https://archive.example.com' })
        .then(() => null, (e: unknown) => ({ error: (e as { error: string }).error, description: (e as { error_description: string }).error_description }));
    expect(await answer(await frontendToken())).toEqual(await answer('eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'));
    // A client may always retarget a token it was issued itself.
    const job = await discover('batch-job');
    const own = await oidc.clientCredentialsGrant(job, { scope: 'invoice:read', resource: 'https://invoices.example.com' });
    const exchanged = await oidc.genericGrantRequest(job, EXCHANGE, { subject_token: own.access_token, subject_token_type: ACCESS, resource: 'https://archive.example.com' });
    expect(decodeJwt(exchanged.access_token)).toMatchObject({ sub: 'batch-job', aud: 'https://archive.example.com' });
  });

  test('several audiences are invalid_target (RFC 8693 §2.1 allows them; a Gavel token is for one API)', async () => {
    const service = await discover('invoice-service');
    const body = new URLSearchParams({ grant_type: EXCHANGE, subject_token: await frontendToken(), subject_token_type: ACCESS });
    body.append('audience', 'https://archive.example.com');
    body.append('audience', 'https://ledger.example.com');
    await expect(oidc.genericGrantRequest(service, EXCHANGE, body)).rejects.toMatchObject({ error: 'invalid_target' });
  });

  test('resource and audience together must name the same API: else invalid_target, never a token for one of them', async () => {
    const service = await discover('invoice-service');
    const exchange = async (target: Record<string, string>) => oidc.genericGrantRequest(service, EXCHANGE, { subject_token: await frontendToken(), subject_token_type: ACCESS, ...target });
    await expect(exchange({ resource: 'https://archive.example.com', audience: 'https://nowhere.example.com' })).rejects.toMatchObject({ error: 'invalid_target', error_description: expect.stringContaining('name different targets') });
    await expect(exchange({ resource: 'https://archive.example.com', audience: 'https://invoices.example.com' })).rejects.toMatchObject({ error: 'invalid_target' });
    expect(decodeJwt((await exchange({ resource: 'https://archive.example.com', audience: 'https://archive.example.com' })).access_token).aud).toBe('https://archive.example.com');
  });

  test('an exchange cannot widen scope', async () => {
    const subject = await frontendToken();
    await expect(
      oidc.genericGrantRequest(await discover('invoice-service'), EXCHANGE, { subject_token: subject, subject_token_type: ACCESS, scope: 'invoice:read invoice:write', resource: 'https://invoices.example.com' }),
    ).rejects.toMatchObject({ error: 'invalid_scope' });
  });

  test('a forged, revoked or foreign subject token is invalid_request (RFC 8693 §2.2.2); a client without the grant is unauthorized_client', async () => {
    const service = await discover('invoice-service');
    await expect(oidc.genericGrantRequest(service, EXCHANGE, { subject_token: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', subject_token_type: ACCESS })).rejects.toMatchObject({ error: 'invalid_request' });
    const subject = await frontendToken();
    const frontend = await discover('frontend');
    await oidc.tokenRevocation(frontend, subject);
    await expect(oidc.genericGrantRequest(service, EXCHANGE, { subject_token: subject, subject_token_type: ACCESS })).rejects.toMatchObject({ error: 'invalid_request' });
    await expect(oidc.genericGrantRequest(frontend, EXCHANGE, { subject_token: await frontendToken(), subject_token_type: ACCESS })).rejects.toMatchObject({ error: 'unauthorized_client' });
  });
});

/**
 * Two `gavel serve` processes on one database and one issuer URL (a second server on the same
 * host, a restart overlapping the old process): what one revokes, the other refuses within a
 * second or two.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { serveProcess, type Served } from '../cli/helpers.js';
import { issuerServer, type IssuerServer } from './issuer-server.js';

const BASIC = `Basic ${Buffer.from('reporting-app:reporting-app-example-secret-0123456789').toString('base64')}`;
let first: IssuerServer;
let second: Served;

beforeAll(async () => {
  const config = { 'gavel.json': JSON.stringify({ issuer: { url: 'https://issuer.example.com' } }) };
  first = await issuerServer('examples', ['--config', 'gavel.json'], config);
  second = await serveProcess(first.dir, ['--config', 'gavel.json']);
}, 60_000);

afterAll(() => {
  second?.stop();
  first?.stop();
});

/** A form POST with the client's Basic credentials; its JSON answer (revocation answers none). */
async function post(base: string, path: string, form: Record<string, string>): Promise<Record<string, unknown>> {
  const r = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: BASIC }, body: new URLSearchParams(form) });
  expect(r.status, path).toBe(200);
  const text = await r.text();
  return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
}

describe('a store shared by two servers', () => {
  test('a token revoked at one server is refused by the other', async () => {
    const { access_token: token } = (await post(first.server.url, '/oauth2/token', { grant_type: 'client_credentials', scope: 'invoice:read', resource: 'https://api.example.com' })) as { access_token: string };
    expect(await post(second.url, '/oauth2/introspect', { token })).toMatchObject({ active: true });
    await post(first.server.url, '/oauth2/revoke', { token });
    let active = true;
    for (let waited = 0; active && waited < 5_000; waited += 100) {
      active = (await post(second.url, '/oauth2/introspect', { token })).active === true;
      if (active) await new Promise((r) => setTimeout(r, 100));
    }
    expect(active).toBe(false);
  }, 30_000);
});

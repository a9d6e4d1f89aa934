import { describe, expect, test } from 'vitest';
import { buildPolicySet } from '../../src/index.js';
import { LivePolicySet } from '../../src/engine/live-set.js';
import { buildApp } from '../../src/http/app.js';
import { ClientKeys } from '../../src/server/keys.js';
import { Metrics } from '../../src/server/metrics.js';

const NGINX = 'n'.repeat(24);
const APP = 'a'.repeat(24);
const live = new LivePolicySet(buildPolicySet([{ file: 'a.gavel', text: '@id("p") permit (action in ["read", "GET"]);' }]).set!);
const request = { subject: { type: 'user', id: 'alice' }, action: { name: 'read' }, resource: { type: 'doc', id: '1' } };

const app = (keys: Record<string, string>) => buildApp({ policies: live, clientKeys: new ClientKeys(keys) });

describe('client keys on the decision routes', () => {
  test('without configured keys anyone may ask', async () => {
    const r = await app({}).inject({ method: 'POST', url: '/access/v1/evaluation', payload: request });
    expect(r.json()).toMatchObject({ decision: true });
  });

  test.each([
    { url: '/access/v1/evaluation', payload: request },
    { url: '/access/v1/evaluations', payload: { evaluations: [request] } },
    { url: '/v1/decide', payload: request },
    { url: '/v1/decide/batch', payload: { requests: [request] } },
  ])('$url answers a caller with a key, in X-Gavel-Client-Key or as a bearer key, and 401 to others', async ({ url, payload }) => {
    const a = app({ nginx: NGINX, app: APP });
    expect((await a.inject({ method: 'POST', url, payload, headers: { 'x-gavel-client-key': NGINX } })).statusCode).toBe(200);
    expect((await a.inject({ method: 'POST', url, payload, headers: { authorization: `Bearer ${APP}` } })).statusCode).toBe(200);
    const none = await a.inject({ method: 'POST', url, payload });
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="gavel"');
    expect(none.json()).toEqual({ error: 'unauthorized', message: 'a client key is required: send it in x-gavel-client-key' });
    const wrong = await a.inject({ method: 'POST', url, payload, headers: { 'x-gavel-client-key': NGINX.slice(1) } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().message).toContain('the client key is not valid');
  });

  test('the bare key in Authorization is taken too, as the AuthZEN interop harnesses send it; another scheme is said to hold no key', async () => {
    const a = app({ app: APP });
    expect((await a.inject({ method: 'POST', url: '/access/v1/evaluation', payload: request, headers: { authorization: APP } })).statusCode).toBe(200);
    const wrong = await a.inject({ method: 'POST', url: '/access/v1/evaluation', payload: request, headers: { authorization: APP.slice(1) } });
    expect([wrong.statusCode, wrong.json().message]).toEqual([401, 'the client key is not valid: send it in x-gavel-client-key']);
    const basic = await a.inject({ method: 'POST', url: '/access/v1/evaluation', payload: request, headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } });
    expect([basic.statusCode, basic.json().message]).toEqual([401, 'the Authorization header holds no client key: send `Bearer KEY`, or the key in x-gavel-client-key']);
  });

  test('forward-auth takes the key only from X-Gavel-Client-Key: Authorization is the end user\'s', async () => {
    const a = app({ nginx: NGINX });
    const gateway = { 'x-original-method': 'GET', 'x-original-uri': '/x' };
    const refused = await a.inject({ method: 'GET', url: '/v1/forward-auth', headers: { ...gateway, authorization: `Bearer ${NGINX}` } });
    // A 403 without a challenge: the gateway passes a 401's WWW-Authenticate on, and its users would be asked to sign in.
    expect([refused.statusCode, refused.headers['www-authenticate']]).toEqual([403, undefined]);
    expect(refused.json()).toEqual({ error: 'forbidden', message: 'a client key is required: send it in x-gavel-client-key' });
    // With the gateway's key, the call is decided (here: allowed, the policy needs no token).
    expect((await a.inject({ method: 'GET', url: '/v1/forward-auth', headers: { ...gateway, 'x-gavel-client-key': NGINX } })).statusCode).toBe(200);
  });

  test("Envoy's HTTP mode needs the key too, from X-Gavel-Client-Key only (Envoy: authorization_request.headers_to_add)", async () => {
    const a = app({ nginx: NGINX });
    const refused = await a.inject({ method: 'GET', url: '/v1/forward-auth/envoy/x', headers: { authorization: `Bearer ${NGINX}` } });
    expect([refused.statusCode, refused.headers['www-authenticate']]).toEqual([403, undefined]);
    expect(refused.json()).toEqual({ error: 'forbidden', message: 'a client key is required: send it in x-gavel-client-key' });
    expect((await a.inject({ method: 'GET', url: '/v1/forward-auth/envoy/x', headers: { 'x-gavel-client-key': NGINX } })).statusCode).toBe(200);
  });

  test('a refused key is counted and said in the server log, once a minute with a count of the rest; bad requests are counted by route and status', async () => {
    const said: string[] = [];
    const metrics = new Metrics(live, () => 0, () => 0, () => false, (m) => said.push(m));
    const a = buildApp({ policies: live, clientKeys: new ClientKeys({ nginx: NGINX }), metrics });
    for (let i = 0; i < 3; i++) expect((await a.inject({ method: 'POST', url: '/v1/decide', payload: request })).statusCode).toBe(401);
    expect(said).toEqual([expect.stringMatching(/^refused a http decision call from 127\.0\.0\.1: no client key on POST \/v1\/decide$/)]);
    expect((await a.inject({ method: 'POST', url: '/v1/decide', payload: '{', headers: { 'content-type': 'application/json', 'x-gavel-client-key': NGINX } })).statusCode).toBe(400);
    // A gateway's denial is a decision in a 401/403, not a failed call.
    const denied = await a.inject({ method: 'GET', url: '/v1/forward-auth', headers: { 'x-original-method': 'DELETE', 'x-original-uri': '/x', 'x-gavel-client-key': NGINX } });
    expect([401, 403]).toContain(denied.statusCode);
    const text = await metrics.registry.metrics();
    expect(text).not.toContain('route="/v1/forward-auth"');
    expect(text).toContain('gavel_client_key_refusals_total{interface="http"} 3');
    expect(text).toContain('gavel_http_errors_total{route="/v1/decide",code="401"} 3');
    expect(text).toContain('gavel_http_errors_total{route="/v1/decide",code="400"} 1');
  });

  test('health, metrics and the AuthZEN metadata stay open', async () => {
    const a = app({ nginx: NGINX });
    for (const url of ['/healthz', '/metrics', '/.well-known/authzen-configuration']) expect((await a.inject({ method: 'GET', url })).statusCode, url).toBe(200);
  });
});

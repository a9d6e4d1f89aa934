import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildPolicySet } from '../../src/index.js';
import { LivePolicySet } from '../../src/engine/live-set.js';
import { buildApp } from '../../src/http/app.js';
import { ReplayCache } from '../../src/tokens/dpop.js';
import { createTokenVerifier } from '../../src/tokens/verify-token.js';
import { DecisionLog } from '../../src/engine/decision-log.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

const ISSUER = 'https://issuer.test';
const POLICIES = `
@id("hello") permit (action == "GET", resource.path like "/hello/**") when { token.scope contains "hello:read" };
@id("tenant") forbid (action, resource) when { context has headers && context.headers has "x-tenant" && context.headers["x-tenant"] == "blocked" } reason "tenant is blocked";
@id("finance") forbid (action, resource.path like "/finanzen/**") reason "nur für Finanzen – gesperrt\\n100% sicher";
@id("internal") forbid (action, resource) when { resource has host && resource.host == "internal.example.com" } reason "internal host";
@id("no-debug") forbid (action, resource.path like "/hello/**") when { resource has params && resource.params has "debug" && resource.params.debug contains "1" } reason "debug is off";
`;

let app: FastifyInstance;
const store = new SqliteStore(':memory:');
const log = new DecisionLog(store, { flushMs: 60_000 });
let sign: (claims: Record<string, unknown>) => Promise<string>;

beforeAll(async () => {
  const keys = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'k1' };
  sign = (claims) =>
    new SignJWT({ iss: ISSUER, aud: 'gw', sub: 'alice', exp: Math.floor(Date.now() / 1000) + 300, ...claims }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(keys.privateKey);
  app = buildApp({
    policies: new LivePolicySet(buildPolicySet([{ file: 'gw.gavel', text: POLICIES }]).set!),
    forwardAuth: {
      verifyToken: createTokenVerifier([{ issuer: ISSUER, audiences: ['gw'], algorithms: ['ES256'], jwks: { keys: [jwk] } }]),
      headers: ['x-tenant'],
      responseHeaders: { 'X-Gavel-Subject': 'sub', 'X-Gavel-Client': 'client_id' },
      replay: new ReplayCache(),
    },
    log,
  });
  await app.ready();
});
afterAll(() => app.close());

const nginx = (uri: string, method = 'GET', extra: Record<string, string> = {}) => ({ 'x-original-method': method, 'x-original-uri': uri, ...extra });

describe('forward-auth', () => {
  test('a forbid on a host holds however the client spells it (Caddy and Traefik pass the Host as written)', async () => {
    const token = await sign({ scope: 'hello:read' });
    const caddy = (host: string, proto = 'https') => ({ 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/hello/x', 'x-forwarded-host': host, 'x-forwarded-proto': proto, authorization: `Bearer ${token}` });
    for (const host of ['internal.example.com', 'INTERNAL.example.com', 'internal.example.com.', 'internal.example.com:443', 'Internal.Example.Com.:443']) {
      const r = await app.inject({ method: 'GET', url: '/v1/forward-auth', headers: caddy(host) });
      expect([host, r.statusCode, r.headers['x-gavel-reason']]).toEqual([host, 403, 'internal host']);
    }
    // Another origin (another port) is another host; the same name elsewhere is allowed.
    expect((await app.inject({ method: 'GET', url: '/v1/forward-auth', headers: caddy('internal.example.com:8443') })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/v1/forward-auth', headers: caddy('api.example.com') })).statusCode).toBe(200);
  });

  test('header values outside printable ASCII are percent-encoded UTF-8: a unicode reason is a 403, a unicode subject is allowed (both were a 500)', async () => {
    const token = await sign({ scope: 'hello:read', sub: '用户' });
    const denied = await app.inject({ method: 'GET', url: '/v1/forward-auth', headers: nginx('/finanzen/q3', 'GET', { authorization: `Bearer ${token}` }) });
    expect(denied.statusCode).toBe(403);
    expect(denied.headers['x-gavel-reason']).toBe('nur f%C3%BCr Finanzen %E2%80%93 gesperrt%0A100%25 sicher');
    expect(decodeURIComponent(denied.headers['x-gavel-reason'] as string)).toBe('nur für Finanzen – gesperrt\n100% sicher');
    expect(denied.json()).toEqual({ decision: false, reason: 'nur für Finanzen – gesperrt\n100% sicher' });
    const allowed = await app.inject({ method: 'GET', url: '/v1/forward-auth', headers: nginx('/hello/world', 'GET', { authorization: `Bearer ${token}` }) });
    expect(allowed.statusCode).toBe(200);
    expect(decodeURIComponent(allowed.headers['x-gavel-subject'] as string)).toBe('用户');
  });

  test('allows with a valid token, and hands the upstream every configured header', async () => {
    const token = await sign({ scope: 'hello:read' });
    const r = await app.inject({ method: 'GET', url: '/v1/forward-auth', headers: nginx('/hello/world?x=1', 'GET', { authorization: `Bearer ${token}` }) });
    expect(r.statusCode).toBe(200);
    expect(r.headers['x-gavel-subject']).toBe('alice');
    // A claim the token lacks is still sent, empty: Caddy 2.6 would copy a placeholder otherwise.
    expect(r.headers['x-gavel-client']).toBe('');
  });

  test("the decision log keeps the token's identity and the claims policies read, never the token itself", async () => {
    const token = await sign({ scope: 'hello:read', jti: 't-1', email: 'alice@example.com' });
    const r = await app.inject({ method: 'GET', url: '/v1/forward-auth', headers: nginx('/hello/logged', 'GET', { authorization: `Bearer ${token}`, 'x-request-id': 'fa-1' }) });
    expect(r.statusCode).toBe(200);
    log.flush();
    const [entry] = store.queryDecisions({ limit: 1 });
    expect(entry).toMatchObject({ request_id: 'fa-1', via: 'forward_auth', decision: true, subject: { type: 'user', id: 'alice' }, action: 'GET', resource: { type: 'route', id: '/hello/logged' } });
    // The scheme is http unless the gateway says otherwise in X-Forwarded-Proto.
    expect((entry.request as { resource: unknown }).resource).toEqual({ type: 'route', id: '/hello/logged', properties: { path: '/hello/logged', host: 'localhost', query: '', params: {}, scheme: 'http' } });
    // iss, sub and jti (identity) and scope (read by the policies); not the email nobody read, nor aud or exp.
    expect((entry.request as { token: unknown }).token).toEqual({ iss: ISSUER, sub: 'alice', jti: 't-1', scope: 'hello:read' });
    // Not the token, nor its signature: the log cannot be used to present it.
    expect(JSON.stringify(entry)).not.toContain(token);
    expect(JSON.stringify(entry)).not.toContain(token.split('.')[2]);
  });

  test('reads Caddy and Traefik headers as well', async () => {
    const token = await sign({ scope: 'hello:read' });
    const r = await app.inject({ method: 'GET', url: '/v1/forward-auth?x=1', headers: { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/hello/caddy?x=1', authorization: `Bearer ${token}` } });
    expect(r.statusCode).toBe(200);
  });

  test('401 with a bare Bearer challenge when no token is presented', async () => {
    const r = await app.inject({ method: 'GET', url: '/v1/forward-auth', headers: nginx('/hello/world') });
    expect(r.statusCode).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Bearer realm="gavel"');
  });

  test('401 with error="invalid_token" when the token does not verify', async () => {
    const expired = await sign({ scope: 'hello:read', exp: Math.floor(Date.now() / 1000) - 3600 });
    const r = await app.inject({ method: 'GET', url: '/v1/forward-auth', headers: nginx('/hello/world', 'GET', { authorization: `Bearer ${expired}` }) });
    expect(r.statusCode).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Bearer error="invalid_token", error_description="token expired"');
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: ISSUER, aud: 'gw', sub: 'x', scope: 'hello:read', exp: 9e9 })).toString('base64url')}.`;
    const forged = await app.inject({ method: 'GET', url: '/v1/forward-auth', headers: nginx('/hello/world', 'GET', { authorization: `Bearer ${none}` }) });
    expect(forged.statusCode).toBe(401);
  });

  test('403 with the reason when a valid caller is denied', async () => {
    const token = await sign({ scope: 'hello:read' });
    const wrongMethod = await app.inject({ method: 'GET', url: '/v1/forward-auth', headers: nginx('/hello/world', 'DELETE', { authorization: `Bearer ${token}` }) });
    expect(wrongMethod.statusCode).toBe(403);
    expect(wrongMethod.headers['x-gavel-reason']).toBe('denied by policy');
    const blocked = await app.inject({ method: 'GET', url: '/v1/forward-auth', headers: nginx('/hello/world', 'GET', { authorization: `Bearer ${token}`, 'x-tenant': 'blocked' }) });
    expect(blocked.statusCode).toBe(403);
    expect(blocked.headers['x-gavel-reason']).toBe('tenant is blocked');
  });

  test('decides on the path the upstream will serve: dot segments resolved, encoded unreserved characters decoded', async () => {
    const token = await sign({ scope: 'hello:read' });
    const status = async (uri: string) => (await app.inject({ method: 'GET', url: '/v1/forward-auth', headers: { ...nginx(uri), authorization: `Bearer ${token}` } })).statusCode;
    expect(await status('/hello/../finanzen/x')).toBe(403);
    expect(await status('/hello/%2e%2e/finanzen/x')).toBe(403);
    expect(await status('/%66inanzen/x')).toBe(403);
    expect(await status('/elsewhere/../hello/x?q=1')).toBe(200);
    log.flush();
    const logged = store.queryDecisions({ limit: 1 })[0];
    expect((logged.request as { resource: unknown }).resource).toEqual({ type: 'route', id: '/hello/x', properties: { path: '/hello/x', host: 'localhost', query: 'q=1', params: { q: ['1'] }, scheme: 'http' } });
  });

  test('a header naming the request or its credential, sent twice, is a 400: nothing is decided on a joined or a chosen copy', async () => {
    const token = await sign({ scope: 'hello:read' });
    const cases: [string, Record<string, string | string[]>][] = [
      ['x-forwarded-uri', { 'x-forwarded-method': 'GET', 'x-forwarded-uri': ['/hello/a', '/finanzen/x'] }],
      ['x-original-uri', nginx(['/hello/a', '/finanzen/x'] as unknown as string)],
      ['x-original-method', { ...nginx('/hello/a'), 'x-original-method': ['GET', 'DELETE'] }],
      ['authorization', { ...nginx('/hello/a'), authorization: [`Bearer ${token}`, 'Bearer other'] }],
      // A header policies are handed: `blocked` twice, joined, passed the forbid on `blocked`.
      ['x-tenant', { ...nginx('/hello/a'), 'x-tenant': ['blocked', 'blocked'] }],
    ];
    for (const [name, headers] of cases) {
      const r = await app.inject({ method: 'GET', url: '/v1/forward-auth', headers: { authorization: `Bearer ${token}`, ...headers } });
      expect([name, r.statusCode, r.json()]).toEqual([name, 400, { error: 'invalid_request', message: `the ${name} header is sent more than once: the request to decide is ambiguous` }]);
    }
  });

  test('policies read the query as params, each name with all its values: a repeated parameter cannot hide the value a forbid is about', async () => {
    const token = await sign({ scope: 'hello:read' });
    const status = async (uri: string) => (await app.inject({ method: 'GET', url: '/v1/forward-auth', headers: nginx(uri, 'GET', { authorization: `Bearer ${token}` }) })).statusCode;
    expect(await status('/hello/x?debug=0')).toBe(200);
    expect(await status('/hello/x?debug=1')).toBe(403);
    expect(await status('/hello/x?debug=0&debug=1')).toBe(403);
    expect(await status('/hello/x?%64ebug=%31')).toBe(403);
    expect(await status('/hello/x?__proto__=x&tag=a+b&tag=%E2%9C%93&flag')).toBe(200);
    log.flush();
    const logged = store.queryDecisions({ limit: 1 })[0];
    const properties = (logged.request as { resource: { properties: { params: Record<string, string[]> } } }).resource.properties;
    expect(JSON.stringify(properties.params)).toBe('{"__proto__":["x"],"tag":["a b","✓"],"flag":[""]}');
  });

  test('a bearer token in the query (access_token=, RFC 6750 §2.3) is neither taken nor kept: policies and the log see it redacted', async () => {
    const token = await sign({ scope: 'hello:read' });
    const r = await app.inject({ method: 'GET', url: '/v1/forward-auth', headers: nginx(`/hello/x?a=1&access_token=${token}&access%5Ftoken=${token}&%61ccess_Token=${token}`) });
    expect(r.statusCode).toBe(401);
    log.flush();
    const logged = store.queryDecisions({ limit: 1 })[0];
    expect(JSON.stringify(logged)).not.toContain(token.split('.')[2]);
    expect((logged.request as { resource: { properties: { query: string } } }).resource.properties.query).toBe('a=1&access_token=REDACTED&access%5Ftoken=REDACTED&%61ccess_Token=REDACTED');
    expect((logged.request as { resource: { properties: { params: unknown } } }).resource.properties.params).toEqual({ a: ['1'], access_token: ['REDACTED', 'REDACTED'], access_Token: ['REDACTED'] });
  });

  test('a token after a `;` (a separator to some servers, encoded or not), under an array name (access_token[]) or a name PHP reads as access_token is redacted too', async () => {
    const token = await sign({ scope: 'hello:read' });
    const r = await app.inject({ method: 'GET', url: '/v1/forward-auth', headers: nginx(`/hello/x?a=1;access_token=${token}&access_token[]=${token}&access_token%5B0%5D=${token}&b=c;d=e&e=1%3Baccess_token=${token}&access.token=${token}&access+token=${token}`) });
    expect(r.statusCode).toBe(401);
    log.flush();
    const logged = store.queryDecisions({ limit: 1 })[0]!;
    expect(JSON.stringify(logged)).not.toContain(token.split('.')[2]);
    const properties = (logged.request as { resource: { properties: { query: string; params: unknown } } }).resource.properties;
    expect(properties.query).toBe('a=1;access_token=REDACTED&access_token[]=REDACTED&access_token%5B0%5D=REDACTED&b=c;d=e&e=1%3Baccess_token%3DREDACTED&access.token=REDACTED&access+token=REDACTED');
    expect(properties.params).toEqual({ a: ['1;access_token=REDACTED'], 'access_token[]': ['REDACTED'], 'access_token[0]': ['REDACTED'], b: ['c;d=e'], e: ['1;access_token=REDACTED'], 'access.token': ['REDACTED'], 'access token': ['REDACTED'] });
  });

  test.each(['/hello/..%2ffinanzen/x', '/hello/..;/finanzen/x', '/hello//../finanzen/x', '/hello\\..\\finanzen'])('refuses %s, which servers resolve differently: 400, nothing decided', async (uri) => {
    const token = await sign({ scope: 'hello:read' });
    const r = await app.inject({ method: 'GET', url: '/v1/forward-auth', headers: { ...nginx(uri), authorization: `Bearer ${token}` } });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({ error: 'invalid_request', message: expect.stringMatching(/^x-original-uri: the path holds /) });
  });

  test('accepts a chunked request body of any type and ignores it', async () => {
    const token = await sign({ scope: 'hello:read' });
    const r = await app.inject({ method: 'POST', url: '/v1/forward-auth', payload: 'anything at all', headers: { ...nginx('/hello/x'), 'content-type': 'text/plain', 'transfer-encoding': 'chunked', authorization: `Bearer ${token}` } });
    // Decided on the original call (X-Original-Method GET), not refused as a body it cannot parse.
    expect(r.statusCode).toBe(200);
  });

  test("a client cannot name its own request with the other gateway family's headers", async () => {
    const token = await sign({ scope: 'hello:read' });
    // Caddy sets X-Forwarded-* and passes the client's other headers on: an added X-Original-URI must not win.
    const viaCaddy = await app.inject({ method: 'GET', url: '/v1/forward-auth', headers: { 'x-forwarded-method': 'DELETE', 'x-forwarded-uri': '/hello/world', 'x-original-uri': '/hello/world', 'x-original-method': 'GET', authorization: `Bearer ${token}` } });
    expect(viaCaddy.statusCode).toBe(400);
    expect(viaCaddy.json().message).toContain('both X-Original-URI and X-Forwarded-Uri');
    // nginx sets X-Original-*: a client's X-Forwarded-Method is not read with them.
    const viaNginx = await app.inject({ method: 'GET', url: '/v1/forward-auth', headers: { ...nginx('/hello/world', 'DELETE'), 'x-forwarded-method': 'GET', authorization: `Bearer ${token}` } });
    expect(viaNginx.statusCode).toBe(403);
  });

  test('a gateway that does not name the original URI gets 400 saying which header is missing, and nothing is decided', async () => {
    const token = await sign({ scope: 'hello:read' });
    const before = log.depth;
    const r = await app.inject({ method: 'GET', url: '/v1/forward-auth', headers: { 'x-original-method': 'GET', authorization: `Bearer ${token}` } });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({ error: 'invalid_request', message: expect.stringContaining('X-Original-URI') });
    expect(log.depth).toBe(before);
  });
});

describe("Envoy's HTTP ext_authz (http_service, path_prefix /v1/forward-auth/envoy)", () => {
  // What Envoy sends: the original method, its :authority as Host, its :path (query included)
  // after the prefix, Content-Length 0, Authorization, and the headers `allowed_headers` lets through.
  const envoy = (method: string, path: string, headers: Record<string, string> = {}) =>
    app.inject({ method: method as 'GET', url: `/v1/forward-auth/envoy${path}`, headers: { host: 'api.example.com', 'content-length': '0', ...headers } });

  test('allows the original call with a valid token, and hands the upstream the configured headers', async () => {
    const token = await sign({ scope: 'hello:read', jti: 'envoy-1' });
    const r = await envoy('GET', '/hello/world?x=1', { authorization: `Bearer ${token}`, 'x-forwarded-proto': 'https', 'x-request-id': 'envoy-http-1' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['x-gavel-subject']).toBe('alice');
    log.flush();
    const entry = store.queryDecisions({ limit: 10 }).find((e) => e.request_id === 'envoy-http-1')!;
    expect(entry).toMatchObject({ via: 'forward_auth', decision: true, action: 'GET', resource: { type: 'route', id: '/hello/world' } });
    expect((entry.request as { resource: unknown }).resource).toEqual({ type: 'route', id: '/hello/world', properties: { path: '/hello/world', host: 'api.example.com', query: 'x=1', params: { x: ['1'] }, scheme: 'https' } });
  });

  test('denials are statuses Envoy relays to the client: 401 with the challenge, 403 with the reason', async () => {
    const missing = await envoy('GET', '/hello/world');
    expect([missing.statusCode, missing.headers['www-authenticate']]).toEqual([401, 'Bearer realm="gavel"']);
    const token = await sign({ scope: 'hello:read' });
    const wrongMethod = await envoy('DELETE', '/hello/world', { authorization: `Bearer ${token}` });
    expect([wrongMethod.statusCode, wrongMethod.headers['x-gavel-reason']]).toEqual([403, 'denied by policy']);
    const finance = await envoy('GET', '/finanzen/q3', { authorization: `Bearer ${token}` });
    expect(finance.statusCode).toBe(403);
    expect(finance.json()).toEqual({ decision: false, reason: 'nur für Finanzen – gesperrt\n100% sicher' });
  });

  test('the method is the check request\'s own, and a body sent with with_request_body is not parsed', async () => {
    const token = await sign({ scope: 'hello:read' });
    const post = await app.inject({ method: 'POST', url: '/v1/forward-auth/envoy/hello/world', payload: Buffer.from([0xff, 0x00, 0x7b]), headers: { host: 'api.example.com', 'content-type': 'application/json', authorization: `Bearer ${token}` } });
    // POST is not what the policy permits: decided (403), not refused as a body it cannot parse (400).
    expect(post.statusCode).toBe(403);
    const head = await envoy('HEAD', '/hello/world', { authorization: `Bearer ${token}` });
    expect(head.statusCode).toBe(403);
  });

  test('the Host is the original authority: a forbid on a host holds', async () => {
    const token = await sign({ scope: 'hello:read' });
    const r = await envoy('GET', '/hello/x', { host: 'Internal.Example.com:80', authorization: `Bearer ${token}` });
    expect([r.statusCode, r.headers['x-gavel-reason']]).toEqual([403, 'internal host']);
  });

  test('paths are read as forward-auth reads them: dot segments resolved, ambiguous ones refused with 400', async () => {
    const token = await sign({ scope: 'hello:read' });
    expect((await envoy('GET', '/hello/../finanzen/x', { authorization: `Bearer ${token}` })).statusCode).toBe(403);
    const ambiguous = await envoy('GET', '/hello/..%2ffinanzen/x', { authorization: `Bearer ${token}` });
    expect(ambiguous.statusCode).toBe(400);
    expect(ambiguous.json()).toEqual({ error: 'invalid_request', message: expect.stringMatching(/^the path after \/v1\/forward-auth\/envoy: the path holds /) });
    // The root of the site, and a path longer than the router's parameter bound.
    expect((await envoy('GET', '/', { authorization: `Bearer ${token}` })).statusCode).toBe(403);
    expect((await envoy('GET', `/hello/${'a'.repeat(3000)}`, { authorization: `Bearer ${token}` })).statusCode).toBe(200);
  });
});

describe('end-user tokens on the AuthZEN and native APIs (context.token)', () => {
  const route = { subject: { type: 'user', id: 'alice' }, action: { name: 'GET' }, resource: { type: 'route', id: '/hello/x', properties: { path: '/hello/x' } } };

  test('a verified context.token becomes the token root, and the raw token goes nowhere', async () => {
    const token = await sign({ scope: 'hello:read' });
    const r = await app.inject({ method: 'POST', url: '/access/v1/evaluation', payload: { ...route, context: { token } }, headers: { 'x-request-id': 'az-1' } });
    expect(r.json()).toMatchObject({ decision: true, context: { determining: ['hello'] } });
    log.flush();
    const entry = store.queryDecisions({ limit: 10 }).find((e) => e.request_id === 'az-1')!;
    expect(JSON.stringify(entry)).not.toContain(token);
    expect((entry.request as { token: unknown }).token).toMatchObject({ sub: 'alice', scope: 'hello:read' });
  });

  test('a token that does not verify gives no token root, and says why', async () => {
    const expired = await sign({ scope: 'hello:read', exp: Math.floor(Date.now() / 1000) - 3600 });
    const authzen = await app.inject({ method: 'POST', url: '/access/v1/evaluation', payload: { ...route, context: { token: expired } } });
    expect(authzen.json()).toMatchObject({ decision: false, context: { token_error: 'token expired' } });
    const native = await app.inject({ method: 'POST', url: '/v1/decide', payload: { ...route, context: { token: 42 } } });
    expect(native.json()).toMatchObject({ decision: false, token_error: 'context.token must be a string (a JWT)' });
  });
});

describe("forward-auth when the token's issuer cannot be reached", () => {
  let down: FastifyInstance;
  beforeAll(async () => {
    // The issuer's JWKS URL: a loopback port nothing listens on.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const policies = `${POLICIES}\n@id("public") permit (action == "GET", resource.path like "/public/**");`;
    down = buildApp({
      policies: new LivePolicySet(buildPolicySet([{ file: 'gw.gavel', text: policies }]).set!),
      forwardAuth: {
        verifyToken: createTokenVerifier([{ issuer: ISSUER, audiences: ['gw'], algorithms: ['ES256'], jwks: new URL(`http://127.0.0.1:${port}/jwks.json`) }]),
        headers: [],
        responseHeaders: {},
        replay: new ReplayCache(),
      },
    });
    await down.ready();
  });
  afterAll(() => down.close());

  test('503 with Retry-After, not 401 invalid_token: the token may be good, and a 401 would make clients throw it away', async () => {
    const token = await sign({ scope: 'hello:read' });
    const r = await down.inject({ method: 'GET', url: '/v1/forward-auth', headers: nginx('/hello/world', 'GET', { authorization: `Bearer ${token}` }) });
    expect(r.statusCode).toBe(503);
    expect(r.headers['retry-after']).toBe('30');
    expect(r.headers['www-authenticate']).toBeUndefined();
    expect(r.headers['x-gavel-reason']).toMatch(/the issuer's keys could not be fetched from http:\/\/127\.0\.0\.1:\d+\/jwks\.json/);
  });

  test("through Envoy's HTTP mode the same is a 403 with Retry-After: Envoy takes a 5xx for a failed service, which failure_mode_allow lets pass", async () => {
    const token = await sign({ scope: 'hello:read' });
    const r = await down.inject({ method: 'GET', url: '/v1/forward-auth/envoy/hello/world', headers: { host: 'api.example.com', authorization: `Bearer ${token}` } });
    expect([r.statusCode, r.headers['retry-after']]).toEqual([403, '30']);
    expect(r.headers['x-gavel-reason']).toMatch(/the issuer's keys could not be fetched/);
  });

  test('what the policies allow without a token is still allowed', async () => {
    const token = await sign({ scope: 'hello:read' });
    const r = await down.inject({ method: 'GET', url: '/v1/forward-auth', headers: nginx('/public/page', 'GET', { authorization: `Bearer ${token}` }) });
    expect(r.statusCode).toBe(200);
  });
});

describe("Envoy's HTTP mode while the server stops", () => {
  test('a check whose request was on its way when the stop began is decided (401 here: no token), not answered 503, which failure_mode_allow lets through', async () => {
    const stopping = buildApp({
      policies: new LivePolicySet(buildPolicySet([{ file: 'gw.gavel', text: POLICIES }]).set!),
      forwardAuth: { verifyToken: createTokenVerifier([]), headers: [], responseHeaders: {}, replay: new ReplayCache() },
    });
    await stopping.listen({ host: '127.0.0.1', port: 0 });
    const { port } = stopping.server.address() as AddressInfo;
    const { connect } = await import('node:net');
    const socket = connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    socket.write('GET /v1/forward-auth/envoy/finanzen/q3 HTTP/1.1\r\nHost: api.example.com\r\n');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const ended = new Promise((resolve) => socket.once('close', resolve));
    const closed = stopping.close();
    socket.write('Content-Length: 0\r\n\r\n');
    await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 2000))]);
    socket.destroy();
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
  });
});

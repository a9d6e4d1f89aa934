/**
 * Bad input on every HTTP route of a running `gavel serve` (issuer, admin APIs and console
 * on): whatever arrives — JSON of any shape, a form of any fields, text, a wrong content type,
 * odd gateway headers and tokens — the answer is a 4xx with an error body, never a 5xx, a
 * hang or a stack trace, and the store holds what it held before. Most inputs are near-valid
 * (one member broken, or none), so they reach the engine, the grants and the signer; the
 * tests check that a share of them was accepted. FUZZ_RUNS=N runs longer, FUZZ_SEED=S replays
 * a failure's seed, FUZZ_TALLY=1 prints the answers by route and status class.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { gavel, ROOT, serveProcess, workspace, type Served } from '../cli/helpers.js';

const KEY = 'fuzz-admin-key-0123456789abcdef';
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);
/** FUZZ_SEED=N replays a run (fast-check prints the seed of a failure). */
const SEED = process.env.FUZZ_SEED === undefined ? {} : { seed: Number(process.env.FUZZ_SEED) };
/** Stands for a token the issuer really minted (made in beforeAll): inputs that carry it reach the verified paths. */
const MINTED = '$MINTED_TOKEN';
/** Another, which the forms may revoke (the decision routes keep theirs). */
const SPARE = '$SPARE_TOKEN';
let minted = '';
let spare = '';

let ws: ReturnType<typeof workspace>;
let server: Served;

beforeAll(async () => {
  ws = workspace();
  cpSync(join(ROOT, 'examples'), join(ws.dir, 'examples'), { recursive: true });
  // The example directory and registry as one document: the store the refused applies must leave alone.
  const document = { ...JSON.parse(readFileSync(join(ROOT, 'examples/directory.json'), 'utf8')), ...JSON.parse(readFileSync(join(ROOT, 'examples/registry.json'), 'utf8')) } as Record<string, unknown>;
  writeFileSync(join(ws.dir, 'document.json'), JSON.stringify(document));
  const applied = await gavel(['apply', 'document.json'], { cwd: ws.dir });
  if (applied.code !== 0) throw new Error(applied.stderr);
  server = await serveProcess(ws.dir, ['--no-watch'], { ...process.env, GAVEL_ADMIN_KEY: KEY });
}, 30_000);

/** Fresh tokens for the next test: an earlier one may have revoked them, or applied a document that removed their client. */
// From an address of its own: the fuzzing's denials and failed authentications make the example
// risk policies (risk.probing, mint.brute-force) refuse to mint for the addresses it uses.
beforeEach(async () => {
  const grant = async () => {
    const a = await send({ method: 'POST', path: '/oauth2/token', body: 'grant_type=client_credentials', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic('reporting-app', 'reporting-app-example-secret-0123456789') }, from: '127.0.0.20' });
    if (a.status !== 200) throw new Error(`no token to fuzz with: ${a.status} ${a.text}`);
    return (JSON.parse(a.text) as { access_token: string }).access_token;
  };
  [minted, spare] = [await grant(), await grant()];
});

afterAll(() => {
  server?.stop();
  ws?.remove();
});

interface Sent {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  headers?: Record<string, string>;
  /** The client's address (a loopback one): failures from one address lock it out of minting, by design. */
  from?: string;
}

interface Answer {
  status: number;
  type: string;
  text: string;
}

/** Answers by route and status class, to check that inputs get past validation, not only that refusals are clean. */
const tally = new Map<string, Map<number, number>>();

async function send(s: Sent): Promise<Answer> {
  const real = (text: string) => text.replaceAll(MINTED, minted).replaceAll(SPARE, spare);
  const headers = Object.fromEntries(Object.entries(s.headers ?? {}).map(([k, v]) => [k, real(v)]));
  const body = s.body === undefined ? undefined : Buffer.from(real(s.body));
  const a = await new Promise<Answer>((resolve, reject) => {
    const req = request(`${server.url}${s.path}`, { method: s.method, headers: body === undefined ? headers : { ...headers, 'content-length': String(body.length) }, localAddress: s.from ?? '127.0.0.1', timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), text: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in 10 s: ${s.method} ${s.path}`)));
    req.on('error', reject);
    req.end(body);
  });
  const route = tally.get(s.path.split('?')[0]!) ?? new Map<number, number>();
  tally.set(s.path.split('?')[0]!, route.set(Math.floor(a.status / 100), (route.get(Math.floor(a.status / 100)) ?? 0) + 1));
  return a;
}

/** The share of a route's answers that were 2xx. */
function accepted(path: string): number {
  const route = tally.get(path) ?? new Map<number, number>();
  const all = [...route.values()].reduce((a, b) => a + b, 0);
  return all === 0 ? 0 : (route.get(2) ?? 0) / all;
}

/** What every answer to bad input must be: no server error, no stack, and a JSON error says what was wrong. */
function expectClearRefusal(sent: Sent, a: Answer): void {
  const where = `${sent.method} ${sent.path} ${JSON.stringify(sent.headers ?? {})} ${sent.body?.slice(0, 300) ?? ''}`;
  expect(a.status, `${where}\n→ ${a.status} ${a.text.slice(0, 500)}`).toBeLessThan(500);
  expect(a.text, where).not.toMatch(/\n\s+at [\w$.<>]+ \(|node:internal|file:\/\//);
  if (a.status >= 400 && a.type.startsWith('application/json')) {
    const body: unknown = JSON.parse(a.text);
    // Forward-auth's refusals are decisions (the gateway's answer), with the reason; a call it
    // cannot decide (no original URI, or a path servers resolve differently) is a 400 saying why.
    if (sent.path.startsWith('/v1/forward-auth') && a.status !== 400) expect(body, where).toMatchObject({ decision: false, reason: expect.any(String) });
    else if (sent.path.startsWith('/v1/forward-auth')) expect(body, where).toMatchObject({ error: 'invalid_request', message: expect.stringMatching(/^x-(original|forwarded)-uri: |original request|both/) });
    // RFC 6750 §3.1: userinfo asked without credentials names no error, only the schemes (WWW-Authenticate) and why.
    else if (sent.path === '/oauth2/userinfo' && a.status === 401 && !('error' in (body as object))) expect(body, where).toEqual({ error_description: expect.any(String) });
    else expect(body, where).toMatchObject({ error: expect.any(String) });
  }
}

// Field names the routes know, so random values land in real code paths, and a few they do not.
const FIELDS = [
  'grant_type', 'scope', 'resource', 'audience', 'client_id', 'client_secret', 'client_assertion', 'client_assertion_type', 'code', 'code_verifier',
  'redirect_uri', 'refresh_token', 'subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'requested_token_type', 'token', 'token_type_hint',
  'response_type', 'state', 'nonce', 'code_challenge', 'code_challenge_method', 'prompt', 'csrf', 'username', 'password', 'key', 'software_statement', 'x',
];
const VALUES = [
  'client_credentials', 'authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:token-exchange', 'urn:ietf:params:oauth:token-type:access_token',
  'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', 'reporting-app', 'reporting-app-example-secret-0123456789', 'https://api.example.com', 'invoice:read',
  'openid', 'code', 'S256', 'plain', 'http://127.0.0.1:8080/callback', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', 'a.b.c', '', '%', '\u0000', 'ü', '🦀',
];
const value = fc.oneof(fc.constantFrom(...VALUES), fc.string(), fc.string({ unit: 'binary', maxLength: 20 }));
const anyForm = fc.array(fc.tuple(fc.constantFrom(...FIELDS), value), { maxLength: 8 }).map((pairs) => {
  const p = new URLSearchParams();
  for (const [k, v] of pairs) p.append(k, v);
  return p.toString();
});
// A client credentials grant or a token to inspect, right but for what the random fields add.
const grantForm = fc
  .tuple(fc.constantFrom('grant_type=client_credentials&client_id=billing-service&client_secret=billing-service-example-secret-0123456789', `token=${SPARE}`, `token=${SPARE}&token_type_hint=access_token`), anyForm)
  .map(([good, extra]) => (extra === '' ? good : `${good}&${extra}`));
const grantOnly = fc.constantFrom('grant_type=client_credentials&client_id=billing-service&client_secret=billing-service-example-secret-0123456789', 'grant_type=client_credentials&client_id=billing-service&client_secret=billing-service-example-secret-0123456789&scope=invoice%3Aread');
const form = fc.oneof({ arbitrary: grantOnly, weight: 1 }, { arbitrary: grantForm, weight: 1 }, { arbitrary: anyForm, weight: 2 });
const GOOD_GRANTS: readonly [string, ...string[]] = ['grant_type=client_credentials&client_id=billing-service&client_secret=billing-service-example-secret-0123456789', 'grant_type=client_credentials&client_id=billing-service&client_secret=billing-service-example-secret-0123456789&scope=invoice%3Aread'];

// Request-shaped JSON with members of any type, beside JSON of any shape and text that is not JSON.
const member = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.record({ type: fc.jsonValue({ maxDepth: 1 }), id: fc.jsonValue({ maxDepth: 1 }), name: fc.jsonValue({ maxDepth: 1 }), properties: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: [] }));
const requestLike = fc.record({ subject: member, action: member, resource: member, context: member, evaluations: fc.oneof(fc.array(member, { maxLength: 3 }), member), options: member }, { requiredKeys: [] });
const jsonText = fc.oneof(requestLike.map((v) => JSON.stringify(v)), fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)), fc.string(), fc.constantFrom('', '{', '[]', 'null', '{"subject":', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}'));
const anyContentType = fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain', 'application/json; charset=latin1', undefined);
// Mostly the right type, so bodies reach the route's own checks.
const contentType = fc.oneof({ arbitrary: fc.constant('application/json'), weight: 3 }, { arbitrary: anyContentType, weight: 1 });
const formContentType = fc.oneof({ arbitrary: fc.constant('application/x-www-form-urlencoded'), weight: 3 }, { arbitrary: anyContentType, weight: 1 });

// A valid request, then at most one member replaced by anything: most inputs reach the engine, with one thing wrong or none.
const props = fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 });
const validRequest = fc.record({
  subject: fc.record({ type: fc.constantFrom('user', 'client', 'service'), id: fc.constantFrom('alice', 'bob', 'reporting-app', 'nobody', ''), properties: props }),
  action: fc.record({ name: fc.constantFrom('read', 'GET', 'mint', 'delete', 'approve') }),
  resource: fc.record({ type: fc.constantFrom('invoice', 'route', 'scope', 'customer', 'patient_record'), id: fc.constantFrom('1', '/invoices/1', 'invoice:read', 'c-1'), properties: props }),
  context: fc.record({ ip: fc.constantFrom('127.0.0.1', '10.1.2.3', '::1', 'not an address'), time: fc.constantFrom('2026-11-23T10:00:00Z', 'noon'), token: fc.constantFrom(MINTED, 'a.b.c', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.') }, { requiredKeys: [] }),
});
const nearValid = fc
  .tuple(validRequest, fc.option(fc.tuple(fc.constantFrom('subject', 'action', 'resource', 'context'), fc.jsonValue({ maxDepth: 3 })), { freq: 2 }))
  .map(([r, broken]) => (broken === null ? r : { ...r, [broken[0]]: broken[1] }));
/** A route's body: mostly its own shape, near-valid; sometimes anything. */
function routeBody(path: string): fc.Arbitrary<string> {
  const shaped = path.startsWith('/access/v1/evaluations')
    ? fc.record({ subject: validRequest.map((r) => r.subject), evaluations: fc.array(nearValid, { maxLength: 3 }), options: fc.option(fc.record({ evaluations_semantic: fc.constantFrom('execute_all', 'deny_on_first_deny', 'permit_on_first_permit', 'bogus') }), { nil: undefined }) }, { requiredKeys: ['evaluations'] })
    : path.startsWith('/v1/decide/batch')
      ? fc.record({ requests: fc.array(nearValid, { maxLength: 3 }) })
      : nearValid;
  return fc.oneof({ arbitrary: shaped.map((v) => JSON.stringify(v)), weight: 3 }, { arbitrary: jsonText, weight: 1 });
}
const headerText = fc.stringMatching(/^[\x21-\x7e][\x20-\x7e]{0,60}$/);
const basic = (id: string, secret: string): string => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const bearer = fc.oneof(
  fc.constant(undefined),
  headerText.map((t) => `Bearer ${t}`),
  headerText.map((t) => `DPoP ${t}`),
  headerText.map((t) => `Basic ${t}`),
  headerText,
  fc.constant(`Bearer ${KEY}`),
  fc.constant(basic('reporting-app', 'reporting-app-example-secret-0123456789')),
  fc.tuple(value, value).map(([id, secret]) => basic(id, secret)),
);

function withType(type: string | undefined, extra: Record<string, string> = {}): Record<string, string> {
  return type === undefined ? extra : { 'content-type': type, ...extra };
}

const JSON_ROUTES = ['/access/v1/evaluation', '/access/v1/evaluations', '/access/v1/search/subject', '/access/v1/search/resource', '/access/v1/search/action', '/v1/decide', '/v1/decide?explain=true', '/v1/decide/batch'];
const ADMIN_JSON_ROUTES = ['/v1/apply?dry_run=true', '/v1/whatif', '/v1/affects', '/v1/reload'];
const FORM_ROUTES = ['/oauth2/token', '/oauth2/introspect', '/oauth2/revoke', '/oauth2/authorize', '/oauth2/userinfo', '/console/login', '/console/whatif', '/console/logout'];
const QUERY_ROUTES = ['/oauth2/authorize', '/v1/decisions', '/console/decisions', '/console/affects', '/console/affects.csv', '/console/whatif', '/console/policies', '/.well-known/oauth-authorization-server'];

describe('bad input on every route gets a clear 4xx and changes nothing', () => {
  test.each(JSON_ROUTES)('POST %s: any body, any content type', async (path) => {
    await fc.assert(
      fc.asyncProperty(routeBody(path), contentType, bearer, async (body, type, authorization) => {
        const sent: Sent = { method: 'POST', path, body, headers: withType(type, authorization === undefined ? {} : { authorization }) };
        expectClearRefusal(sent, await send(sent));
      }),
      { numRuns: RUNS, ...SEED },
    );
    // Not only refusals: a good share of the inputs was decided.
    expect(accepted(path.split('?')[0]!), JSON.stringify([...(tally.get(path.split('?')[0]!) ?? [])])).toBeGreaterThan(0.1);
  });

  const adminBody = fc.oneof(jsonText, fc.record({ entities: member, apis: member, clients: member, roles: member, groups: member, users: member, candidate: member, limit: member }, { requiredKeys: [] }).map((v) => JSON.stringify(v)));

  test.each(ADMIN_JSON_ROUTES)('POST %s with the admin key: any body', async (path) => {
    await fc.assert(
      fc.asyncProperty(adminBody, contentType, async (body, type) => {
        const sent: Sent = { method: 'POST', path, body, headers: withType(type, { authorization: `Bearer ${KEY}` }) };
        expectClearRefusal(sent, await send(sent));
      }),
      { numRuns: RUNS, ...SEED },
    );
  });

  test('POST /v1/apply: a refused document changes nothing', async () => {
    // The directory and the registry as applied: a refused document must change neither.
    const registry = readFileSync(join(ws.dir, 'document.json'), 'utf8');
    const admin = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
    // What applying the example registry would change now: nothing, until something else was applied.
    const pending = async (): Promise<string> => (await send({ method: 'POST', path: '/v1/apply?dry_run=true', body: registry, headers: admin })).text;
    const settled = await pending();
    expect(JSON.parse(settled)).toMatchObject({ added: [], changed: [], removed: [] });
    await fc.assert(
      fc.asyncProperty(adminBody, contentType, async (body, type) => {
        const sent: Sent = { method: 'POST', path: '/v1/apply', body, headers: withType(type, { authorization: `Bearer ${KEY}` }) };
        const a = await send(sent);
        expectClearRefusal(sent, a);
        if (a.status >= 400) expect(await pending(), `${body} was refused (${a.text}) but changed the store`).toBe(settled);
        // A document that was valid (an empty one, say) did apply: put the registry back for the next run.
        else await send({ method: 'POST', path: '/v1/apply', body: registry, headers: admin });
      }),
      { numRuns: RUNS, ...SEED },
    );
  }, 120_000);

  test.each(FORM_ROUTES)('POST %s: any form, any credentials', async (path) => {
    const fuzzed = fc
      .tuple(fc.oneof({ arbitrary: form, weight: 3 }, { arbitrary: jsonText, weight: 1 }), formContentType, fc.option(bearer, { nil: undefined, freq: 2 }), fc.option(headerText, { nil: undefined, freq: 4 }))
      .map(([body, type, authorization, dpop]): Sent => ({ method: 'POST', path, body, headers: withType(type, { ...(authorization === undefined ? {} : { authorization }), ...(dpop === undefined ? {} : { dpop }) }), from: '127.0.0.9' }));
    // A third are requests done right, but for what their random fields add: they reach the grants, mint decisions and signer.
    // (Wrong credentials count against their address — mint.brute-force locks it out — and so do the other tests'
    // denials, risk.probing: these come from an address of their own.)
    const proper = fc.constantFrom(...GOOD_GRANTS).map((body): Sent => ({ method: 'POST', path, body, headers: { 'content-type': 'application/x-www-form-urlencoded' }, from: '127.0.0.21' }));
    const before = tally.get(path)?.get(2) ?? 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof({ arbitrary: proper, weight: 1 }, { arbitrary: fuzzed, weight: 2 }), async (sent) => expectClearRefusal(sent, await send(sent))),
      { numRuns: RUNS, ...SEED },
    );
    // The token endpoint issued tokens to the requests done right.
    if (path === '/oauth2/token') expect((tally.get(path)?.get(2) ?? 0) - before, JSON.stringify([...(tally.get(path) ?? [])])).toBeGreaterThan(RUNS / 10);
  });

  test.each(QUERY_ROUTES)('GET %s: any query', async (path) => {
    await fc.assert(
      fc.asyncProperty(form, fc.boolean(), async (query, admin) => {
        const sent: Sent = { method: 'GET', path: `${path}?${query}`, headers: admin ? { authorization: `Bearer ${KEY}` } : {} };
        expectClearRefusal(sent, await send(sent));
      }),
      { numRuns: RUNS, ...SEED },
    );
  });

  test('GET /v1/decisions/:id and /explain: any id', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1 }), fc.boolean(), async (id, explain) => {
        const sent: Sent = { method: 'GET', path: `/v1/decisions/${encodeURIComponent(id)}${explain ? '/explain' : ''}`, headers: { authorization: `Bearer ${KEY}` } };
        expectClearRefusal(sent, await send(sent));
      }),
      { numRuns: RUNS, ...SEED },
    );
  });

  test('/v1/forward-auth: any method, original URI, host, address and token', async () => {
    const uri = fc.oneof(headerText, fc.constantFrom('/', '/invoices/1?x=%ZZ', '//a//b', '/%00', 'http://evil/x', '*', '/a?b=c&b=d'));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'),
        fc.constantFrom('x-original-uri', 'x-forwarded-uri'),
        uri,
        fc.option(headerText, { nil: undefined }),
        fc.option(fc.oneof(headerText, fc.constantFrom('1.2.3.4, 5.6.7.8', '::1', 'unknown', '300.1.1.1')), { nil: undefined }),
        fc.oneof(fc.constant(`Bearer ${MINTED}`), bearer),
        fc.option(headerText, { nil: undefined }),
        async (method, uriHeader, original, host, forwardedFor, authorization, dpop) => {
          const headers: Record<string, string> = { [uriHeader]: original, 'x-original-method': method, 'x-forwarded-method': method };
          if (host !== undefined) headers['x-forwarded-host'] = host;
          if (forwardedFor !== undefined) headers['x-forwarded-for'] = forwardedFor;
          if (authorization !== undefined) headers.authorization = authorization;
          if (dpop !== undefined) headers.dpop = dpop;
          const sent: Sent = { method: 'GET', path: '/v1/forward-auth', headers };
          expectClearRefusal(sent, await send(sent));
        },
      ),
      { numRuns: RUNS * 2, ...SEED },
    );
  });

  test('afterwards the store holds the registry as applied, and the server still decides', async () => {
    const dry = await gavel(['apply', 'examples/registry.json', '--dry-run', '--json'], { cwd: ws.dir });
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ added: [], changed: [], removed: [] });
    const ready = await send({ method: 'GET', path: '/readyz' });
    expect(ready.status).toBe(200);
    const d = await send({ method: 'POST', path: '/access/v1/evaluation', body: JSON.stringify({ subject: { type: 'user', id: 'alice' }, action: { name: 'read' }, resource: { type: 'document', id: 'd1' } }), headers: { 'content-type': 'application/json' } });
    expect(d.status).toBe(200);
    expect(JSON.parse(d.text)).toMatchObject({ decision: expect.any(Boolean) });
  });
});

afterAll(() => {
  if (process.env.FUZZ_TALLY) for (const [route, statuses] of tally) console.log(route, JSON.stringify(Object.fromEntries(statuses)));
});

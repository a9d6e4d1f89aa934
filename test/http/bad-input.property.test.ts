/**
 * Bad input on every HTTP route of a running `gavel serve` (issuer, admin APIs and console
 * on): whatever arrives — JSON of any shape, a form of any fields, text, a wrong content type,
 * odd gateway headers and tokens — the answer is a 4xx with an error body, never a 5xx, a
 * hang or a stack trace, and the store holds what it held before.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gavel, ROOT, serveProcess, workspace, type Served } from '../cli/helpers.js';

const KEY = 'fuzz-admin-key-0123456789abcdef';
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);

let ws: ReturnType<typeof workspace>;
let server: Served;

beforeAll(async () => {
  ws = workspace();
  cpSync(join(ROOT, 'examples'), join(ws.dir, 'examples'), { recursive: true });
  const applied = await gavel(['apply', 'examples/registry.json'], { cwd: ws.dir });
  if (applied.code !== 0) throw new Error(applied.stderr);
  server = await serveProcess(ws.dir, ['--no-watch'], { ...process.env, GAVEL_ADMIN_KEY: KEY });
}, 30_000);

afterAll(() => {
  server?.stop();
  ws?.remove();
});

interface Sent {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  headers?: Record<string, string>;
}

interface Answer {
  status: number;
  type: string;
  text: string;
}

async function send(s: Sent): Promise<Answer> {
  const r = await fetch(`${server.url}${s.path}`, { method: s.method, body: s.body, headers: s.headers, redirect: 'manual', signal: AbortSignal.timeout(10_000) });
  return { status: r.status, type: r.headers.get('content-type') ?? '', text: await r.text() };
}

/** What every answer to bad input must be: no server error, no stack, and a JSON error says what was wrong. */
function expectClearRefusal(sent: Sent, a: Answer): void {
  const where = `${sent.method} ${sent.path} ${JSON.stringify(sent.headers ?? {})} ${sent.body?.slice(0, 300) ?? ''}`;
  expect(a.status, `${where}\n→ ${a.status} ${a.text.slice(0, 500)}`).toBeLessThan(500);
  expect(a.text, where).not.toMatch(/\n\s+at [\w$.<>]+ \(|node:internal|file:\/\//);
  if (a.status >= 400 && a.type.startsWith('application/json')) {
    const body: unknown = JSON.parse(a.text);
    // Forward-auth's refusals are decisions (the gateway's answer), with the reason.
    if (sent.path.startsWith('/v1/forward-auth')) expect(body, where).toMatchObject({ decision: false, reason: expect.any(String) });
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
const form = fc.array(fc.tuple(fc.constantFrom(...FIELDS), value), { maxLength: 8 }).map((pairs) => {
  const p = new URLSearchParams();
  for (const [k, v] of pairs) p.append(k, v);
  return p.toString();
});

// Request-shaped JSON with members of any type, beside JSON of any shape and text that is not JSON.
const member = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.record({ type: fc.jsonValue({ maxDepth: 1 }), id: fc.jsonValue({ maxDepth: 1 }), name: fc.jsonValue({ maxDepth: 1 }), properties: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: [] }));
const requestLike = fc.record({ subject: member, action: member, resource: member, context: member, evaluations: fc.oneof(fc.array(member, { maxLength: 3 }), member), options: member }, { requiredKeys: [] });
const jsonText = fc.oneof(requestLike.map((v) => JSON.stringify(v)), fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)), fc.string(), fc.constantFrom('', '{', '[]', 'null', '{"subject":', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}'));
const contentType = fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain', 'application/json; charset=latin1', undefined);
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
      fc.asyncProperty(jsonText, contentType, bearer, async (body, type, authorization) => {
        const sent: Sent = { method: 'POST', path, body, headers: withType(type, authorization === undefined ? {} : { authorization }) };
        expectClearRefusal(sent, await send(sent));
      }),
      { numRuns: RUNS },
    );
  });

  const adminBody = fc.oneof(jsonText, fc.record({ entities: member, apis: member, clients: member, roles: member, groups: member, users: member, candidate: member, limit: member }, { requiredKeys: [] }).map((v) => JSON.stringify(v)));

  test.each(ADMIN_JSON_ROUTES)('POST %s with the admin key: any body', async (path) => {
    await fc.assert(
      fc.asyncProperty(adminBody, contentType, async (body, type) => {
        const sent: Sent = { method: 'POST', path, body, headers: withType(type, { authorization: `Bearer ${KEY}` }) };
        expectClearRefusal(sent, await send(sent));
      }),
      { numRuns: RUNS },
    );
  });

  test('POST /v1/apply: a refused document changes nothing', async () => {
    const registry = readFileSync(join(ws.dir, 'examples/registry.json'), 'utf8');
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
      { numRuns: RUNS },
    );
  }, 120_000);

  test.each(FORM_ROUTES)('POST %s: any form, any credentials', async (path) => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(form, jsonText), contentType, bearer, fc.option(headerText, { nil: undefined }), async (body, type, authorization, dpop) => {
        const headers = withType(type, { ...(authorization === undefined ? {} : { authorization }), ...(dpop === undefined ? {} : { dpop }) });
        const sent: Sent = { method: 'POST', path, body, headers };
        expectClearRefusal(sent, await send(sent));
      }),
      { numRuns: RUNS },
    );
  });

  test.each(QUERY_ROUTES)('GET %s: any query', async (path) => {
    await fc.assert(
      fc.asyncProperty(form, fc.boolean(), async (query, admin) => {
        const sent: Sent = { method: 'GET', path: `${path}?${query}`, headers: admin ? { authorization: `Bearer ${KEY}` } : {} };
        expectClearRefusal(sent, await send(sent));
      }),
      { numRuns: RUNS },
    );
  });

  test('GET /v1/decisions/:id and /explain: any id', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1 }), fc.boolean(), async (id, explain) => {
        const sent: Sent = { method: 'GET', path: `/v1/decisions/${encodeURIComponent(id)}${explain ? '/explain' : ''}`, headers: { authorization: `Bearer ${KEY}` } };
        expectClearRefusal(sent, await send(sent));
      }),
      { numRuns: RUNS },
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
        bearer,
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
      { numRuns: RUNS * 2 },
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

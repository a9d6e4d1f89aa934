import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { buildPolicySet, decide, type Request } from '../../src/index.js';
import { readOperations } from '../../src/import/openapi/operations.js';
import { readSpec } from '../../src/import/openapi/read-spec.js';
import { routePolicies } from '../../src/import/openapi/route-policies.js';

const ROOT = join(import.meta.dirname, '..', '..');
const schema = { file: 'schema.json', text: readFileSync(join(ROOT, 'policies', 'schema.json'), 'utf8') };

const SCHEMES = {
  oauth: { type: 'oauth2', flows: {} },
  oidc: { type: 'openIdConnect', openIdConnectUrl: 'https://x/.well-known/openid-configuration' },
  key: { type: 'apiKey', in: 'header', name: 'X-Key' },
  basic: { type: 'http', scheme: 'basic' },
};

/** Generates from a document given as an object, through the YAML reader as a file would be. */
function generate(doc: Record<string, unknown>, basePath: string | null = null) {
  const spec = readSpec(stringify(doc), false);
  if ('problems' in spec) throw new Error(JSON.stringify(spec.problems));
  const api = readOperations(spec, basePath);
  if ('problems' in api) return api;
  return routePolicies(api, 'gavel import openapi test.yaml');
}

function oneOperation(security: unknown, extra: Record<string, unknown> = {}) {
  const op = { operationId: 'op', responses: {}, ...(security === undefined ? {} : { security }) };
  return { openapi: '3.1.0', info: { title: 'T', version: '1' }, paths: { '/things/{id}': { get: op } }, components: { securitySchemes: SCHEMES }, ...extra };
}

function conditionOf(security: unknown, extra: Record<string, unknown> = {}): string | null {
  const out = generate(oneOperation(security, extra));
  if ('problems' in out) throw new Error(JSON.stringify(out.problems));
  const m = /\nwhen \{ (.*) \};\n/.exec(out.text);
  return m === null ? null : m[1];
}

describe('security requirements → conditions', () => {
  test.each([
    { note: 'one scope', security: [{ oauth: ['a'] }], want: 'token.scope contains "a"' },
    { note: 'scopes of one alternative are all required', security: [{ oauth: ['a', 'b'] }], want: 'token.scope contains_all ["a", "b"]' },
    { note: '(a AND b) OR c', security: [{ oauth: ['a', 'b'] }, { oauth: ['c'] }], want: 'token.scope contains_all ["a", "b"] || token.scope contains "c"' },
    { note: 'single-scope alternatives share one contains_any', security: [{ oauth: ['a'] }, { oauth: ['b', 'c'] }, { oauth: ['d'] }], want: 'token.scope contains_any ["a", "d"] || token.scope contains_all ["b", "c"]' },
    { note: 'an alternative asking for more than another adds nothing', security: [{ oauth: ['a', 'b'] }, { oauth: ['a'] }], want: 'token.scope contains "a"' },
    { note: 'a repeated alternative counts once', security: [{ oauth: ['a'] }, { oauth: ['a'] }], want: 'token.scope contains "a"' },
    { note: 'scopes of two OAuth schemes in one alternative are all required', security: [{ oauth: ['a'], oidc: ['b'] }], want: 'token.scope contains_all ["a", "b"]' },
    { note: 'an OAuth scheme without scopes asks for any verified token', security: [{ oidc: [] }, { oauth: ['a'] }], want: 'token has iss' },
    { note: 'an API key beside scopes: the scopes are required, the key is the gateway\'s', security: [{ oauth: ['a'], key: [] }], want: 'token.scope contains "a"' },
    { note: 'public: `security: []`', security: [], want: null },
    { note: 'public: an empty alternative among others', security: [{ oauth: ['a'] }, {}], want: null },
    { note: 'an API-key-only alternative requires no scope', security: [{ oauth: ['a'] }, { key: [] }], want: null },
    { note: 'HTTP basic alone requires no scope', security: [{ basic: [] }], want: null },
  ])('$note', ({ security, want }) => {
    expect(conditionOf(security)).toBe(want);
  });

  test('the operation inherits the document default; its own `security` overrides it, `[]` too', () => {
    expect(conditionOf(undefined, { security: [{ oauth: ['d'] }] })).toBe('token.scope contains "d"');
    expect(conditionOf([{ oauth: ['o'] }], { security: [{ oauth: ['d'] }] })).toBe('token.scope contains "o"');
    expect(conditionOf([], { security: [{ oauth: ['d'] }] })).toBe(null);
  });

  test('an operation with no security anywhere gets no policy (so it stays denied), a comment and a warning', () => {
    const out = generate(oneOperation(undefined));
    if ('problems' in out) throw new Error('unexpected problems');
    expect(out.policies).toBe(0);
    expect(out.text).toContain('// GET /things/{id} declares no security requirement, so no policy is generated and it is denied');
    const line = stringify(oneOperation(undefined)).split('\n').findIndex((l) => l.trim() === 'get:') + 1;
    expect(out.warnings).toMatchObject([{ line, message: expect.stringContaining('declares no security requirement') }]);
  });

  test('schemes that Gavel cannot check are named in a comment above the policy and, when they alone suffice, warned about', () => {
    const out = generate(oneOperation([{ oauth: ['a'] }, { key: [] }]));
    if ('problems' in out) throw new Error('unexpected problems');
    expect(out.text).toContain('// permitted without a token: `key` (apiKey) is enough, and only the gateway can check it\n@id("openapi.op")');
    expect(out.warnings).toHaveLength(1);
  });
});

describe('routes, ids and base paths', () => {
  const doc = (paths: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ openapi: '3.0.0', info: { title: 'T', version: '1' }, security: [{ oauth: ['a'] }], paths, components: { securitySchemes: SCHEMES }, ...extra });
  const text = (d: Record<string, unknown>, basePath: string | null = null) => {
    const out = generate(d, basePath);
    if ('problems' in out) throw new Error(JSON.stringify(out.problems));
    return out.text;
  };

  test.each([
    { note: 'no parameter: equality', path: '/invoices', want: 'resource.path == "/invoices"' },
    { note: 'a parameter is one segment', path: '/invoices/{id}', want: 'resource.path like "/invoices/*"' },
    { note: 'a parameter inside a segment', path: '/files/{name}.pdf', want: 'resource.path like "/files/*.pdf"' },
    { note: 'two adjacent parameters stay within the segment', path: '/a/{x}{y}', want: 'resource.path like "/a/*"' },
    { note: 'a literal star is escaped', path: '/weird/*/{id}', want: 'resource.path like "/weird/\\\\*/*"' },
  ])('path $note', ({ path, want }) => {
    expect(text(doc({ [path]: { get: { operationId: 'x', responses: {} } } }))).toContain(`permit (action == "GET", ${want})`);
  });

  test('ids: operationId sanitised to the id alphabet, method and path without one, duplicates numbered', () => {
    const out = text(doc({
      '/a/{id}': { get: { responses: {} }, put: { operationId: 'update a (v2)', responses: {} } },
      '/b': { get: { operationId: 'update a [v2]', responses: {} } },
    }));
    expect(out.match(/@id\("[^"]*"\)/g)).toEqual(['@id("openapi.GET/a/:id")', '@id("openapi.update-a--v2-")', '@id("openapi.update-a--v2--2")']);
    expect(out).toContain('// id `openapi.update-a--v2-` is made from operationId `update a (v2)`');
  });

  test("an OpenAPI tag of free text becomes a policy tag, its spaces and separators made '-'; one with nothing left is dropped", () => {
    const out = text(doc({ '/a': { post: { operationId: 'make', tags: ['Pet Store', ' ; ', 'a,b'], responses: {} } } }));
    expect(out).toContain('@tags("openapi", "Pet-Store", "a-b")\n');
  });

  test('tags and description come from the operation', () => {
    const out = text(doc({ '/a': { post: { operationId: 'make', tags: ['things', 'things', 'x'], responses: {} } } }));
    expect(out).toContain('@id("openapi.make")\n@tags("openapi", "things", "x")\n@description("POST /a (operationId make)")\n');
  });

  test('base path: from the servers (variables at their default), path-level servers override, --base-path overrides all', () => {
    const servers = [{ url: 'https://{host}/api/{version}/', variables: { host: { default: 'h' }, version: { default: 'v2' } } }, { url: '/api/v2' }];
    const d = doc({ '/a': { get: { operationId: 'a', responses: {} } }, '/b': { servers: [{ url: 'https://other/' }], get: { operationId: 'b', responses: {} } } }, { servers });
    expect(text(d)).toContain('resource.path == "/api/v2/a"');
    expect(text(d)).toContain('resource.path == "/b"');
    expect(text(d, '/gw')).toContain('resource.path == "/gw/a"');
    expect(text(d, '/gw')).toContain('resource.path == "/gw/b"');
  });

  test('servers that disagree on the base path are an error asking for --base-path', () => {
    const out = generate(doc({ '/a': { get: { responses: {} } } }, { servers: [{ url: 'https://x/v1' }, { url: 'https://y/v2' }] }));
    expect(out).toMatchObject({ problems: [{ message: 'the servers have different base paths (`/v1`, `/v2`); choose one with --base-path' }] });
    expect(generate(doc({ '/a': { get: { responses: {} } } }, { servers: [{ url: 'https://x/v1' }, { url: 'https://y/v2' }] }), '')).not.toHaveProperty('problems');
  });
});

describe('generated policies decide requests through the real engine', () => {
  const text = readFileSync(join(ROOT, 'examples', 'openapi', 'policies', 'openapi.gavel'), 'utf8');
  const { set, diagnostics } = buildPolicySet([{ file: 'openapi.gavel', text }], schema);
  const request = (method: string, path: string, token?: Record<string, unknown>): Request => ({
    subject: { type: 'client', id: 'c1' },
    action: { name: method },
    resource: { type: 'route', id: path, properties: { path } },
    context: {},
    ...(token === undefined ? {} : { token: { iss: 'https://auth.example.com', ...token } }),
  });

  test('the example output passes check against the example schema', () => {
    expect(diagnostics).toEqual([]);
  });

  test.each([
    { note: 'a+b (invoice:read and audit) allowed', method: 'GET', path: '/v1/invoices/42', scope: 'invoice:read audit', allow: true },
    { note: 'only a (invoice:read) denied', method: 'GET', path: '/v1/invoices/42', scope: 'invoice:read', allow: false },
    { note: 'the other alternative c (invoice:admin) allowed', method: 'GET', path: '/v1/invoices/42', scope: 'invoice:admin', allow: true },
    { note: 'no token denied', method: 'GET', path: '/v1/invoices/42', scope: undefined, allow: false },
    { note: 'a parameter is one segment only', method: 'GET', path: '/v1/invoices/42/extra', scope: 'invoice:admin', allow: false },
    { note: 'the route without its base path is not covered', method: 'GET', path: '/invoices/42', scope: 'invoice:admin', allow: false },
    { note: 'another method on the route is not covered', method: 'PUT', path: '/v1/invoices/42', scope: 'invoice:admin', allow: false },
    { note: 'DELETE needs both of its scopes', method: 'DELETE', path: '/v1/invoices/42', scope: 'invoice:write', allow: false },
    { note: 'DELETE with both', method: 'DELETE', path: '/v1/invoices/42', scope: 'invoice:admin invoice:write', allow: true },
    { note: 'list: either scope', method: 'GET', path: '/v1/invoices', scope: 'invoice:admin', allow: true },
    { note: 'the document default (invoice:read) on the PDF', method: 'GET', path: '/v1/invoices/7/pdf', scope: 'invoice:read', allow: true },
    { note: 'the PDF without the default scope', method: 'GET', path: '/v1/invoices/7/pdf', scope: 'audit', allow: false },
    { note: 'public health without a token', method: 'GET', path: '/v1/health', scope: undefined, allow: true },
    { note: 'OpenID Connect without scopes: any verified token', method: 'GET', path: '/v1/me', scope: '', allow: true },
    { note: 'OpenID Connect without a token', method: 'GET', path: '/v1/me', scope: undefined, allow: false },
    { note: 'an export is open to a partner key (checked at the gateway)', method: 'GET', path: '/v1/exports/2024-05.csv', scope: undefined, allow: true },
  ])('$note', ({ method, path, scope, allow }) => {
    const d = decide(set!, request(method, path, scope === undefined ? undefined : { scope }));
    expect(d.decision).toBe(allow);
  });
});

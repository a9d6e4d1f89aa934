import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildPolicySet } from '../../src/index.js';
import { LivePolicySet } from '../../src/engine/live-set.js';
import { Directory, LiveDirectory } from '../../src/engine/directory.js';
import { buildApp } from '../../src/http/app.js';
import { applyDocument, userEntities } from '../../src/issuer/apply-document.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { ClientKeys } from '../../src/server/keys.js';

const FIXTURE = join(import.meta.dirname, '..', 'conformance', 'search');

/** The fixture's policies, and its directory applied to a real SQLite store as `gavel apply` does. */
async function fixture(extra: { type: string; id: string; attributes: object }[] = []) {
  const dir = join(FIXTURE, 'policies');
  const set = buildPolicySet(readdirSync(dir).map((file) => ({ file, text: readFileSync(join(dir, file), 'utf8') }))).set!;
  const store = new SqliteStore(':memory:');
  const doc = JSON.parse(readFileSync(join(FIXTURE, 'directory.json'), 'utf8')) as { entities: object[] };
  const applied = await applyDocument(store, { entities: [...doc.entities, ...extra] }, false);
  if ('problems' in applied) throw new Error(applied.problems.join('; '));
  const directory = new LiveDirectory(new Directory([...store.entities(), ...userEntities(store.registry())]));
  store.close();
  return { policies: new LivePolicySet(set), directory };
}

let app: FastifyInstance;
beforeAll(async () => {
  app = buildApp(await fixture());
  await app.ready();
});
afterAll(() => app.close());

function post(url: string, payload: unknown, headers: Record<string, string> = {}) {
  return app.inject({ method: 'POST', url, payload: typeof payload === 'string' ? payload : JSON.stringify(payload), headers: { 'content-type': 'application/json', ...headers } });
}

const alice = { type: 'user', id: 'alice' };
const bob = { type: 'user', id: 'bob' };
const record1 = { type: 'record', id: 'record-1' };
const record2 = { type: 'record', id: 'record-2' };

describe('the AuthZEN certification search fixture (S1–S6)', () => {
  test.each([
    { note: 'S1 subject search: who reads record-1', kind: 'subject', body: { subject: { type: 'user' }, action: { name: 'read' }, resource: record1 }, results: [alice, bob] },
    { note: 'S2 resource search: what alice reads', kind: 'resource', body: { subject: alice, action: { name: 'read' }, resource: { type: 'record' } }, results: [record1, record2] },
    { note: 'S3 action search: what alice may do on record-1', kind: 'action', body: { subject: alice, resource: record1 }, results: [{ name: 'read' }, { name: 'write' }] },
    { note: 'S4 subject search: who writes the archived record-2 (bob is admin by the directory alone)', kind: 'subject', body: { subject: { type: 'user' }, action: { name: 'write' }, resource: record2 }, results: [bob] },
    { note: 'S5 resource search: what bob (admin) writes', kind: 'resource', body: { subject: bob, action: { name: 'write' }, resource: { type: 'record' } }, results: [record2] },
    { note: 'S6 action search: what bob may do on the archived record-2', kind: 'action', body: { subject: bob, resource: record2 }, results: [{ name: 'read' }, { name: 'write' }] },
  ])('$note', async ({ kind, body, results }) => {
    const r = await post(`/access/v1/search/${kind}`, body, { 'x-request-id': 'pep-7' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.headers['x-request-id']).toBe('pep-7');
    // Exactly these bodies: results are `{type, id}` or `{name}`, which interop harnesses compare as strings.
    expect(r.body).toBe(JSON.stringify({ page: { next_token: '', count: results.length, total: results.length }, results }));
  });

  test.each([
    { note: 'an unknown searched type', kind: 'subject', body: { subject: { type: 'robot' }, action: { name: 'read' }, resource: record1 } },
    { note: 'an unknown subject id', kind: 'resource', body: { subject: { type: 'user', id: 'zed' }, action: { name: 'read' }, resource: { type: 'record' } } },
    { note: 'an unknown action', kind: 'subject', body: { subject: { type: 'user' }, action: { name: 'approve' }, resource: record1 } },
    { note: 'an unknown resource id', kind: 'action', body: { subject: alice, resource: { type: 'record', id: 'record-9' } } },
  ])('$note: 200 with no results', async ({ kind, body }) => {
    const r = await post(`/access/v1/search/${kind}`, body);
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ page: { next_token: '', count: 0, total: 0 }, results: [] });
  });

  test('the searched entity\'s id is ignored, and so are unknown members; the answer is the same every time', async () => {
    const plain = await post('/access/v1/search/subject', { subject: { type: 'user' }, action: { name: 'read' }, resource: record1 });
    const noisy = await post('/access/v1/search/subject', { subject: { type: 'user', id: 'nobody' }, action: { name: 'read' }, resource: record1, foo: 'bar', context: { time: 'now' } });
    expect(noisy.json()).toEqual(plain.json());
    // Of any type: the spec says it MUST be ignored, not that it must be a string.
    for (const id of [5, null, { x: 1 }]) expect((await post('/access/v1/search/subject', { subject: { type: 'user', id }, action: { name: 'read' }, resource: record1 })).json()).toEqual(plain.json());
  });

  test('a page.limit over the largest page is answered with the largest page and a next_token for the rest, not refused', async () => {
    const r = await post('/access/v1/search/action', { subject: alice, resource: record1, page: { limit: 5000 } });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ page: { next_token: '', count: 2, total: 2 }, results: [{ name: 'read' }, { name: 'write' }] });
    const small = buildApp({ ...(await fixture()), searchLimits: { defaultPageSize: 1, maxPageSize: 1, maxCandidates: 100 } });
    try {
      const body = { subject: alice, resource: record1, page: { limit: 5 } };
      const first = (await small.inject({ method: 'POST', url: '/access/v1/search/action', payload: body })).json();
      expect(first).toMatchObject({ page: { count: 1, total: 2, next_token: expect.stringMatching(/.+/) }, results: [{ name: 'read' }] });
      const rest = (await small.inject({ method: 'POST', url: '/access/v1/search/action', payload: { ...body, page: { limit: 5, token: first.page.next_token } } })).json();
      expect(rest).toEqual({ page: { next_token: '', count: 1, total: 2 }, results: [{ name: 'write' }] });
    } finally {
      await small.close();
    }
  });

  test('a caller cannot make itself an admin through properties: the directory wins', async () => {
    const r = await post('/access/v1/search/resource', { subject: { ...alice, properties: { role: 'admin' } }, action: { name: 'write' }, resource: { type: 'record' } });
    expect(r.json().results).toEqual([record1]);
  });
});

describe('bad search requests are 400 with {error, message}', () => {
  test.each([
    { note: 'subject search without subject', kind: 'subject', body: { action: { name: 'read' }, resource: record1 } },
    { note: 'subject search: subject without type', kind: 'subject', body: { subject: {}, action: { name: 'read' }, resource: record1 } },
    { note: 'subject search: resource without id', kind: 'subject', body: { subject: { type: 'user' }, action: { name: 'read' }, resource: { type: 'record' } } },
    { note: 'subject search without action', kind: 'subject', body: { subject: { type: 'user' }, resource: record1 } },
    { note: 'resource search: subject without id', kind: 'resource', body: { subject: { type: 'user' }, action: { name: 'read' }, resource: { type: 'record' } } },
    { note: 'resource search: action.name a number', kind: 'resource', body: { subject: alice, action: { name: 7 }, resource: { type: 'record' } } },
    { note: 'resource search: subject a string', kind: 'resource', body: { subject: 'alice', action: { name: 'read' }, resource: { type: 'record' } } },
    { note: 'action search: resource without id', kind: 'action', body: { subject: alice, resource: { type: 'record' } } },
    { note: 'action search: subject without id', kind: 'action', body: { subject: { type: 'user' }, resource: record1 } },
    { note: 'a negative page.limit', kind: 'action', body: { subject: alice, resource: record1, page: { limit: -1 } } },
    { note: 'a fractional page.limit', kind: 'action', body: { subject: alice, resource: record1, page: { limit: 1.5 } } },
    { note: 'a page.token that is not a string', kind: 'action', body: { subject: alice, resource: record1, page: { token: 3 } } },
    { note: 'a page.token this server did not make', kind: 'action', body: { subject: alice, resource: record1, page: { token: 'b2Zmc2V0PTI' } } },
    { note: 'malformed JSON', kind: 'subject', body: '{"subject": ' },
    { note: 'an empty body', kind: 'subject', body: '' },
  ])('$note', async ({ kind, body }) => {
    const r = await post(`/access/v1/search/${kind}`, body);
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({ error: 'invalid_request', message: expect.any(String) });
  });

  test('a member nested deeper than 64 levels, as for evaluations (it was a 500: the page token recursed through it)', async () => {
    let context: unknown = 1;
    for (let i = 0; i < 3_000; i++) context = { c: context };
    const r = await post('/access/v1/search/resource', { subject: alice, action: { name: 'read' }, resource: { type: 'record' }, context });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({ error: 'invalid_request', message: expect.stringContaining('context: nested deeper than 64 levels') });
  });

  test('a Content-Type other than application/json', async () => {
    const r = await app.inject({ method: 'POST', url: '/access/v1/search/subject', payload: 'x', headers: { 'content-type': 'text/plain' } });
    expect(r.statusCode).toBe(400);
  });
});

describe('pagination', () => {
  let many: FastifyInstance;
  const ids = Array.from({ length: 23 }, (_, i) => `r-${String(i).padStart(2, '0')}`);
  beforeAll(async () => {
    // 23 records, every third archived: alice writes the 15 others and record-1.
    const records = ids.map((id, i) => ({ type: 'record', id, attributes: { status: i % 3 === 0 ? 'archived' : 'active' } }));
    many = buildApp({ ...(await fixture(records)), searchLimits: { defaultPageSize: 100, maxPageSize: 1000, maxCandidates: 30 } });
    await many.ready();
  });
  afterAll(() => many.close());

  const page = (body: object) => many.inject({ method: 'POST', url: '/access/v1/search/resource', payload: body });
  const request = { subject: alice, action: { name: 'write' }, resource: { type: 'record' } };

  test('pages of 4 give every result exactly once, in id order, each page saying where it is', async () => {
    const seen: string[] = [];
    let token = '';
    let pages = 0;
    do {
      const r = await page({ ...request, page: { limit: 4, ...(token === '' ? {} : { token }) } });
      expect(r.statusCode).toBe(200);
      const body = r.json() as { page: { next_token: string; count: number; total: number }; results: { id: string }[] };
      expect(body.page.count).toBe(body.results.length);
      expect(body.page.total).toBe(16);
      seen.push(...body.results.map((x) => x.id));
      token = body.page.next_token;
      pages++;
    } while (token !== '' && pages < 10);
    const expected = ['record-1', ...ids.filter((_, i) => i % 3 !== 0)].sort();
    expect(seen).toEqual(expected);
    expect(pages).toBe(4);
  });

  test('a token continues only the search it was made for, and only unaltered', async () => {
    const first = (await page({ ...request, page: { limit: 4 } })).json() as { page: { next_token: string } };
    const token = first.page.next_token;
    const other = await page({ ...request, action: { name: 'read' }, page: { limit: 4, token } });
    expect(other.statusCode).toBe(400);
    expect(other.json().message).toMatch(/continues another search/);
    const resized = await page({ ...request, page: { limit: 5, token } });
    expect(resized.statusCode).toBe(400);
    expect(resized.json().message).toBe('page.token is not valid with page.limit 5: the search it continues pages by 4; repeat that limit, or leave it out');
    const altered = await page({ ...request, page: { limit: 4, token: token.replace(/^./, (c) => (c === 'W' ? 'X' : 'W')) } });
    expect(altered.statusCode).toBe(400);
    expect(altered.json().message).toMatch(/altered/);
  });

  test('a follow-up may send the token alone: it pages by the first request\'s limit (certification c-4-5-2)', async () => {
    const first = (await page({ ...request, page: { limit: 4 } })).json() as { page: { next_token: string }; results: { id: string }[] };
    const second = await page({ ...request, page: { token: first.page.next_token } });
    expect(second.statusCode).toBe(200);
    const body = second.json() as { page: { next_token: string; count: number }; results: { id: string }[] };
    expect(body.page.count).toBe(4);
    expect(typeof body.page.next_token).toBe('string');
    expect(body.results.map((r) => r.id).some((id) => first.results.some((f) => f.id === id))).toBe(false);
  });

  test("draft 04's page.next_token in a request is refused, not ignored (a client paging so got page one for ever)", async () => {
    const r = await page({ ...request, page: { limit: 4, next_token: 'abc' } });
    expect([r.statusCode, r.json().message]).toEqual([400, "page.next_token: send a previous response's page.next_token back as page.token"]);
  });

  test('limit 0 counts without listing', async () => {
    const r = await page({ ...request, page: { limit: 0 } });
    expect(r.json()).toEqual({ page: { next_token: '', count: 0, total: 16 }, results: [] });
  });

  test('a search over more candidates than a request may decide is refused, with the bound', async () => {
    const r = await page({ ...request, resource: { type: 'record' }, subject: bob, action: { name: 'read' } });
    expect(r.statusCode).toBe(200);
    const withMore = buildApp({ ...(await fixture()), searchLimits: { defaultPageSize: 1, maxPageSize: 1, maxCandidates: 1 } });
    const refused = await withMore.inject({ method: 'POST', url: '/access/v1/search/resource', payload: { subject: bob, action: { name: 'read' }, resource: { type: 'record' } } });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().message).toBe('the search would decide 2 candidates (entities of type `record`); one search decides at most 1');
    // No permit can apply to `approve`: nothing is decided, so the bound is not reached.
    const none = await withMore.inject({ method: 'POST', url: '/access/v1/search/resource', payload: { subject: bob, action: { name: 'approve' }, resource: { type: 'record' } } });
    expect(none.json()).toEqual({ page: { next_token: '', count: 0, total: 0 }, results: [] });
    await withMore.close();
  });
});

// The metadata's search endpoints are asserted with the rest of it in test/http/app.test.ts.
describe('client keys', () => {
  test('with client keys, a search needs one, as an evaluation does', async () => {
    const keyed = buildApp({ ...(await fixture()), clientKeys: new ClientKeys({ pep: 'pep-key-0123456789abcdef0123456789' }) });
    const body = { subject: alice, resource: record1 };
    const without = await keyed.inject({ method: 'POST', url: '/access/v1/search/action', payload: body });
    expect(without.statusCode).toBe(401);
    const withKey = await keyed.inject({ method: 'POST', url: '/access/v1/search/action', payload: body, headers: { authorization: 'Bearer pep-key-0123456789abcdef0123456789' } });
    expect(withKey.statusCode).toBe(200);
    await keyed.close();
  });
});

import { describe, expect, test, vi } from 'vitest';
import { buildPolicySet } from '../../src/index.js';
import { LivePolicySet } from '../../src/engine/live-set.js';
import { DecisionLog } from '../../src/engine/decision-log.js';
import { buildApp } from '../../src/http/app.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

const KEY = 'k'.repeat(32);
const live = new LivePolicySet(buildPolicySet([{ file: 'a.gavel', text: '@id("p") permit (action == "read");' }]).set!);

function setup(key: string | null) {
  const store = new SqliteStore(':memory:');
  const log = new DecisionLog(store, { flushMs: 60_000 });
  let reloads = 0;
  const app = buildApp({ policies: live, store, log, admin: { key, store, reload: async () => ({ result: 'unchanged', calls: ++reloads }) } });
  return { app, log, store };
}

const request = { subject: { type: 'user', id: 'alice' }, action: { name: 'read' }, resource: { type: 'doc', id: '1' } };

describe('admin endpoints', () => {
  test('GET /v1/decisions answers the log to a caller with the admin key', async () => {
    const { app, log } = setup(KEY);
    await app.inject({ method: 'POST', url: '/v1/decide', payload: request, headers: { 'x-request-id': 'd-1' } });
    log.flush();
    const r = await app.inject({ method: 'GET', url: '/v1/decisions?decision=allow&limit=5', headers: { authorization: `Bearer ${KEY}` } });
    expect(r.statusCode).toBe(200);
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.json().decisions).toEqual([expect.objectContaining({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), request_id: 'd-1', decision: true, determining: ['p'] })]);
    expect((await app.inject({ method: 'POST', url: '/v1/reload', headers: { authorization: `Bearer ${KEY}` } })).json()).toEqual({ result: 'unchanged', calls: 1 });
    await app.close();
  });

  test('a request id reused by another caller hides no decision: each has its own id, and the shared request id lists both', async () => {
    const { app, log } = setup(KEY);
    const auth = { authorization: `Bearer ${KEY}` };
    await app.inject({ method: 'POST', url: '/v1/decide', payload: request, headers: { 'x-request-id': 'case-7' } });
    await app.inject({ method: 'POST', url: '/v1/decide', payload: { ...request, action: { name: 'delete' } }, headers: { 'x-request-id': 'case-7' } });
    log.flush();
    const listed = (await app.inject({ method: 'GET', url: '/v1/decisions', headers: auth })).json().decisions as { id: string; request_id: string; action: string }[];
    expect(listed.map((d) => [d.request_id, d.action])).toEqual([['case-7', 'delete'], ['case-7', 'read']]);
    expect(new Set(listed.map((d) => d.id)).size).toBe(2);
    for (const d of listed) expect((await app.inject({ method: 'GET', url: `/v1/decisions/${d.id}`, headers: auth })).json()).toMatchObject({ id: d.id, action: d.action });
    const shared = await app.inject({ method: 'GET', url: '/v1/decisions/case-7', headers: auth });
    expect(shared.statusCode).toBe(409);
    expect(shared.json()).toEqual({ error: 'ambiguous_id', message: expect.stringContaining('2 decisions were logged under request id `case-7`'), ids: listed.map((d) => d.id) });
    expect((await app.inject({ method: 'GET', url: '/v1/decisions/case-7/explain', headers: auth })).statusCode).toBe(409);
    // However many reuse it, the filter lists every decision under the request id.
    const filtered = await app.inject({ method: 'GET', url: '/v1/decisions?request_id=case-7', headers: auth });
    expect(filtered.json().decisions.map((d: { id: string }) => d.id)).toEqual(listed.map((d) => d.id));
    await app.close();
  });

  test('a write the store cannot take now (a lock held elsewhere) is a 503 with Retry-After, not a 500; the server log warns, once in 10 s, without a stack', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'gavel-busy-'));
    const store = new SqliteStore(join(dir, 'gavel.db'), { busyTimeoutMs: 50 });
    const app = buildApp({ policies: live, store, admin: { key: KEY, store, reload: null } });
    const { default: Database } = await import('better-sqlite3');
    const holder = new Database(join(dir, 'gavel.db'));
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      holder.exec('BEGIN EXCLUSIVE');
      for (let i = 0; i < 2; i++) {
        const r = await app.inject({ method: 'POST', url: '/v1/apply', headers: { authorization: `Bearer ${KEY}` }, payload: { entities: [{ type: 'user', id: 'alice' }] } });
        expect([r.statusCode, r.headers['retry-after']]).toEqual([503, '5']);
        expect(r.json()).toEqual({ error: 'unavailable', message: 'the store cannot be written now (busy or full); try again shortly' });
      }
      const said = stderr.mock.calls.map(([line]) => String(line));
      expect(said).toEqual([expect.stringMatching(/^gavel: warning: POST \/v1\/apply \(request .*\) answered 503: the store cannot be written now: database is locked\n$/)]);
      holder.exec('ROLLBACK');
      expect((await app.inject({ method: 'POST', url: '/v1/apply', headers: { authorization: `Bearer ${KEY}` }, payload: { entities: [{ type: 'user', id: 'alice' }] } })).statusCode).toBe(200);
    } finally {
      stderr.mockRestore();
      holder.close();
      await app.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a decision is found by any request id the log keeps, up to 200 characters (the router allowed 100)', async () => {
    const { app, log } = setup(KEY);
    const auth = { authorization: `Bearer ${KEY}` };
    const id = `trace-${'r'.repeat(194)}`;
    await app.inject({ method: 'POST', url: '/v1/decide', payload: request, headers: { 'x-request-id': id } });
    log.flush();
    const found = await app.inject({ method: 'GET', url: `/v1/decisions/${id}`, headers: auth });
    expect(found.statusCode).toBe(200);
    expect(found.json()).toMatchObject({ request_id: id, action: 'read' });
    expect((await app.inject({ method: 'GET', url: `/v1/decisions/${id}/explain`, headers: auth })).statusCode).toBe(200);
    await app.close();
  });

  test('a record from before request ids were kept (its id was the caller\'s) does not hide a newer decision under that id', async () => {
    const { app, log, store } = setup(KEY);
    const auth = { authorization: `Bearer ${KEY}` };
    store.appendDecisions([{ id: 'old-7', at: '2026-01-01T00:00:00.000Z', via: 'native', decision: true, revision: 'r', determining: [], reasons: [], errors: [], subject: { type: 'user', id: 'a' }, action: 'read', resource: { type: 'doc', id: '1' }, latencyUs: 1 }]);
    await app.inject({ method: 'POST', url: '/v1/decide', payload: request, headers: { 'x-request-id': 'old-7' } });
    log.flush();
    expect((await app.inject({ method: 'GET', url: '/v1/decisions/old-7', headers: auth })).statusCode).toBe(409);
    expect((await app.inject({ method: 'GET', url: '/v1/decisions?request_id=old-7', headers: auth })).json().decisions).toHaveLength(2);
    await app.close();
  });

  test('GET /v1/decisions takes since/until as a time or an age back from now, as gavel log does', async () => {
    const { app, log } = setup(KEY);
    await app.inject({ method: 'POST', url: '/v1/decide', payload: request, headers: { 'x-request-id': 'd-age' } });
    log.flush();
    const get = (query: string) => app.inject({ method: 'GET', url: `/v1/decisions?${query}`, headers: { authorization: `Bearer ${KEY}` } });
    expect((await get('since=10m')).json().decisions.map((d: { request_id: string }) => d.request_id)).toEqual(['d-age']);
    expect((await get('until=10m')).json().decisions).toEqual([]);
    expect((await get(`since=${encodeURIComponent(new Date(Date.now() - 60_000).toISOString())}`)).json().decisions).toHaveLength(1);
    const bad = await get('since=yesterday');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ error: 'invalid_request', message: 'since: `yesterday` is neither an ISO 8601 time (2026-11-22, 2026-11-22T10:00:00Z) nor an age like 15m, 2h or 7d' });
    await app.close();
  });

  test('GET /v1/decisions refuses an interface name that does not exist, rather than answer nothing', async () => {
    const { app } = setup(KEY);
    const r = await app.inject({ method: 'GET', url: '/v1/decisions?via=authz', headers: { authorization: `Bearer ${KEY}` } });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ error: 'invalid_request', message: expect.stringContaining('via') });
    await app.close();
  });

  test.each([
    { note: 'no key', headers: {}, message: 'a valid admin key is required: send `Authorization: Bearer KEY`' },
    { note: 'a wrong key', headers: { authorization: `Bearer ${'x'.repeat(32)}` }, message: 'a valid admin key is required' },
    { note: 'a prefix of the key', headers: { authorization: `Bearer ${KEY.slice(0, 8)}` }, message: 'a valid admin key is required' },
    { note: 'the key without Bearer', headers: { authorization: KEY }, message: 'a valid admin key is required: the Authorization header must be `Bearer KEY`' },
  ])('401 with $note', async ({ headers, message }) => {
    const { app } = setup(KEY);
    const r = await app.inject({ method: 'GET', url: '/v1/decisions', headers });
    expect(r.statusCode).toBe(401);
    expect(r.json()).toEqual({ error: 'unauthorized', message });
    expect(r.headers['www-authenticate']).toBe('Bearer realm="gavel-admin"');
    await app.close();
  });

  test('an address that gave ten wrong keys in a minute is refused (429, Retry-After) before its key is compared; other addresses are not', async () => {
    const { app } = setup(KEY);
    const from = (remoteAddress: string, key: string) => app.inject({ method: 'GET', url: '/v1/policies', remoteAddress, headers: { authorization: `Bearer ${key}` } });
    for (let i = 0; i < 10; i++) expect((await from('192.0.2.7', `wrong-key-${i}-0123456789`)).statusCode).toBe(401);
    const refused = await from('192.0.2.7', KEY);
    expect(refused.statusCode).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(refused.json()).toEqual({ error: 'too_many_attempts', message: expect.stringMatching(/^too many wrong admin keys from this address; try again in \d+ s$/) });
    // The log endpoints share the count: the refusal is per address, not per route.
    expect((await app.inject({ method: 'GET', url: '/v1/decisions', remoteAddress: '192.0.2.7', headers: { authorization: `Bearer ${KEY}` } })).statusCode).toBe(429);
    expect((await from('192.0.2.8', KEY)).statusCode).toBe(200);
    await app.close();
  });

  test('only wrong keys count: requests without one do not lock an address, and a right key does not clear the count', async () => {
    const { app } = setup(KEY);
    const from = (headers: Record<string, string>) => app.inject({ method: 'GET', url: '/v1/decisions', remoteAddress: '192.0.2.9', headers });
    for (let i = 0; i < 20; i++) expect((await from({})).statusCode).toBe(401);
    expect((await from({ authorization: `Bearer ${KEY}` })).statusCode).toBe(200);
    // A client sharing the address with a guesser cannot shield it by succeeding in between.
    for (let i = 0; i < 10; i++) {
      expect((await from({ authorization: `Bearer wrong-key-${i}-0123456789` })).statusCode).toBe(401);
      if (i < 9) expect((await from({ authorization: `Bearer ${KEY}` })).statusCode).toBe(200);
    }
    expect((await from({ authorization: `Bearer ${KEY}` })).statusCode).toBe(429);
    await app.close();
  });

  test('an IPv6 client counts by its /64: rotating addresses inside it does not reset the count', async () => {
    const { app } = setup(KEY);
    for (let i = 0; i < 10; i++) {
      const r = await app.inject({ method: 'GET', url: '/v1/decisions', remoteAddress: `2001:db8:5:6::${i + 1}`, headers: { authorization: `Bearer wrong-key-${i}-0123456789` } });
      expect(r.statusCode).toBe(401);
    }
    expect((await app.inject({ method: 'GET', url: '/v1/decisions', remoteAddress: '2001:db8:5:6::ff', headers: { authorization: `Bearer ${KEY}` } })).statusCode).toBe(429);
    expect((await app.inject({ method: 'GET', url: '/v1/decisions', remoteAddress: '2001:db8:5:7::1', headers: { authorization: `Bearer ${KEY}` } })).statusCode).toBe(200);
    await app.close();
  });

  test('without a configured key the admin endpoints are disabled', async () => {
    const { app } = setup(null);
    const r = await app.inject({ method: 'GET', url: '/v1/decisions', headers: { authorization: 'Bearer anything' } });
    expect(r.statusCode).toBe(403);
    expect(r.json().error).toBe('admin_disabled');
    await app.close();
  });

  test('a failure inside the server is a 500 without details for the caller, and the details go to the server log', async () => {
    const store = new SqliteStore(':memory:');
    const app = buildApp({ policies: live, store, admin: { key: KEY, store, reload: async () => Promise.reject(new Error('the disk is gone')) } });
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (written.push(String(chunk)), true));
    try {
      const r = await app.inject({ method: 'POST', url: '/v1/reload', headers: { authorization: `Bearer ${KEY}`, 'x-request-id': 'r-500' } });
      expect(r.statusCode).toBe(500);
      expect(r.json()).toEqual({ error: 'internal_error', message: 'internal error; see the server log' });
    } finally {
      spy.mockRestore();
    }
    expect(written.join('')).toMatch(/^gavel: POST \/v1\/reload \(request r-500\) failed: Error: the disk is gone\n\s+at /);
    await app.close();
  });

  test.each([
    { url: '/v1/decisions?decision=maybe', method: 'GET' as const, message: 'query parameter "decision" must be one of: allow, deny' },
    { url: '/v1/apply?dry_run=yes', method: 'POST' as const, message: 'query parameter "dry_run" must be one of: true, false' },
    { url: '/v1/decide?explain=yes', method: 'POST' as const, message: 'query parameter "explain" must be one of: true, false' },
    { url: '/v1/decide?explian=true', method: 'POST' as const, message: 'unknown query parameter "explian"' },
    { url: '/v1/decisions?limit=0', method: 'GET' as const, message: 'query parameter "limit" must be from 1 to 10000 (0 given)' },
    { url: '/v1/decisions?limit=20000', method: 'GET' as const, message: 'query parameter "limit" must be from 1 to 10000 (20000 given)' },
    { url: '/v1/decisions?limit=abc', method: 'GET' as const, message: 'query parameter "limit" must be a whole number from 1 to 10,000' },
    { url: '/v1/decisions?after=yesterday', method: 'GET' as const, message: 'query parameter "after" must be the `next` value of a previous page' },
    { url: '/v1/decisions?limit=1&limit=2', method: 'GET' as const, message: 'query parameter "limit" is given more than once' },
    { url: '/v1/decide?explain=true&explain=false', method: 'POST' as const, message: 'query parameter "explain" is given more than once' },
    { url: '/v1/decide/batch?explian=true', method: 'POST' as const, message: 'unknown query parameter "explian"' },
    { url: '/v1/reload?x=1', method: 'POST' as const, message: 'unknown query parameter "x"' },
    { url: '/v1/decisions/some-id?x=1', method: 'GET' as const, message: 'unknown query parameter "x"' },
    { url: '/v1/decisions/some-id/explain?explain=true', method: 'GET' as const, message: 'unknown query parameter "explain"' },
    { url: '/v1/whatif?limit=5', method: 'POST' as const, message: 'unknown query parameter "limit"' },
    { url: '/v1/affects?all=true', method: 'POST' as const, message: 'unknown query parameter "all"' },
  ])('a bad query parameter ($url) is a 400 that says what is allowed, and changes nothing', async ({ url, method, message }) => {
    const { app, store } = setup(KEY);
    const payload = url.startsWith('/v1/apply')
      ? { entities: [{ type: 'doc', id: '1' }] }
      : url.startsWith('/v1/decide/batch')
        ? { requests: [request] }
        : url.startsWith('/v1/whatif')
          ? { candidate: { files: { 'a.gavel': 'permit;' } } }
          : url.startsWith('/v1/affects')
            ? { where: ['subject.role == "admin"'] }
            : request;
    const r = await app.inject({ method, url, headers: { authorization: `Bearer ${KEY}` }, ...(method === 'POST' ? { payload } : {}) });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({ error: 'invalid_request', message });
    expect(store.entities()).toEqual([]);
    await app.close();
  });

  test('an apply document that is not an object is a 400 saying the body must be a JSON object', async () => {
    const { app, store } = setup(KEY);
    const r = await app.inject({ method: 'POST', url: '/v1/apply', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, payload: '[]' });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({ error: 'invalid_request', message: 'the body must be a JSON object' });
    expect(store.entities()).toEqual([]);
    await app.close();
  });

  test.each([
    { url: '/v1/decisions?decison=deny', method: 'GET' as const, name: 'decison' },
    { url: '/v1/apply?dryrun=true', method: 'POST' as const, name: 'dryrun' },
  ])('a misspelt parameter ($name) is a 400 that names it, not an unfiltered answer or a real apply', async ({ url, method, name }) => {
    const { app, store } = setup(KEY);
    const r = await app.inject({ method, url, headers: { authorization: `Bearer ${KEY}` }, ...(method === 'POST' ? { payload: { entities: [{ type: 'doc', id: '1' }] } } : {}) });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({ error: 'invalid_request', message: `unknown query parameter "${name}"` });
    expect(store.entities()).toEqual([]);
    await app.close();
  });

  test('POST /v1/apply applies the gavel apply document (or shows what it would change), and tells the server', async () => {
    const store = new SqliteStore(':memory:');
    let applied = 0;
    const app = buildApp({ policies: live, store, admin: { key: KEY, store, reload: null, applied: () => void applied++ } });
    const auth = { authorization: `Bearer ${KEY}` };
    const doc = { apis: [{ identifier: 'https://api.example.com', scopes: ['a:read'] }], entities: [{ type: 'doc', id: '1', attributes: { owner: 'alice' } }] };
    const dry = await app.inject({ method: 'POST', url: '/v1/apply?dry_run=true', headers: auth, payload: doc });
    expect(dry.json()).toEqual({ dry_run: true, added: ['doc::"1"', 'apis:https://api.example.com'], changed: [], removed: [] });
    expect(applied).toBe(0);
    expect((await app.inject({ method: 'POST', url: '/v1/apply', headers: auth, payload: doc })).json()).toMatchObject({ dry_run: false, added: ['doc::"1"', 'apis:https://api.example.com'] });
    expect(applied).toBe(1);
    expect(store.registry().apis).toHaveLength(1);
    const bad = await app.inject({ method: 'POST', url: '/v1/apply', headers: auth, payload: { clients: [{ id: 'c', secret: 'short' }] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: 'invalid_document', problems: ['clients[0].secret: use a random string of at least 32 characters', 'clients[0].scopes: missing; it is required (a list of strings)'] });
    expect((await app.inject({ method: 'POST', url: '/v1/apply', payload: doc })).statusCode).toBe(401);
    await app.close();
  });

  test('POST /v1/apply whose document is committed but not yet read back by the server says so: 200, applied, served false', async () => {
    const store = new SqliteStore(':memory:');
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const app = buildApp({ policies: live, store, admin: { key: KEY, store, reload: null, applied: () => Promise.reject(new Error('database is locked')) } });
    try {
      const doc = { entities: [{ type: 'doc', id: '1', attributes: { owner: 'alice' } }] };
      const r = await app.inject({ method: 'POST', url: '/v1/apply', headers: { authorization: `Bearer ${KEY}` }, payload: doc });
      expect(r.statusCode).toBe(200);
      expect(r.json()).toEqual({ dry_run: false, added: ['doc::"1"'], changed: [], removed: [], served: false, warning: expect.stringContaining('database is locked') });
      // Applied all the same: the store holds it, and the server reads it on its next poll.
      expect(store.entities()).toEqual([{ type: 'doc', id: '1', attributes: { owner: 'alice' } }]);
      expect(stderr.mock.calls.map(([line]) => String(line)).join('')).toMatch(/POST \/v1\/apply .* applied the document but cannot read the directory again yet: database is locked/);
    } finally {
      stderr.mockRestore();
      await app.close();
    }
  });
});

describe('requests nested too deep', () => {
  /** `levels` objects, one inside the other. */
  const nested = (levels: number): unknown => {
    let value: unknown = 1;
    for (let i = 0; i < levels; i++) value = { a: value };
    return value;
  };
  const auth = { authorization: `Bearer ${KEY}` };

  test('are refused on every decision route, and the log stays readable for the decisions around them', async () => {
    const { app, log } = setup(KEY);
    // The request is level 1, so its context may hold 63 levels.
    const deepest = await app.inject({ method: 'POST', url: '/v1/decide', headers: { 'x-request-id': 'deepest' }, payload: { ...request, context: nested(63) } });
    expect(deepest.statusCode).toBe(200);
    for (const url of ['/v1/decide', '/access/v1/evaluation']) {
      for (const levels of [64, 998]) {
        const r = await app.inject({ method: 'POST', url, payload: { ...request, context: nested(levels) } });
        expect(r.statusCode, `${url} ${levels}`).toBe(400);
        expect(r.json()).toEqual({ error: 'invalid_request', message: expect.stringContaining('context: nested deeper than 64 levels') });
      }
    }
    const batch = await app.inject({ method: 'POST', url: '/access/v1/evaluations', payload: { evaluations: [request, { ...request, resource: { type: 'doc', id: '2', properties: nested(998) } }] } });
    expect(batch.json().evaluations.map((e: { decision: boolean }) => e.decision)).toEqual([true, false]);
    await app.inject({ method: 'POST', url: '/v1/decide', headers: { 'x-request-id': 'after' }, payload: request });
    log.flush();
    const page = await app.inject({ method: 'GET', url: '/v1/decisions', headers: auth });
    expect(page.statusCode).toBe(200);
    expect(page.json().decisions.map((d: { request_id: string }) => d.request_id)).toEqual(expect.arrayContaining(['deepest', 'after']));
    expect((await app.inject({ method: 'GET', url: '/v1/decisions/deepest', headers: auth })).json().request.context).toEqual(nested(63));
    await app.close();
  });

  test('a document whose attributes nest too deep applies nothing', async () => {
    const { app, store } = setup(KEY);
    // As text: 100,000 levels are more than JSON.stringify (and a recursive reader) can take.
    const deep = `{"entities": [{"type": "doc", "id": "1", "attributes": ${'{"a": '.repeat(100_000)}1${'}'.repeat(100_000)}}]}`;
    const r = await app.inject({ method: 'POST', url: '/v1/apply', headers: { ...auth, 'content-type': 'application/json' }, payload: deep });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ error: 'invalid_document', problems: ['the document is nested deeper than 67 levels; attributes may nest 64 levels'] });
    expect(store.entities()).toEqual([]);
    const ok = await app.inject({ method: 'POST', url: '/v1/apply', headers: auth, payload: { entities: [{ type: 'doc', id: '1', attributes: nested(64) as object }] } });
    expect(ok.statusCode).toBe(200);
    await app.close();
  });
});

describe('numbers JSON cannot hold', () => {
  // `1e999` parses as Infinity: decided on, it would be logged as null, and the logged
  // request explained or replayed would no longer be the one decided.
  const json = { 'content-type': 'application/json' };
  const body = (context: string) => `{"subject": {"type": "user", "id": "alice"}, "action": {"name": "read"}, "resource": {"type": "doc", "id": "1"}, "context": ${context}}`;

  test('are refused on every decision route with where they are, and nothing is decided or logged', async () => {
    const { app, log, store } = setup(KEY);
    for (const url of ['/v1/decide', '/access/v1/evaluation']) {
      const r = await app.inject({ method: 'POST', url, headers: json, payload: body('{"limits": [1, {"n": -1e999}]}') });
      expect([url, r.statusCode, r.json()]).toEqual([url, 400, { error: 'invalid_request', message: expect.stringContaining('context.limits[1].n: -Infinity is not a number JSON can hold') }]);
    }
    const batch = await app.inject({ method: 'POST', url: '/access/v1/evaluations', headers: json, payload: `{"subject": {"type": "user", "id": "alice"}, "action": {"name": "read"}, "evaluations": [{"resource": {"type": "doc", "id": "1", "properties": {"size": 1e400}}}]}` });
    // A bad item of a batch fails closed in its place, saying why.
    expect(batch.statusCode).toBe(200);
    expect(batch.json().evaluations).toEqual([{ decision: false, context: { error: { status: 400, message: expect.stringContaining('resource.properties.size: Infinity is not a number JSON can hold') } } }]);
    await log.flush();
    expect(store.queryDecisions({ limit: 10 })).toEqual([]);
    await app.close();
  });

  test('in a directory document apply nothing', async () => {
    const { app, store } = setup(KEY);
    const r = await app.inject({ method: 'POST', url: '/v1/apply', headers: { authorization: `Bearer ${KEY}`, ...json }, payload: '{"entities": [{"type": "doc", "id": "1", "attributes": {"size": 1e999}}]}' });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ error: 'invalid_document', problems: ['entities[0].attributes.size: Infinity is not a number JSON can hold (a finite one)'] });
    expect(store.entities()).toEqual([]);
    await app.close();
  });
});

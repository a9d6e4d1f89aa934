import { connect, type AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildPolicySet } from '../../src/index.js';
import { LivePolicySet } from '../../src/engine/live-set.js';
import { Metrics } from '../../src/server/metrics.js';
import { buildApp } from '../../src/http/app.js';
import { DecisionLog } from '../../src/engine/decision-log.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { loadCorpus } from '../conformance/corpus.js';

const POLICIES = `
@id("read") permit (action == "read", resource.type == "record") when { resource.status == "active" || subject.role == "admin" };
@id("write") permit (action == "write", resource.type == "record") when { subject.role == "admin" };
@id("no-archived") forbid (action == "write", resource.type == "record") when { resource has status && resource.status == "archived" } reason "archived records are read-only";
`;

let app: FastifyInstance;
const live = new LivePolicySet(buildPolicySet([{ file: 'app.gavel', text: POLICIES }]).set!);

beforeAll(async () => {
  app = buildApp({ policies: live });
  await app.ready();
});
afterAll(() => app.close());

const alice = { type: 'user', id: 'alice' };
const bob = { type: 'user', id: 'bob', properties: { role: 'admin' } };
const active = { type: 'record', id: 'r1', properties: { status: 'active' } };
const archived = { type: 'record', id: 'r2', properties: { status: 'archived' } };

function post(url: string, payload: unknown, headers: Record<string, string> = {}) {
  return app.inject({ method: 'POST', url, payload: typeof payload === 'string' ? payload : JSON.stringify(payload), headers: { 'content-type': 'application/json', ...headers } });
}

describe('POST /access/v1/evaluation', () => {
  test('answers a decision with the determining policies in its context', async () => {
    const r = await post('/access/v1/evaluation', { subject: alice, action: { name: 'read' }, resource: active });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.json()).toEqual({ decision: true, context: { determining: ['read'], reasons: [], revision: live.current.revision } });
  });

  test('a deny is 200 with decision false and the reasons', async () => {
    const r = await post('/access/v1/evaluation', { subject: bob, action: { name: 'write' }, resource: archived, context: { ip: '10.0.0.1' } });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ decision: false, context: { determining: ['no-archived'], reasons: ['archived records are read-only'] } });
  });

  test('the context carries a failed condition and a token that did not verify, with where and why', async () => {
    const r = await post('/access/v1/evaluation', { subject: alice, action: { name: 'write' }, resource: active, context: { token: 'not.a.jwt' } });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({
      decision: false,
      context: {
        determining: [],
        reasons: [],
        revision: live.current.revision,
        errors: [{ policy: 'write', message: '`subject.role` is missing', location: expect.stringMatching(/^app\.gavel:3:\d+$/) }],
        token_error: expect.any(String),
      },
    });
  });

  test('echoes X-Request-ID, and makes one when the caller sent none', async () => {
    const r = await post('/access/v1/evaluation', { subject: alice, action: { name: 'read' }, resource: active }, { 'x-request-id': 'pep-42' });
    expect(r.headers['x-request-id']).toBe('pep-42');
    const generated = await post('/access/v1/evaluation', { subject: alice, action: { name: 'read' }, resource: active });
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('a request id is echoed as sent however long (AuthZEN); one over 200 characters is logged under a generated one', async () => {
    const store = new SqliteStore(':memory:');
    const log = new DecisionLog(store, { flushMs: 60_000 });
    const local = buildApp({ policies: live, log });
    try {
      for (const id of ['r'.repeat(200), 's'.repeat(201), 't'.repeat(5000)]) {
        const r = await local.inject({ method: 'POST', url: '/access/v1/evaluation', headers: { 'x-request-id': id }, payload: { subject: alice, action: { name: 'read' }, resource: active } });
        expect(r.headers['x-request-id']).toBe(id);
      }
      log.flush();
      const logged = store.queryDecisions({ limit: 10 }).map((d) => d.request_id ?? '');
      expect(logged).toHaveLength(3);
      expect(logged).toContain('r'.repeat(200));
      // Written with every decision of the request, a long id would multiply what the log holds.
      expect(logged.filter((id) => /^[0-9a-f-]{36}$/.test(id))).toHaveLength(2);
    } finally {
      log.close();
      await local.close();
      store.close();
    }
  });

  test('a request id that is not printable ASCII cannot be echoed as sent: a generated one is echoed and logged instead', async () => {
    const server = buildApp({ policies: live });
    try {
      await server.listen({ host: '127.0.0.1', port: 0 });
      const { port } = server.server.address() as AddressInfo;
      // Raw bytes on a socket: a header value of Latin-1 bytes, as a client may send it.
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => {
          const body = JSON.stringify({ subject: alice, action: { name: 'read' }, resource: active });
          socket.end(Buffer.concat([Buffer.from(`POST /access/v1/evaluation HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\nX-Request-ID: ab`), Buffer.from([0xff, 0xfe]), Buffer.from(`\r\n\r\n${body}`)]));
        });
        let text = '';
        socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 200 /);
      expect(answer).toMatch(/\r\nx-request-id: [0-9a-f-]{36}\r\n/i);
    } finally {
      await server.close();
    }
  });

  test('ignores unknown members; token and risk in the body never reach the policies', async () => {
    const r = await post('/access/v1/evaluation', { subject: alice, action: { name: 'write' }, resource: active, foo: 'bar', token: { scope: 'admin' }, risk: {} });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ decision: false });
  });

  test.each([
    { note: 'missing subject', payload: { action: { name: 'read' }, resource: active } },
    { note: 'missing subject.id', payload: { subject: { type: 'user' }, action: { name: 'read' }, resource: active } },
    { note: 'subject as a string', payload: { subject: 'alice', action: { name: 'read' }, resource: active } },
    { note: 'action.name as a number', payload: { subject: alice, action: { name: 5 }, resource: active } },
    { note: 'missing resource.type', payload: { subject: alice, action: { name: 'read' }, resource: { id: 'r1' } } },
    // As over gRPC, where "" cannot be told from absent.
    { note: 'an empty subject.id', payload: { subject: { type: 'user', id: '' }, action: { name: 'read' }, resource: active }, says: 'subject.id: expected a non-empty string' },
    { note: 'an empty action.name', payload: { subject: alice, action: { name: '' }, resource: active }, says: 'action.name: expected a non-empty string' },
    { note: 'malformed JSON', payload: '{"subject": ' },
    { note: 'an empty body', payload: '' },
    { note: 'a JSON array', payload: '[]' },
    // Prototype keys are refused as fastify's own parser refused them, however they are spelled.
    { note: 'a __proto__ member', payload: '{"subject": {"type": "user", "id": "a", "properties": {"__proto__": {"role": "admin"}}}, "action": {"name": "read"}, "resource": {"type": "record", "id": "r1"}}', says: 'not accepted' },
    { note: 'a __proto__ member spelled with escapes', payload: '{"subject": {"type": "user", "id": "a", "properties": {"\\u005f_proto__": {"role": "admin"}}}, "action": {"name": "read"}, "resource": {"type": "record", "id": "r1"}}', says: 'not accepted' },
    { note: 'a constructor holding prototype', payload: '{"subject": {"type": "user", "id": "a", "properties": {"constructor": {"prototype": {}}}}, "action": {"name": "read"}, "resource": {"type": "record", "id": "r1"}}', says: 'not accepted' },
  ])('400 with {error, message} for $note', async ({ payload, says }: { payload: unknown; says?: string }) => {
    const r = await post('/access/v1/evaluation', payload);
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ error: 'invalid_request', message: says === undefined ? expect.any(String) : expect.stringContaining(says) });
  });

  test('malformed JSON is a 400 that says where the body broke', async () => {
    const r = await post('/access/v1/evaluation', '{"subject": {"type": "user", "id": "alice"},\n "action": {"name": "read"},}');
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({ error: 'invalid_request', message: expect.stringMatching(/^the body is not valid JSON: .* at line 2, column 29$/) });
  });

  test('text after the JSON, and nesting past the stack, are said as such', async () => {
    const trailing = await post('/access/v1/evaluation', '{"subject": {}}x');
    expect(trailing.json()).toMatchObject({ message: expect.stringMatching(/^the body is not valid JSON: .* at line 1, column 16$/) });
    expect(trailing.json().message).not.toContain('position');
    const deep = await post('/access/v1/evaluation', `{"constructor": "x", "a": ${'['.repeat(200_000)}${']'.repeat(200_000)}}`);
    expect(deep.statusCode).toBe(400);
    expect(deep.json().message).toMatch(/nested/);
  });

  test('a member merely named constructor, a \\u escape and a byte order mark are fine', async () => {
    const r = await post('/access/v1/evaluation', '\uFEFF{"subject": {"type": "user", "id": "alice", "properties": {"constructor": "x", "name": "Zo\\u00eb"}}, "action": {"name": "read"}, "resource": {"type": "record", "id": "r1", "properties": {"status": "active"}}}');
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ decision: true });
  });

  test('a JSON body sent as text/plain is told the content type, not a schema error', async () => {
    const r = await app.inject({ method: 'POST', url: '/access/v1/evaluation', payload: JSON.stringify({ subject: alice, action: { name: 'read' }, resource: active }), headers: { 'content-type': 'text/plain' } });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({ error: 'invalid_request', message: 'Content-Type must be application/json' });
  });

  test('400 for a Content-Type other than application/json', async () => {
    const r = await app.inject({ method: 'POST', url: '/access/v1/evaluation', payload: 'subject=alice', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({ error: 'invalid_request', message: 'Content-Type must be application/json' });
  });

  test('a body is decided as sent or not at all: bytes that are not UTF-8 are a 400, another charset or a compressed body a 415', async () => {
    const body = (id: string) => Buffer.concat([Buffer.from('{"subject": {"type": "user", "id": "'), Buffer.from(id, 'latin1'), Buffer.from('"}, "action": {"name": "read"}, "resource": {"type": "record", "id": "r1", "properties": {"status": "active"}}}')]);
    const send = (payload: Buffer, headers: Record<string, string>) => app.inject({ method: 'POST', url: '/access/v1/evaluation', payload, headers });
    const latin1 = await send(body('b\xe9b'), { 'content-type': 'application/json' });
    expect([latin1.statusCode, latin1.json()]).toEqual([400, { error: 'invalid_request', message: 'the body is not UTF-8, or holds U+FFFD (a character lost in an earlier decoding): JSON is sent as UTF-8 (RFC 8259)' }]);
    const declared = await send(body('bob'), { 'content-type': 'application/json; charset=latin1' });
    expect([declared.statusCode, declared.json()]).toEqual([415, { error: 'unsupported_media_type', message: 'charset=latin1 is not accepted: JSON is sent as UTF-8 (RFC 8259)' }]);
    const gzipped = await send(gzipSync(body('bob')), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect([gzipped.statusCode, gzipped.json()]).toEqual([415, { error: 'unsupported_media_type', message: 'Content-Encoding `gzip` is not accepted: send the body uncompressed' }]);
    const accepted: Record<string, string>[] = [{ 'content-type': 'application/json; charset=UTF-8' }, { 'content-type': 'application/json;charset="utf8"', 'content-encoding': 'identity' }];
    for (const headers of accepted) {
      expect((await send(Buffer.from(body('zoë').toString('latin1'), 'utf8'), headers)).json()).toMatchObject({ decision: true });
    }
  });

  test('413 for a body over the limit, naming the limit, with no stack trace', async () => {
    const r = await post('/access/v1/evaluation', { subject: alice, action: { name: 'read' }, resource: active, context: { pad: 'x'.repeat(2 << 20) } });
    expect(r.statusCode).toBe(413);
    expect(r.json()).toEqual({ error: 'payload_too_large', message: 'the request body is larger than this route takes (1 MiB)' });
    expect(r.body).not.toMatch(/at .*\.(js|ts):\d+/);
  });
});

describe('AuthZEN entities are their spec members', () => {
  test('a member beside `properties` is ignored, as AuthZEN 1.0 says receivers must; the native API still reads flat entities', async () => {
    const flatAdmin = { type: 'user', id: 'carol', role: 'admin' };
    const write = { subject: flatAdmin, action: { name: 'write', role: 'admin' }, resource: active };
    expect((await post('/access/v1/evaluation', write)).json()).toMatchObject({ decision: false });
    expect((await post('/access/v1/evaluations', { evaluations: [write] })).json()).toEqual({ evaluations: [{ decision: false }] });
    expect((await post('/access/v1/evaluation', { ...write, subject: { ...flatAdmin, properties: { role: 'admin' } } })).json()).toMatchObject({ decision: true });
    expect((await post('/v1/decide', write)).json()).toMatchObject({ decision: true });
  });
});

describe('POST /access/v1/evaluations', () => {
  test('items inherit top-level defaults; a member in an item replaces the default whole', async () => {
    const r = await post('/access/v1/evaluations', {
      subject: alice,
      action: { name: 'read' },
      resource: archived,
      evaluations: [{ resource: active }, {}, { subject: bob }, { action: { name: 'write' } }],
    });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ evaluations: [{ decision: true }, { decision: false }, { decision: true }, { decision: false }] });
  });

  test('an item that leaves out a type or id takes it from the default entity (AuthZEN certification c-3-2-7); its properties stay its own', async () => {
    const r = await post('/access/v1/evaluations', {
      subject: alice,
      action: { name: 'read' },
      resource: { type: 'record' },
      evaluations: [{ resource: { id: 'r1', properties: { status: 'active' } } }, { resource: { type: 'record', id: 'r2', properties: { status: 'archived' } } }],
    });
    expect(r.json()).toEqual({ evaluations: [{ decision: true }, { decision: false }] });
  });

  test('an item that is invalid after merging fails closed in-band; the batch still answers', async () => {
    const r = await post('/access/v1/evaluations', { subject: alice, action: { name: 'read' }, evaluations: [{ resource: active }, {}] });
    expect(r.statusCode).toBe(200);
    const [first, second] = r.json().evaluations;
    expect(first).toEqual({ decision: true });
    expect(second).toMatchObject({ decision: false, context: { error: { status: 400 } } });
  });

  test.each([
    { semantic: 'execute_all', want: [true, false, true] },
    { semantic: 'deny_on_first_deny', want: [true, false] },
    { semantic: 'permit_on_first_permit', want: [true] },
  ])('evaluations_semantic $semantic', async ({ semantic, want }) => {
    const r = await post('/access/v1/evaluations', {
      action: { name: 'read' },
      options: { evaluations_semantic: semantic },
      evaluations: [{ subject: alice, resource: active }, { subject: alice, resource: archived }, { subject: bob, resource: archived }],
    });
    expect(r.json().evaluations.map((e: { decision: boolean }) => e.decision)).toEqual(want);
  });

  test('defaults repeated in the items beyond 8 MiB in all are refused (413): each item is decided and logged with them', async () => {
    const big = { ...alice, properties: { notes: 'n'.repeat(10_000) } };
    const r = await post('/access/v1/evaluations', { subject: big, action: { name: 'read' }, evaluations: Array.from({ length: 900 }, () => ({ resource: active })) });
    expect(r.statusCode).toBe(413);
    expect(r.json()).toEqual({ error: 'payload_too_large', message: 'the top-level subject, action, resource and context the 900 evaluations take from the request add up to 8.6 MiB, more than 8.0 MiB: each is decided and logged with them; send fewer evaluations per batch, or smaller defaults' });
    const fewer = await post('/access/v1/evaluations', { subject: big, action: { name: 'read' }, evaluations: Array.from({ length: 700 }, () => ({ resource: active })) });
    expect(fewer.statusCode).toBe(200);
    // Items that bring their own subject repeat nothing of the large default.
    const own = await post('/access/v1/evaluations', { subject: big, action: { name: 'read' }, evaluations: Array.from({ length: 900 }, () => ({ subject: alice, resource: active })) });
    expect(own.statusCode).toBe(200);
  });

  test('a default nested past the limit is a 400 naming it, at any depth (5,000 levels was a 500: measuring it overflowed the stack)', async () => {
    for (const levels of [100, 5_000]) {
      const deep = `${'['.repeat(levels)}${']'.repeat(levels)}`;
      const r = await post('/access/v1/evaluations', `{"subject": {"type": "user", "id": "alice"}, "action": {"name": "read"}, "resource": {"type": "record", "id": "r1"}, "context": {"a": ${deep}}, "evaluations": [{}]}`);
      expect(r.statusCode).toBe(400);
      expect(r.json()).toEqual({ error: 'invalid_request', message: 'context: nested deeper than 64 levels (objects and lists, counted from the request)' });
    }
  });

  test('gavel_include_context adds each item its context', async () => {
    const r = await post('/access/v1/evaluations', { action: { name: 'read' }, options: { gavel_include_context: true }, evaluations: [{ subject: alice, resource: active }] });
    expect(r.json().evaluations[0]).toMatchObject({ decision: true, context: { determining: ['read'] } });
  });

  test('without items it is the single evaluation', async () => {
    const r = await post('/access/v1/evaluations', { subject: alice, action: { name: 'read' }, resource: active });
    expect(r.json()).toMatchObject({ decision: true });
  });
});

describe('GET /.well-known/authzen-configuration', () => {
  test('publishes the endpoints under the PDP identifier: the URL the server is configured with, whatever Host the caller sends', async () => {
    const pdp = buildApp({ policies: live, baseUrl: () => 'https://pdp.example/gavel' });
    try {
      const r = await pdp.inject({ method: 'GET', url: '/.well-known/authzen-configuration', headers: { host: 'evil.example' } });
      expect(r.statusCode).toBe(200);
      expect(r.json()).toEqual({
        policy_decision_point: 'https://pdp.example/gavel',
        access_evaluation_endpoint: 'https://pdp.example/gavel/access/v1/evaluation',
        access_evaluations_endpoint: 'https://pdp.example/gavel/access/v1/evaluations',
        search_subject_endpoint: 'https://pdp.example/gavel/access/v1/search/subject',
        search_resource_endpoint: 'https://pdp.example/gavel/access/v1/search/resource',
        search_action_endpoint: 'https://pdp.example/gavel/access/v1/search/action',
      });
    } finally {
      await pdp.close();
    }
  });

  test('an identifier with a path is also published with the path after the well-known name (RFC 8615), and only that path', async () => {
    const pdp = buildApp({ policies: live, baseUrl: () => 'https://pdp.example/tenant1' });
    try {
      const r = await pdp.inject({ method: 'GET', url: '/.well-known/authzen-configuration/tenant1' });
      expect(r.statusCode).toBe(200);
      expect(r.json()).toMatchObject({ policy_decision_point: 'https://pdp.example/tenant1', access_evaluation_endpoint: 'https://pdp.example/tenant1/access/v1/evaluation' });
      for (const url of ['/.well-known/authzen-configuration/tenant2', '/.well-known/authzen-configuration/tenant1/more']) {
        const other = await pdp.inject({ method: 'GET', url });
        expect(other.statusCode, url).toBe(404);
        expect(other.json().message).toContain('https://pdp.example/tenant1');
      }
    } finally {
      await pdp.close();
    }
  });

  test('an identifier without a path has no path-suffixed document', async () => {
    const r = await app.inject({ method: 'GET', url: '/.well-known/authzen-configuration/tenant1' });
    expect(r.statusCode).toBe(404);
  });

  test('without a configured URL the identifier is the address the request arrived on, never its Host header', async () => {
    const r = await app.inject({ method: 'GET', url: '/.well-known/authzen-configuration', headers: { host: 'evil.example' } });
    const { policy_decision_point: id } = r.json() as { policy_decision_point: string };
    expect(id).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });
});

describe('native API', () => {
  test('POST /v1/decide answers the engine decision, with an explanation on request', async () => {
    const r = await post('/v1/decide?explain=true', { subject: alice, action: { name: 'write' }, resource: active });
    expect(r.statusCode).toBe(200);
    const d = r.json();
    expect(d).toMatchObject({ decision: false, determining: [], revision: live.current.revision, errors: [{ policy: 'write', message: '`subject.role` is missing' }] });
    expect(d.explanation.trace).toContainEqual(expect.objectContaining({ id: 'write', outcome: 'error', error: '`subject.role` is missing' }));
  });

  test('POST /v1/decide/batch decides every request with one revision', async () => {
    const r = await post('/v1/decide/batch', { requests: [{ subject: alice, action: { name: 'read' }, resource: active }, { subject: bob, action: { name: 'write' }, resource: archived }] });
    expect(r.json().decisions.map((d: { decision: boolean }) => d.decision)).toEqual([true, false]);
  });

  test('a bad request in a batch names its position', async () => {
    const r = await post('/v1/decide/batch', { requests: [{ subject: alice, action: { name: 'read' }, resource: active }, { subject: alice, action: {}, resource: active }] });
    expect(r.statusCode).toBe(400);
    expect(r.json().message).toMatch(/requests\/1/);
  });

  test('a batch refuses a member beside `requests`: an `explain` in the body is not silently ignored', async () => {
    const r = await post('/v1/decide/batch', { requests: [{ subject: alice, action: { name: 'read' }, resource: active }], explain: true });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({ error: 'invalid_request', message: 'body/explain: unknown member; a batch has only `requests` (explain is a query parameter: /v1/decide/batch?explain=true)' });
  });

  test('unknown routes are 404 with the error shape', async () => {
    const r = await app.inject({ method: 'GET', url: '/nope' });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toEqual({ error: 'not_found', message: 'no route for GET /nope' });
  });

  test('a route asked with a method it does not take is a 405 naming the ones it does', async () => {
    const r = await app.inject({ method: 'GET', url: '/access/v1/evaluation?x=1' });
    expect([r.statusCode, r.headers.allow]).toEqual([405, 'POST']);
    expect(r.json()).toEqual({ error: 'method_not_allowed', message: '/access/v1/evaluation takes POST, not GET' });
    expect((await app.inject({ method: 'DELETE', url: '/healthz' })).headers.allow).toBe('GET, HEAD');
  });
});

describe('health and metrics', () => {
  test('/healthz and /readyz', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await app.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({ status: 'ready', revision: live.current.revision, policies: 3 });
  });

  test('/metrics counts decisions by interface and result, in Prometheus text format', async () => {
    const local = buildApp({ policies: live });
    await local.inject({ method: 'POST', url: '/access/v1/evaluation', payload: { subject: alice, action: { name: 'read' }, resource: active } });
    await local.inject({ method: 'POST', url: '/v1/decide', payload: { subject: alice, action: { name: 'write' }, resource: active } });
    const r = await local.inject({ method: 'GET', url: '/metrics' });
    await local.close();
    expect(r.headers['content-type']).toMatch(/^text\/plain/);
    expect(r.body).toContain('gavel_decisions_total{interface="authzen",decision="allow"} 1');
    expect(r.body).toContain('gavel_decisions_total{interface="native",decision="deny"} 1');
    expect(r.body).toContain(`gavel_policy_revision_info{revision="${live.current.revision}"} 1`);
    expect(r.body).toMatch(/gavel_decision_duration_seconds_count\{interface="authzen"\} 1/);
  });

  test("/metrics shows the decision log's queue and the decisions it had to drop", async () => {
    const local = buildApp({ policies: live, metrics: new Metrics(live, () => 3, () => 7) });
    const r = await local.inject({ method: 'GET', url: '/metrics' });
    await local.close();
    expect(r.body).toMatch(/^gavel_decision_log_queue 3$/m);
    expect(r.body).toMatch(/^gavel_decision_log_dropped_total 7$/m);
  });
});

describe('the conformance corpus over HTTP (native API, trusted roots excluded)', () => {
  const cases = loadCorpus().filter((c) => c.request.token === undefined && c.request.risk === undefined);
  test.each(cases)('$name', async (c) => {
    const local = buildApp({ policies: new LivePolicySet(buildPolicySet([{ file: 'case.gavel', text: c.policies }]).set!) });
    const r = await local.inject({ method: 'POST', url: '/v1/decide', payload: c.request as object });
    await local.close();
    const d = r.json();
    const got = { decision: d.decision, determining: d.determining, reasons: d.reasons, errors: d.errors.map((e: { policy: string }) => e.policy) };
    expect(Object.fromEntries(Object.entries(got).filter(([k]) => k in c.expect))).toEqual(c.expect);
  });
});


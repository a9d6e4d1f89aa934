/**
 * The evaluation's fast lane (src/http/evaluation-lane.ts) answers `POST /access/v1/evaluation`
 * from Node's server, beside fastify. Whatever arrives over a socket must be answered as the
 * fastify route answers it (`app.inject`, which the lane never sees): the same status, body
 * and headers, every decision logged once — and requests the lane does not take still reach
 * the route.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildPolicySet } from '../../src/index.js';
import { LivePolicySet } from '../../src/engine/live-set.js';
import { buildApp } from '../../src/http/app.js';
import { DecisionLog } from '../../src/engine/decision-log.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { ClientKeys } from '../../src/server/keys.js';

const POLICIES = `
@id("read") permit (action == "read", resource.type == "record") when { resource.status == "active" || subject.role == "admin" };
@id("write") permit (action == "write", resource.type == "record") when { subject.role == "admin" };
@id("no-archived") forbid (action == "write", resource.type == "record") when { resource has status && resource.status == "archived" } reason "archived records are read-only";
@id("from-office") permit (action == "print", resource.type == "record") when { context.ip in cidr("10.0.0.0/8") };
`;
const PATH = '/access/v1/evaluation';

const live = new LivePolicySet(buildPolicySet([{ file: 'lane.gavel', text: POLICIES }]).set!);
let dir: string;
let store: SqliteStore;
let log: DecisionLog;
let app: FastifyInstance;
let base: string;
/** Requests fastify's route saw (inject's included): the lane's answers are not among them. */
let routed = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(os.tmpdir(), 'gavel-lane-'));
  store = new SqliteStore(join(dir, 'gavel.db'));
  log = new DecisionLog(store, { flushMs: 5 });
  app = buildApp({ policies: live, log, store });
  app.addHook('onRequest', (_request, _reply, done) => {
    routed++;
    done();
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
});

afterAll(async () => {
  await app.close();
  log.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One request over a real socket; without `length`, the body is sent chunked. */
function overSocket(body: string | Buffer, headers: Record<string, string>, options: { path?: string; length?: boolean } = {}): Promise<Answer> {
  const payload = typeof body === 'string' ? Buffer.from(body) : body;
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${options.path ?? PATH}`, { method: 'POST', headers: { ...headers, ...(options.length === false ? {} : { 'content-length': String(payload.length) }) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
    });
    req.on('error', reject);
    if (options.length === false) req.write(payload.subarray(0, 1));
    req.end(options.length === false ? payload.subarray(1) : payload);
  });
}

async function throughRoute(body: string | Buffer, headers: Record<string, string>, path = PATH): Promise<Answer> {
  const r = await app.inject({ method: 'POST', url: path, payload: body, headers });
  return { status: r.statusCode, body: r.body, headers: r.headers as Answer['headers'] };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What the two must agree on: the status, the body as JSON, and the headers a caller reads (a request id made for the call is fresh each time). */
function comparable(a: Answer): unknown {
  const id = a.headers['x-request-id'];
  return { status: a.status, body: JSON.parse(a.body) as unknown, type: a.headers['content-type'], allow: a.headers.allow, requestId: typeof id === 'string' && UUID.test(id) ? 'a fresh UUID' : id };
}

const JSON_TYPE = { 'content-type': 'application/json', 'x-request-id': 'pep-1' };
const alice = { type: 'user', id: 'alice' };
const bob = { type: 'user', id: 'bob', properties: { role: 'admin' } };
const active = { type: 'record', id: 'r1', properties: { status: 'active' } };
const archived = { type: 'record', id: 'r2', properties: { status: 'archived' } };

function logged(requestId: string): number {
  log.flush();
  return store.decisionsByRequestId(requestId, 10).length;
}

describe('the fast lane answers a socket as the route answers', () => {
  const decided: [string, unknown][] = [
    ['an allow', { subject: alice, action: { name: 'read' }, resource: active }],
    ['a deny with its reason', { subject: bob, action: { name: 'write' }, resource: archived, context: { ip: '10.0.0.1' } }],
    ['a decision whose policy failed, and a token that did not verify', { subject: alice, action: { name: 'write' }, resource: active, context: { token: 'not.a.jwt' } }],
    ['a decision on the context', { subject: alice, action: { name: 'print' }, resource: active, context: { ip: '10.1.2.3' } }],
    ['unknown extra members, ignored', { subject: { ...alice, extra: 1 }, action: { name: 'read', x: [] }, resource: active, hello: 'world' }],
    // AuthZEN requests have four members; a `token` beside them is an unknown one, not Gavel's trusted root.
    ['a `token` member beside the four, ignored', { subject: alice, action: { name: 'read' }, resource: active, token: { sub: 'x' } }],
  ];
  test.each(decided)('%s', async (_what, body) => {
    const text = JSON.stringify(body);
    const before = routed;
    const socket = await overSocket(text, JSON_TYPE);
    // Decided by the lane: fastify never saw it.
    expect(routed).toBe(before);
    const route = await throughRoute(text, JSON_TYPE);
    expect(socket.status).toBe(200);
    expect(comparable(socket)).toEqual(comparable(route));
    expect(socket.headers['content-length']).toBe(String(Buffer.byteLength(socket.body)));
  });

  const refused: [string, string | Buffer, Record<string, string>][] = [
    ['malformed JSON, with where it broke', '{"subject": ', JSON_TYPE],
    ['an empty object', '{}', JSON_TYPE],
    ['a mistyped member', JSON.stringify({ subject: { type: 'user', id: 7 }, action: { name: 'read' }, resource: active }), JSON_TYPE],
    ['properties that are not an object', JSON.stringify({ subject: { ...alice, properties: [] }, action: { name: 'read' }, resource: active }), JSON_TYPE],
    ['a context that is a list', JSON.stringify({ subject: alice, action: { name: 'read' }, resource: active, context: [1] }), JSON_TYPE],
    ['a JSON array', '[]', JSON_TYPE],
    ['a __proto__ member', '{"subject": {"type": "user", "id": "a"}, "action": {"name": "read"}, "resource": {"type": "record", "id": "r"}, "__proto__": {"x": 1}}', JSON_TYPE],
    ['a byte order mark before the JSON', `\ufeff${JSON.stringify({ subject: alice, action: { name: 'read' }, resource: active })}`, JSON_TYPE],
    ['a context nested too deep', `{"subject": {"type": "user", "id": "a"}, "action": {"name": "read"}, "resource": {"type": "record", "id": "r"}, "context": {"a": ${'['.repeat(80)}${']'.repeat(80)}}}`, JSON_TYPE],
    ['a text/plain body', JSON.stringify({ subject: alice, action: { name: 'read' }, resource: active }), { 'content-type': 'text/plain' }],
  ];
  test.each(refused)('%s', async (_what, body, headers) => {
    const before = routed;
    const socket = await overSocket(body, headers);
    // Answered by the route (the lane decides nothing it refuses).
    expect(routed).toBe(before + 1);
    const route = await throughRoute(body, headers);
    expect(comparable(socket)).toEqual(comparable(route));
  });

  test('a body over the limit is 413, as the route says it', async () => {
    const body = JSON.stringify({ subject: alice, action: { name: 'read' }, resource: active, context: { pad: 'x'.repeat(1 << 20) } });
    const [socket, route] = [await overSocket(body, JSON_TYPE), await throughRoute(body, JSON_TYPE)];
    expect(socket.status).toBe(413);
    expect(comparable(socket)).toEqual(comparable(route));
  });

  test('requests the lane does not take reach the route: chunked, with a query string, with a charset', async () => {
    const body = JSON.stringify({ subject: alice, action: { name: 'read' }, resource: active });
    const expected = comparable(await throughRoute(body, JSON_TYPE));
    expect(comparable(await overSocket(body, JSON_TYPE, { length: false }))).toEqual(expected);
    expect(comparable(await overSocket(body, JSON_TYPE, { path: `${PATH}?trace=1` }))).toEqual(comparable(await throughRoute(body, JSON_TYPE, `${PATH}?trace=1`)));
    expect(comparable(await overSocket(body, { ...JSON_TYPE, 'content-type': 'application/json; charset=utf-8' }))).toEqual(expected);
  });

  test('a request id too long to log is echoed, and the log keeps a fresh one', async () => {
    const long = 'r'.repeat(300);
    const body = JSON.stringify({ subject: alice, action: { name: 'read' }, resource: active });
    const [socket, route] = [await overSocket(body, { ...JSON_TYPE, 'x-request-id': long }), await throughRoute(body, { ...JSON_TYPE, 'x-request-id': long })];
    expect(socket.headers['x-request-id']).toBe(long);
    expect(comparable(socket)).toEqual(comparable(route));
  });

  test('without an X-Request-ID the answer carries a fresh one, which the log keeps', async () => {
    const a = await overSocket(JSON.stringify({ subject: alice, action: { name: 'read' }, resource: active }), { 'content-type': 'application/json' });
    const id = a.headers['x-request-id'];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(logged(String(id))).toBe(1);
  });

  test('a decision is logged once, a refused body not at all', async () => {
    const body = JSON.stringify({ subject: alice, action: { name: 'read' }, resource: active });
    await overSocket(body, { 'content-type': 'application/json', 'x-request-id': 'lane-once' });
    await overSocket('{"subject": 1}', { 'content-type': 'application/json', 'x-request-id': 'lane-refused' });
    expect(logged('lane-once')).toBe(1);
    expect(logged('lane-refused')).toBe(0);
  });

  test('whatever JSON arrives, the socket and the route agree', async () => {
    const name = fc.oneof(fc.constantFrom('read', 'write', 'print'), fc.string({ maxLength: 4 }));
    const member = fc.oneof(fc.string({ maxLength: 4 }), fc.integer(), fc.constant(null), fc.constant([]), fc.constant({}));
    const entity = fc.oneof(
      fc.record({ type: fc.oneof(fc.constant('record'), member), id: fc.oneof(fc.constant('r1'), member), properties: fc.oneof(fc.constant({ status: 'active' }), member) }, { requiredKeys: [] }),
      member,
    );
    const body = fc.record({ subject: entity, action: fc.oneof(fc.record({ name: fc.oneof(name, member) }, { requiredKeys: [] }), member), resource: entity, context: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant({ ip: '10.0.0.1' })) }, { requiredKeys: [] });
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const text = JSON.stringify(b);
        const [socket, route] = [await overSocket(text, JSON_TYPE), await throughRoute(text, JSON_TYPE)];
        expect(comparable(socket)).toEqual(comparable(route));
      }),
      { numRuns: 150 },
    );
  });
});

describe('with client keys configured', () => {
  test('the lane steps aside: a call without a key is refused by the route, one with a key decided', async () => {
    const keyed = buildApp({ policies: live, clientKeys: new ClientKeys({ pep: 'client-key-0123456789abcdef' }) });
    await keyed.listen({ host: '127.0.0.1', port: 0 });
    const address = keyed.server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}${PATH}`;
    try {
      const body = JSON.stringify({ subject: alice, action: { name: 'read' }, resource: active });
      const without = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      expect(without.status).toBe(401);
      const withKey = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-gavel-client-key': 'client-key-0123456789abcdef' } });
      expect(withKey.status).toBe(200);
      expect(((await withKey.json()) as { decision: boolean }).decision).toBe(true);
    } finally {
      await keyed.close();
    }
  });
});

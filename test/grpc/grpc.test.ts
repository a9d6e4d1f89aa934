import { connect as connectHttp2 } from 'node:http2';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { create, fromBinary, toBinary, type DescMessage, type DescService, type MessageInitShape, type MessageShape, type JsonObject } from '@bufbuild/protobuf';
import { credentials, makeGenericClientConstructor, Metadata, ServerCredentials, status, type Client, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { createHash, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildPolicySet } from '../../src/index.js';
import { LivePolicySet } from '../../src/engine/live-set.js';
import { AttributeContext_HttpRequestSchema, Authorization, CheckRequestSchema, CheckResponseSchema } from '../../src/gen/proto/envoy/service/auth/v3/external_auth_pb.js';
import { DecideBatchRequestSchema, DecideRequestSchema, DecisionService } from '../../src/gen/proto/gavel/v1/decision_pb.js';
import { Health as HealthService, HealthCheckRequestSchema, HealthCheckResponse_ServingStatus } from '../../src/gen/proto/grpc/health/v1/health_pb.js';
import { Health } from '../../src/grpc/health.js';
import { buildGrpcServer } from '../../src/grpc/server.js';
import { serviceDefinition } from '../../src/grpc/service-definition.js';
import { Decider } from '../../src/server/decider.js';
import { Metrics } from '../../src/server/metrics.js';
import { ClientKeys } from '../../src/server/keys.js';
import { ReplayCache } from '../../src/tokens/dpop.js';
import { createTokenVerifier } from '../../src/tokens/verify-token.js';
import { DecisionLog } from '../../src/engine/decision-log.js';
import { batchText } from '../../src/store/decision-summary.js';
import type { DecisionBatch, DecisionRecord } from '../../src/store/store.js';
import { TrustedProxies } from '../../src/signals/client-address.js';
import type { Server } from '@grpc/grpc-js';
import { ServerLog } from '../../src/server/server-log.js';

const ISSUER = 'https://issuer.test';
const POLICIES = `
@id("read") permit (action == "read", resource.type == "doc") when { subject.role == "reader" };
@id("hello") permit (action == "GET", resource.path like "/hello/**") when { token.scope contains "hello:read" };
@id("from") permit (action == "GET", resource.path == "/from") when { context.ip == "198.51.100.9" };
@id("peek") permit (action == "peek", resource.type == "note") when { token.scope contains "doc:peek" };
@id("mesh") permit (action == "GET", resource.path == "/mesh") when { context has envoy && context.envoy has source && context.envoy.source has principal && context.envoy.source.principal == "spiffe://cluster.local/ns/shop/sa/frontend" && context.envoy.context_extensions.tier == "internal" };
${Array.from({ length: 60 }, (_, i) => `@id("audit-${i}") permit (action == "audit", resource.type == "ledger") when { subject.department == "d${i}" };`).join('\n')}
`;

let server: Server;
let address = '';
/** What the server's decision log was handed. */
const logged: DecisionBatch[] = [];
let log: DecisionLog;
let metrics: Metrics;
let sign: (claims: Record<string, unknown>) => Promise<string>;
const clients: Client[] = [];

beforeAll(async () => {
  const keys = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'k1' };
  sign = (claims) => new SignJWT({ iss: ISSUER, aud: 'envoy', sub: 'alice', exp: Math.floor(Date.now() / 1000) + 300, ...claims }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(keys.privateKey);
  const policies = new LivePolicySet(buildPolicySet([{ file: 'g.gavel', text: POLICIES }]).set!);
  log = new DecisionLog({ appendBatch: (b) => void logged.push(b) }, { flushMs: 60_000 });
  server = buildGrpcServer({
    policies,
    decider: new Decider((metrics = new Metrics(policies)), log, null),
    gateway: { verifyToken: createTokenVerifier([{ issuer: ISSUER, audiences: ['envoy'], algorithms: ['ES256'], jwks: { keys: [jwk] } }]), headers: [], responseHeaders: { 'x-gavel-subject': 'sub' }, replay: new ReplayCache() },
    health: new Health(() => true),
    // Envoy, which calls from loopback: its CheckRequest's `source` is believed.
    proxies: new TrustedProxies(['127.0.0.1/32']),
    // The load balancer in front of Envoy.
    envoyProxies: new TrustedProxies(['10.0.0.0/8']),
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  address = `127.0.0.1:${port}`;
});

afterAll(async () => {
  for (const c of clients) c.close();
  await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
});

/** The records logged since the last call. */
function records(): DecisionRecord[] {
  log.flush();
  return logged.splice(0).flatMap((b) => JSON.parse(batchText(b)) as DecisionRecord[]);
}

/** A real grpc-js client calling one unary method, over a real socket. */
function call<I extends DescMessage, O extends DescMessage>(
  service: DescService,
  method: string,
  input: I,
  message: MessageInitShape<I>,
  options: { at?: string; metadata?: Record<string, string>; deadlineMs?: number } = {},
): Promise<MessageShape<O>> {
  const Ctor = makeGenericClientConstructor(serviceDefinition(service), service.typeName);
  type Method = (req: unknown, metadata: Metadata, options: { deadline?: number }, cb: (err: ServiceError | null, res: MessageShape<O>) => void) => void;
  const client = new Ctor(options.at ?? address, credentials.createInsecure()) as unknown as Client & Record<string, Method>;
  clients.push(client);
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(options.metadata ?? {})) metadata.set(k, v);
  const callOptions = options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs };
  return new Promise((resolve, reject) => client[method](create(input, message), metadata, callOptions, (err, res) => (err ? reject(err) : resolve(res))));
}

/** The response metadata of one unary call, with its answer. */
function callWithMetadata<I extends DescMessage>(service: DescService, method: string, input: I, message: MessageInitShape<I>, metadata: Record<string, string> = {}): Promise<{ metadata: Metadata; answer: unknown }> {
  const Ctor = makeGenericClientConstructor(serviceDefinition(service), service.typeName);
  type Method = (req: unknown, metadata: Metadata, cb: (err: ServiceError | null, res: unknown) => void) => { on(event: 'metadata', listener: (m: Metadata) => void): void };
  const client = new Ctor(address, credentials.createInsecure()) as unknown as Client & Record<string, Method>;
  clients.push(client);
  const sent = new Metadata();
  for (const [k, v] of Object.entries(metadata)) sent.set(k, v);
  return new Promise((resolve, reject) => {
    let received = new Metadata();
    const c = client[method](create(input, message), sent, (err, answer) => (err ? reject(err) : resolve({ metadata: received, answer })));
    c.on('metadata', (m) => (received = m));
  });
}

const reader = { type: 'user', id: 'alice', properties: { role: 'reader' } };

describe('gavel.v1.DecisionService', () => {
  test('Decide answers the engine decision', async () => {
    const d = await call(DecisionService, 'decide', DecideRequestSchema, { subject: reader, action: { name: 'read' }, resource: { type: 'doc', id: '1' }, explain: true });
    expect(d).toMatchObject({ decision: true, determining: ['read'], reasons: [] });
    expect((d as { explanation?: { candidates: number } }).explanation?.candidates).toBe(1);
  });

  test('DecideBatch decides every request', async () => {
    const r = await call(DecisionService, 'decideBatch', DecideBatchRequestSchema, {
      requests: [
        { subject: reader, action: { name: 'read' }, resource: { type: 'doc', id: '1' } },
        { subject: { type: 'user', id: 'bob' }, action: { name: 'read' }, resource: { type: 'doc', id: '1' } },
      ],
    });
    expect((r as unknown as { decisions: { decision: boolean }[] }).decisions.map((d) => d.decision)).toEqual([true, false]);
  });

  test("an end user's token in context.token is verified and becomes the token root; the raw token is neither seen by policies nor logged", async () => {
    const token = await sign({ scope: 'doc:peek', jti: 'grpc-1' });
    const peek = { subject: reader, action: { name: 'peek' }, resource: { type: 'note', id: '1' } };
    records();
    expect(await call(DecisionService, 'decide', DecideRequestSchema, { ...peek, context: { token, channel: 'app' } })).toMatchObject({ decision: true, determining: ['peek'], tokenError: '' });
    const [record] = records();
    expect(record?.request).toMatchObject({ context: { channel: 'app' }, token: { sub: 'alice', jti: 'grpc-1', scope: 'doc:peek' } });
    expect(JSON.stringify(record)).not.toContain(token);
    // A token that does not verify gives no token root, and the answer says why.
    const expired = await sign({ scope: 'doc:peek', exp: Math.floor(Date.now() / 1000) - 3600 });
    expect(await call(DecisionService, 'decide', DecideRequestSchema, { ...peek, context: { token: expired } })).toMatchObject({ decision: false, tokenError: 'token expired' });
    const batch = (await call(DecisionService, 'decideBatch', DecideBatchRequestSchema, { requests: [{ ...peek, context: { token } }, { ...peek, context: { token: 'not-a-jwt' } }] })) as unknown as { decisions: { decision: boolean; tokenError: string }[] };
    expect(batch.decisions.map((d) => [d.decision, d.tokenError])).toEqual([[true, ''], [false, 'token is not a JWT: its header and payload must be base64url-encoded JSON']]);
    expect(JSON.stringify(records())).not.toContain(token);
  });

  test('a context nested as deep as HTTP allows is decided; deeper is INVALID_ARGUMENT saying so, never INTERNAL', async () => {
    const nest = (levels: number): JsonObject => {
      let v: unknown = 'leaf';
      for (let i = 0; i < levels; i++) v = { a: v };
      return v as JsonObject;
    };
    const ask = (levels: number) => call(DecisionService, 'decide', DecideRequestSchema, { subject: reader, action: { name: 'read' }, resource: { type: 'doc', id: '1' }, context: nest(levels) });
    expect(await ask(60)).toMatchObject({ decision: true });
    await expect(ask(70)).rejects.toMatchObject({ code: 3, details: expect.stringContaining('nested deeper than 64 levels') });
    await expect(ask(150)).rejects.toMatchObject({ code: 3, details: expect.stringMatching(/^the request is not a valid gavel\.v1\.DecideRequest message: /) });
  });

  test('a number JSON cannot hold (a Struct may carry NaN or Infinity) is INVALID_ARGUMENT saying where, not decided and logged as null', async () => {
    for (const [n, shown] of [[Number.NaN, 'NaN'], [Number.POSITIVE_INFINITY, 'Infinity']] as const) {
      const asked = call(DecisionService, 'decide', DecideRequestSchema, { subject: reader, action: { name: 'read' }, resource: { type: 'doc', id: '1' }, context: { limits: [{ n }] } as unknown as JsonObject });
      await expect(asked).rejects.toMatchObject({ code: 3, details: `context.limits[0].n: ${shown} is not a number JSON can hold (a finite one)` });
    }
  });

  test('a member named __proto__ is INVALID_ARGUMENT, as over HTTP (with a token beside it, it emptied the context a forbid read)', async () => {
    const context = JSON.parse('{"__proto__": {}, "blocked": true, "token": "x"}') as JsonObject;
    await expect(call(DecisionService, 'decide', DecideRequestSchema, { subject: reader, action: { name: 'read' }, resource: { type: 'doc', id: '1' }, context })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: 'context: has a member named `__proto__`, which is not accepted',
    });
    const properties = JSON.parse('{"role": "reader", "tags": [{"__proto__": {"role": "admin"}}]}') as JsonObject;
    await expect(call(DecisionService, 'decide', DecideRequestSchema, { subject: { ...reader, properties }, action: { name: 'read' }, resource: { type: 'doc', id: '1' } })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: 'subject.properties.tags[0]: has a member named `__proto__`, which is not accepted',
    });
  });

  test('a refused call is answered with its request id too', async () => {
    const refused = callWithMetadata(DecisionService, 'decide', DecideRequestSchema, { subject: { type: 'user' }, action: { name: 'read' }, resource: { type: 'doc', id: '1' } }, { 'x-request-id': 'trace-refused' });
    const metadata = await refused.then(
      () => new Metadata(),
      (err: ServiceError) => (expect(err.code).toBe(status.INVALID_ARGUMENT), err.metadata),
    );
    expect(metadata.get('x-request-id')).toEqual(['trace-refused']);
  });

  test('a batch whose deadline passes while its tokens are checked is not decided, counted or logged', async () => {
    records();
    // Distinct tokens, each verified anew: checking them takes longer than the caller waits.
    const tokens = await Promise.all(Array.from({ length: 1000 }, (_, i) => sign({ scope: 'doc:peek', jti: `late-${i}` })));
    const requests = tokens.map((token) => ({ subject: reader, action: { name: 'peek' }, resource: { type: 'note', id: '1' }, context: { token } }));
    const answered = await call(DecisionService, 'decideBatch', DecideBatchRequestSchema, { requests }, { deadlineMs: 40 }).then(
      () => true,
      (err: { code: number }) => (expect(err.code).toBe(4), false),
    );
    // Let the server finish what it started.
    await new Promise((r) => setTimeout(r, 1_500));
    // Decisions are logged for an answered batch only; a machine fast enough to answer in time logs them all.
    expect(records().filter((r) => r.via === 'grpc_batch')).toHaveLength(answered ? 1000 : 0);
  }, 30_000);

  test("the caller's x-request-id metadata is the logged request id and is sent back; without one, the id made for the call is", async () => {
    records();
    const read = { subject: reader, action: { name: 'read' }, resource: { type: 'doc', id: '1' } };
    const given = await callWithMetadata(DecisionService, 'decide', DecideRequestSchema, read, { 'x-request-id': 'trace-42' });
    expect(given.metadata.get('x-request-id')).toEqual(['trace-42']);
    const made = await callWithMetadata(DecisionService, 'decide', DecideRequestSchema, read);
    const [id] = made.metadata.get('x-request-id') as string[];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const batch = await callWithMetadata(DecisionService, 'decideBatch', DecideBatchRequestSchema, { requests: [read, read] }, { 'x-request-id': 'trace-43' });
    expect(batch.metadata.get('x-request-id')).toEqual(['trace-43']);
    expect(records().map((r) => r.request_id)).toEqual(['trace-42', id, 'trace-43#0', 'trace-43#1']);
  });

  test('a batch whose answer would be larger than gRPC clients receive by default is RESOURCE_EXHAUSTED, and none of it is counted or logged', async () => {
    records();
    // Sixty policies in error per decision, explained: about 13 MB for a thousand requests.
    const audit = { subject: reader, action: { name: 'audit' }, resource: { type: 'ledger', id: '1' }, explain: true };
    const decided = async () => Number(/^gavel_decisions_total\{interface="grpc_batch",decision="deny"\} (\d+)/m.exec(await metrics.registry.metrics())?.[1] ?? 0);
    const before = await decided();
    await expect(call(DecisionService, 'decideBatch', DecideBatchRequestSchema, { requests: Array.from({ length: 1000 }, () => audit) })).rejects.toMatchObject({
      code: status.RESOURCE_EXHAUSTED,
      details: expect.stringMatching(/^the answer would be \d+\.\d MiB, more than the 4\.0 MiB gRPC clients receive by default; send fewer requests per batch, or without explain$/),
    });
    expect(records()).toEqual([]);
    expect(await decided()).toBe(before);
    // The same requests in a batch that fits are answered, counted and logged.
    const fits = (await call(DecisionService, 'decideBatch', DecideBatchRequestSchema, { requests: Array.from({ length: 100 }, () => audit) })) as unknown as { decisions: { errors: unknown[] }[] };
    expect(fits.decisions).toHaveLength(100);
    expect(fits.decisions[0].errors).toHaveLength(60);
    expect(records()).toHaveLength(100);
    expect(await decided()).toBe(before + 100);
  });

  test('a request without a subject id is INVALID_ARGUMENT with the field named, and counted', async () => {
    await expect(call(DecisionService, 'decide', DecideRequestSchema, { subject: { type: 'user' }, action: { name: 'read' }, resource: { type: 'doc', id: '1' } })).rejects.toMatchObject({
      code: 3,
      details: 'missing subject.id',
    });
    expect(await metrics.registry.metrics()).toMatch(/^gavel_grpc_errors_total\{method="\/gavel\.v1\.DecisionService\/Decide",code="3"\} [1-9]/m);
  });
});

describe('envoy.service.auth.v3.Authorization/Check', () => {
  type Answer = { status?: { code: number }; httpResponse: { case: string; value: { status?: { code: number }; headers: { header?: { key: string; value: string } }[]; body?: string } } };
  const ask = (message: MessageInitShape<typeof CheckRequestSchema>, metadata?: Record<string, string>, at?: string) =>
    call(Authorization, 'check', CheckRequestSchema, message, { ...(metadata ? { metadata } : {}), ...(at ? { at } : {}) }) as unknown as Promise<Answer>;
  const from = (address: string) => ({ address: { address: { case: 'socketAddress' as const, value: { address, portSpecifier: { case: 'portValue' as const, value: 50000 } } } } });

  test('a CheckRequest that cannot be decoded (a header value that is not UTF-8) is a 400 denial, never a gRPC error failure_mode_allow would pass', async () => {
    const valid = toBinary(CheckRequestSchema, create(CheckRequestSchema, { attributes: { request: { http: { method: 'GET', path: '/x', host: 'h', headers: { 'x-odd': 'QQQQ' } } } } }));
    const bytes = Buffer.from(valid);
    const at = bytes.indexOf('QQQQ');
    bytes.set([0xff, 0xfe, 0xff, 0xfe], at);
    const Raw = makeGenericClientConstructor({ check: { path: '/envoy.service.auth.v3.Authorization/Check', requestStream: false, responseStream: false, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b } }, 'Raw');
    const client = new Raw(address, credentials.createInsecure()) as unknown as Client & { check: (req: Buffer, cb: (err: ServiceError | null, res: Buffer) => void) => void };
    clients.push(client);
    const answer = await new Promise<Buffer>((resolve, reject) => client.check(bytes, (err, res) => (err ? reject(err) : resolve(res))));
    const decoded = fromBinary(CheckResponseSchema, answer) as unknown as Answer;
    expect(decoded.status?.code).toBe(3);
    expect(decoded.httpResponse).toMatchObject({ case: 'deniedResponse', value: { status: { code: 400 }, body: expect.stringMatching(/^the check request could not be read: /) } });
  });
  test("a request body Envoy sends (with_request_body) is not read: a binary one is decided like any request, not refused as a bad message", async () => {
    // Envoy's `body` (HttpRequest field 11) holds the raw bytes, whatever their encoding.
    const lengthDelimited = (field: number, bytes: Uint8Array): Buffer => {
      const length: number[] = [];
      for (let n = bytes.length; ; n >>>= 7) {
        if (n < 0x80) { length.push(n); break; }
        length.push((n & 0x7f) | 0x80);
      }
      return Buffer.concat([Buffer.from([(field << 3) | 2, ...length]), bytes]);
    };
    const http = toBinary(AttributeContext_HttpRequestSchema, create(AttributeContext_HttpRequestSchema, { method: 'GET', path: '/hello/world', host: 'api.test', scheme: 'https', headers: { authorization: `Bearer ${await sign({ scope: 'hello:read' })}` } }));
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xff, 0xfe, 0xc3]);
    const withBody = Buffer.concat([http, lengthDelimited(11, png)]);
    const bytes = lengthDelimited(1, lengthDelimited(4, lengthDelimited(2, withBody)));
    const Raw = makeGenericClientConstructor({ check: { path: '/envoy.service.auth.v3.Authorization/Check', requestStream: false, responseStream: false, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b } }, 'Raw');
    const client = new Raw(address, credentials.createInsecure()) as unknown as Client & { check: (req: Buffer, cb: (err: ServiceError | null, res: Buffer) => void) => void };
    clients.push(client);
    const answer = await new Promise<Buffer>((resolve, reject) => client.check(bytes, (err, res) => (err ? reject(err) : resolve(res))));
    const decoded = fromBinary(CheckResponseSchema, answer) as unknown as Answer;
    expect([decoded.status?.code ?? 0, decoded.httpResponse.case]).toEqual([0, 'okResponse']);
  });

  const check = (headers: Record<string, string>, method = 'GET', path = '/hello/world?x=1', source = '203.0.113.7') =>
    ask({ attributes: { source: from(source), request: { http: { id: '17', method, path, host: 'api.test', scheme: 'https', headers } } } });

  test('OK with the subject header for the upstream', async () => {
    const r = await check({ authorization: `Bearer ${await sign({ scope: 'hello:read' })}`, 'x-gavel-subject': 'spoofed' });
    expect(r.status?.code).toBe(0);
    expect(r.httpResponse.case).toBe('okResponse');
    expect(r.httpResponse.value.headers.map((h) => [h.header?.key, h.header?.value])).toEqual([['x-gavel-subject', 'alice']]);
  });

  test('UNAUTHENTICATED with a 401 and a Bearer challenge when there is no token', async () => {
    const r = await check({});
    expect(r.status?.code).toBe(16);
    expect(r.httpResponse.case).toBe('deniedResponse');
    expect(r.httpResponse.value.status?.code).toBe(401);
    expect(r.httpResponse.value.headers[0].header).toMatchObject({ key: 'www-authenticate', value: 'Bearer realm="gavel"' });
  });

  test('decides on the path the upstream will serve; a path servers resolve differently is a 400 denial, not a decision', async () => {
    const token = `Bearer ${await sign({ scope: 'hello:read' })}`;
    expect((await check({ authorization: token }, 'GET', '/elsewhere/../hello/x')).status?.code).toBe(0);
    expect((await check({ authorization: token }, 'GET', '/hello/%2e%2e/elsewhere')).httpResponse.value.status?.code).toBe(403);
    const ambiguous = await check({ authorization: token }, 'GET', '/hello/..;/elsewhere');
    expect(ambiguous.status?.code).toBe(7);
    expect(ambiguous.httpResponse.value).toMatchObject({ status: { code: 400 }, body: expect.stringContaining('reduce to a dot segment') });
  });

  test('PERMISSION_DENIED with a 403 and the reason for a verified caller the policies deny', async () => {
    const r = await check({ authorization: `Bearer ${await sign({ scope: 'hello:read' })}` }, 'DELETE');
    expect(r.status?.code).toBe(7);
    expect(r.httpResponse.value).toMatchObject({ status: { code: 403 }, body: 'denied by policy' });
  });
  test("behind a trusted load balancer, the client address is the one it forwarded; otherwise Envoy's source", async () => {
    records();
    // Envoy reports the connection it accepted: here the load balancer, 10.0.0.5.
    expect((await check({ 'x-forwarded-for': '198.51.100.9, 10.0.0.5' }, 'GET', '/from', '10.0.0.5')).status?.code).toBe(0);
    // From an untrusted source the header is the client's own word: not believed.
    const spoofed = await check({ 'x-forwarded-for': '198.51.100.9' }, 'GET', '/from', '203.0.113.7');
    expect(spoofed.status?.code).toBe(16);
    expect(records().map((r) => (r.request as { context: { ip: string } }).context.ip)).toEqual(['198.51.100.9', '203.0.113.7']);
  });

  test('a DPoP proof names the URL the client used: behind a trusted balancer that ends TLS, its X-Forwarded-Proto', async () => {
    const key = await generateKeyPair('ES256');
    const jwk = await exportJWK(key.publicKey);
    const token = await sign({ scope: 'hello:read', cnf: { jkt: await calculateJwkThumbprint(jwk) } });
    const ath = createHash('sha256').update(token).digest('base64url');
    const proof = (htu: string) => new SignJWT({ htm: 'GET', htu, jti: randomUUID(), iat: Math.floor(Date.now() / 1000), ath }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk }).sign(key.privateKey);
    // Envoy listens in plain http behind the balancer (10.0.0.5), which says the client used https.
    const withProof = async (source: string, htu: string) => {
      const r = await ask({
        attributes: { source: from(source), request: { http: { method: 'GET', path: '/hello/x', host: 'api.test', scheme: 'http', headers: { authorization: `DPoP ${token}`, dpop: await proof(htu), 'x-forwarded-proto': 'https' } } } },
      });
      return r.status?.code;
    };
    expect(await withProof('10.0.0.5', 'https://api.test/hello/x')).toBe(0);
    // From a source not in envoy_trusted_proxies the header is the client's word: Envoy's scheme counts.
    expect(await withProof('203.0.113.7', 'https://api.test/hello/x')).toBe(16);
    expect(await withProof('203.0.113.7', 'http://api.test/hello/x')).toBe(0);
    records();
  });

  test('headers sent as header_map (encode_raw_headers: true) are read like headers, repeated keys joined', async () => {
    const raw = (key: string, value: string) => ({ key, rawValue: new TextEncoder().encode(value) });
    const token = await sign({ scope: 'hello:read' });
    const r = await ask({
      attributes: { source: from('203.0.113.7'), request: { http: { method: 'GET', path: '/hello/x', host: 'api.test', headerMap: { headers: [raw('authorization', `Bearer ${token}`), raw('x-gavel-subject', 'spoofed')] } } } },
    });
    expect(r.status?.code).toBe(0);
    expect(r.httpResponse.value.headers.map((h) => [h.header?.key, h.header?.value])).toEqual([['x-gavel-subject', 'alice']]);
    // Two X-Forwarded-For lines read as one list: the client behind the trusted balancer.
    const forwarded = await ask({
      attributes: { source: from('10.0.0.5'), request: { http: { method: 'GET', path: '/from', host: 'api.test', headerMap: { headers: [raw('x-forwarded-for', '198.51.100.9'), raw('X-Forwarded-For', '10.0.0.5')] } } } },
    });
    expect(forwarded.status?.code).toBe(0);
    // A raw value that is not UTF-8 (Latin-1 é) is decided with the bad byte replaced, as Envoy
    // sanitises it into `headers` without encode_raw_headers: not a 400 for a request HTTP allows.
    records();
    const odd = await ask({
      attributes: { source: from('203.0.113.7'), request: { http: { method: 'GET', path: '/hello/x', host: 'api.test', headerMap: { headers: [raw('authorization', `Bearer ${token}`), { key: 'x-request-id', rawValue: new Uint8Array([0x72, 0x69, 0x64, 0xe9]) }] } } } },
    });
    expect(odd.status?.code).toBe(0);
    // Its request id, no longer printable ASCII once read, is logged under a generated one (api.md).
    expect(records().map((r) => r.request_id)).toEqual([expect.stringMatching(/^[0-9a-f-]{36}$/)]);
    // A value starting with a byte-order mark keeps it, as the upstream gets it: not a Bearer token.
    const bom = await ask({
      attributes: { source: from('203.0.113.7'), request: { http: { method: 'GET', path: '/hello/x', host: 'api.test', headerMap: { headers: [{ key: 'authorization', rawValue: new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(`Bearer ${token}`)]) }] } } } },
    });
    expect(bom.status?.code).toBe(16);
    records();
  });

  test("the decision is logged under Envoy's X-Request-ID (what its access log shows), not its stream id", async () => {
    await check({ 'x-request-id': 'f3c1e6d2-envoy' });
    await check({});
    expect(records().map((r) => r.request_id)).toEqual(['f3c1e6d2-envoy', '17']);
  });

  test('policies see the route as Envoy saw it: path, query, host and the scheme the client used', async () => {
    await check({}, 'GET', '/hello/world?x=1');
    const [record] = records();
    expect((record?.request as { resource: unknown }).resource).toEqual({ type: 'route', id: '/hello/world', properties: { path: '/hello/world', host: 'api.test', query: 'x=1', params: { x: ['1'] }, scheme: 'https' } });
  });

  test("policies see what Envoy says besides the request: the route's context_extensions, the peers' mTLS principals, services and labels, the SNI", async () => {
    records();
    const mesh = (principal: string, tier = 'internal') =>
      ask({
        attributes: {
          source: { ...from('203.0.113.7'), principal, labels: { app: 'frontend' } },
          destination: { principal: 'spiffe://cluster.local/ns/shop/sa/orders', service: 'orders.shop.svc' },
          contextExtensions: { tier },
          tlsSession: { sni: 'orders.shop.example' },
          request: { http: { id: '18', method: 'GET', path: '/mesh', host: 'orders.shop.example', scheme: 'https', headers: {} } },
        },
      });
    expect((await mesh('spiffe://cluster.local/ns/shop/sa/frontend')).status?.code).toBe(0);
    const [record] = records();
    expect((record?.request as { context: { envoy: unknown } }).context.envoy).toEqual({
      context_extensions: { tier: 'internal' },
      source: { principal: 'spiffe://cluster.local/ns/shop/sa/frontend', labels: { app: 'frontend' } },
      destination: { principal: 'spiffe://cluster.local/ns/shop/sa/orders', service: 'orders.shop.svc' },
      tls_session: { sni: 'orders.shop.example' },
    });
    // Another workload, or a route without the setting: no permit (no token either, so the answer asks for one).
    expect((await mesh('spiffe://cluster.local/ns/shop/sa/intruder')).status?.code).toBe(16);
    expect((await mesh('spiffe://cluster.local/ns/shop/sa/frontend', 'public')).status?.code).toBe(16);
    // Without any of it (no mTLS, no settings) the member is absent, and a policy guarding it with `has` does not match.
    expect((await check({}, 'GET', '/mesh')).status?.code).toBe(16);
    expect(records().map((r) => (r.request as { context: Record<string, unknown> }).context.envoy)).toEqual([expect.anything(), expect.anything(), undefined]);
  });

  test('a check request without HTTP attributes (the network filter) is denied without a decision', async () => {
    const r = await ask({ attributes: { source: from('203.0.113.7') } });
    expect(r.status?.code).toBe(7);
    expect(r.httpResponse.value).toMatchObject({ status: { code: 403 }, body: 'the check request has no HTTP request attributes' });
    expect(records()).toEqual([]);
  });
});

describe('grpc.health.v1.Health', () => {
  test('SERVING for the server and each service; NOT_FOUND for others', async () => {
    expect(await call(HealthService, 'check', HealthCheckRequestSchema, { service: '' })).toMatchObject({ status: HealthCheckResponse_ServingStatus.SERVING });
    expect(await call(HealthService, 'check', HealthCheckRequestSchema, { service: 'gavel.v1.DecisionService' })).toMatchObject({ status: HealthCheckResponse_ServingStatus.SERVING });
    await expect(call(HealthService, 'check', HealthCheckRequestSchema, { service: 'nope' })).rejects.toMatchObject({ code: 5 });
  });

  describe('Watch', () => {
    let ready = true;
    let health: Health;
    let watched: Server;
    let at = '';
    beforeAll(async () => {
      const policies = new LivePolicySet(buildPolicySet([{ file: 'g.gavel', text: POLICIES }]).set!);
      health = new Health(() => ready);
      watched = buildGrpcServer({ policies, decider: new Decider(new Metrics(policies), null, null), gateway: { verifyToken: createTokenVerifier([]), headers: [], responseHeaders: {}, replay: new ReplayCache() }, health });
      const bound = await new Promise<number>((resolve, reject) => watched.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
      at = `127.0.0.1:${bound}`;
    });
    afterAll(() => new Promise<void>((resolve) => watched.tryShutdown(() => resolve())));

    /** A real grpc-js client's Watch stream: the statuses received so far, and how the stream ended. */
    function watch(service: string): { statuses: number[]; ended: Promise<{ code: number }>; cancel: () => void } {
      const Ctor = makeGenericClientConstructor(serviceDefinition(HealthService), HealthService.typeName);
      const client = new Ctor(at, credentials.createInsecure()) as unknown as Client & Record<string, (req: unknown) => ClientReadableStream<{ status: number }>>;
      clients.push(client);
      const stream = client.watch!(create(HealthCheckRequestSchema, { service }));
      const statuses: number[] = [];
      stream.on('data', (m: { status: number }) => statuses.push(m.status));
      const ended = new Promise<{ code: number }>((resolve) => {
        stream.on('status', (s: { code: number }) => resolve(s));
        stream.on('error', () => undefined);
      });
      return { statuses, ended, cancel: () => stream.cancel() };
    }

    const until = async (what: () => boolean, ms = 4_000): Promise<void> => {
      for (let waited = 0; !what() && waited < ms; waited += 20) await new Promise((r) => setTimeout(r, 20));
    };

    test('sends the status at once and again when it changes; a service not served is SERVICE_UNKNOWN and the stream stays open', async () => {
      const { SERVING, NOT_SERVING, SERVICE_UNKNOWN } = HealthCheckResponse_ServingStatus;
      const whole = watch('');
      const unknown = watch('nope');
      await until(() => whole.statuses.length > 0 && unknown.statuses.length > 0);
      expect(whole.statuses).toEqual([SERVING]);
      expect(unknown.statuses).toEqual([SERVICE_UNKNOWN]);
      ready = false;
      await until(() => whole.statuses.length > 1);
      // A Check in between sees the change too, and the watch is still told.
      expect(await call(HealthService, 'check', HealthCheckRequestSchema, { service: '' }, { at })).toMatchObject({ status: NOT_SERVING });
      ready = true;
      await until(() => whole.statuses.length > 2);
      expect(whole.statuses).toEqual([SERVING, NOT_SERVING, SERVING]);
      expect(unknown.statuses).toEqual([SERVICE_UNKNOWN]);
      whole.cancel();
      unknown.cancel();
      expect((await whole.ended).code).toBe(status.CANCELLED);
    });

    test('when the server stops, watchers hear NOT_SERVING and their streams end, so the stop does not wait on them', async () => {
      const { SERVING, NOT_SERVING } = HealthCheckResponse_ServingStatus;
      const w = watch('envoy.service.auth.v3.Authorization');
      await until(() => w.statuses.length > 0);
      health.stop();
      expect(await w.ended).toMatchObject({ code: status.OK });
      expect(w.statuses).toEqual([SERVING, NOT_SERVING]);
      // After the stop: Check says NOT_SERVING, a new watch hears it and ends.
      expect(await call(HealthService, 'check', HealthCheckRequestSchema, { service: '' }, { at })).toMatchObject({ status: NOT_SERVING });
      const late = watch('');
      expect(await late.ended).toMatchObject({ code: status.OK });
      expect(late.statuses).toEqual([NOT_SERVING]);
    });
  });
});

describe('what a caller may hold open', () => {
  let bounded: Server;
  let port = 0;
  beforeAll(async () => {
    const policies = new LivePolicySet(buildPolicySet([{ file: 'g.gavel', text: POLICIES }]).set!);
    bounded = buildGrpcServer({ policies, decider: new Decider(new Metrics(policies), null, null), gateway: { verifyToken: createTokenVerifier([]), headers: [], responseHeaders: {}, replay: new ReplayCache() }, health: new Health(() => true), receiveTimeoutMs: 300 });
    port = await new Promise<number>((resolve, reject) => bounded.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  });
  afterAll(() => new Promise<void>((resolve) => bounded.tryShutdown(() => resolve())));

  test('a call whose message never finishes arriving ends with DEADLINE_EXCEEDED; a connection carries at most 1,000 calls at once', async () => {
    const session = connectHttp2(`http://127.0.0.1:${port}`);
    try {
      await new Promise<void>((resolve) => session.once('remoteSettings', () => resolve()));
      expect(session.remoteSettings.maxConcurrentStreams).toBe(1_000);
      const stream = session.request({ ':method': 'POST', ':path': '/gavel.v1.DecisionService/Decide', 'content-type': 'application/grpc', te: 'trailers' });
      // A gRPC frame announcing 1,000 bytes, and 10 of them: the rest never comes.
      const frame = Buffer.alloc(5 + 10);
      frame.writeUInt32BE(1_000, 1);
      stream.write(frame);
      const trailers = await new Promise<Record<string, unknown>>((resolve) => {
        stream.on('trailers', (t) => resolve(t));
        stream.on('response', (h) => {
          if (h['grpc-status'] !== undefined) resolve(h);
        });
      });
      expect(trailers['grpc-status']).toBe(String(status.DEADLINE_EXCEEDED));
      expect(decodeURIComponent(String(trailers['grpc-message']))).toBe('the request was not received within 0.3 s');
    } finally {
      session.destroy();
    }
  });

  test('a call that arrives in time is answered as usual', async () => {
    expect(await call(DecisionService, 'decide', DecideRequestSchema, { subject: reader, action: { name: 'read' }, resource: { type: 'doc', id: '1' } }, { at: `127.0.0.1:${port}` })).toMatchObject({ decision: true });
  });
});

describe("Envoy Check when the token's issuer cannot be reached", () => {
  let down: Server;
  let at = '';
  beforeAll(async () => {
    // The issuer's JWKS URL: a loopback port nothing listens on.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const policies = new LivePolicySet(buildPolicySet([{ file: 'g.gavel', text: POLICIES }]).set!);
    down = buildGrpcServer({
      policies,
      decider: new Decider(new Metrics(policies), null, null),
      gateway: { verifyToken: createTokenVerifier([{ issuer: ISSUER, audiences: ['envoy'], algorithms: ['ES256'], jwks: new URL(`http://127.0.0.1:${port}/jwks.json`) }]), headers: [], responseHeaders: {}, replay: new ReplayCache() },
      health: new Health(() => true),
    });
    const bound = await new Promise<number>((resolve, reject) => down.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
    at = `127.0.0.1:${bound}`;
  });
  afterAll(() => new Promise<void>((resolve) => down.tryShutdown(() => resolve())));

  test('a token that cannot be checked is denied with 503 and Retry-After (UNAVAILABLE in the answer, not a gRPC error failure_mode_allow would pass)', async () => {
    const request = { attributes: { request: { http: { method: 'GET', path: '/hello/x', host: 'api.test', headers: { authorization: `Bearer ${await sign({ scope: 'hello:read' })}` } } } } };
    const r = (await call(Authorization, 'check', CheckRequestSchema, request, { at })) as unknown as { status?: { code: number }; httpResponse: { case: string; value: { status?: { code: number }; headers: { header?: { key: string; value: string } }[] } } };
    expect(r.status?.code).toBe(14);
    expect(r.httpResponse).toMatchObject({ case: 'deniedResponse', value: { status: { code: 503 } } });
    const headers = Object.fromEntries(r.httpResponse.value.headers.map((h) => [h.header?.key, h.header?.value]));
    expect(headers['retry-after']).toBe('30');
    expect(headers['x-gavel-reason']).toContain("the issuer's keys could not be fetched");
  });
});

describe('client keys', () => {
  const KEY = 'e'.repeat(24);
  const warnings: string[] = [];
  let keyed: Server;
  let at = '';
  beforeAll(async () => {
    const policies = new LivePolicySet(buildPolicySet([{ file: 'g.gavel', text: POLICIES }]).set!);
    keyed = buildGrpcServer({
      policies,
      decider: new Decider(new Metrics(policies), null, null),
      gateway: { verifyToken: async () => ({ ok: false, reason: 'none' }), headers: [], responseHeaders: {}, replay: new ReplayCache() },
      health: new Health(() => true),
      clientKeys: new ClientKeys({ envoy: KEY }),
      serverLog: new ServerLog({ stdout: process.stdout, stderr: { write: (line: string) => warnings.push(line) } as unknown as NodeJS.WritableStream }),
    });
    const port = await new Promise<number>((resolve, reject) => keyed.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
    at = `127.0.0.1:${port}`;
  });
  afterAll(() => new Promise<void>((resolve) => keyed.tryShutdown(() => resolve())));

  const decide = { subject: reader, action: { name: 'read' }, resource: { type: 'doc', id: '1' } };

  test('a decision call without the key, or with a wrong one, is UNAUTHENTICATED', async () => {
    await expect(call(DecisionService, 'decide', DecideRequestSchema, decide, { at })).rejects.toMatchObject({ code: status.UNAUTHENTICATED, details: expect.stringContaining('a client key is required') });
    await expect(call(DecisionService, 'decide', DecideRequestSchema, decide, { at, metadata: { 'x-gavel-client-key': 'x'.repeat(24) } })).rejects.toMatchObject({ code: status.UNAUTHENTICATED, details: expect.stringContaining('not valid') });
  });

  test("Envoy's Check without the key is a denial, not a gRPC error (which failure_mode_allow would let through)", async () => {
    const request = { attributes: { request: { http: { method: 'GET', path: '/hello/x', host: 'api.test' } } } };
    for (const metadata of [{}, { 'x-gavel-client-key': 'x'.repeat(24) }] as Record<string, string>[]) {
      const r = (await call(Authorization, 'check', CheckRequestSchema, request, { at, metadata })) as unknown as { status?: { code: number }; httpResponse: { case: string; value: { status?: { code: number } } } };
      expect(r.status?.code).toBe(7);
      expect(r.httpResponse).toMatchObject({ case: 'deniedResponse', value: { status: { code: 403 } } });
    }
  });

  test("a caller that is not a trusted proxy cannot choose the client address: its Check's source is not believed", async () => {
    // Only a caller from 198.51.100.9 may GET /from: this one, on loopback, claims to be it.
    const from = { address: { address: { case: 'socketAddress' as const, value: { address: '198.51.100.9', portSpecifier: { case: 'portValue' as const, value: 50000 } } } } };
    const request = { attributes: { source: from, request: { http: { method: 'GET', path: '/from', host: 'api.test', headers: { 'x-forwarded-for': '198.51.100.9' } } } } };
    const r = (await call(Authorization, 'check', CheckRequestSchema, request, { at, metadata: { 'x-gavel-client-key': KEY } })) as unknown as { status?: { code: number } };
    expect(r.status?.code).toBe(16);
    // The operator of an Envoy not yet in trusted_proxies is told, once.
    await call(Authorization, 'check', CheckRequestSchema, request, { at, metadata: { 'x-gavel-client-key': KEY } });
    expect(warnings).toEqual([expect.stringMatching(/^gavel: warning: Envoy Check calls from 127\.0\.0\.1 name the client \(198\.51\.100\.9\), which is not believed: .*add its address to trusted_proxies\n$/)]);
  });

  test('with the key in x-gavel-client-key or as a bearer key, calls are decided; health needs none', async () => {
    expect(await call(DecisionService, 'decide', DecideRequestSchema, decide, { at, metadata: { 'x-gavel-client-key': KEY } })).toMatchObject({ decision: true });
    expect(await call(DecisionService, 'decide', DecideRequestSchema, decide, { at, metadata: { authorization: `Bearer ${KEY}` } })).toMatchObject({ decision: true });
    expect(await call(HealthService, 'check', HealthCheckRequestSchema, {}, { at })).toMatchObject({ status: HealthCheckResponse_ServingStatus.SERVING });
  });
});

describe('Check past Envoy\'s timeout', () => {
  test('a Check whose token keys are still being fetched when Envoy gives up is not decided, counted or logged', async () => {
    const keys = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'slow-1' };
    // The issuer's key set answers in 1 s; Envoy waits 250 ms.
    const jwksServer = createServer((_req, res) => setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })), 1_000));
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    const batches: DecisionBatch[] = [];
    const slowLog = new DecisionLog({ appendBatch: (b) => void batches.push(b) }, { flushMs: 60_000 });
    const policies = new LivePolicySet(buildPolicySet([{ file: 'g.gavel', text: POLICIES }]).set!);
    const slowMetrics = new Metrics(policies);
    const jwks = new URL(`http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`);
    const slow = buildGrpcServer({
      policies,
      decider: new Decider(slowMetrics, slowLog, null),
      gateway: { verifyToken: createTokenVerifier([{ issuer: ISSUER, audiences: ['envoy'], algorithms: ['ES256'], jwks }]), headers: [], responseHeaders: {}, replay: new ReplayCache() },
      health: new Health(() => true),
    });
    const port = await new Promise<number>((resolve, reject) => slow.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
    try {
      const token = await new SignJWT({ iss: ISSUER, aud: 'envoy', sub: 'alice', scope: 'hello:read', exp: Math.floor(Date.now() / 1000) + 300 }).setProtectedHeader({ alg: 'ES256', kid: 'slow-1' }).sign(keys.privateKey);
      const asked = call(Authorization, 'check', CheckRequestSchema, { attributes: { request: { http: { method: 'GET', path: '/hello/x', host: 'api.test', headers: { authorization: `Bearer ${token}`, 'x-request-id': 'too-late' } } } } }, { at: `127.0.0.1:${port}`, deadlineMs: 250 });
      await expect(asked).rejects.toMatchObject({ code: status.DEADLINE_EXCEEDED });
      // The key set arrives after Envoy has applied its failure mode.
      await new Promise((resolve) => setTimeout(resolve, 1_300));
      slowLog.flush();
      expect(batches).toEqual([]);
      expect(await slowMetrics.registry.metrics()).not.toMatch(/^gavel_decisions_total\{interface="envoy".* [1-9]/m);
    } finally {
      await new Promise<void>((resolve) => slow.tryShutdown(() => resolve()));
      jwksServer.closeAllConnections();
      await new Promise<void>((resolve) => jwksServer.close(() => resolve()));
    }
  });
});

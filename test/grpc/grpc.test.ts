import { create, type DescMessage, type DescService, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import { credentials, makeGenericClientConstructor, Metadata, ServerCredentials, status, type Client, type ServiceError } from '@grpc/grpc-js';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildPolicySet } from '../../src/index.js';
import { LivePolicySet } from '../../src/engine/live-set.js';
import { Authorization, CheckRequestSchema } from '../../src/gen/proto/envoy/service/auth/v3/external_auth_pb.js';
import { DecideBatchRequestSchema, DecideRequestSchema, DecisionService } from '../../src/gen/proto/gavel/v1/decision_pb.js';
import { Health, HealthCheckRequestSchema, HealthCheckResponse_ServingStatus } from '../../src/gen/proto/grpc/health/v1/health_pb.js';
import { buildGrpcServer } from '../../src/grpc/server.js';
import { serviceDefinition } from '../../src/grpc/service-definition.js';
import { Decider } from '../../src/server/decider.js';
import { Metrics } from '../../src/server/metrics.js';
import { ClientKeys } from '../../src/server/keys.js';
import { ReplayCache } from '../../src/tokens/dpop.js';
import { createTokenVerifier } from '../../src/tokens/verify-token.js';
import type { Server } from '@grpc/grpc-js';

const ISSUER = 'https://issuer.test';
const POLICIES = `
@id("read") permit (action == "read", resource.type == "doc") when { subject.role == "reader" };
@id("hello") permit (action == "GET", resource.path like "/hello/**") when { token.scope contains "hello:read" };
`;

let server: Server;
let address = '';
let sign: (claims: Record<string, unknown>) => Promise<string>;
const clients: Client[] = [];

beforeAll(async () => {
  const keys = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'k1' };
  sign = (claims) => new SignJWT({ iss: ISSUER, aud: 'envoy', sub: 'alice', exp: Math.floor(Date.now() / 1000) + 300, ...claims }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(keys.privateKey);
  const policies = new LivePolicySet(buildPolicySet([{ file: 'g.gavel', text: POLICIES }]).set!);
  server = buildGrpcServer({
    policies,
    decider: new Decider(new Metrics(policies), null, null),
    gateway: { verifyToken: createTokenVerifier([{ issuer: ISSUER, audiences: ['envoy'], algorithms: ['ES256'], jwks: { keys: [jwk] } }]), headers: [], responseHeaders: { 'x-gavel-subject': 'sub' }, replay: new ReplayCache() },
    ready: () => true,
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  address = `127.0.0.1:${port}`;
});

afterAll(async () => {
  for (const c of clients) c.close();
  await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
});

/** A real grpc-js client calling one unary method, over a real socket. */
function call<I extends DescMessage, O extends DescMessage>(
  service: DescService,
  method: string,
  input: I,
  message: MessageInitShape<I>,
  options: { at?: string; metadata?: Record<string, string> } = {},
): Promise<MessageShape<O>> {
  const Ctor = makeGenericClientConstructor(serviceDefinition(service), service.typeName);
  type Method = (req: unknown, metadata: Metadata, cb: (err: ServiceError | null, res: MessageShape<O>) => void) => void;
  const client = new Ctor(options.at ?? address, credentials.createInsecure()) as unknown as Client & Record<string, Method>;
  clients.push(client);
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(options.metadata ?? {})) metadata.set(k, v);
  return new Promise((resolve, reject) => client[method](create(input, message), metadata, (err, res) => (err ? reject(err) : resolve(res))));
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

  test('a request without a subject id is INVALID_ARGUMENT with the field named', async () => {
    await expect(call(DecisionService, 'decide', DecideRequestSchema, { subject: { type: 'user' }, action: { name: 'read' }, resource: { type: 'doc', id: '1' } })).rejects.toMatchObject({
      code: 3,
      details: 'missing subject.id',
    });
  });
});

describe('envoy.service.auth.v3.Authorization/Check', () => {
  const check = (headers: Record<string, string>, method = 'GET', path = '/hello/world?x=1') =>
    call(Authorization, 'check', CheckRequestSchema, {
      attributes: {
        source: { address: { address: { case: 'socketAddress', value: { address: '203.0.113.7', portSpecifier: { case: 'portValue', value: 50000 } } } } },
        request: { http: { id: 'envoy-1', method, path, host: 'api.test', scheme: 'https', headers } },
      },
    }) as unknown as Promise<{ status?: { code: number }; httpResponse: { case: string; value: { status?: { code: number }; headers: { header?: { key: string; value: string } }[]; body?: string } } }>;

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
    expect(r.httpResponse.value.headers[0].header).toMatchObject({ key: 'www-authenticate', value: 'Bearer' });
  });

  test('PERMISSION_DENIED with a 403 and the reason for a verified caller the policies deny', async () => {
    const r = await check({ authorization: `Bearer ${await sign({ scope: 'hello:read' })}` }, 'DELETE');
    expect(r.status?.code).toBe(7);
    expect(r.httpResponse.value).toMatchObject({ status: { code: 403 }, body: 'denied by policy' });
  });
});

describe('grpc.health.v1.Health', () => {
  test('SERVING for the server and each service; NOT_FOUND for others', async () => {
    expect(await call(Health, 'check', HealthCheckRequestSchema, { service: '' })).toMatchObject({ status: HealthCheckResponse_ServingStatus.SERVING });
    expect(await call(Health, 'check', HealthCheckRequestSchema, { service: 'gavel.v1.DecisionService' })).toMatchObject({ status: HealthCheckResponse_ServingStatus.SERVING });
    await expect(call(Health, 'check', HealthCheckRequestSchema, { service: 'nope' })).rejects.toMatchObject({ code: 5 });
  });
});

describe('client keys', () => {
  const KEY = 'e'.repeat(24);
  let keyed: Server;
  let at = '';
  beforeAll(async () => {
    const policies = new LivePolicySet(buildPolicySet([{ file: 'g.gavel', text: POLICIES }]).set!);
    keyed = buildGrpcServer({
      policies,
      decider: new Decider(new Metrics(policies), null, null),
      gateway: { verifyToken: async () => ({ ok: false, reason: 'none' }), headers: [], responseHeaders: {}, replay: new ReplayCache() },
      ready: () => true,
      clientKeys: new ClientKeys({ envoy: KEY }),
    });
    const port = await new Promise<number>((resolve, reject) => keyed.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
    at = `127.0.0.1:${port}`;
  });
  afterAll(() => new Promise<void>((resolve) => keyed.tryShutdown(() => resolve())));

  const decide = { subject: reader, action: { name: 'read' }, resource: { type: 'doc', id: '1' } };

  test('a decision call without the key, or with a wrong one, is UNAUTHENTICATED', async () => {
    await expect(call(DecisionService, 'decide', DecideRequestSchema, decide, { at })).rejects.toMatchObject({ code: status.UNAUTHENTICATED, details: expect.stringContaining('a client key is required') });
    await expect(call(Authorization, 'check', CheckRequestSchema, {}, { at, metadata: { 'x-gavel-client-key': 'x'.repeat(24) } })).rejects.toMatchObject({ code: status.UNAUTHENTICATED, details: expect.stringContaining('not valid') });
  });

  test('with the key in x-gavel-client-key or as a bearer key, calls are decided; health needs none', async () => {
    expect(await call(DecisionService, 'decide', DecideRequestSchema, decide, { at, metadata: { 'x-gavel-client-key': KEY } })).toMatchObject({ decision: true });
    expect(await call(DecisionService, 'decide', DecideRequestSchema, decide, { at, metadata: { authorization: `Bearer ${KEY}` } })).toMatchObject({ decision: true });
    expect(await call(Health, 'check', HealthCheckRequestSchema, {}, { at })).toMatchObject({ status: HealthCheckResponse_ServingStatus.SERVING });
  });
});

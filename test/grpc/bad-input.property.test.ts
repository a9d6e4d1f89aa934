/**
 * Bad input over gRPC, against a running `gavel serve`: requests of any content — Struct
 * members of any JSON, empty and odd strings, raw tokens, Envoy attributes with any headers,
 * paths and addresses — are answered with a decision or a client-error status, never
 * INTERNAL or UNKNOWN, and bytes that are not the message are refused without harm.
 */
import { create, type DescMessage, type DescService, type MessageInitShape } from '@bufbuild/protobuf';
import { credentials, makeGenericClientConstructor, Metadata, status, type Client, type ServiceError } from '@grpc/grpc-js';
import fc from 'fast-check';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Authorization, CheckRequestSchema } from '../../src/gen/proto/envoy/service/auth/v3/external_auth_pb.js';
import { DecideBatchRequestSchema, DecideRequestSchema, DecisionService } from '../../src/gen/proto/gavel/v1/decision_pb.js';
import { serviceDefinition } from '../../src/grpc/service-definition.js';
import { gavel, ROOT, serveProcess, workspace, type Served } from '../cli/helpers.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 60);
/** What a caller may be told: a decision, or what was wrong with the call. Never the server's own failure. */
const CLIENT_STATUSES = new Set([status.OK, status.INVALID_ARGUMENT, status.UNAUTHENTICATED, status.PERMISSION_DENIED, status.RESOURCE_EXHAUSTED, status.FAILED_PRECONDITION]);

let ws: ReturnType<typeof workspace>;
let server: Served;
let address = '';
const clients: Client[] = [];

beforeAll(async () => {
  ws = workspace();
  cpSync(join(ROOT, 'examples'), join(ws.dir, 'examples'), { recursive: true });
  const applied = await gavel(['apply', 'examples/registry.json'], { cwd: ws.dir });
  if (applied.code !== 0) throw new Error(applied.stderr);
  server = await serveProcess(ws.dir, ['--no-watch']);
  const grpc = /grpc:\/\/(127\.0\.0\.1:\d+)/.exec(server.output());
  if (grpc === null) throw new Error(`no gRPC address in: ${server.output()}`);
  address = grpc[1]!;
}, 30_000);

afterAll(() => {
  for (const c of clients) c.close();
  server?.stop();
  ws?.remove();
});

type Method = (req: unknown, metadata: Metadata, cb: (err: ServiceError | null) => void) => void;

function client(service: DescService): Client & Record<string, Method> {
  const Ctor = makeGenericClientConstructor(serviceDefinition(service), service.typeName);
  const c = new Ctor(address, credentials.createInsecure()) as unknown as Client & Record<string, Method>;
  clients.push(c);
  return c;
}

/** The status a call ended with (OK when it answered). */
function statusOf<I extends DescMessage>(c: Client & Record<string, Method>, method: string, input: I, message: MessageInitShape<I>, metadata: Record<string, string> = {}): Promise<{ code: number; details: string }> {
  const md = new Metadata();
  for (const [k, v] of Object.entries(metadata)) md.set(k, v);
  return new Promise((resolve) => c[method]!(create(input, message), md, (err) => resolve(err === null ? { code: status.OK, details: '' } : { code: err.code, details: err.details })));
}

const text = fc.oneof(fc.string(), fc.constantFrom('', 'user', 'alice', 'read', 'GET', '/invoices/1', '\u0000', '%', 'ü', '🦀', 'a'.repeat(2000)));
// A Struct holds a JSON object; members of any JSON, and a `token` of any text (a JWT is expected).
const struct = fc.oneof(fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }), fc.record({ token: fc.oneof(fc.string(), fc.constantFrom('a.b.c', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.')) }));
const entity = fc.record({ type: text, id: text, properties: fc.option(struct, { nil: undefined }) }, { requiredKeys: [] });
const anyRequest = fc.record({ subject: entity, action: fc.record({ name: text, properties: fc.option(struct, { nil: undefined }) }, { requiredKeys: [] }), resource: entity, context: struct, explain: fc.boolean() }, { requiredKeys: [] });
// Mostly well-formed: named entities and an action with odd properties and context, so most calls reach the engine.
const named = (types: string[], ids: string[]) => fc.record({ type: fc.constantFrom(...types), id: fc.constantFrom(...ids), properties: fc.option(struct, { nil: undefined }) });
const wellFormed = fc.record({
  subject: named(['user', 'client'], ['alice', 'bob', 'reporting-app']),
  action: fc.record({ name: fc.constantFrom('read', 'GET', 'mint', 'delete') }),
  resource: named(['invoice', 'route', 'scope'], ['1', '/invoices/1', 'invoice:read']),
  context: struct,
  explain: fc.boolean(),
});
const decideRequest = fc.oneof({ arbitrary: wellFormed, weight: 2 }, { arbitrary: anyRequest, weight: 1 });

describe('bad input over gRPC gets a decision or a client-error status', () => {
  test('gavel.v1 Decide', async () => {
    const c = client(DecisionService);
    let decided = 0;
    await fc.assert(
      fc.asyncProperty(decideRequest, async (request) => {
        const s = await statusOf(c, 'decide', DecideRequestSchema, request as MessageInitShape<typeof DecideRequestSchema>);
        expect(CLIENT_STATUSES.has(s.code), `${JSON.stringify(request).slice(0, 400)} → ${s.code} ${s.details}`).toBe(true);
        if (s.code === status.OK) decided++;
      }),
      { numRuns: RUNS },
    );
    // Not only refusals: most calls were decided.
    expect(decided).toBeGreaterThan(RUNS / 3);
  });

  test('gavel.v1 DecideBatch', async () => {
    const c = client(DecisionService);
    await fc.assert(
      fc.asyncProperty(fc.array(decideRequest, { minLength: 1, maxLength: 4 }), async (requests) => {
        const s = await statusOf(c, 'decideBatch', DecideBatchRequestSchema, { requests } as MessageInitShape<typeof DecideBatchRequestSchema>);
        expect(CLIENT_STATUSES.has(s.code), `${JSON.stringify(requests).slice(0, 400)} → ${s.code} ${s.details}`).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  test('Envoy Authorization/Check', async () => {
    const c = client(Authorization);
    const headerName = fc.oneof(fc.constantFrom('authorization', 'dpop', 'x-request-id', 'x-forwarded-for', 'x-forwarded-proto', ':authority', 'cookie'), fc.string({ maxLength: 20 }));
    const headerValue = fc.oneof(text, fc.constantFrom('Bearer a.b.c', 'Bearer ', 'DPoP x', 'Basic !!', '1.2.3.4, ::1, junk'));
    const socket = fc.record({ address: fc.oneof(text, fc.constantFrom('127.0.0.1', '::1', '300.0.0.1', 'fe80::1%eth0')), portValue: fc.integer({ min: 0, max: 70_000 }) }, { requiredKeys: [] });
    const check = fc.record(
      {
        method: text,
        path: fc.oneof(text, fc.constantFrom('/', '/a?b=%ZZ', '//x', '*', 'http://h/p', '/p#f')),
        host: text,
        scheme: text,
        query: text,
        headers: fc.dictionary(headerName, headerValue, { maxKeys: 6 }),
        source: fc.option(socket, { nil: undefined }),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(check, async ({ source, ...http }) => {
        const message = {
          attributes: {
            request: { http },
            ...(source === undefined ? {} : { source: { address: { address: { case: 'socketAddress' as const, value: source } } } }),
          },
        };
        const s = await statusOf(c, 'check', CheckRequestSchema, message as MessageInitShape<typeof CheckRequestSchema>);
        expect(CLIENT_STATUSES.has(s.code), `${JSON.stringify(message).slice(0, 400)} → ${s.code} ${s.details}`).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  test('bytes that are not the message are refused, and the server goes on answering', async () => {
    // A client whose messages are raw bytes: what a broken or hostile peer sends.
    const raw = makeGenericClientConstructor(
      {
        decide: { path: '/gavel.v1.DecisionService/Decide', requestStream: false, responseStream: false, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b },
      },
      'Raw',
    );
    const c = new raw(address, credentials.createInsecure()) as unknown as Client & Record<string, (req: Buffer, cb: (err: ServiceError | null) => void) => void>;
    clients.push(c);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 200 }), async (bytes) => {
        const code = await new Promise<number>((resolve) => c.decide!(Buffer.from(bytes), (err) => resolve(err === null ? status.OK : err.code)));
        // grpc-js answers an undecodable message INTERNAL ("Error parsing request proto", gRPC's status code table); some bytes happen to decode.
        expect([status.OK, status.INVALID_ARGUMENT, status.INTERNAL]).toContain(code);
      }),
      { numRuns: RUNS },
    );
    const s = await statusOf(client(DecisionService), 'decide', DecideRequestSchema, { subject: { type: 'user', id: 'alice' }, action: { name: 'read' }, resource: { type: 'document', id: 'd1' } });
    expect(s.code).toBe(status.OK);
  });
});

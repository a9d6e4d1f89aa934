import { PassThrough } from 'node:stream';
import { Metadata, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import { describe, expect, test } from 'vitest';
import { GrpcError, unary } from '../../src/grpc/service-definition.js';
import { ServerLog } from '../../src/server/server-log.js';

/** A grpc-js unary call as `unary` sees it, with what it sends back. */
function fakeCall(metadata: Record<string, string> = {}) {
  const given = new Metadata();
  for (const [k, v] of Object.entries(metadata)) given.set(k, v);
  const sent: Metadata[] = [];
  const call = { request: {}, metadata: given, getPeer: () => '127.0.0.1:1', cancelled: false, getPath: () => '/gavel.v1.DecisionService/Decide', sendMetadata: (m: Metadata) => void sent.push(m) };
  return { call: call as unknown as ServerUnaryCall<never, never>, sent };
}

function answered(handler: Parameters<typeof unary>[0], metadata?: Record<string, string>) {
  const stderr = new PassThrough();
  let logged = '';
  stderr.on('data', (d: Buffer) => (logged += d.toString()));
  const { call } = fakeCall(metadata);
  return new Promise<{ error: { code: number; details: string; metadata: Metadata }; logged: () => string }>((resolve) => {
    const callback = ((error: { code: number; details: string; metadata: Metadata }) => resolve({ error, logged: () => logged })) as sendUnaryData<never> as Parameters<ReturnType<typeof unary>>[1];
    unary(handler, new ServerLog({ stdout: new PassThrough(), stderr }))(call as Parameters<ReturnType<typeof unary>>[0], callback);
  });
}

describe('unary gRPC handlers', () => {
  test('a failure names one request id, the same in the trailers and the server log, also when the caller sent none', async () => {
    const { error, logged } = await answered(async () => {
      throw new Error('boom');
    });
    expect(error.code).toBe(13);
    const [id] = error.metadata.get('x-request-id') as string[];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(logged()).toContain(`(request ${id}) failed: Error: boom`);
  });

  test("a refusal carries the caller's request id", async () => {
    const { error } = await answered(async () => {
      throw new GrpcError(3, 'missing subject.id');
    }, { 'x-request-id': 'trace-7' });
    expect([error.code, error.details, error.metadata.get('x-request-id')]).toEqual([3, 'missing subject.id', ['trace-7']]);
  });
});

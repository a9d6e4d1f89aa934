import { fromBinary, toBinary, type DescMessage, type DescService, type MessageShape } from '@bufbuild/protobuf';
import { Metadata, type handleUnaryCall, type MethodDefinition, type ServiceDefinition } from '@grpc/grpc-js';
import { requestIdFrom } from '../server/request-id.js';
import { MAX_JSON_DEPTH } from '../formats/json-depth.js';
import type { ServerLog } from '../server/server-log.js';

/**
 * How deep a request's messages may nest. A JSON level of a `google.protobuf.Struct` is two
 * messages (Struct, Value): this lets a request nest past the 64 JSON levels every interface
 * accepts (formats/json-depth.ts), so that one nested deeper gets that limit's message, as over
 * HTTP. protobuf-es's default, 100, refused requests of 50 levels.
 */
const RECURSION_LIMIT = 2 * MAX_JSON_DEPTH + 40;

/** A request that could not be decoded: `unary` answers INVALID_ARGUMENT, where grpc-js would answer INTERNAL. */
class Undecodable {
  constructor(
    /** The message type the bytes were meant to be (`grpc.health.v1.HealthCheckRequest`). */
    readonly typeName: string,
    readonly reason: string,
  ) {}
}

function decoded(schema: DescMessage, bytes: Buffer): unknown {
  try {
    return fromBinary(schema, bytes, { recursionLimit: RECURSION_LIMIT });
  } catch (err: unknown) {
    return new Undecodable(schema.typeName, err instanceof Error ? err.message : String(err));
  }
}

/** Answers already encoded to learn their size (`encodedSize`), so they are not encoded twice. */
const encodedAnswers = new WeakMap<object, Uint8Array>();

/** The size in bytes of `message` as it will be sent: encoded once, and those bytes are what is sent. */
export function encodedSize<O extends DescMessage>(schema: O, message: MessageShape<O>): number {
  const bytes = toBinary(schema, message);
  encodedAnswers.set(message, bytes);
  return bytes.length;
}

/**
 * A protobuf-es service descriptor as a grpc-js service definition: paths
 * `/package.Service/Method`, messages encoded and decoded by protobuf-es. Unary and
 * server-streaming methods (health's Watch); none takes a stream of requests.
 */
export function serviceDefinition(service: DescService): ServiceDefinition {
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    if (method.methodKind !== 'unary' && method.methodKind !== 'server_streaming') continue;
    definition[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      requestStream: false,
      responseStream: method.methodKind === 'server_streaming',
      requestSerialize: (message: unknown) => Buffer.from(toBinary(method.input, message as MessageShape<DescMessage>)),
      requestDeserialize: (bytes: Buffer) => decoded(method.input, bytes),
      responseSerialize: (message: unknown) => {
        const known = encodedAnswers.get(message as object);
        return Buffer.from(known ?? toBinary(method.output, message as MessageShape<DescMessage>));
      },
      responseDeserialize: (bytes: Buffer) => fromBinary(method.output, bytes),
    };
  }
  return definition as ServiceDefinition;
}

/** Why a call's request could not be decoded, or `null` when it was. */
export function undecodable(request: unknown): string | null {
  return request instanceof Undecodable ? request.reason : null;
}

/** A typed unary handler: answers the response, or throws a GrpcError with a status. */
export type Unary<I extends DescMessage, O extends DescMessage> = (request: MessageShape<I>, call: CallInfo) => Promise<MessageShape<O>>;

/** What a handler may know of its call besides the message. */
export interface CallInfo {
  /** The peer as grpc-js reports it: `127.0.0.1:50123`, `[::1]:50123`. */
  peer: string;
  /** The text values of a metadata key, in order. */
  metadata(key: string): string[];
  /** Whether the caller has gone: it cancelled, or its deadline passed. */
  cancelled(): boolean;
  /**
   * The call's request id, as over HTTP: the caller's `x-request-id` metadata, or one made
   * for it; either way sent back as `x-request-id` response metadata, so a caller can find
   * its decisions in the log.
   */
  requestId(): string;
}

/** A gRPC failure with its status code (grpc-js `status`), for callers. */
export class GrpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** Wraps a typed handler for grpc-js: errors become statuses, never stack traces. */
export function unary<I extends DescMessage, O extends DescMessage>(handler: Unary<I, O>, log: ServerLog): handleUnaryCall<MessageShape<I>, MessageShape<O>> {
  return (call, callback) => {
    const request: unknown = call.request;
    const metadata = (key: string) => call.metadata.get(key).filter((v): v is string => typeof v === 'string');
    let id: string | null = null;
    let sent = false;
    /** The call's id, made once: a refusal's trailers and the server log must name the same one. */
    const idOnce = (): string => (id ??= requestIdFrom(metadata('x-request-id')[0]));
    const requestId = (): string => {
      if (sent) return idOnce();
      sent = true;
      const echoed = new Metadata();
      echoed.set('x-request-id', idOnce());
      call.sendMetadata(echoed);
      return idOnce();
    };
    // A refusal carries the request id too, as over HTTP — in its trailers, where a client's
    // error holds metadata — so a caller logging its failures quotes the id the server log has.
    const refuse = (code: number, details: string): void => {
      const trailers = new Metadata();
      trailers.set('x-request-id', idOnce());
      callback({ code, details, metadata: trailers }, null);
    };
    if (request instanceof Undecodable) return refuse(3, `the request is not a valid ${request.typeName} message: ${request.reason}`);
    const info: CallInfo = { peer: call.getPeer(), metadata, cancelled: () => call.cancelled, requestId };
    handler(call.request, info).then(
      (response) => callback(null, response),
      (err: unknown) => {
        if (err instanceof GrpcError) return refuse(err.code, err.message);
        // The caller hears only that it failed; the server log gets the method and the stack.
        log.error(`gRPC ${call.getPath()} (request ${idOnce()}) failed: ${String(err)}`, err instanceof Error && err.stack !== undefined ? { stack: err.stack } : {});
        refuse(13, 'internal error; see the server log');
      },
    );
  };
}

import { create } from '@bufbuild/protobuf';
import { status, type handleServerStreamingCall, type handleUnaryCall, type ServerWritableStream } from '@grpc/grpc-js';
import {
  HealthCheckRequestSchema,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
  type HealthCheckRequest,
  type HealthCheckResponse,
} from '../gen/proto/grpc/health/v1/health_pb.js';
import { GrpcError, unary, undecodable } from './service-definition.js';
import { ServerLog } from '../server/server-log.js';

/** The services this server reports on: "" (the whole server) and each service name. */
export const SERVED = ['', 'gavel.v1.DecisionService', 'envoy.service.auth.v3.Authorization'] as const;

/** How often the server's readiness is looked at while someone watches it. */
export const WATCH_POLL_MS = 1_000;

type Watch = ServerWritableStream<HealthCheckRequest, HealthCheckResponse>;

/**
 * grpc.health.v1.Health (grpc/grpc doc/health-checking.md). `Check` answers SERVING while the
 * server is ready (policies loaded, the store answering) and NOT_FOUND for a service it does
 * not serve. `Watch` sends the status at once and again whenever it changes — readiness is
 * looked at every WATCH_POLL_MS while any watch is open — and SERVICE_UNKNOWN for a service it
 * does not serve, keeping the stream open as the protocol asks. When the server stops, every
 * status becomes NOT_SERVING and the watches end, so a stop does not wait on them: clients
 * (grpc-js and grpc-go client-side health checking, Envoy) read that as "take it out now".
 */
export class Health {
  readonly #ready: () => boolean;
  /** Each open watch and the status it was last sent (`null`: a service not served, which never changes). */
  readonly #watches = new Map<Watch, boolean | null>();
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;

  constructor(ready: () => boolean, log: ServerLog = ServerLog.toProcess()) {
    this.#ready = ready;
    this.check = unary<typeof HealthCheckRequestSchema, typeof HealthCheckResponseSchema>(async (r) => {
      if (!known(r.service)) throw new GrpcError(status.NOT_FOUND, `unknown service \`${r.service}\``);
      return response(this.#servingNow());
    }, log);
  }

  /** Every status NOT_SERVING from now on; open watches are told and ended. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#idle();
    for (const [w, sent] of this.#watches) {
      if (sent === true) w.write(response(false));
      w.end();
    }
    this.#watches.clear();
  }

  readonly check: handleUnaryCall<HealthCheckRequest, HealthCheckResponse>;

  readonly watch: handleServerStreamingCall<HealthCheckRequest, HealthCheckResponse> = (call) => {
    const reason = undecodable(call.request);
    if (reason !== null) {
      call.emit('error', { code: status.INVALID_ARGUMENT, details: `the request is not a valid grpc.health.v1.HealthCheckRequest message: ${reason}` });
      return;
    }
    const sent = known(call.request.service) ? this.#servingNow() : null;
    call.write(sent === null ? create(HealthCheckResponseSchema, { status: ServingStatus.SERVICE_UNKNOWN }) : response(sent));
    if (this.#stopped) {
      call.end();
      return;
    }
    this.#watches.set(call, sent);
    const gone = (): void => {
      this.#watches.delete(call);
      if (this.#watches.size === 0) this.#idle();
    };
    call.on('cancelled', gone);
    call.on('close', gone);
    this.#timer ??= setInterval(() => this.#look(), WATCH_POLL_MS);
    this.#timer.unref();
  };

  #servingNow(): boolean {
    return !this.#stopped && this.#ready();
  }

  #look(): void {
    const now = this.#servingNow();
    for (const [w, sent] of this.#watches) {
      if (sent === null || sent === now) continue;
      this.#watches.set(w, now);
      w.write(response(now));
    }
  }

  #idle(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }
}

const known = (service: string): boolean => (SERVED as readonly string[]).includes(service);

const response = (serving: boolean): HealthCheckResponse => create(HealthCheckResponseSchema, { status: serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING });

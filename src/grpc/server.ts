/**
 * The gRPC interface: gavel.v1.DecisionService, Envoy's ext_authz Authorization, and
 * grpc.health.v1.Health (Check and Watch). `buildGrpcServer` never binds: `gavel serve` does.
 */
import { Server, ServerInterceptingCall, status, type handleUnaryCall, type ServerInterceptor } from '@grpc/grpc-js';
import { TrustedProxies } from '../signals/client-address.js';
import type { Refusals } from '../server/refusals.js';
import { bearerKey, CLIENT_KEY_HEADER, ClientKeys } from '../server/keys.js';
import type { LivePolicySet } from '../engine/live-set.js';
import { Authorization } from '../gen/proto/envoy/service/auth/v3/external_auth_pb.js';
import { DecisionService } from '../gen/proto/gavel/v1/decision_pb.js';
import { Health as HealthService } from '../gen/proto/grpc/health/v1/health_pb.js';
import type { Decider } from '../server/decider.js';
import type { ForwardAuthOptions } from '../http/routes/forward-auth.js';
import { decisionService } from './decision-service.js';
import { envoyAuthorization, refusedCaller, undecodableCheck } from './envoy-authorization.js';
import type { Health } from './health.js';
import { serviceDefinition, undecodable } from './service-definition.js';
import { ServerLog } from '../server/server-log.js';

export interface GrpcOptions {
  policies: LivePolicySet;
  decider: Decider;
  gateway: ForwardAuthOptions;
  /** grpc.health.v1: `gavel serve` stops it first when it stops. */
  health: Health;
  /** Keys callers of the decision services must present; anyone may call them when absent or empty. */
  clientKeys?: ClientKeys;
  /** gRPC callers whose word on the client is believed: gavel.v1's `x-forwarded-for` metadata, an Envoy CheckRequest's `source` (`trusted_proxies`). */
  proxies?: TrustedProxies;
  /** Envoy's downstream peers (a CheckRequest's `source`) whose X-Forwarded-For names the client: `envoy_trusted_proxies`, none by default. */
  envoyProxies?: TrustedProxies;
  /** Where what an operator should know is told: warnings, failures inside a call; the process's stderr, as text, when absent. */
  serverLog?: ServerLog;
  /** How long a call's request may take to arrive (GRPC_LIMITS.RECEIVE_TIMEOUT_MS; shorter in tests). */
  receiveTimeoutMs?: number;
}

/** Largest message accepted, in bytes, as the HTTP body limit. */
export const GRPC_MESSAGE_LIMIT = 1 << 20;

/**
 * Bounds on what callers may hold open, which grpc-js leaves unbounded: 100,000 calls whose
 * message never finished arriving, from ten connections, held 650 MB. A call must arrive
 * whole within RECEIVE_TIMEOUT_MS (as an HTTP request must); a connection carries at most
 * MAX_STREAMS calls at once (Envoy opens more connections when it needs more), and one
 * idle for IDLE_MS is closed (clients reconnect when they next call).
 */
export const GRPC_LIMITS = { RECEIVE_TIMEOUT_MS: 60_000, MAX_STREAMS: 1_000, IDLE_MS: 5 * 60_000 } as const;

export function buildGrpcServer(options: GrpcOptions): Server {
  const server = new Server({
    'grpc.max_receive_message_length': GRPC_MESSAGE_LIMIT,
    'grpc.max_concurrent_streams': GRPC_LIMITS.MAX_STREAMS,
    'grpc.max_connection_idle_ms': GRPC_LIMITS.IDLE_MS,
    interceptors: [receivedWithin(options.receiveTimeoutMs ?? GRPC_LIMITS.RECEIVE_TIMEOUT_MS)],
  });
  const guard = guarded(options.clientKeys ?? new ClientKeys({}), options.decider.metrics.refusals);
  const log = options.serverLog ?? ServerLog.toProcess();
  const decisions = decisionService(options.policies, options.decider, options.proxies ?? new TrustedProxies([]), options.gateway.verifyToken, log);
  const envoy = envoyAuthorization(options.policies, options.decider, options.gateway, options.proxies ?? new TrustedProxies([]), options.envoyProxies ?? new TrustedProxies([]), log);
  server.addService(serviceDefinition(DecisionService), { decide: guard(decisions.decide), decideBatch: guard(decisions.decideBatch) });
  // A CheckRequest that cannot be decoded is denied, not failed: `failure_mode_allow` would pass it.
  const check: typeof envoy.check = (call, callback) => {
    const reason = undecodable(call.request);
    return reason === null ? envoy.check(call, callback) : callback(null, undecodableCheck(reason));
  };
  server.addService(serviceDefinition(Authorization), { check: guard(check, refusedCaller) });
  server.addService(serviceDefinition(HealthService), { check: options.health.check, watch: options.health.watch });
  return server;
}

/**
 * With client keys configured, a decision call needs one in metadata: `x-gavel-client-key`,
 * or `authorization: Bearer KEY` (for Envoy, set in the ext_authz service's
 * `initial_metadata`; the end user's Authorization header travels inside the CheckRequest).
 */
function guarded(keys: ClientKeys, refusals: Refusals) {
  /** `refused`: what to answer instead of an UNAUTHENTICATED error (Envoy's Check: a denial). */
  return <I, O>(handler: handleUnaryCall<I, O>, refused?: () => O): handleUnaryCall<I, O> => {
    // Every call ending in an error status is counted; an answer (a denial included) is not.
    const counted: handleUnaryCall<I, O> = (call, callback) =>
      handler(call, (err, value, ...rest) => {
        if (err) refusals.grpc(call.getPath(), err.code ?? status.UNKNOWN);
        callback(err, value, ...rest);
      });
    if (!keys.required) return counted;
    return (call, callback) => {
      const [fromHeader] = call.metadata.get(CLIENT_KEY_HEADER);
      const [authorization] = call.metadata.get('authorization');
      const given = typeof fromHeader === 'string' ? fromHeader : bearerKey(typeof authorization === 'string' ? authorization : undefined);
      if (keys.identify(given) !== null) return counted(call, callback);
      refusals.clientKey(refused === undefined ? 'grpc' : 'envoy', `${given === null ? 'no client key' : 'a client key that is not valid'} on ${call.getPath()}`, call.getPeer());
      if (refused !== undefined) return callback(null, refused());
      refusals.grpc(call.getPath(), status.UNAUTHENTICATED);
      callback({ code: status.UNAUTHENTICATED, details: `${given === null ? 'a client key is required' : 'the client key is not valid'}: send it in ${CLIENT_KEY_HEADER} metadata` }, null);
    };
  };
}

/**
 * Ends a call whose request has not arrived whole (its half-close) within `ms` with
 * DEADLINE_EXCEEDED: the handler never runs for a message that never ends, so without this
 * such a call held its memory for as long as the caller kept the connection.
 */
function receivedWithin(ms: number): ServerInterceptor {
  return (_method, call) => {
    let timer: NodeJS.Timeout | null = null;
    const stop = (): void => {
      if (timer !== null) clearTimeout(timer);
      timer = null;
    };
    return new ServerInterceptingCall(call, {
      start: (next) => {
        timer = setTimeout(() => {
          timer = null;
          call.sendStatus({ code: status.DEADLINE_EXCEEDED, details: `the request was not received within ${ms / 1000} s` });
        }, ms);
        next({
          onReceiveHalfClose: (received) => {
            stop();
            received();
          },
          onCancel: stop,
        });
      },
      sendStatus: (answer, next) => {
        stop();
        next(answer);
      },
    });
  };
}

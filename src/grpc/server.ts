/**
 * The gRPC interface: gavel.v1.DecisionService, Envoy's ext_authz Authorization, and
 * grpc.health.v1.Health. `buildGrpcServer` never binds: `gavel serve` does.
 */
import { Server } from '@grpc/grpc-js';
import type { LivePolicySet } from '../engine/live-set.js';
import { Authorization } from '../gen/proto/envoy/service/auth/v3/external_auth_pb.js';
import { DecisionService } from '../gen/proto/gavel/v1/decision_pb.js';
import { Health } from '../gen/proto/grpc/health/v1/health_pb.js';
import type { Decider } from '../http/decider.js';
import type { ForwardAuthOptions } from '../http/routes/forward-auth.js';
import { decisionService } from './decision-service.js';
import { envoyAuthorization } from './envoy-authorization.js';
import { health } from './health.js';
import { serviceDefinition } from './service-definition.js';

export interface GrpcOptions {
  policies: LivePolicySet;
  decider: Decider;
  gateway: ForwardAuthOptions;
  ready: () => boolean;
}

/** Largest message accepted, in bytes, as the HTTP body limit. */
export const GRPC_MESSAGE_LIMIT = 1 << 20;

export function buildGrpcServer(options: GrpcOptions): Server {
  const server = new Server({ 'grpc.max_receive_message_length': GRPC_MESSAGE_LIMIT });
  server.addService(serviceDefinition(DecisionService), decisionService(options.policies, options.decider));
  server.addService(serviceDefinition(Authorization), envoyAuthorization(options.policies, options.decider, options.gateway));
  server.addService(serviceDefinition(Health), health(options.ready));
  return server;
}

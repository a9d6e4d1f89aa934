import { create } from '@bufbuild/protobuf';
import { status } from '@grpc/grpc-js';
import { HealthCheckRequestSchema, HealthCheckResponseSchema, HealthCheckResponse_ServingStatus } from '../gen/proto/grpc/health/v1/health_pb.js';
import { GrpcError, unary } from './service-definition.js';

/** The services this server reports on: "" (the whole server) and each service name. */
export const SERVED = ['', 'gavel.v1.DecisionService', 'envoy.service.auth.v3.Authorization'] as const;

/** grpc.health.v1.Health/Check: SERVING while policies are loaded and the store answers. */
export function health(ready: () => boolean) {
  return {
    check: unary<typeof HealthCheckRequestSchema, typeof HealthCheckResponseSchema>(async (r) => {
      if (!(SERVED as readonly string[]).includes(r.service)) throw new GrpcError(status.NOT_FOUND, `unknown service \`${r.service}\``);
      return create(HealthCheckResponseSchema, { status: ready() ? HealthCheckResponse_ServingStatus.SERVING : HealthCheckResponse_ServingStatus.NOT_SERVING });
    }),
  };
}

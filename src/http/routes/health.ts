import type { FastifyInstance } from 'fastify';
import type { LivePolicySet } from '../../engine/live-set.js';

/** Liveness and readiness for orchestrators and load balancers. */
export function healthRoutes(app: FastifyInstance, policies: LivePolicySet): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async () => {
    const set = policies.current;
    return { status: 'ready', revision: set.revision, policies: set.policies.length };
  });
}

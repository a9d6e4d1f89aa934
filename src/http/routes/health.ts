import type { FastifyInstance } from 'fastify';
import type { LivePolicySet } from '../../engine/live-set.js';
import type { ReloadStatus } from '../../engine/reload.js';
import type { Store } from '../../store/store.js';
import type { Metrics } from '../../server/metrics.js';
import type { LiveIpLists } from '../../signals/ip/live-ip-lists.js';

/** Why the decision log cannot be written now, since when, how many decisions wait for it, and how many were given up. */
export interface LogTrouble {
  error: string;
  since: Date;
  queued: number;
  dropped: number;
}

/** Liveness, readiness and metrics for orchestrators, load balancers and Prometheus. */
export function healthRoutes(
  app: FastifyInstance,
  policies: LivePolicySet,
  metrics: Metrics,
  reload: ReloadStatus | null,
  store: Store | null,
  ipLists: LiveIpLists | null,
  logFailing: () => LogTrouble | null = () => null,
): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const set = policies.current;
    if (store !== null && !store.ping()) {
      // Decisions could be made, but not logged: an operator must know before traffic arrives.
      return reply.status(503).send({ status: 'not ready', reason: store.fileProblem?.() ?? 'the store does not answer', revision: set.revision });
    }
    const ready: Record<string, unknown> = { status: 'ready', revision: set.revision, policies: set.policies.length };
    // Still ready: the previous revision serves. The rejected edit is shown so operators see it.
    const rejection = reload?.rejection;
    if (rejection) ready.rejected_reload = { at: rejection.at.toISOString(), errors: rejection.errors };
    // Likewise a broken list file: the list's previous version serves, and the error shows here.
    if (ipLists !== null) {
      ready.ip_lists = ipLists.status().lists.map((l) => ({ name: l.name, prefixes: l.prefixes, loaded_at: l.loadedAt.toISOString(), ...(l.error === undefined ? {} : { error: l.error }) }));
    }
    // Still ready: decisions are made and kept in memory (bounded) until the log can be written
    // again. Taking the PDP out of rotation would deny, or let through, every call at the gateway.
    const failing = logFailing();
    if (failing !== null) ready.decision_log = { status: 'failing', error: failing.error, since: failing.since.toISOString(), queued: failing.queued, dropped: failing.dropped };
    return ready;
  });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}

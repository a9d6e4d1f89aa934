import type { FastifyInstance } from 'fastify';
import type { Store } from '../../store/store.js';
import { adminKeyMatches } from '../../server/keys.js';
import { applyDocument } from '../../issuer/apply-document.js';

const decisionsQuery = {
  type: 'object',
  properties: {
    since: { type: 'string', format: 'date-time' },
    decision: { type: 'string', enum: ['allow', 'deny'] },
    subject: { type: 'string' },
    policy: { type: 'string' },
    limit: { type: 'string', pattern: '^[0-9]{1,6}$' },
  },
} as const;

export interface AdminOptions {
  /** The bearer key admin calls must present; `null` disables the admin endpoints. */
  key: string | null;
  store: Store | null;
  /** Reloads policies now; answers what happened. */
  reload: (() => Promise<unknown>) | null;
  /** Told after POST /v1/apply changed the store, so the server serves the new directory and registry at once. */
  applied?: () => void;
}

const applyQuery = { type: 'object', properties: { dry_run: { type: 'string', enum: ['true', 'false'] } } } as const;

/** Admin endpoints: the decision log and an immediate reload, behind the admin key. */
export function adminRoutes(app: FastifyInstance, options: AdminOptions): void {
  void app.register(async (admin) => {
    admin.addHook('onRequest', async (request, reply) => {
      if (options.key === null) {
        return reply.status(403).send({ error: 'admin_disabled', message: 'admin endpoints are disabled; configure admin_key (or GAVEL_ADMIN_KEY)' });
      }
      if (!adminKeyMatches(request.headers.authorization, options.key)) {
        return reply.status(401).header('www-authenticate', 'Bearer realm="gavel-admin"').send({ error: 'unauthorized', message: 'a valid admin key is required' });
      }
      return undefined;
    });

    admin.get('/v1/decisions', { schema: { querystring: decisionsQuery } }, async (request, reply) => {
      if (options.store === null) return reply.status(404).send({ error: 'not_found', message: 'this server keeps no decision log' });
      const q = request.query as { since?: string; decision?: 'allow' | 'deny'; subject?: string; policy?: string; limit?: string };
      return {
        decisions: options.store.queryDecisions({
          limit: Math.min(Number(q.limit ?? 100), 10_000),
          ...(q.since === undefined ? {} : { since: new Date(q.since).toISOString() }),
          ...(q.decision === undefined ? {} : { decision: q.decision === 'allow' }),
          ...(q.subject === undefined ? {} : { subjectId: q.subject }),
          ...(q.policy === undefined ? {} : { policy: q.policy }),
        }),
      };
    });

    // The same document as `gavel apply`: directory entities and the issuer's registry.
    admin.post('/v1/apply', { schema: { querystring: applyQuery, body: { type: 'object' } } }, async (request, reply) => {
      if (options.store === null) return reply.status(404).send({ error: 'not_found', message: 'this server has no store' });
      const dryRun = (request.query as { dry_run?: string }).dry_run === 'true';
      const result = await applyDocument(options.store, request.body, dryRun);
      if ('problems' in result) return reply.status(400).send({ error: 'invalid_document', message: `the document is invalid: ${result.problems.length} problem(s)`, problems: result.problems });
      if (!dryRun) options.applied?.();
      return { dry_run: dryRun, ...result.changes };
    });

    admin.post('/v1/reload', async (_request, reply) => {
      if (options.reload === null) return reply.status(404).send({ error: 'not_found', message: 'this server does not reload policies' });
      return options.reload();
    });
  });
}

import type { FastifyInstance } from 'fastify';
import { adminKeyMatches } from '../server/keys.js';

/**
 * The admin key check of every admin endpoint, as an `onRequest` hook on an encapsulated
 * plugin: 403 `admin_disabled` without a configured key, 401 with a Bearer challenge for a
 * missing or wrong one (compared in constant time by adminKeyMatches).
 */
export function requireAdminKey(scope: FastifyInstance, key: string | null): void {
  scope.addHook('onRequest', async (request, reply) => {
    if (key === null) {
      return reply.status(403).send({ error: 'admin_disabled', message: 'admin endpoints are disabled; configure admin_key (or GAVEL_ADMIN_KEY)' });
    }
    if (!adminKeyMatches(request.headers.authorization, key)) {
      return reply.status(401).header('www-authenticate', 'Bearer realm="gavel-admin"').send({ error: 'unauthorized', message: 'a valid admin key is required' });
    }
    return undefined;
  });
}

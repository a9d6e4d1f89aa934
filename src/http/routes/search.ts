import type { FastifyInstance } from 'fastify';
import { authzenEntity } from '../authzen-entities.js';
import type { Decider } from '../../server/decider.js';
import type { OriginOf } from '../origin.js';
import type { LivePolicySet } from '../../engine/live-set.js';
import { search, type SearchKind, type SearchLimits } from '../../engine/search.js';
import { validateSearchRequest } from '../../engine/search-request.js';
import { withRequestToken } from '../../engine/request-token.js';
import type { VerifyToken } from '../../tokens/verify-token.js';
import { searchActionBody, searchResourceBody, searchSubjectBody } from '../schemas/authzen.js';

export const SEARCH_PATHS: Record<SearchKind, string> = {
  subject: '/access/v1/search/subject',
  resource: '/access/v1/search/resource',
  action: '/access/v1/search/action',
};

const BODIES = { subject: searchSubjectBody, resource: searchResourceBody, action: searchActionBody } as const;

export interface SearchRouteOptions {
  /** MACs page tokens; servers sharing it accept each other's tokens. */
  pageKey: string | Buffer;
  limits?: SearchLimits;
}

function badRequest(message: string): Error {
  return Object.assign(new Error(message), { statusCode: 400 });
}

/**
 * AuthZEN 1.0 subject, resource and action search. The route validates, verifies
 * `context.token` once for the whole search, and maps the engine's answer; which
 * candidates are allowed is src/engine/search.ts's job.
 */
export function searchRoutes(app: FastifyInstance, policies: LivePolicySet, decider: Decider, verify: VerifyToken, origin: OriginOf, options: SearchRouteOptions): void {
  for (const kind of ['subject', 'resource', 'action'] as const) {
    app.post(SEARCH_PATHS[kind], { schema: { body: BODIES[kind] } }, async (request) => {
      const body = request.body as { [k: string]: unknown };
      const shaped = { ...body, subject: authzenEntity(body.subject, 'entity'), resource: authzenEntity(body.resource, 'entity'), ...(body.action === undefined ? {} : { action: authzenEntity(body.action, 'action') }) };
      const checked = validateSearchRequest(kind, shaped, { trusted: false });
      // INVARIANT: the route's schema already checked what validateSearchRequest checks.
      if ('problems' in checked) throw badRequest(checked.problems.join('; '));
      const { request: withToken, tokenError } = await withRequestToken(checked.query.request, verify);
      const set = policies.current;
      const directory = decider.snapshot();
      const from = origin(request);
      const outcome = search({ ...checked.query, request: withToken }, { set, directory, decide: (r) => decider.searched(set, directory, r, from), pageKey: options.pageKey, limits: options.limits });
      if (!outcome.ok) throw badRequest(outcome.message);
      const { page, results } = outcome.answer;
      // `page` first, as AuthZEN recommends; the cost stats stay out of the wire format.
      return tokenError === null ? { page, results } : { page, results, context: { token_error: tokenError } };
    });
  }
}

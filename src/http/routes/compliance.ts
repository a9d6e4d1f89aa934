import type { FastifyInstance } from 'fastify';
import type { LivePolicySet } from '../../engine/live-set.js';
import { answerAffects, MAX_FACT_LENGTH, MAX_FACTS } from '../../engine/affects-query.js';
import { filterInventory } from '../../engine/inventory.js';
import { inventoryOf } from '../../engine/inventory-cache.js';
import type { Effect } from '../../language/ast.js';
import { requireAdminKey, type AdminGate } from '../admin-auth.js';
import { noQuery } from './admin.js';

/** Limits on an affects body: facts are short expressions, and a question has a few. */

const oneOrMany = { anyOf: [{ type: 'string', maxLength: 256 }, { type: 'array', maxItems: 64, items: { type: 'string', maxLength: 256 } }] } as const;

const affectsBody = {
  type: 'object',
  required: ['where'],
  additionalProperties: false,
  properties: {
    where: { type: 'array', maxItems: MAX_FACTS, items: { type: 'string', minLength: 1, maxLength: MAX_FACT_LENGTH } },
    tag: oneOrMany,
    owner: oneOrMany,
    effect: { type: 'string', enum: ['permit', 'forbid'] },
    all: { type: 'boolean' },
  },
} as const;

const policiesQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    tag: { type: 'string', maxLength: 256 },
    owner: { type: 'string', maxLength: 256 },
    effect: { type: 'string', enum: ['permit', 'forbid'] },
  },
} as const;

interface AffectsBody {
  where: string[];
  tag?: string | string[];
  owner?: string | string[];
  effect?: Effect;
  all?: boolean;
}

const list = (x: string | string[] | undefined): string[] | undefined => (x === undefined ? undefined : Array.isArray(x) ? x : [x]);

/**
 * Compliance endpoints over the live policy set, behind the admin key: the inventory
 * (`gavel policies`) and "which policies affect …" (`gavel affects`). Thin: the engine
 * answers, the route validates and maps.
 */
export function complianceRoutes(app: FastifyInstance, policies: LivePolicySet, gate: AdminGate): void {
  void app.register(async (admin) => {
    requireAdminKey(admin, gate);

    admin.get('/v1/policies', { schema: { querystring: policiesQuery } }, async (request) => {
      const q = request.query as { tag?: string; owner?: string; effect?: Effect };
      const set = policies.current;
      return { revision: set.revision, policies: filterInventory(inventoryOf(set), q) };
    });

    admin.post('/v1/affects', { schema: { body: affectsBody, querystring: noQuery } }, async (request, reply) => {
      const b = request.body as AffectsBody;
      const set = policies.current;
      const answer = answerAffects(set, { where: b.where, tags: list(b.tag), owners: list(b.owner), effect: b.effect, all: b.all });
      if (answer.kind === 'bad-facts') return reply.status(400).send({ error: 'invalid_fact', message: answer.diagnostics[0], diagnostics: answer.diagnostics });
      return { revision: set.revision, rows: answer.rows };
    });
  });
}

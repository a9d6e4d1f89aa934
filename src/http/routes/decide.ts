import type { FastifyInstance } from 'fastify';
import type { LivePolicySet } from '../../engine/live-set.js';
import { validateRequest } from '../../engine/validate-request.js';
import type { Request } from '../../language/eval/activation.js';
import type { Decider } from '../decider.js';
import { evaluationBody } from '../schemas/authzen.js';

// Query strings are text; bodies are never coerced (a number is not a string), so neither is this.
const explainQuery = { type: 'object', properties: { explain: { type: 'string', enum: ['true', 'false'] } } } as const;
const batchBody = { type: 'object', required: ['requests'], properties: { requests: { type: 'array', maxItems: 1000, items: evaluationBody } } } as const;

function checked(body: unknown, where: string): Request {
  const result = validateRequest(body, { trusted: false });
  if ('problems' in result) throw Object.assign(new Error(result.problems.map((p) => `${where}${p}`).join('; ')), { statusCode: 400 });
  return result.request;
}

/** Gavel's native API: the engine's whole decision, with an explanation on request. */
export function decideRoutes(app: FastifyInstance, policies: LivePolicySet, decider: Decider): void {
  app.post('/v1/decide', { schema: { body: evaluationBody, querystring: explainQuery } }, async (request) => {
    const { explain } = request.query as { explain?: string };
    return decider.decide('native', request.id, policies.current, checked(request.body, ''), { explain: explain === 'true' });
  });

  app.post('/v1/decide/batch', { schema: { body: batchBody, querystring: explainQuery } }, async (request) => {
    const { explain } = request.query as { explain?: string };
    const { requests } = request.body as { requests: unknown[] };
    // One set for the whole batch: a reload in between never splits it across revisions.
    const set = policies.current;
    const valid = requests.map((r, i) => checked(r, `requests/${i}/`));
    return {
      decisions: valid.map((r, i) => decider.decide('native_batch', `${request.id}#${i}`, set, r, { explain: explain === 'true' })),
    };
  });
}

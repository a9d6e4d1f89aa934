import type { FastifyInstance } from 'fastify';
import type { LivePolicySet } from '../../engine/live-set.js';
import { validateRequest } from '../../engine/validate-request.js';
import type { Request } from '../../language/eval/activation.js';
import type { Decider } from '../../server/decider.js';
import type { Decision } from '../../engine/decision.js';
import { withRequestToken } from '../../engine/request-token.js';
import type { VerifyToken } from '../../tokens/verify-token.js';
import { evaluationBody } from '../schemas/authzen.js';
import type { OriginOf } from '../origin.js';

// Query strings are text; bodies are never coerced (a number is not a string), so neither is this.
// A misspelt `explain` is refused, not answered without the explanation asked for.
const explainQuery = { type: 'object', additionalProperties: false, properties: { explain: { type: 'string', enum: ['true', 'false'] } } } as const;
const batchBody = { type: 'object', required: ['requests'], properties: { requests: { type: 'array', maxItems: 1000, items: evaluationBody } } } as const;

function checked(body: unknown, where: string): Request {
  const result = validateRequest(body, { trusted: false });
  if ('problems' in result) throw Object.assign(new Error(result.problems.map((p) => `${where}${p}`).join('; ')), { statusCode: 400 });
  return result.request;
}

/** Gavel's native API: the engine's whole decision, with an explanation on request. */
/** The decision, with `token_error` when `context.token` was given and did not verify. */
function withTokenError(d: Decision, tokenError: string | null): Decision & { token_error?: string } {
  return tokenError === null ? d : { ...d, token_error: tokenError };
}

export function decideRoutes(app: FastifyInstance, policies: LivePolicySet, decider: Decider, verify: VerifyToken, origin: OriginOf): void {
  app.post('/v1/decide', { schema: { body: evaluationBody, querystring: explainQuery } }, async (request) => {
    const { explain } = request.query as { explain?: string };
    const { request: input, tokenError } = await withRequestToken(checked(request.body, ''), verify);
    return withTokenError(decider.decide('native', request.id, policies.current, input, { explain: explain === 'true' }, origin(request)), tokenError);
  });

  app.post('/v1/decide/batch', { schema: { body: batchBody, querystring: explainQuery } }, async (request) => {
    const { explain } = request.query as { explain?: string };
    const { requests, ...other } = request.body as { requests: unknown[] };
    // As /v1/decide refuses a misspelt member, the batch refuses one beside `requests` — an
    // `explain` put in the body would otherwise be answered without the explanations.
    const unknown = Object.keys(other);
    if (unknown.length > 0) {
      const hint = unknown.includes('explain') ? ' (explain is a query parameter: /v1/decide/batch?explain=true)' : '';
      throw Object.assign(new Error(`body/${unknown[0]}: unknown member; a batch has only \`requests\`${hint}`), { statusCode: 400 });
    }
    // One set for the whole batch: a reload in between never splits it across revisions.
    const set = policies.current;
    const from = origin(request);
    const valid = await Promise.all(requests.map((r, i) => withRequestToken(checked(r, `requests/${i}/`), verify)));
    return {
      decisions: valid.map(({ request: r, tokenError }, i) => withTokenError(decider.decide('native_batch', `${request.id}#${i}`, set, r, { explain: explain === 'true' }, from), tokenError)),
    };
  });
}

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Interface } from '../../server/metrics.js';
import type { Decider, Origin } from '../../server/decider.js';
import type { OriginOf } from '../origin.js';
import type { Decision } from '../../engine/decision.js';
import type { LivePolicySet } from '../../engine/live-set.js';
import type { PolicySet } from '../../engine/policy-set.js';
import { validateRequest } from '../../engine/validate-request.js';
import { describeJsonProblem, jsonProblem, MAX_JSON_DEPTH } from '../../formats/json-depth.js';
import { withRequestToken, type WithToken } from '../../engine/request-token.js';
import type { VerifyToken } from '../../tokens/verify-token.js';
import { SEARCH_PATHS } from './search.js';
import { authzenEntity, withDefaults } from '../authzen-entities.js';
import { evaluationBody, evaluationResponse, evaluationsBody, type EvaluationsSemantic } from '../schemas/authzen.js';

type Json = { [k: string]: unknown };

/** An AuthZEN Decision: `decision`, and a `context` saying which policies decided and why. */
function authzenDecision({ decision: d, tokenError }: Evaluated): { decision: boolean; context: Json } {
  const context: Json = { determining: d.determining, reasons: d.reasons, revision: d.revision };
  if (d.errors.length > 0) context.errors = d.errors;
  if (tokenError !== null) context.token_error = tokenError;
  return { decision: d.decision, context };
}

/** A decision and, when `context.token` did not verify, why: shown in the AuthZEN context. */
type Evaluated = { decision: Decision; tokenError: string | null };

/** Decides one AuthZEN request: only the four caller roots are read; `token` and `risk` never come from the body. */
function evaluate(set: PolicySet, body: Json, decider: Decider, verify: VerifyToken, where: Interface, id: string, origin: Origin): Evaluated | Problems | Promise<Evaluated> {
  const request = { subject: authzenEntity(body.subject, 'entity'), action: authzenEntity(body.action, 'action'), resource: authzenEntity(body.resource, 'entity'), ...(body.context === undefined ? {} : { context: body.context }) };
  const checked = validateRequest(request, { trusted: false });
  if ('problems' in checked) return checked;
  // Without a token, or with one verified before, nothing waits: the decision is made and answered in this turn.
  const decided = ({ request: withToken, tokenError }: WithToken): Evaluated => ({ decision: decider.decide(where, id, set, withToken, {}, origin), tokenError });
  const withToken = withRequestToken(checked.request, verify);
  return withToken instanceof Promise ? withToken.then(decided) : decided(withToken);
}

type Problems = { problems: string[] };

/** How much of a batch's defaults, repeated in each of its items, one request may carry (bytes of JSON). */
export const MAX_REPEATED_DEFAULTS = 8 << 20;

/**
 * Bytes of JSON the items take from the defaults: each default member once for every item
 * that does not replace it. A default nested too deep to decide on is a 400 of its own, before
 * it is measured: measuring it whole overflowed the stack at a few thousand levels (a 500).
 */
function repeatedDefaults(defaults: Json, items: readonly Json[]): number {
  let total = 0;
  for (const [member, value] of Object.entries(defaults)) {
    if (value === undefined) continue;
    // The request is level 1, its members level 2 (as validateRequest counts).
    const problem = jsonProblem(value, MAX_JSON_DEPTH - 1);
    if (problem !== null) throw Object.assign(new Error(describeJsonProblem(member, problem, `${MAX_JSON_DEPTH} levels (objects and lists, counted from the request)`)), { statusCode: 400 });
    const size = Buffer.byteLength(JSON.stringify(value));
    for (const item of items) if (item[member] === undefined) total += size;
  }
  return total;
}

const kib = (bytes: number): string => (bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`);

/** The single evaluation's answer, or the 400 its request deserves. */
function answered(d: Evaluated | Problems): { decision: boolean; context: Json } {
  // INVARIANT: the route's schema already checked what validateRequest checks.
  if ('problems' in d) throw Object.assign(new Error(d.problems.join('; ')), { statusCode: 400 });
  return authzenDecision(d);
}

/** `http(s)://ADDRESS:PORT` of the socket a request arrived on (IPv6 in brackets). */
function localOrigin(socket: { localAddress?: string; localPort?: number; encrypted?: boolean }): string {
  const address = socket.localAddress;
  const host = address === undefined ? '127.0.0.1' : address.includes(':') ? `[${address}]` : address;
  return `${socket.encrypted === true ? 'https' : 'http'}://${host}:${socket.localPort ?? 80}`;
}

interface BatchBody {
  subject?: Json;
  action?: Json;
  resource?: Json;
  context?: Json;
  evaluations?: Json[];
  options?: { evaluations_semantic?: EvaluationsSemantic; gavel_include_context?: boolean };
}

/** OpenID AuthZEN Authorization API 1.0: evaluation, evaluations, and PDP metadata. */
export function authzenRoutes(app: FastifyInstance, policies: LivePolicySet, baseUrl: (() => string | null) | null, decider: Decider, verify: VerifyToken, origin: OriginOf): void {
  // Not an async handler: an answer made in this turn is sent at once (handle-request.js sends a returned value).
  app.post('/access/v1/evaluation', { schema: { body: evaluationBody, response: { 200: evaluationResponse } } }, (request) => {
    const d = evaluate(policies.current, request.body as Json, decider, verify, 'authzen', request.id, origin(request));
    return d instanceof Promise ? d.then(answered) : answered(d);
  });

  app.post('/access/v1/evaluations', { schema: { body: evaluationsBody } }, async (request) => {
    const body = request.body as BatchBody;
    const set = policies.current;
    const items = body.evaluations ?? [];
    const defaults: Json = { subject: body.subject, action: body.action, resource: body.resource, context: body.context };
    const from = origin(request);
    if (items.length === 0) {
      // Without items the endpoint is the single evaluation (AuthZEN 1.0 §7.1).
      return answered(await evaluate(set, defaults, decider, verify, 'authzen', request.id, from));
    }
    // Each item is decided, and logged, with the defaults it does not replace merged in: those
    // are repeated once per item. A bound on that keeps a 1 MiB body from becoming a gigabyte of log.
    const repeated = repeatedDefaults(defaults, items);
    if (repeated > MAX_REPEATED_DEFAULTS) {
      throw Object.assign(new Error(`the top-level subject, action, resource and context the ${items.length} evaluations take from the request add up to ${kib(repeated)}, more than ${kib(MAX_REPEATED_DEFAULTS)}: each is decided and logged with them; send fewer evaluations per batch, or smaller defaults`), { statusCode: 413 });
    }
    const semantic = body.options?.evaluations_semantic ?? 'execute_all';
    const withContext = body.options?.gavel_include_context === true;
    const evaluations: Json[] = [];
    for (const [i, item] of items.entries()) {
      // Each member present in the item replaces the default as a whole, but for a type, id or name it leaves out.
      const d = await evaluate(set, withDefaults(defaults, item), decider, verify, 'authzen_batch', `${request.id}#${i}`, from);
      if ('problems' in d) {
        // One bad item fails closed in-band; the rest of the batch is still answered.
        evaluations.push({ decision: false, context: { error: { status: 400, message: d.problems.join('; ') } } });
        if (semantic === 'deny_on_first_deny') break;
        continue;
      }
      evaluations.push(withContext ? authzenDecision(d) : { decision: d.decision.decision });
      const allowed = d.decision.decision;
      if ((semantic === 'deny_on_first_deny' && !allowed) || (semantic === 'permit_on_first_permit' && allowed)) break;
    }
    return { evaluations };
  });

  const metadata = (request: FastifyRequest, reply: FastifyReply) => {
    const base = baseUrl?.() ?? localOrigin(request.socket as { localAddress?: string; localPort?: number; encrypted?: boolean });
    reply.header('cache-control', 'max-age=300');
    return {
      policy_decision_point: base,
      access_evaluation_endpoint: `${base}/access/v1/evaluation`,
      access_evaluations_endpoint: `${base}/access/v1/evaluations`,
      search_subject_endpoint: `${base}${SEARCH_PATHS.subject}`,
      search_resource_endpoint: `${base}${SEARCH_PATHS.resource}`,
      search_action_endpoint: `${base}${SEARCH_PATHS.action}`,
    };
  };
  app.get('/.well-known/authzen-configuration', async (request, reply) => metadata(request, reply));
  // AuthZEN 1.0 "PDP Metadata" (RFC 8615 insertion): an identifier with a path
  // (`https://pdp.example.com/tenant1`, Gavel behind a proxy that strips it) is looked up at
  // /.well-known/authzen-configuration/tenant1. Only the identifier's own path answers: a client
  // must discard a document whose identifier differs from the one it asked about.
  app.get('/.well-known/authzen-configuration/*', async (request, reply) => {
    const base = baseUrl?.() ?? null;
    const path = base === null ? '/' : new URL(base).pathname.replace(/\/$/, '');
    const asked = request.url.slice(WELL_KNOWN.length).split('?')[0];
    if (path === '' || path === '/' || asked !== path) return reply.status(404).send({ error: 'not_found', message: `no AuthZEN metadata at ${request.url.split('?')[0]}: this PDP's identifier is ${base ?? 'the address requests arrive on'}` });
    return metadata(request, reply);
  });
}

const WELL_KNOWN = '/.well-known/authzen-configuration';

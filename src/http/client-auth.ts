import type { FastifyInstance } from 'fastify';
import { bearerKey, CLIENT_KEY_HEADER, type ClientKeys } from '../server/keys.js';
import type { Refusals } from '../server/refusals.js';
import { ENVOY_PREFIX } from './routes/forward-auth.js';

/** Routes that answer decisions; only these need a client key. Metadata and health stay open. */
const DECISION_ROUTES = new Set(['/access/v1/evaluation', '/access/v1/evaluations', '/v1/decide', '/v1/decide/batch', '/v1/forward-auth', `${ENVOY_PREFIX}/*`, '/access/v1/search/subject', '/access/v1/search/resource', '/access/v1/search/action']);
/** Where `Authorization` carries the end user's token, and a gateway relays the answer to them. */
const GATEWAY_ROUTES = new Set(['/v1/forward-auth', `${ENVOY_PREFIX}/*`]);

/**
 * With client keys configured, a decision route answers only a caller presenting one: in
 * `X-Gavel-Client-Key`, or — except on forward-auth, where `Authorization` carries the end
 * user's token — as `Authorization: Bearer KEY` (how AuthZEN PEPs usually authenticate), or
 * as the bare key in `Authorization` (as the AuthZEN interop harnesses send it).
 */
export function requireClientKeys(app: FastifyInstance, keys: ClientKeys, refusals: Refusals): void {
  if (!keys.required) return;
  app.addHook('onRequest', async (request, reply) => {
    const route = request.routeOptions.url;
    if (route === undefined || !DECISION_ROUTES.has(route)) return;
    const fromHeader = request.headers[CLIENT_KEY_HEADER];
    const given = typeof fromHeader === 'string' ? fromHeader : GATEWAY_ROUTES.has(route) ? null : presentedKey(request.headers.authorization);
    if (keys.identify(given) !== null) return;
    refusals.clientKey('http', `${given === null ? 'no client key' : 'a client key that is not valid'} on ${request.method} ${route}`, request.socket.remoteAddress ?? null);
    const unread = given === null && !GATEWAY_ROUTES.has(route) && request.headers.authorization !== undefined;
    const message = unread ? `the Authorization header holds no client key: send \`Bearer KEY\`, or the key in ${CLIENT_KEY_HEADER}` : `${given === null ? 'a client key is required' : 'the client key is not valid'}: send it in ${CLIENT_KEY_HEADER}`;
    // A gateway hands forward-auth's 401 and its challenge on to the end user (nginx copies
    // WWW-Authenticate), who would be asked to sign in again for the gateway's mistake: a 403,
    // as Envoy's Check answers the same refusal.
    if (GATEWAY_ROUTES.has(route)) return reply.status(403).send({ error: 'forbidden', message });
    return reply
      .status(401)
      .header('www-authenticate', 'Bearer realm="gavel"')
      .send({ error: 'unauthorized', message });
  });
}

/**
 * The key in `Authorization`: `Bearer KEY`, or the key alone, as the AuthZEN interop
 * harnesses send it (a value without a space is no other scheme's credentials).
 */
function presentedKey(authorization: string | undefined): string | null {
  const bearer = bearerKey(authorization);
  if (bearer !== null) return bearer;
  const bare = authorization?.trim() ?? '';
  return bare !== '' && !/\s/.test(bare) ? bare : null;
}

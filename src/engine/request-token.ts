import type { Request } from '../language/eval/activation.js';
import { tokenKey, type TokenResult, type VerifyToken } from '../tokens/verify-token.js';
import { boundKey } from '../tokens/dpop.js';
import { withRoots } from './request-roots.js';

type Json = { [k: string]: unknown };
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether the request carries a token in `context.token` (valid or not): only then is there anything to wait for. */
export function carriesToken(request: Request): request is Request & { context: Json } {
  return isObject(request.context) && Object.hasOwn(request.context, 'token');
}

/**
 * AuthZEN and native callers pass an end user's bearer token as `context.token`. It is
 * taken out of `context` (policies and the decision log never see a raw token), verified,
 * and its claims become the trusted `token` root. A token that fails gives no `token` and
 * says why.
 */
export function withRequestToken(request: Request, verify: VerifyToken): WithToken | Promise<WithToken> {
  // A promise only when the token must be verified: without one, or with one verified before
  // (verify.now), the caller decides in this turn — a promise per request costs the hot path.
  const step = firstStep(request, verify);
  return 'request' in step ? step : verify(step.token, step.key).then((result) => applied(step.stripped, result));
}

/** A request with its verified token as `token` (or without, and why). */
export type WithToken = { request: Request; tokenError: string | null };

/** The answer when nothing needs waiting for; else the token to verify, its key, and the request without it. */
function firstStep(request: Request, verify: VerifyToken): WithToken | { stripped: Request; token: string; key: string } {
  if (!carriesToken(request)) return { request, tokenError: null };
  const { token, stripped } = takeToken(request);
  if (typeof token !== 'string') return { request: stripped, tokenError: 'context.token must be a string (a JWT)' };
  const key = tokenKey(token);
  const result = verify.now?.(token, key);
  return result === undefined ? { stripped, token, key } : applied(stripped, result);
}

/** The request without `context.token`, and the token. Copied key by key: object rest costs more on the hot path. */
function takeToken(request: Request & { context: Json }): { token: unknown; stripped: Request } {
  const context: Json = {};
  for (const key of Object.keys(request.context)) if (key !== 'token') context[key] = request.context[key];
  return { token: request.context.token, stripped: withRoots(request, { context }) };
}

function applied(stripped: Request, result: TokenResult): WithToken {
  if (!result.ok) return { request: stripped, tokenError: result.reason };
  // Without the original request there is no DPoP proof to check the key binding with.
  if (boundKey(result.claims) !== null) return { request: stripped, tokenError: 'the token is DPoP-bound: its proof can only be checked where the original request is seen (forward-auth, Envoy)' };
  return { request: withRoots(stripped, { token: result.claims }), tokenError: null };
}

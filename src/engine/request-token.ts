import type { Request } from '../language/eval/activation.js';
import type { TokenResult } from '../tokens/verify-token.js';
import { boundKey } from '../tokens/dpop.js';

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
export async function withRequestToken(request: Request, verify: (token: string) => Promise<TokenResult>): Promise<{ request: Request; tokenError: string | null }> {
  if (!carriesToken(request)) return { request, tokenError: null };
  const { token, ...context } = request.context;
  const stripped: Request = { ...request, context };
  if (typeof token !== 'string') return { request: stripped, tokenError: 'context.token must be a string (a JWT)' };
  const result = await verify(token);
  if (!result.ok) return { request: stripped, tokenError: result.reason };
  // Without the original request there is no DPoP proof to check the key binding with.
  if (boundKey(result.claims) !== null) return { request: stripped, tokenError: 'the token is DPoP-bound: its proof can only be checked where the original request is seen (forward-auth, Envoy)' };
  return { request: { ...stripped, token: result.claims }, tokenError: null };
}

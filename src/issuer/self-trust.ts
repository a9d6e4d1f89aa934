import { decodeJwt, type JWTPayload } from 'jose';
import { tokenKey, type TokenResult, type VerifyToken } from '../tokens/verify-token.js';
import type { Issuer } from './issuer.js';

/**
 * Closing the loop: Gavel's decision interfaces accept the tokens its own issuer minted
 * with no configuration — signature by the issuer's current keys, `iss`, `typ: at+jwt`,
 * an audience that is a registered API, not expired, not revoked. Verified tokens are
 * cached by hash, and a revocation applies to cached ones at once.
 */
export function withSelfTrust(issuer: Issuer, others: VerifyToken, isApi: (audience: string) => boolean, cacheSize = 10_000): VerifyToken {
  const cache = new Map<string, JWTPayload>();
  // Tokens seen before that are not the issuer's own, by hash: a repeated one is handed on
  // without decoding it again to read its `iss` (the next verifier caches its own result).
  const foreign = new Set<string>();
  const checked = (claims: JWTPayload, key: string): TokenResult => {
    if ((claims.exp ?? 0) <= Date.now() / 1000) return cache.delete(key), { ok: false, reason: 'token expired' };
    // Kept while it lives: asked again, a revoked token is said to be revoked, not "not valid".
    if (issuer.isRevoked(claims.jti)) return { ok: false, reason: 'token revoked' };
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.some((a) => typeof a === 'string' && isApi(a))) return { ok: false, reason: 'claim `aud` is not valid: not a registered API' };
    return { ok: true, claims };
  };
  const answerNow = (token: string, key: string): TokenResult | undefined => {
    const cached = cache.get(key);
    if (cached !== undefined) return checked(cached, key);
    return foreign.has(key) ? others.now?.(token, key) : undefined;
  };
  const verify = async (token: string, known?: string): Promise<TokenResult> => {
    const key = known ?? tokenKey(token);
    const cached = cache.get(key);
    if (cached !== undefined) return checked(cached, key);
    if (!foreign.has(key) && issuer.url !== '' && claimedIssuer(token, issuer.url) === issuer.url) {
      const checkedToken = await issuer.checkToken(token);
      if (!('claims' in checkedToken)) {
        if (checkedToken.problem !== 'invalid') return { ok: false, reason: `token ${checkedToken.problem}` };
        return { ok: false, reason: token.includes('.') ? 'token is not valid: bad signature, expired or revoked' : 'token is not a JWT (three dot-separated parts), nor a reference token this issuer minted that is still valid' };
      }
      const { claims } = checkedToken;
      if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!);
      cache.set(key, claims);
      return checked(claims, key);
    }
    if (foreign.size >= cacheSize) foreign.delete(foreign.values().next().value!);
    foreign.add(key);
    const result = await others(token, key);
    // Another Gavel's token, or this one's under another URL (a second server on the same store, a
    // changed port): said with the URL this server issues as, which `issuer.url` sets.
    if (!result.ok && result.reason.startsWith('issuer `') && result.reason.endsWith('` is not trusted')) return { ...result, reason: `${result.reason}; this server's own issuer is ${issuer.url}` };
    return result;
  };
  return Object.assign(verify, { now: answerNow });
}

/** The `iss` a token claims, unverified: only to route it. An opaque token (no dots) can only be the issuer's own reference token. */
function claimedIssuer(token: string, own: string): unknown {
  if (!token.includes('.')) return own;
  try {
    return decodeJwt(token).iss;
  } catch {
    return null;
  }
}

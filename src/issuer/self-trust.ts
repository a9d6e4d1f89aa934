import { createHash } from 'node:crypto';
import { decodeJwt, type JWTPayload } from 'jose';
import type { TokenResult } from '../tokens/verify-token.js';
import type { Issuer } from './issuer.js';

type Verify = (token: string) => Promise<TokenResult>;

/**
 * Closing the loop: Gavel's decision interfaces accept the tokens its own issuer minted
 * with no configuration — signature by the issuer's current keys, `iss`, `typ: at+jwt`,
 * an audience that is a registered API, not expired, not revoked. Verified tokens are
 * cached by hash, and a revocation applies to cached ones at once.
 */
export function withSelfTrust(issuer: Issuer, others: Verify, isApi: (audience: string) => boolean, cacheSize = 10_000): Verify {
  const cache = new Map<string, JWTPayload>();
  return async (token) => {
    let iss: unknown;
    // An opaque token (no dots) can only be the issuer's own reference token.
    if (!token.includes('.')) iss = issuer.url;
    else {
      try {
        iss = decodeJwt(token).iss;
      } catch {
        return others(token);
      }
    }
    if (iss !== issuer.url || issuer.url === '') return others(token);
    const key = createHash('sha256').update(token).digest('base64url');
    let claims: JWTPayload | null | undefined = cache.get(key);
    if (claims === undefined) {
      claims = await issuer.verify(token);
      if (claims === null) return { ok: false, reason: 'token is not valid: bad signature, expired or revoked' };
      if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!);
      cache.set(key, claims);
    }
    if ((claims.exp ?? 0) <= Date.now() / 1000) return cache.delete(key), { ok: false, reason: 'token expired' };
    if (issuer.isRevoked(claims.jti)) return cache.delete(key), { ok: false, reason: 'token revoked' };
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.some((a) => typeof a === 'string' && isApi(a))) return { ok: false, reason: 'claim `aud` is not valid: not a registered API' };
    return { ok: true, claims };
  };
}

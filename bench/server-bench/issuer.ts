/**
 * A local token issuer for the JWT variants: an ES256 key pair made for the run, its public
 * JWKS written where the Gavel config's `jwks_file` points, and end-user tokens signed with
 * jose.
 *
 * One token per distinct scope string of the request mix (at most 1,000, well under the
 * verifier's 10,000-entry cache), so every decision still depends on the token's scopes and
 * can be checked; after the first pass every verification is a cache hit, which is the
 * steady state of a PEP forwarding the same users' tokens.
 */
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

export const ISSUER = 'https://issuer.bench.invalid';
export const AUDIENCE = 'gavel-bench';
/** Longer than any run, so no token expires while it is measured. */
const LIFETIME_S = 4 * 3600;

export interface Issuer {
  jwks: { keys: object[] };
  /** The token for a scope string (signed once, then reused). */
  token(subject: string, scope: string): Promise<string>;
  /** Distinct tokens signed so far. */
  readonly signed: number;
}

export async function createIssuer(): Promise<Issuer> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench-1', alg: 'ES256', use: 'sig' };
  const exp = Math.floor(Date.now() / 1000) + LIFETIME_S;
  const tokens = new Map<string, Promise<string>>();
  return {
    jwks: { keys: [jwk] },
    get signed() {
      return tokens.size;
    },
    token(subject, scope) {
      // Keyed by scope only: `sub` is not read by the policies, so the first subject's is kept.
      let t = tokens.get(scope);
      if (t === undefined) {
        t = new SignJWT({ scope }).setProtectedHeader({ alg: 'ES256', kid: 'bench-1', typ: 'JWT' }).setIssuer(ISSUER).setAudience(AUDIENCE).setSubject(subject).setExpirationTime(exp).setIssuedAt().sign(privateKey);
        tokens.set(scope, t);
      }
      return t;
    },
  };
}

/** The `trusted_issuers` entry of a Gavel config file for this issuer. */
export function trustedIssuer(jwksFile: string): object {
  return { issuer: ISSUER, audiences: [AUDIENCE], algorithms: ['ES256'], jwks_file: jwksFile };
}

import type { JSONWebKeySet } from 'jose';

/**
 * Algorithms a trusted issuer may sign with. Only asymmetric ones: keys come from a JWKS,
 * and a symmetric algorithm would let anyone holding the public key forge tokens (the
 * "alg confusion" attack). `none` is never accepted.
 */
export const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

/** An issuer whose tokens Gavel verifies and exposes as the `token` root. */
export interface TrustedIssuer {
  /** The exact `iss` value. */
  issuer: string;
  /** Accepted `aud` values; a token must name at least one. */
  audiences: string[];
  /** Allowed `alg` values; default RS256 and ES256. */
  algorithms?: Algorithm[];
  /**
   * Accepted JOSE `typ` header values (RFC 7515 §4.1.9, compared case-insensitively without
   * an `application/` prefix), for example `["at+jwt"]` (RFC 9068 access tokens) so an ID
   * token of the same issuer is not taken for an access token. Default: any.
   */
  tokenTypes?: string[];
  /** The issuer's keys: a JWKS document, or the URL it is served at. */
  jwks: JSONWebKeySet | URL;
  /**
   * The entity type a gateway call's subject has when this issuer's token names a user
   * (`sub` other than its `client_id`); default `user`. `sub` is unique only within its
   * issuer: issuers whose users may share ids with Gavel's own need types of their own, or a
   * partner's `alice` would be enriched as, and decided like, the directory's `user::"alice"`.
   */
  subjectType?: string;
  /**
   * The entity type when this issuer's token is a client's own (no `sub`, or `sub` equal to
   * its `client_id`); default `client`. A `client_id` is unique only at its authorization
   * server: an issuer whose client ids can be chosen (self-service registration) needs a type
   * of its own, or its client named like one of Gavel's takes on that client's attributes.
   */
  clientSubjectType?: string;
  /**
   * The longest a token of this issuer may still have to live when it is verified (`exp`
   * minus now, in seconds); default: no bound. A token minted to live for years — a
   * misconfigured client, a signing key in the wrong hands — would otherwise pass every
   * check, and be cached, until then. Kong's `maximum_expiration` does the same.
   */
  maxLifetimeSeconds?: number;
}

/** Whether `n` can bound a token's lifetime: a whole number of seconds above 0. */
export function isLifetime(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n > 0;
}

/** Checks issuer configuration; answers what is wrong, or nothing. */
export function issuerProblems(issuers: readonly TrustedIssuer[], labels?: readonly string[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const [i, t] of issuers.entries()) {
    // A config file names each by its place in the file (`trusted_issuers[0]`).
    const where = `${labels?.[i] ?? `trusted issuer ${i + 1}`} (${t.issuer || 'no issuer'})`;
    if (t.issuer === '') problems.push(`${where}: \`issuer\` is empty`);
    if (seen.has(t.issuer)) problems.push(`${where}: listed twice`);
    seen.add(t.issuer);
    if (t.audiences.length === 0) problems.push(`${where}: needs at least one audience`);
    if (t.maxLifetimeSeconds !== undefined && !isLifetime(t.maxLifetimeSeconds)) problems.push(`${where}: the longest token lifetime is a whole number of seconds above 0, for example 86400`);
    for (const alg of t.algorithms ?? []) {
      if (!(ALGORITHMS as readonly string[]).includes(alg)) problems.push(`${where}: algorithm \`${alg}\` is not allowed; use one of ${ALGORITHMS.join(', ')}`);
    }
    if (t.jwks instanceof URL && t.jwks.protocol !== 'https:' && !['127.0.0.1', 'localhost', '[::1]'].includes(t.jwks.hostname)) {
      problems.push(`${where}: the JWKS URL must be https (plain http only on loopback)`);
    }
  }
  return problems;
}

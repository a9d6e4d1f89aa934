import { hash } from 'node:crypto';
import { clip } from '../formats/clip.js';
import { createLocalJWKSet, decodeJwt, errors, jwtVerify, type JWTPayload } from 'jose';
import { confirmationProblem } from './dpop.js';
import { KeysUnavailable, RemoteKeys } from './remote-keys.js';
import type { TrustedIssuer } from './trusted-issuer.js';
import { describeJsonProblem, jsonProblem, MAX_JSON_DEPTH } from '../formats/json-depth.js';

/**
 * A verified token's claims, or why it was not accepted. `unavailable`: the token could not be
 * checked at all — its issuer's keys cannot be fetched — so it is neither valid nor known to
 * be invalid, and a gateway answers 503 (try again), not 401.
 */
export type TokenResult = { ok: true; claims: JWTPayload } | { ok: false; reason: string; unavailable?: true; badProof?: true };

/**
 * Verifies a bearer token. `key` is the token's `tokenKey`, when the caller has computed it
 * already: verifiers stacked on one another hash a token once.
 */
export type VerifyToken = ((token: string, key?: string) => Promise<TokenResult>) & {
  /**
   * The answer for a token that needs no verifying now — verified before and cached, or
   * refused on sight — in the caller's turn; `undefined` when it must be verified. Awaiting
   * the verifier for a cached token cost a request a chain of promises (several microseconds).
   */
  now?: (token: string, key: string) => TokenResult | undefined;
};

/** What verified tokens are cached under: their SHA-256, never their text. */
export function tokenKey(token: string): string {
  // One-shot crypto.hash: half the cost of a createHash chain, on every request with a token.
  return hash('sha256', token, 'base64url');
}

export interface VerifierOptions {
  /** Seconds of clock skew tolerated on `exp` and `nbf`; default 30. */
  clockToleranceSeconds?: number;
  /** Longest token accepted, in characters; default 8192. */
  maxTokenLength?: number;
  /** Verified tokens remembered until they expire; default 10,000 (oldest dropped first). */
  cacheSize?: number;
  /**
   * After fetching a remote JWKS, how long no token's unknown `kid` triggers another fetch
   * (a forged token cannot make Gavel hammer the issuer); default 30 s.
   */
  jwksCooldownMs?: number;
  /** How old a remote JWKS may get before it is fetched again (in the background); default 10 min. */
  jwksRefreshMs?: number;
  /** How old a remote JWKS may get while it cannot be fetched before its keys are no longer used; default 24 h. */
  jwksMaxStaleMs?: number;
  /** Told after every fetch of a remote JWKS: `null` when it succeeded, else why it failed. */
  onJwksFetch?: (url: URL, failure: string | null) => void;
  /** The clock, for tests. */
  now?: () => number;
}

type KeySet = ReturnType<typeof createLocalJWKSet> | RemoteKeys['lookup'];

/**
 * A bearer-token verifier over a fixed list of trusted issuers: signature by the issuer's
 * JWKS, `alg` from its allow-list, `iss` exact, `aud` among its audiences, `exp` required,
 * `nbf` honoured. A verified token is cached (keyed by its hash, never its text) until it
 * expires, so a gateway's repeated calls verify once. Never throws: every failure is a
 * `{ok: false, reason}` an operator can act on (RFC 6750 `invalid_token`).
 */
export function createTokenVerifier(issuers: readonly TrustedIssuer[], options: VerifierOptions = {}): VerifyToken {
  const tolerance = options.clockToleranceSeconds ?? 30;
  const maxLength = options.maxTokenLength ?? 8192;
  const cacheSize = options.cacheSize ?? 10_000;
  const now = options.now ?? Date.now;
  const byIssuer = new Map<string, { issuer: TrustedIssuer; keys: KeySet }>(issuers.map((t) => [t.issuer, { issuer: t, keys: t.jwks instanceof URL ? new RemoteKeys(t.jwks, { cooldownMs: options.jwksCooldownMs, refreshMs: options.jwksRefreshMs, maxStaleMs: options.jwksMaxStaleMs, onFetch: options.onJwksFetch }).lookup : createLocalJWKSet(t.jwks) }]));
  const cache = new Map<string, JWTPayload>();
  // Verifications under way: concurrent requests with the same new token verify it once.
  const pending = new Map<string, Promise<TokenResult>>();

  const verifyOnce = async (token: string, key: string): Promise<TokenResult> => {
    let unverified: JWTPayload;
    try {
      // Only to pick the issuer's keys; nothing of it is trusted before the signature is.
      unverified = decodeJwt(token);
    } catch {
      return { ok: false, reason: 'token is not a JWT: its header and payload must be base64url-encoded JSON' };
    }
    const trusted = typeof unverified.iss === 'string' ? byIssuer.get(unverified.iss) : undefined;
    if (trusted === undefined) return { ok: false, reason: typeof unverified.iss === 'string' ? `issuer \`${clip(unverified.iss, 200)}\` is not trusted` : 'the token names no issuer (`iss`)' };
    try {
      const { payload, protectedHeader } = await jwtVerify(token, trusted.keys, {
        issuer: trusted.issuer.issuer,
        audience: trusted.issuer.audiences,
        algorithms: trusted.issuer.algorithms ?? ['RS256', 'ES256'],
        clockTolerance: tolerance,
        currentDate: new Date(now()),
        requiredClaims: ['exp'],
      });
      const longest = trusted.issuer.maxLifetimeSeconds;
      const left = (payload.exp ?? 0) - now() / 1000;
      if (longest !== undefined && left > longest + tolerance) {
        return { ok: false, reason: `token lives ${Math.round(left)} s more, longer than this issuer's tokens may (${longest} s)` };
      }
      const types = trusted.issuer.tokenTypes;
      if (types !== undefined && !types.some((t) => normalType(t) === normalType(protectedHeader.typ ?? ''))) {
        return { ok: false, reason: `token type \`${protectedHeader.typ ?? '(none)'}\` is not accepted; expected ${types.join(' or ')}` };
      }
      // Claims become the request's `token`, which may nest as deep as a caller's values may.
      const shape = jsonProblem(payload, MAX_JSON_DEPTH);
      if (shape !== null) return { ok: false, reason: shape.kind === 'deep' ? `claims are nested deeper than ${MAX_JSON_DEPTH} levels` : describeJsonProblem('claims', shape, '') };
      const binding = confirmationProblem(payload);
      if (binding !== null) return { ok: false, reason: binding };
      if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!);
      cache.set(key, payload);
      return { ok: true, claims: payload };
    } catch (err: unknown) {
      if (err instanceof KeysUnavailable) return { ok: false, reason: err.message, unavailable: true };
      return { ok: false, reason: describe(err) };
    }
  };

  const answerNow = (token: string, key: string): TokenResult | undefined => {
    if (token.length === 0 || token.length > maxLength) return { ok: false, reason: token.length === 0 ? 'empty token' : `token longer than ${maxLength} characters` };
    const cached = cache.get(key);
    if (cached === undefined) return undefined;
    if ((cached.exp ?? 0) + tolerance > now() / 1000) return { ok: true, claims: cached };
    cache.delete(key);
    return { ok: false, reason: 'token expired' };
  };

  const verify = async (token: string, known?: string): Promise<TokenResult> => {
    if (token.length > maxLength) return answerNow(token, '')!;
    const key = known ?? tokenKey(token);
    const answered = answerNow(token, key);
    if (answered !== undefined) return answered;
    let running = pending.get(key);
    if (running === undefined) {
      running = verifyOnce(token, key).finally(() => pending.delete(key));
      pending.set(key, running);
    }
    return running;
  };
  return Object.assign(verify, { now: answerNow });
}

/** RFC 7515 §4.1.9: `typ` is a media type; `application/` may be omitted and case does not matter. */
const normalType = (typ: string): string => typ.toLowerCase().replace(/^application\//, '');

function describe(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'token expired';
  if (err instanceof errors.JWTClaimValidationFailed) return `claim \`${err.claim}\` is not valid: ${err.reason}`;
  if (err instanceof errors.JOSEAlgNotAllowed) return 'signing algorithm is not allowed';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'signature does not verify';
  if (err instanceof errors.JWKSNoMatchingKey) return 'no key of the issuer matches the token';
  if (err instanceof errors.JOSEError) return `cannot verify: ${err.message}`;
  return 'cannot verify the token';
}

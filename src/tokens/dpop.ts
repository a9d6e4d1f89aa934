import { createHash } from 'node:crypto';
import type { TokenResult } from './verify-token.js';
import { steadyNow } from './clock.js';
import { clip } from '../formats/clip.js';
import { calculateJwkThumbprint, decodeProtectedHeader, importJWK, jwtVerify, type JWK, type JWTPayload } from 'jose';

/** Proof algorithms accepted: asymmetric only, as for tokens. */
export const DPOP_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'RS256', 'PS256', 'EdDSA'];

/**
 * A resource server's DPoP challenge (RFC 9449 §7.1): the scheme, the proof algorithms it
 * accepts (`algs`, which the RFC says SHOULD be sent), and the error when there is one —
 * `invalid_dpop_proof` for a proof that fails the checks of §4.3, `invalid_token` otherwise.
 */
export function dpopChallenge(error?: { code: 'invalid_token' | 'invalid_dpop_proof'; description: string }): string {
  const algs = `algs="${DPOP_ALGORITHMS.join(' ')}"`;
  if (error === undefined) return `DPoP ${algs}`;
  return `DPoP error="${error.code}", error_description="${error.description.replace(/["\\]/g, '')}", ${algs}`;
}

/**
 * The longest a key is remembered. A proof or client assertion older than its own freshness
 * check allows (a DPoP proof's `iat` window, an assertion's five-minute `maxTokenAge`) is
 * refused before the cache is asked, so remembering one longer than that guards nothing —
 * and an entry kept until a far-off `exp` would hold its place for as long.
 */
const MAX_LIFETIME_MS = 10 * 60_000;

/**
 * Entries a replay cache holds by default. A fresh DPoP proof is remembered about a minute
 * (until its `iat` leaves the window), so this is about 16,000 proofs a second sustained; an
 * entry takes about 120 bytes, so a full cache about 120 MB. The cache used to hold 100,000
 * for two minutes each, which refused DPoP requests beyond about 830 a second.
 */
export const REPLAY_CACHE_ENTRIES = 1_000_000;

/** Expiry is kept per second: an entry leaves with the rest of its second, up to a second late. */
const SLOT_MS = 1000;

/** What remembers used proofs and assertions: this process's `ReplayCache`, or one shared through the store. */
export interface Replay {
  /** Records `key` for `lifetimeMs`; answers whether it must be refused (seen before, or no room). A shared one answers once the store has. */
  check(key: string, lifetimeMs: number): boolean | Promise<boolean>;
  /** Forgets `key`: a proof held for a request that then failed. */
  forget(key: string): void;
}

/**
 * Proofs (and client assertions) already seen, so that a captured one cannot be replayed
 * while it is fresh (RFC 9449 §11.1, RFC 7523 §3). Entries leave only when they expire,
 * never to make room: a cache full of fresh entries refuses new ones (fails closed) rather
 * than forget one an attacker holds. So that no one can fill it who could not use what it
 * guards, a proof is kept only once what it came with checked out: at a gateway, after the
 * token it is bound to verified and its key matched; at the token endpoint it is held while
 * the grant runs and let go if the grant fails (`verifyProof`'s `releasable`); an assertion
 * after its signature.
 *
 * Time is the monotonic clock, so a wall clock stepped back cannot keep entries alive. Keys
 * are kept as a 128-bit hash (a third of the memory of a thumbprint and a jti), and each
 * entry is also listed under the second it expires in: every check first drops the seconds
 * gone by, so a full cache holds only fresh entries and refuses without a sweep (a sweep of
 * the whole cache per request, while it was full, made a flood of proofs cost milliseconds
 * each).
 */
export class ReplayCache implements Replay {
  /** Hashed key → when it may be forgotten, on `clock`. */
  private readonly seen = new Map<string, number>();
  /** Hashed keys by the second they expire in (keyed by `Math.floor(expiry / SLOT_MS)`). */
  private readonly slots = new Map<number, string[]>();
  /** The first second whose slot has not been dropped yet. */
  private next: number;
  /** When a full cache last looked for entries of the current second that expired. */
  private sweptAt = -Infinity;

  constructor(
    private readonly max = REPLAY_CACHE_ENTRIES,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.next = Math.floor(clock() / SLOT_MS);
  }

  /** Entries held now. */
  get size(): number {
    return this.seen.size;
  }

  /** Forgets `key`: a proof held for a request that then failed. */
  forget(key: string): void {
    this.seen.delete(digest(key));
  }

  /** Records `key` for `lifetimeMs` (at most ten minutes); answers whether it must be refused (seen before, or no room). */
  check(key: string, lifetimeMs: number): boolean {
    const now = this.clock();
    this.expire(now);
    const hashed = digest(key);
    const until = this.seen.get(hashed);
    if (until !== undefined && until > now) return true;
    if (this.seen.size >= this.max) {
      // Full: those of this second that expired already make room too (the rest of its slot
      // stays) — looked at every 50 ms at most, not on every request of a flood.
      const slot = Math.floor(now / SLOT_MS);
      const keys = now - this.sweptAt >= 50 ? this.slots.get(slot) : undefined;
      if (keys !== undefined) {
        this.sweptAt = now;
        this.drop(slot, keys, now);
        const left = keys.filter((k) => this.seen.has(k));
        if (left.length > 0) this.slots.set(slot, left);
      }
      if (this.seen.size >= this.max) return true;
    }
    const expiry = now + Math.min(Math.max(lifetimeMs, 0), MAX_LIFETIME_MS);
    this.seen.set(hashed, expiry);
    const slot = Math.floor(expiry / SLOT_MS);
    const keys = this.slots.get(slot);
    if (keys === undefined) this.slots.set(slot, [hashed]);
    else keys.push(hashed);
    return false;
  }

  /** Drops the entries of every second gone by. */
  private expire(now: number): void {
    const current = Math.floor(now / SLOT_MS);
    // After a long quiet spell, walk the slots held rather than every second in between.
    if (current - this.next > this.slots.size) {
      for (const [slot, keys] of this.slots) if (slot < current) this.drop(slot, keys, now);
    } else {
      for (; this.next < current; this.next++) {
        const keys = this.slots.get(this.next);
        if (keys !== undefined) this.drop(this.next, keys, now);
      }
    }
    this.next = Math.max(this.next, current);
  }

  private drop(slot: number, keys: readonly string[], now: number): void {
    this.slots.delete(slot);
    // A key forgotten and recorded again since is listed under its new second too: keep it.
    for (const k of keys) if ((this.seen.get(k) ?? Infinity) <= now) this.seen.delete(k);
  }
}

/** A key as the cache keeps it: 128 bits of its SHA-256, base64url. */
function digest(key: string): string {
  return createHash('sha256').update(key).digest().subarray(0, 16).toString('base64url');
}

export interface ProofCheck {
  /** The HTTP method of the request the proof is for. */
  method: string;
  /** The request's URL; query and fragment are ignored (RFC 9449 §4.3). */
  url: string;
  /** With a bound access token: the proof must carry its hash in `ath`. */
  accessToken?: string;
  replay: Replay;
  /**
   * Whether a proof that is kept is kept for good (default), or only held — `release()` of the
   * result forgets it — for a request that may still fail for other reasons: the token
   * endpoint releases the proofs of grants that fail, so that failing requests (a public
   * client's id and no code) cannot fill the cache.
   */
  releasable?: boolean;
  /** The key the proof must be signed with (a bound token's `cnf.jkt`): checked before it is recorded. */
  jkt?: string;
  /** Seconds a proof's `iat` may be off; default 60. */
  windowSeconds?: number;
  now?: number;
}

export type ProofResult = { ok: true; jkt: string; release: () => void } | { ok: false; reason: string };

/**
 * A URL as `htu` is compared (RFC 9449 §4.3: query and fragment ignored, RFC 3986 §6.2.2 and
 * §6.2.3 normalisation): WHATWG parsing does case, default ports and dot segments; left to do
 * is percent-encoding — an unreserved character encoded (`%74oken`) is the character, and
 * other escapes compare in upper case. A reserved one (`%2F`) stays encoded: it is not `/`.
 */
function withoutQuery(url: string): string | null {
  try {
    const u = new URL(url);
    // User info is part of the URI RFC 3986 compares, and no request target has it: a proof
    // naming some is not for this request (rebuilt from `host` below, it would have matched).
    if (u.username !== '' || u.password !== '') return null;
    const path = u.pathname.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => {
      const c = String.fromCharCode(parseInt(hex, 16));
      return /[A-Za-z0-9\-._~]/.test(c) ? c : `%${hex.toUpperCase()}`;
    });
    return `${u.protocol}//${u.host.toLowerCase()}${path}`;
  } catch {
    return null;
  }
}

/**
 * Validates a DPoP proof (RFC 9449 §4.3): `typ: dpop+jwt`, an asymmetric `alg`, a public
 * `jwk` in the header that the signature verifies with, `htm` and `htu` of this request,
 * `iat` within the window, a `jti` not seen before, and — for a request carrying an access
 * token — `ath`, the token's SHA-256. Answers the key's thumbprint (`jkt`).
 */
export async function verifyProof(proof: string, check: ProofCheck): Promise<ProofResult> {
  const now = check.now ?? steadyNow();
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch {
    return { ok: false, reason: 'the DPoP proof is not a JWS' };
  }
  if (header.typ !== 'dpop+jwt') return { ok: false, reason: 'the DPoP proof must have typ dpop+jwt' };
  if (typeof header.alg !== 'string' || !DPOP_ALGORITHMS.includes(header.alg)) return { ok: false, reason: 'the DPoP proof algorithm is not accepted' };
  // The header is the caller's JSON: `jwk` may be a string or a list, which `in` would throw on.
  const jwk: unknown = header.jwk;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk) || 'd' in jwk) return { ok: false, reason: 'the DPoP proof must carry a public jwk' };
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(proof, await importJWK(jwk as JWK, header.alg), { typ: 'dpop+jwt', algorithms: DPOP_ALGORITHMS, currentDate: new Date(now) }));
  } catch {
    return { ok: false, reason: 'the DPoP proof signature does not verify' };
  }
  if (typeof payload.htm !== 'string' || payload.htm !== check.method.toUpperCase()) return { ok: false, reason: 'the DPoP proof is for another method (htm)' };
  const htu = typeof payload.htu === 'string' ? withoutQuery(payload.htu) : null;
  if (htu === null || htu !== withoutQuery(check.url)) return { ok: false, reason: 'the DPoP proof is for another URL (htu)' };
  const window = check.windowSeconds ?? 60;
  if (typeof payload.iat !== 'number' || Math.abs(payload.iat - now / 1000) > window) return { ok: false, reason: 'the DPoP proof is too old or from the future (iat)' };
  if (check.accessToken !== undefined && payload.ath !== createHash('sha256').update(check.accessToken).digest('base64url')) return { ok: false, reason: 'the DPoP proof is not for this access token (ath)' };
  if (typeof payload.jti !== 'string' || payload.jti === '') return { ok: false, reason: 'the DPoP proof has no jti' };
  let jkt: string;
  try {
    jkt = await calculateJwkThumbprint(jwk as JWK, 'sha256');
  } catch {
    return { ok: false, reason: 'the DPoP proof must carry a public jwk' };
  }
  if (check.jkt !== undefined && jkt !== check.jkt) return { ok: false, reason: 'the DPoP proof is signed by another key than the token is bound to' };
  const key = `${jkt}:${payload.jti}`;
  // Remembered while the proof could still be accepted: until its `iat` leaves the window.
  const lifetimeMs = (payload.iat + window) * 1000 - now;
  // Held before the request goes on, so that a full cache refuses (fails closed) and two uses at once cannot both pass.
  if (await check.replay.check(key, lifetimeMs)) return { ok: false, reason: 'the DPoP proof was already used (jti replay), or too many proofs are in flight' };
  return { ok: true, jkt, release: check.releasable === true ? () => check.replay.forget(key) : () => {} };
}

/** The key a token is bound to (`cnf.jkt`, RFC 9449 §6.1); `null` for a bearer token. */
/**
 * Why a token's confirmation (`cnf`, RFC 7800 §3.1) cannot be honoured, or `null`. Gavel
 * checks a DPoP key (`{"jkt": …}`, RFC 9449 §6.1) and no other method: a certificate-bound
 * token (RFC 8705 §3, `x5t#S256`), one bound by `jwk` or `kid`, or a `jkt` that is no string,
 * taken as a bearer token, would let a stolen one through.
 */
export function confirmationProblem(claims: JWTPayload): string | null {
  const cnf: unknown = claims.cnf;
  if (cnf === undefined) return null;
  const isObject = typeof cnf === 'object' && cnf !== null && !Array.isArray(cnf);
  const members = isObject ? Object.keys(cnf) : [];
  if (isObject && members.length === 1 && typeof (cnf as { jkt?: unknown }).jkt === 'string') return null;
  const methods = members.filter((m) => m !== 'jkt');
  const what = !isObject ? '`cnf` is not an object' : methods.length > 0 ? `by ${methods.slice(0, 3).map((m) => `\`${clip(m, 40)}\``).join(', ')}` : '`cnf.jkt` is not a string';
  return `the token is bound to its holder in a way Gavel cannot check (${what}); only DPoP-bound tokens (cnf.jkt) are accepted`;
}

export function boundKey(claims: JWTPayload): string | null {
  const cnf = claims.cnf as { jkt?: unknown } | undefined;
  return typeof cnf?.jkt === 'string' ? cnf.jkt : null;
}

/** `Authorization: Bearer T` or `DPoP T` (RFC 9449 §7.1). */
export function accessToken(authorization: string | undefined): { scheme: 'bearer' | 'dpop'; token: string } | null {
  const m = /^(Bearer|DPoP)[ ]+([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(authorization ?? '');
  return m === null ? null : { scheme: m[1].toLowerCase() === 'dpop' ? 'dpop' : 'bearer', token: m[2] };
}

/**
 * For a resource request: a token bound to a key must come with the DPoP scheme and a
 * proof by that key for this request; a bearer token needs nothing more. Answers why a
 * presented token must be refused, or `null`.
 */
export async function bindingProblem(claims: JWTPayload, scheme: 'bearer' | 'dpop', token: string, proof: string | undefined, request: { method: string; url: string }, replay: Replay): Promise<BindingProblem | null> {
  const jkt = boundKey(claims);
  if (jkt === null) return scheme === 'dpop' ? { reason: 'the DPoP scheme was used with a token not bound to a key', badProof: false } : null;
  if (scheme !== 'dpop' || proof === undefined) return { reason: 'the token is DPoP-bound: present it with the DPoP scheme and a DPoP proof', badProof: false };
  // The key is checked before the proof is recorded: proofs by other keys never take room.
  const checked = await verifyProof(proof, { method: request.method, url: request.url, accessToken: token, replay, jkt });
  // Every check of verifyProof is one of RFC 9449 §4.3's (`ath` and the bound key included).
  return checked.ok ? null : { reason: checked.reason, badProof: true };
}

/** Why a presented token cannot be used as presented; `badProof` when its DPoP proof failed RFC 9449 §4.3 (`invalid_dpop_proof`). */
export interface BindingProblem {
  reason: string;
  badProof: boolean;
}

/**
 * A gateway call's token, verified: the Authorization header's token (Bearer or DPoP), its
 * signature and claims by `verify`, then its key binding against the DPoP proof for the
 * original request. `null` when no token was presented.
 */
export async function verifyPresented(
  authorization: string | undefined,
  proof: string | undefined,
  request: { method: string; url: string },
  verify: (token: string) => Promise<TokenResult>,
  replay: Replay,
): Promise<TokenResult | null> {
  const presented = accessToken(authorization);
  if (presented === null) return null;
  const verified = await verify(presented.token);
  if (!verified.ok) return verified;
  const problem = await bindingProblem(verified.claims, presented.scheme, presented.token, proof, request, replay);
  if (problem === null) return verified;
  return problem.badProof ? { ok: false, reason: problem.reason, badProof: true } : { ok: false, reason: problem.reason };
}

import { performance } from 'node:perf_hooks';
import { createLocalJWKSet, errors, type FlattenedJWSInput, type JWSHeaderParameters } from 'jose';

type KeyLookup = ReturnType<typeof createLocalJWKSet>;
type Key = Awaited<ReturnType<KeyLookup>>;

/**
 * The keys a token needs could not be had: the issuer's JWKS has not been fetched yet and
 * cannot be, or a token names a key Gavel lacks and the JWKS cannot be fetched again. The
 * token may be perfectly good — an interface answers "try again" (503), not "invalid token"
 * (401), which would make well-behaved clients throw their tokens away.
 */
export class KeysUnavailable extends Error {}

export interface RemoteKeysOptions {
  /** How old the keys may get before they are fetched again, in the background; default 10 min. */
  refreshMs?: number;
  /**
   * After a fetch, how long a token's unknown `kid` does not trigger another (a forged token
   * cannot make Gavel hammer the issuer); default 30 s.
   */
  cooldownMs?: number;
  /** How long a fetch may take; default 5 s. */
  timeoutMs?: number;
  /**
   * How old the keys may get while the JWKS cannot be fetched before tokens are no longer
   * checked with them (`KeysUnavailable`); default 24 h. Past it, an issuer that withdrew a
   * compromised key is not overruled by an attacker who keeps Gavel from fetching its JWKS.
   */
  maxStaleMs?: number;
  /** Told after every fetch: `null` when it succeeded, else why it failed (for the server log and /metrics). */
  onFetch?: (url: URL, failure: string | null) => void;
}

/**
 * An issuer's JWKS over HTTPS, kept as the last copy that could be fetched. Unlike jose's
 * remote key set, which fetches in line once its copy is ten minutes old and fails every
 * token while the issuer's JWKS endpoint is down, this one:
 *
 * - refreshes a stale copy in the background and keeps using it meanwhile: a token never
 *   waits for a routine refresh (a gateway's 200 ms ext_authz timeout would give up first);
 * - keeps the old copy when a refresh fails (stale-if-error): an outage of the issuer's
 *   JWKS endpoint does not turn every new token into a 401 — for a day at most (`maxStaleMs`);
 * - fetches in line only when it must — no copy yet, or a token names a key the copy lacks
 *   (the issuer rotated) — and then says `KeysUnavailable` when that fetch fails.
 *
 * The first fetch starts at once, so a gateway's first calls after a start find the keys at hand.
 */
export class RemoteKeys {
  #keys: KeyLookup | null = null;
  /** When the copy was fetched, and when a fetch was last tried (performance.now()). */
  #fetchedAt = -Infinity;
  #triedAt = -Infinity;
  /** Why the last fetch failed, or null when it did not. */
  #failure: string | null = null;
  #pending: Promise<void> | null = null;
  private readonly refreshMs: number;
  private readonly cooldownMs: number;
  private readonly timeoutMs: number;
  private readonly maxStaleMs: number;
  private readonly onFetch: RemoteKeysOptions['onFetch'];

  constructor(
    readonly url: URL,
    options: RemoteKeysOptions = {},
  ) {
    this.refreshMs = options.refreshMs ?? 600_000;
    this.cooldownMs = options.cooldownMs ?? 30_000;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.maxStaleMs = options.maxStaleMs ?? 86_400_000;
    this.onFetch = options.onFetch;
    void this.#refresh();
  }

  /** A jose key lookup (the second argument of `jwtVerify`). */
  readonly lookup = async (header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<Key> => {
    // While the JWKS cannot be fetched, it is tried once per cooldown, not once per token.
    if (this.#keys === null && this.#mayFetch()) await this.#refresh();
    if (this.#keys === null) throw new KeysUnavailable(`the issuer's keys could not be fetched from ${this.url.href}: ${this.#failure ?? 'unknown error'}`);
    if (performance.now() - this.#fetchedAt >= this.maxStaleMs) {
      // Too old to be trusted without a look: fetched in line, and refused while that fails.
      if (this.#mayFetch()) await this.#refresh();
      const age = performance.now() - this.#fetchedAt;
      if (age >= this.maxStaleMs) throw new KeysUnavailable(`the issuer's keys were fetched ${Math.round(age / 60_000)} min ago, and ${this.url.href} cannot be fetched: ${this.#failure ?? 'unknown error'}`);
    } else if (performance.now() - this.#fetchedAt >= this.refreshMs && this.#mayFetch()) void this.#refresh();
    // The copy as it is now: an in-line fetch above may have replaced it.
    const keys = this.#keys!;
    try {
      return await keys(header, token);
    } catch (err: unknown) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
      // A kid the copy lacks: the issuer may have rotated — look again, unless it was just looked at.
      const firstSeen = this.#firstSeenMissing(header.kid);
      if (this.#mayFetch()) await this.#refresh();
      // Without a copy as new as the token, nobody can tell a rotated key from a forged one.
      if (this.#failure !== null) throw new KeysUnavailable(`the token names a key (kid) the issuer's last fetched keys lack, and ${this.url.href} cannot be fetched: ${this.#failure}`);
      try {
        return await this.#keys!(header, token);
      } catch (again: unknown) {
        // Nor when the copy was fetched before this kid was first seen and the cooldown holds the
        // next look: one forged kid a cooldown would otherwise keep a rotated key's tokens invalid.
        if (!(again instanceof errors.JWKSNoMatchingKey) || firstSeen <= this.#triedAt) throw again;
        throw new KeysUnavailable(`the token names a key (kid) the issuer's keys lacked when last fetched, ${Math.round((performance.now() - this.#fetchedAt) / 1000)} s ago; they are fetched again at most every ${this.cooldownMs / 1000} s`);
      }
    }
  };

  /** Unknown kids (their first 64 characters), when each was first looked for: a bounded memory, forgotten as a whole when full. */
  readonly #missing = new Map<string, number>();

  #firstSeenMissing(kid: string | undefined): number {
    // A kid is the token's to choose, up to its whole length: kept short, 1,000 of them are a few dozen KB.
    const name = (kid ?? '').slice(0, 64);
    let at = this.#missing.get(name);
    if (at === undefined) {
      if (this.#missing.size >= MAX_MISSING_KIDS) this.#missing.clear();
      this.#missing.set(name, (at = performance.now()));
    }
    return at;
  }

  /** Whether a fetch is under way (to wait for) or may start: once per cooldown, not once per token. */
  #mayFetch(): boolean {
    return this.#pending !== null || performance.now() - this.#triedAt >= this.cooldownMs;
  }

  /** Fetches the JWKS once, however many callers ask at the same time; never throws. */
  #refresh(): Promise<void> {
    this.#pending ??= this.#fetch().finally(() => (this.#pending = null));
    return this.#pending;
  }

  async #fetch(): Promise<void> {
    this.#triedAt = performance.now();
    try {
      // No redirects: the keys come from the configured URL, not wherever it points.
      const response = await fetch(this.url, { redirect: 'manual', signal: AbortSignal.timeout(this.timeoutMs), headers: { accept: 'application/json, application/jwk-set+json' } });
      if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
      // createLocalJWKSet checks the document's shape.
      this.#keys = createLocalJWKSet(boundedKeySet(await boundedText(response, MAX_JWKS_BYTES)));
      this.#fetchedAt = performance.now();
      this.#failure = null;
    } catch (err: unknown) {
      this.#failure = fetchProblem(err, this.timeoutMs);
    }
    this.onFetch?.(this.url, this.#failure);
  }
}

/**
 * Bounds on a fetched JWKS: issuers publish a few keys, a few kilobytes. Whoever answers for
 * the JWKS URL (or stands between) could otherwise hand over hundreds of megabytes that every
 * unknown kid is then searched through.
 */
const MAX_JWKS_BYTES = 1 << 20;
const MAX_JWKS_KEYS = 100;
/** Unknown kids remembered between fetches. */
const MAX_MISSING_KIDS = 1_000;

/** A response body as text, refused past `max` bytes, read no further than that. */
async function boundedText(response: Response, max: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > max) throw new Error(`the JWKS is ${declared} bytes, more than ${max} allowed`);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body ?? []) {
    size += chunk.length;
    // Leaving the loop by a throw cancels the stream (it is locked to the loop's reader).
    if (size > max) throw new Error(`the JWKS is more than ${max} bytes allowed`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A JWKS document parsed, with at most MAX_JWKS_KEYS keys; createLocalJWKSet checks the rest of its shape. */
function boundedKeySet(text: string): Parameters<typeof createLocalJWKSet>[0] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error('the JWKS is not JSON');
  }
  const keys = typeof doc === 'object' && doc !== null ? (doc as { keys?: unknown }).keys : undefined;
  if (Array.isArray(keys) && keys.length > MAX_JWKS_KEYS) throw new Error(`the JWKS holds ${keys.length} keys, more than ${MAX_JWKS_KEYS} allowed`);
  return doc as Parameters<typeof createLocalJWKSet>[0];
}

/** A failed fetch in words: fetch's own "fetch failed" says nothing; its cause does (ECONNREFUSED, …). */
function fetchProblem(err: unknown, timeoutMs: number): string {
  if (!(err instanceof Error)) return String(err);
  if (err.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  const cause = err.cause;
  if (cause instanceof Error) return `${err.message}: ${'code' in cause && typeof cause.code === 'string' ? cause.code : cause.message}`;
  return err.message;
}

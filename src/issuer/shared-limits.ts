import { hash } from 'node:crypto';
import type { Store } from '../store/store.js';
import { ReplayCache, type Replay } from '../tokens/dpop.js';

/**
 * Used DPoP proofs and client assertions, remembered by every process serving one store: a
 * proof used at one process is refused at the next (RFC 9449 §11.1, RFC 7523 §3), as it is
 * at the same process. This process's cache answers first, so a replay here costs no
 * write; a key it has not seen is claimed in the store, whose row is the one every process
 * agrees on. Keys are stored hashed, as the cache keeps them.
 */
export class SharedReplay implements Replay {
  readonly #local = new ReplayCache();

  constructor(
    private readonly store: Pick<Store, 'claimProof' | 'releaseProof' | 'write'>,
    private readonly nowMs: () => number,
  ) {}

  /** Throws what the store throws (busy, full): nothing is then remembered, here or there. */
  async check(key: string, lifetimeMs: number): Promise<boolean> {
    // Held here first and at once: the same proof sent twice to this process while the store is busy is refused the second time.
    if (this.#local.check(key, lifetimeMs)) return true;
    const now = this.nowMs();
    try {
      return !(await this.store.write((s) => s.claimProof(hashed(key), Math.ceil((now + Math.max(lifetimeMs, 0)) / 1000), Math.floor(now / 1000))));
    } catch (err: unknown) {
      // Not claimed: the same proof, sent again once the store answers, must not be refused as used.
      this.#local.forget(key);
      throw err;
    }
  }

  forget(key: string): void {
    this.#local.forget(key);
    // Not waited for: the request that held the proof has failed already. Left in the store
    // (busy past the timeout), the proof stays refused until it expires — as a used one would.
    void this.store.write((s) => s.releaseProof(hashed(key))).catch(() => {});
  }
}

const hashed = (key: string): string => hash('sha256', key, 'base64url');

/**
 * What may happen once among all the processes serving one store — a sign-in finished, a
 * pushed authorization request used — claimed in the store alone. Not through SharedReplay's
 * in-process cache: anyone may start a sign-in and refuse it at once, and a flood of such
 * claims would fill that cache, which then refuses every DPoP proof and client assertion too.
 * Keys never hold a `:`, so they cannot meet those (`jkt:jti`, `client:jti`) in the shared table.
 */
export class SharedOnce {
  constructor(
    private readonly store: Pick<Store, 'claimProof' | 'write'>,
    private readonly nowMs: () => number,
  ) {}

  /** Whether this caller is the first to claim `id` of `kind`, remembered until `untilMs`. Throws what the store throws. */
  async claim(kind: OnceKind, id: string, untilMs: number): Promise<boolean> {
    const { key, expiresAt, nowSeconds } = this.claimOf(kind, id, untilMs);
    return this.store.write((s) => s.claimProof(key, expiresAt, nowSeconds));
  }

  /** The claim of `id` of `kind`, as Store.saveCodeOnce takes it: made in one transaction with a write. */
  claimOf(kind: OnceKind, id: string, untilMs: number): { key: string; expiresAt: number; nowSeconds: number } {
    return { key: onceKey(kind, id), expiresAt: Math.ceil(untilMs / 1000), nowSeconds: Math.floor(this.nowMs() / 1000) };
  }
}

type OnceKind = 'sign-in' | 'pushed';

/** Ids are base64url (randomToken), so the key, before it is hashed, holds no `:`. */
const onceKey = (kind: OnceKind, id: string): string => hashed(`once/${kind}/${id}`);

/**
 * Failed sign-ins counted under a key (an address, a user name) for every process serving one
 * store: past `limit` in a window of `windowMs` from the window's first failure, sign-ins
 * under that key are refused until the window ends. In memory, each process allowed its own
 * limit, so N processes let a guesser try N times as often. An attempt is counted before its
 * password is checked, and the count answered in the same statement: attempts sent at once,
 * to one process or several, cannot all pass at one below the limit.
 */
export class SharedAttemptLimit {
  constructor(
    private readonly store: Pick<Store, 'countSignInFailure' | 'forgiveSignInFailure' | 'write'>,
    private readonly kind: string,
    readonly limit: number,
    readonly windowMs: number,
    private readonly nowMs: () => number,
  ) {}

  /** Counts an attempt under `key`; answers the seconds to wait when it is past the limit (0: go on). */
  async count(key: string): Promise<number> {
    const now = this.nowMs();
    const { count, untilMs } = await this.store.write((s) => s.countSignInFailure(this.keyOf(key), now, this.windowMs));
    return count > this.limit ? Math.max(1, Math.ceil((untilMs - now) / 1000)) : 0;
  }

  /** Takes back one attempt counted under `key` (right, or refused unchecked). */
  release(key: string): void {
    // Not waited for: what the sign-in answers does not depend on it. Not taken back (the
    // store busy past the timeout), the attempt counts as a failure until its window ends.
    void this.store.write((s) => s.forgiveSignInFailure(this.keyOf(key))).catch(() => {});
  }

  /** One table for both kinds; user names are hashed (they may be long, and need not be kept). */
  private keyOf(key: string): string {
    return `${this.kind}:${hashed(key)}`;
  }
}

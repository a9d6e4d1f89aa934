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
    private readonly store: Pick<Store, 'claimProof' | 'releaseProof'>,
    private readonly nowMs: () => number,
  ) {}

  check(key: string, lifetimeMs: number): boolean {
    if (this.#local.check(key, lifetimeMs)) return true;
    const now = this.nowMs();
    const claimed = this.store.claimProof(hashed(key), Math.ceil((now + Math.max(lifetimeMs, 0)) / 1000), Math.floor(now / 1000));
    return !claimed;
  }

  forget(key: string): void {
    this.#local.forget(key);
    this.store.releaseProof(hashed(key));
  }
}

const hashed = (key: string): string => hash('sha256', key, 'base64url');

/**
 * Failed sign-ins counted under a key (an address, a user name) for every process serving one
 * store: past `limit` in a window of `windowMs` from the window's first failure, sign-ins
 * under that key are refused until the window ends. In memory, each process allowed its own
 * limit, so N processes let a guesser try N times as often. Only failures write, and a
 * failure has cost a password hash already.
 */
export class SharedAttemptLimit {
  constructor(
    private readonly store: Pick<Store, 'countSignInFailure' | 'signInFailures' | 'forgiveSignInFailure'>,
    private readonly kind: string,
    readonly limit: number,
    readonly windowMs: number,
    private readonly nowMs: () => number,
  ) {}

  /** Seconds until `key` may try again; 0 when it may now. */
  retryAfter(key: string): number {
    const now = this.nowMs();
    const counted = this.store.signInFailures(this.keyOf(key), now);
    return counted !== null && counted.count >= this.limit ? Math.ceil((counted.untilMs - now) / 1000) : 0;
  }

  count(key: string): void {
    this.store.countSignInFailure(this.keyOf(key), this.nowMs(), this.windowMs);
  }

  /** Takes back one failure counted under `key` (one that turned out right). */
  release(key: string): void {
    this.store.forgiveSignInFailure(this.keyOf(key));
  }

  /** One table for both kinds; user names are hashed (they may be long, and need not be kept). */
  private keyOf(key: string): string {
    return `${this.kind}:${hashed(key)}`;
  }
}

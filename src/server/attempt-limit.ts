import { parseIp } from '../language/eval/ip.js';

/**
 * What attempts are counted under: the address, or for IPv6 its /64 — one host commonly
 * holds a whole /64, and counting each of its addresses apart would let it rotate past the limit.
 */
export function attemptKey(address: string): string {
  const ip = parseIp(address);
  if (ip === null || ip.v4) return ip?.toString() ?? address;
  const [a, b] = ip.words;
  return `${(a >>> 16).toString(16)}:${(a & 0xffff).toString(16)}:${(b >>> 16).toString(16)}:${(b & 0xffff).toString(16)}::/64`;
}

/**
 * Attempts counted per client address: after `limit` within `windowMs` the address is
 * refused until the window ends. Used for wrong admin keys (refused without being compared:
 * admin keys are long and compared in constant time, so guessing one is hopeless anyway; the
 * limit keeps a scanner from trying at line rate, and makes one visible as 429s) and for
 * dynamic client registrations (each one adds a client to the registry for good).
 *
 * Memory is bounded: beyond `maxAddresses` the least recently counted address is forgotten,
 * which at worst gives an attacker with that many addresses a fresh count on each.
 */
export class AttemptLimit {
  /** Map order is insertion order: re-inserting on each attempt keeps the stalest first. */
  readonly #byAddress = new Map<string, { count: number; since: number }>();

  constructor(
    readonly limit = 10,
    readonly windowMs = 60_000,
    private readonly maxAddresses = 10_000,
    // Monotonic (on the wall clock's scale): a clock stepped back would otherwise lengthen a lockout.
    private readonly now: () => number = () => performance.timeOrigin + performance.now(),
  ) {}

  /** Seconds until `address` may try again; 0 when it may now. */
  retryAfter(address: string): number {
    const entry = this.#byAddress.get(address);
    if (entry === undefined) return 0;
    const left = entry.since + this.windowMs - this.now();
    if (left <= 0) {
      this.#byAddress.delete(address);
      return 0;
    }
    return entry.count >= this.limit ? Math.ceil(left / 1000) : 0;
  }

  /** Takes back one attempt counted for `address` (one that turned out right). */
  release(address: string): void {
    const entry = this.#byAddress.get(address);
    if (entry !== undefined && entry.count > 0) entry.count--;
  }

  count(address: string): void {
    const at = this.now();
    let entry = this.#byAddress.get(address);
    if (entry !== undefined) this.#byAddress.delete(address);
    else if (this.#byAddress.size >= this.maxAddresses) this.#byAddress.delete(this.#byAddress.keys().next().value!);
    if (entry === undefined || entry.since + this.windowMs <= at) entry = { count: 0, since: at };
    entry.count++;
    this.#byAddress.set(address, entry);
  }
}

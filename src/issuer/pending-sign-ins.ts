/**
 * Answers of sign-ins just finished, kept for a duplicate of their form (a double click),
 * bounded in all and per client address. When the table is full, room is made at the address
 * holding the most — not by dropping the oldest entry overall, which would let a hundred
 * addresses push out every real user's. So a flood of requests only ever displaces its own
 * entries while others hold fewer.
 */
export class PendingSignIns<P extends { expiresAt: number }> {
  /** By transaction id, oldest first (every sign-in lives as long, so expiry goes from the front). */
  readonly #byTx = new Map<string, { value: P; from: string }>();
  /** Each address's transactions, oldest first. */
  readonly #byAddress = new Map<string, string[]>();
  /** Addresses by how many sign-ins they hold: the heaviest is found without a scan. */
  readonly #byCount: Set<string>[] = [];
  #heaviest = 0;

  constructor(
    readonly max: number,
    readonly perAddress: number,
  ) {}

  get size(): number {
    return this.#byTx.size;
  }

  get(tx: string): P | undefined {
    return this.#byTx.get(tx)?.value;
  }

  /** Adds a sign-in from `from` (an address key), first making room as the bounds say. */
  add(tx: string, from: string, value: P, now: number): void {
    for (const [id, p] of this.#byTx) {
      if (p.value.expiresAt >= now) break;
      this.drop(id);
    }
    const mine = this.#byAddress.get(from);
    if (mine !== undefined && mine.length >= this.perAddress) this.drop(mine[0]!);
    if (this.#byTx.size >= this.max) {
      const heaviest = this.#byCount[this.#heaviest]?.values().next().value;
      if (heaviest !== undefined) this.drop(this.#byAddress.get(heaviest)![0]!);
    }
    this.#byTx.set(tx, { value, from });
    const list = this.#byAddress.get(from) ?? [];
    if (list.length === 0) this.#byAddress.set(from, list);
    list.push(tx);
    this.#move(from, list.length - 1, list.length);
  }

  /** Forgets a sign-in, wherever it is listed. */
  drop(tx: string): void {
    const entry = this.#byTx.get(tx);
    if (entry === undefined) return;
    this.#byTx.delete(tx);
    const list = this.#byAddress.get(entry.from)!;
    list.splice(list.indexOf(tx), 1);
    if (list.length === 0) this.#byAddress.delete(entry.from);
    this.#move(entry.from, list.length + 1, list.length);
  }

  #move(from: string, was: number, now: number): void {
    if (was > 0) this.#byCount[was]!.delete(from);
    if (now > 0) (this.#byCount[now] ??= new Set()).add(from);
    if (now > this.#heaviest) this.#heaviest = now;
    while (this.#heaviest > 0 && (this.#byCount[this.#heaviest]?.size ?? 0) === 0) this.#heaviest--;
  }
}

/**
 * A first-in first-out queue bounded in bytes: past its bound the oldest items go, never the
 * newest — what the decision log keeps while records cannot be written (a full disk, a
 * writer restarting), on either side of the writer thread, instead of growing until the
 * process runs out of memory.
 */
export class ByteBoundedQueue<T> {
  readonly #items: T[] = [];
  #bytes = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly sizeOf: (item: T) => number,
  ) {}

  get length(): number {
    return this.#items.length;
  }

  get first(): T | undefined {
    return this.#items[0];
  }

  /** Adds `item` at the end; answers the oldest items dropped to stay within the bound. */
  push(item: T): T[] {
    this.#items.push(item);
    this.#bytes += this.sizeOf(item);
    const dropped: T[] = [];
    while (this.#bytes > this.maxBytes && this.#items.length > 1) dropped.push(this.shift()!);
    return dropped;
  }

  shift(): T | undefined {
    const item = this.#items.shift();
    if (item !== undefined) this.#bytes -= this.sizeOf(item);
    return item;
  }

  [Symbol.iterator](): Iterator<T> {
    return this.#items[Symbol.iterator]();
  }
}

import type { DecisionRecord, Store } from '../store/store.js';

export interface DecisionLogOptions {
  /** Longest a decision waits in memory before it is written; default 100 ms. */
  flushMs?: number;
  /** Decisions written per transaction at most, and the size that triggers a write at once; default 500. */
  batchSize?: number;
}

/**
 * The decision log: the request path appends to an in-memory batch (no I/O), which is
 * written to the store in one transaction every `flushMs` or every `batchSize`
 * decisions, and on close — so a graceful stop loses nothing that was answered.
 */
export class DecisionLog {
  #batch: DecisionRecord[] = [];
  #timer: NodeJS.Timeout | null = null;
  #failures = 0;
  private readonly flushMs: number;
  private readonly batchSize: number;

  constructor(
    private readonly store: Pick<Store, 'appendDecisions'>,
    options: DecisionLogOptions = {},
    private readonly onError: (err: unknown) => void = () => {},
  ) {
    this.flushMs = options.flushMs ?? 100;
    this.batchSize = options.batchSize ?? 500;
  }

  /** Decisions waiting to be written. */
  get depth(): number {
    return this.#batch.length;
  }

  /** Writes that failed (the decisions stay queued and are tried again). */
  get failures(): number {
    return this.#failures;
  }

  append(record: DecisionRecord): void {
    this.#batch.push(record);
    if (this.#batch.length >= this.batchSize) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), this.flushMs);
  }

  flush(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    while (this.#batch.length > 0) {
      const chunk = this.#batch.slice(0, this.batchSize);
      try {
        this.store.appendDecisions(chunk);
      } catch (err: unknown) {
        this.#failures++;
        this.onError(err);
        this.#timer = setTimeout(() => this.flush(), this.flushMs * 10);
        return;
      }
      this.#batch.splice(0, chunk.length);
    }
  }

  close(): void {
    this.flush();
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

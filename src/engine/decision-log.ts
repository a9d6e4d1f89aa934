import type { DecisionRecord, DecisionSink } from '../store/store.js';
import { addKeys, summaryOf } from '../store/decision-summary.js';

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
 *
 * A record is serialised when it is appended: the string is all the batch keeps, so no
 * record object outlives its request (objects held for a batch's 100 ms would be promoted
 * to the old generation, and cost the request thread a major collection later), and the
 * batch leaves as one string.
 */
export class DecisionLog {
  #lines: string[] = [];
  #ats: string[] = [];
  #ids: string[] = [];
  /**
   * Filter keys of the records waiting (decision-summary.ts). One set for all of them: when a
   * failed write leaves more than a batch waiting, each batch's keys are a superset of its
   * own, which costs a query a look into a batch, never a wrong answer.
   */
  #keys = new Set<string>();
  #timer: NodeJS.Timeout | null = null;
  #failures = 0;
  private readonly flushMs: number;
  private readonly batchSize: number;

  constructor(
    private readonly sink: DecisionSink,
    options: DecisionLogOptions = {},
    private readonly onError: (err: unknown) => void = () => {},
  ) {
    this.flushMs = options.flushMs ?? 100;
    this.batchSize = options.batchSize ?? 500;
  }

  /** Decisions waiting to be written. */
  get depth(): number {
    return this.#lines.length;
  }

  /** Writes that failed (the decisions stay queued and are tried again). */
  get failures(): number {
    return this.#failures;
  }

  append(record: DecisionRecord): void {
    this.#lines.push(JSON.stringify(record));
    this.#ats.push(record.at);
    this.#ids.push(record.id);
    addKeys(this.#keys, record);
    if (this.#lines.length >= this.batchSize) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), this.flushMs);
  }

  flush(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    while (this.#lines.length > 0) {
      const count = Math.min(this.batchSize, this.#lines.length);
      const all = count === this.#lines.length;
      const json = `[${(all ? this.#lines : this.#lines.slice(0, count)).join(',')}]`;
      const summary = summaryOf(all ? this.#ids : this.#ids.slice(0, count), this.#keys);
      try {
        this.sink.appendBatch({ firstAt: this.#ats[0] ?? '', lastAt: this.#ats[count - 1] ?? '', count, json, summary });
      } catch (err: unknown) {
        this.#failures++;
        this.onError(err);
        this.#timer = setTimeout(() => this.flush(), this.flushMs * 10);
        return;
      }
      this.#lines.splice(0, count);
      this.#ats.splice(0, count);
      this.#ids.splice(0, count);
      if (this.#lines.length === 0) this.#keys.clear();
    }
  }

  close(): void {
    this.flush();
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

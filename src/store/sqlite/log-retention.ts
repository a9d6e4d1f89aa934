import type { SqliteStore } from './sqlite-store.js';

/** How long decisions are kept: `decision_log.retention_days`, `max_rows` and `max_megabytes` (here in bytes). */
export interface Retention {
  days: number;
  maxRows: number;
  /** Bytes of JSON records at most: rows alone leave the file unbounded when records are large. */
  maxBytes: number;
}

/**
 * What one deletion may remove at most: after a write, twice the decisions it added (so a
 * backlog shrinks under load too); between writes, once a second, a larger share. Batches are
 * capped as well, since the log's oldest ones may each hold a single decision (a quiet hour)
 * and many of them make up one batch of a busy one.
 */
const MAX_BATCHES = 2_000;
const BETWEEN_WRITES = { decisions: 50_000, batches: MAX_BATCHES };

/**
 * The decision log's retention, kept by the log's writer as it writes: after each batch it
 * deletes the oldest batches the log no longer keeps — beyond `maxRows` or `maxBytes`, or
 * older than `days` — whole, up to twice what the write added, so the log stays at its bound instead
 * of growing for an hour and then being cut in one long transaction (measured: 8 s to prune
 * 2,000,000 decisions, on the thread answering requests, while the file had grown by
 * gigabytes).
 * The log holds at least `maxRows` decisions once it has that many, and at most one batch
 * more. `trim()` on a timer (every second in the writer) deletes by age, and clears a backlog
 * (a lowered bound, a database from before).
 */
export class LogRetention {
  #total: number;
  #bytes: number;

  constructor(
    private readonly store: SqliteStore,
    private readonly retention: Retention,
    private readonly now: () => number = Date.now,
  ) {
    this.#total = store.decisionCount();
    this.#bytes = store.decisionBytes();
  }

  /** Decisions stored, as this writer counts them. */
  get total(): number {
    return this.#total;
  }

  /** Bytes of records stored, as this writer counts them. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * After a batch of `count` decisions and `bytes` bytes was written: deletes what it pushed
   * past `maxRows` or `maxBytes`. Below both nothing is asked of the database; age is left to
   * `trim()` on its timer.
   */
  written(count: number, bytes: number): number {
    this.#total += count;
    this.#bytes += bytes;
    return this.#total > this.retention.maxRows || this.#bytes > this.retention.maxBytes ? this.trim({ decisions: 2 * count, batches: MAX_BATCHES }) : 0;
  }

  /** Deletes, within `budget`, batches past the bounds or older than `days`; answers how many decisions went. */
  trim(budget: { decisions: number; batches: number } = BETWEEN_WRITES): number {
    const before = new Date(this.now() - this.retention.days * 86_400_000).toISOString();
    const removed = this.store.dropOldestBatches(before, { rows: this.retention.maxRows, bytes: this.retention.maxBytes }, { rows: this.#total, bytes: this.#bytes }, budget);
    this.#total -= removed.rows;
    this.#bytes -= removed.bytes;
    return removed.rows;
  }

  /** Counts again (another connection may have written or deleted decisions). */
  recount(): void {
    this.#total = this.store.decisionCount();
    this.#bytes = this.store.decisionBytes();
  }
}

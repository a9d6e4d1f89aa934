import { Worker } from 'node:worker_threads';
import { DecisionsDropped, type DecisionBatch, type DecisionSink } from '../store.js';
import type { FromWriter, ToWriter, WriterData } from './log-writer-worker.js';
import type { Retention } from './log-retention.js';

/** How long a writer asked to stop has, at least, however little of the close's time is left: its lock wait is 1 s. */
export const STOP_GRACE_MS = 3_000;

/** Whether `promise` settled within `ms`. */
async function within(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([promise.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  clearTimeout(timer);
  return settled;
}

/**
 * What a worker's error says once cloned to this thread: an Error subclass the clone does not
 * know arrives as a plain object, with or without its message (better-sqlite3's keeps only `code`).
 */
function clonedMessage(err: unknown): string {
  if (typeof err !== 'object' || err === null) return String(err);
  if ('message' in err && typeof err.message === 'string') return err.message;
  if ('code' in err && typeof err.code === 'string') return `the decision log writer failed: ${err.code}`;
  return 'the decision log writer failed';
}

/** A writer that stopped is started again after 1 s, then 2, 4 … at most 30 s while it keeps stopping. */
const FIRST_RESTART_MS = 1_000;
const MAX_RESTART_MS = 30_000;

/**
 * Where `gavel serve`'s decision log writes: a worker thread with its own SQLite
 * connection (WAL lets it write while the main connection reads). The request thread only
 * hands over batches — their bytes, transferred — instead of running SQLite's inserts and
 * fsyncs itself. The writer also keeps the log within its retention as it writes (log-retention.ts).
 */
export class WorkerLogSink implements DecisionSink {
  #worker: Worker | null = null;
  #closing = false;
  #restartMs = FIRST_RESTART_MS;
  #dropped = 0;
  #droppedSaidAt = -Infinity;
  private seq = 0;
  /** Decisions handed over and not yet written. */
  private inFlight = new Map<number, number>();
  private waiters: (() => void)[] = [];

  /**
   * `onError` hears of writes that failed (and are retried) — once an outage, and again when its
   * error changes — decisions dropped, and a writer that stopped; `onRetentionError`, of deletions
   * past `retention` that failed; `onRecovered`, of the first write after an outage.
   */
  constructor(
    private readonly path: string,
    private readonly retention: Retention,
    private readonly onError: (err: Error) => void,
    private readonly onRetentionError: (err: Error) => void = onError,
    private readonly maxPendingBytes = 256 << 20,
    private readonly onRecovered: (since: Date) => void = () => {},
  ) {
    this.#start();
  }

  /** Why the log cannot be written now, and since when; `null` while writes succeed. */
  get failing(): { error: string; since: Date } | null {
    return this.#failing;
  }

  #failing: { error: string; since: Date } | null = null;

  #failed(error: string): void {
    this.#failing = { error, since: this.#failing?.since ?? new Date() };
  }

  /** Decisions given up unwritten: by a writer that could not write for too long, or that stopped holding them. */
  get dropped(): number {
    return this.#dropped;
  }

  #start(): void {
    const worker = new Worker(new URL('./log-writer-worker.js', import.meta.url), { workerData: { path: this.path, retention: this.retention, maxPendingBytes: this.maxPendingBytes } satisfies WriterData });
    worker.on('message', (m: FromWriter) => {
      if (m.kind === 'ready') {
        this.#failing = null;
        return;
      }
      if (m.kind === 'failed') {
        // The writer retries every second: said when it starts failing, or fails otherwise, not each time.
        const said = this.#failing?.error;
        this.#failed(m.message);
        if (said !== m.message) this.onError(new Error(m.message));
        return;
      }
      if (m.kind === 'retention-failed') return this.onRetentionError(new Error(m.message));
      if (m.kind === 'dropped') {
        for (const seq of m.seqs) this.inFlight.delete(seq);
        this.#dropped += m.count;
        const said = `${this.#dropped} decisions dropped so far: the log could not be written for longer than the writer's queue (${this.maxPendingBytes >> 20} MiB) holds`;
        // Failing from the first drop, whatever the writer has reported of its retries yet (it waits 5 s).
        if (this.#failing === null) this.#failed(said);
        // Said when it starts, then at most once a minute.
        if (Date.now() - this.#droppedSaidAt >= 60_000) {
          this.#droppedSaidAt = Date.now();
          this.onError(new DecisionsDropped(said));
        }
      } else {
        this.inFlight.delete(m.seq);
        this.#restartMs = FIRST_RESTART_MS;
        if (this.#failing !== null) this.onRecovered(this.#failing.since);
        this.#failing = null;
      }
      if (this.inFlight.size === 0) for (const w of this.waiters.splice(0)) w();
    });
    // A worker's uncaught error may arrive as a plain object (cloned across threads): its message, not "[object Object]".
    worker.on('error', (err: unknown) => this.onError(err instanceof Error ? err : new Error(clonedMessage(err))));
    worker.on('exit', (code) => {
      if (this.#closing) return;
      // What it was handed and had not acknowledged left with it (the bytes were transferred).
      const lost = this.depth;
      this.#dropped += lost;
      this.inFlight.clear();
      for (const w of this.waiters.splice(0)) w();
      this.#worker = null;
      const delay = this.#restartMs;
      this.#restartMs = Math.min(delay * 2, MAX_RESTART_MS);
      this.#failed(`the decision log writer stopped (exit code ${code}) and is restarting`);
      this.onError(new Error(`the decision log writer stopped (exit code ${code})${lost > 0 ? `, with ${lost} decisions it had not written` : ''}; starting another in ${delay / 1000} s`));
      setTimeout(() => {
        if (!this.#closing) this.#start();
      }, delay).unref();
    });
    // The writer must not keep a stopping process alive; close() waits for it explicitly.
    worker.unref();
    this.#worker = worker;
  }

  appendBatch(batch: DecisionBatch): void {
    if (batch.count === 0) return;
    // The decision log keeps the batch and tries again (bounded: DecisionLog's maxQueuedBytes).
    if (this.#worker === null) throw new Error('the decision log writer is restarting');
    const seq = ++this.seq;
    // Bytes move to the writer (transferred, not copied); a string would be copied.
    this.#worker.postMessage({ kind: 'batch', seq, batch } satisfies ToWriter, typeof batch.json === 'string' ? [] : [batch.json.buffer as ArrayBuffer]);
    // Counted once handed over: a postMessage that threw leaves nothing to wait for at close.
    this.inFlight.set(seq, batch.count);
  }

  /** Decisions handed to the writer and not yet in the database. */
  get depth(): number {
    let n = 0;
    for (const count of this.inFlight.values()) n += count;
    return n;
  }

  /**
   * Resolves once everything handed over is written, then stops the writer. A writer that
   * cannot write (a full disk) is given `timeoutMs`; answers how many decisions were lost.
   */
  close(timeoutMs = 30_000): Promise<number> {
    // A second close (a test's finally, a stop during a stop) answers what the first does.
    this.#closed ??= this.#close(timeoutMs);
    return this.#closed;
  }

  #closed: Promise<number> | undefined;

  async #close(timeoutMs: number): Promise<number> {
    const until = Date.now() + timeoutMs;
    // The wait for acknowledgements leaves the writer its grace to stop, within the time given.
    if (this.inFlight.size > 0) await within(new Promise<void>((resolve) => this.waiters.push(resolve)), Math.max(timeoutMs - STOP_GRACE_MS, 0));
    this.#closing = true;
    const worker = this.#worker;
    if (worker === null) return this.depth;
    // The writer is asked to stop, and stops once the batch under way is written or its try
    // given up (its lock wait is a second at most); batches it had not written by then are the
    // ones counted as lost. terminate() is the last resort: stopping a thread inside SQLite's native code
    // aborted the whole process (a V8 fatal error) instead of exiting 0: so the writer gets
    // STOP_GRACE_MS at least, even past the time given (a caller gives it that much).
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ kind: 'stop' } satisfies ToWriter);
    if (!(await within(exited, Math.max(until - Date.now(), STOP_GRACE_MS)))) await worker.terminate();
    return this.depth;
  }
}

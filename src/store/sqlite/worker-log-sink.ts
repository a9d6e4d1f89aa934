import { Worker } from 'node:worker_threads';
import type { DecisionBatch, DecisionSink } from '../store.js';
import type { FromWriter, ToWriter, WriterData } from './log-writer-worker.js';
import type { Retention } from './log-retention.js';

/**
 * Where `gavel serve`'s decision log writes: a worker thread with its own SQLite
 * connection (WAL lets it write while the main connection reads). The request thread only
 * hands over batches — their bytes, transferred — instead of running SQLite's inserts and
 * fsyncs itself. The writer also keeps the log within its retention as it writes (log-retention.ts).
 */
export class WorkerLogSink implements DecisionSink {
  private readonly worker: Worker;
  private seq = 0;
  /** Decisions handed over and not yet written. */
  private inFlight = new Map<number, number>();
  private waiters: (() => void)[] = [];

  /** `onError` hears of writes that failed (and are retried); `onRetentionError`, of deletions past `retention` that failed. */
  constructor(path: string, retention: Retention, onError: (err: Error) => void, onRetentionError: (err: Error) => void = onError) {
    this.worker = new Worker(new URL('./log-writer-worker.js', import.meta.url), { workerData: { path, retention } satisfies WriterData });
    this.worker.on('message', (m: FromWriter) => {
      if (m.kind === 'failed') return onError(new Error(m.message));
      if (m.kind === 'retention-failed') return onRetentionError(new Error(m.message));
      this.inFlight.delete(m.seq);
      if (this.inFlight.size === 0) for (const w of this.waiters.splice(0)) w();
    });
    this.worker.on('error', (err) => onError(err));
    // The writer must not keep a stopping process alive; close() waits for it explicitly.
    this.worker.unref();
  }

  appendBatch(batch: DecisionBatch): void {
    if (batch.count === 0) return;
    const seq = ++this.seq;
    // Bytes move to the writer (transferred, not copied); a string would be copied.
    this.worker.postMessage({ kind: 'batch', seq, batch } satisfies ToWriter, typeof batch.json === 'string' ? [] : [batch.json.buffer as ArrayBuffer]);
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
  async close(timeoutMs = 30_000): Promise<number> {
    if (this.inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([new Promise<void>((resolve) => this.waiters.push(resolve)), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
    }
    const lost = this.depth;
    await this.worker.terminate();
    return lost;
  }
}

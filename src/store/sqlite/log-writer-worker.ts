/**
 * The decision log's writer thread: its own connection to the database, so that SQLite's
 * inserts, index updates and fsyncs never run on the thread answering requests. Batches
 * arrive in order and are acknowledged in order; a batch that cannot be written is kept
 * and tried again, so nothing acknowledged to a caller is dropped while the process lives.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { DecisionBatch } from '../store.js';
import { SqliteStore } from './sqlite-store.js';

/** A batch, already JSON (see DecisionLog). */
export type ToWriter = { kind: 'batch'; seq: number; batch: DecisionBatch };
export type FromWriter = { kind: 'written'; seq: number } | { kind: 'failed'; message: string };

const port = parentPort!;
const store = new SqliteStore((workerData as { path: string }).path, { durability: 'normal' });
const pending: ToWriter[] = [];
let retry: NodeJS.Timeout | null = null;

function drain(): void {
  retry = null;
  while (pending.length > 0) {
    const next = pending[0];
    try {
      store.appendBatch(next.batch);
    } catch (err: unknown) {
      port.postMessage({ kind: 'failed', message: err instanceof Error ? err.message : String(err) } satisfies FromWriter);
      retry = setTimeout(drain, 1000);
      return;
    }
    pending.shift();
    port.postMessage({ kind: 'written', seq: next.seq } satisfies FromWriter);
  }
}

port.on('message', (message: ToWriter) => {
  pending.push(message);
  if (retry === null) drain();
});

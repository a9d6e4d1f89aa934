/**
 * The decision log's writer thread: its own connection to the database, so that SQLite's
 * inserts, index updates and fsyncs never run on the thread answering requests. Batches
 * arrive in order and are acknowledged in order; a batch that cannot be written is kept
 * and tried again, so nothing acknowledged to a caller is dropped while the process lives.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { DecisionBatch } from '../store.js';
import { batchBytes, SqliteStore } from './sqlite-store.js';
import { heldBytes } from '../decision-summary.js';
import { ByteBoundedQueue } from '../byte-bounded-queue.js';
import { LogRetention, type Retention } from './log-retention.js';

/** A batch, already JSON (see DecisionLog). */
export type BatchMessage = { kind: 'batch'; seq: number; batch: DecisionBatch };
export type ToWriter =
  | BatchMessage
  /** Stop once the write under way, if any, returns: the only safe way to stop a thread inside SQLite. */
  | { kind: 'stop' };
export type FromWriter =
  /** The database is open: a writer that restarted after a failure can write again. */
  | { kind: 'ready' }
  | { kind: 'written'; seq: number }
  | { kind: 'failed'; message: string }
  | { kind: 'retention-failed'; message: string }
  /** Batches given up unwritten: the writer could not write for longer than its queue holds. */
  | { kind: 'dropped'; seqs: number[]; count: number };
export interface WriterData {
  path: string;
  retention: Retention;
  /** Bytes of batches the writer keeps while it cannot write (a full disk); beyond, the oldest are dropped. */
  maxPendingBytes: number;
}

/**
 * The writer yields to the threads answering requests: on a busy core (a container's CPU
 * limit, a pinned process) a batch's transaction, a millisecond or two, would otherwise run
 * ahead of requests waiting for an answer and show in their tail latency. At nice 5 the
 * kernel gives the writer about a quarter of a contended core — several times what it
 * needs — and preempts it sooner when a request arrives. Linux only: there a thread's id
 * is a process id to setpriority(2); elsewhere the writer keeps the process's priority.
 */
function lowerPriority(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, WRITER_NICE);
  } catch {
    // No /proc (not Linux), or a sandbox that forbids it: the writer runs at normal priority.
  }
}
const WRITER_NICE = 5;
lowerPriority();

const port = parentPort!;
const { path, retention: bounds, maxPendingBytes } = workerData as WriterData;
// A write that waits for a lock gives up after a second and is tried again a second later
// (drain): between tries the thread reads its messages, a stop among them.
const store = opened();

/**
 * The writer's connection. An error ending this thread reaches the sink cloned, and
 * better-sqlite3's SqliteError loses its message on the way (only `code` is copied): thrown
 * as a plain Error, it says why (`database is locked`: a long `gavel apply` at start).
 */
function opened(): SqliteStore {
  try {
    return new SqliteStore(path, { durability: 'normal', busyTimeoutMs: 1000 });
  } catch (err: unknown) {
    const code = typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? ` (${err.code})` : '';
    throw new Error(`the decision log writer cannot open ${path}: ${err instanceof Error ? err.message : String(err)}${code}`);
  }
}
const retention = new LogRetention(store, bounds);
port.postMessage({ kind: 'ready' } satisfies FromWriter);
let retentionFailing = false;

/** Retention runs after the write it follows has been acknowledged: a failure here loses no decision, and is tried again. */
function keepBound(step: () => void): void {
  try {
    step();
    retentionFailing = false;
  } catch (err: unknown) {
    // Said once per outage, not once a batch.
    if (!retentionFailing) port.postMessage({ kind: 'retention-failed', message: err instanceof Error ? err.message : String(err) } satisfies FromWriter);
    retentionFailing = true;
  }
}
// Between writes: a backlog (a lowered bound, decisions ageing out of an idle server), and every
// half minute a fresh count: another server writing the same log is counted by neither writer
// otherwise, and two of them kept twice the bound (a recount is a fraction of a millisecond).
let ticks = 0;
const bounding = setInterval(() => keepBound(() => (++ticks % 30 === 0 ? retention.recount() : retention.trim())), 1000);
// While writes fail, batches wait here; past the bound the oldest are given up (and reported).
const pending = new ByteBoundedQueue<BatchMessage>(maxPendingBytes, (m) => heldBytes(m.batch));
/** The next turn of drain, when one is due: right away, or a retry a second after a failure. */
let next: { kind: 'turn'; handle: NodeJS.Immediate } | { kind: 'retry'; handle: NodeJS.Timeout } | null = null;
/** Since when writes have failed; `null` while they succeed. */
let failingSince: number | null = null;
/** How long writes may fail before it is reported: a lock held for a few seconds (a large apply) is routine. */
const REPORT_AFTER_MS = 5_000;

/**
 * Writes the oldest pending batch, then leaves the rest to the next turn of the event loop:
 * between batches the thread reads its messages, so a stop is heard after one batch, not
 * after a backlog of many.
 */
function drain(): void {
  next = null;
  const batch = pending.first;
  if (batch === undefined) return;
  try {
    store.appendBatch(batch.batch);
  } catch (err: unknown) {
    failingSince ??= Date.now();
    if (Date.now() - failingSince >= REPORT_AFTER_MS) port.postMessage({ kind: 'failed', message: err instanceof Error ? err.message : String(err) } satisfies FromWriter);
    next = { kind: 'retry', handle: setTimeout(drain, 1000) };
    return;
  }
  failingSince = null;
  pending.shift();
  port.postMessage({ kind: 'written', seq: batch.seq } satisfies FromWriter);
  keepBound(() => retention.written(batch.batch.count, batchBytes(batch.batch)));
  if (pending.first !== undefined) next = { kind: 'turn', handle: setImmediate(drain) };
}

port.on('message', (message: ToWriter) => {
  if (message.kind === 'stop') {
    clearInterval(bounding);
    if (next?.kind === 'retry') clearTimeout(next.handle);
    else if (next?.kind === 'turn') clearImmediate(next.handle);
    store.close();
    // Ends this thread only; the batches still pending are the ones the sink counts as lost.
    process.exit(0);
  }
  const dropped = pending.push(message);
  if (dropped.length > 0) port.postMessage({ kind: 'dropped', seqs: dropped.map((m) => m.seq), count: dropped.reduce((n, m) => n + m.batch.count, 0) } satisfies FromWriter);
  if (next === null) drain();
});

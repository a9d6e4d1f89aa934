import { DecisionsDropped, type DecisionBatch, type DecisionRecord, type DecisionSink } from '../store/store.js';
import { BatchKeys, heldBytes, line } from '../store/decision-summary.js';
import { ByteBoundedQueue } from '../store/byte-bounded-queue.js';

export interface DecisionLogOptions {
  /** Longest a decision waits in memory before it is written; default 100 ms. */
  flushMs?: number;
  /** The number of decisions waiting that triggers a write at once; default 500. */
  batchSize?: number;
  /** The size of the records waiting, in bytes, that triggers a write at once; default 8 MiB. */
  batchBytes?: number;
  /**
   * Whether records keep the request as decided (default true). Without it a record says
   * who asked for what and the outcome — a third of the bytes, and no directory attributes,
   * token claims or caller context (data minimisation) — and cannot be explained again or
   * replayed by what-if.
   */
  keepRequests?: boolean;
  /**
   * Of a verified token, what a kept request holds: `read` (default) — its identity (`iss`, `sub`,
   * `client_id`, `azp`, `act`, `jti`) and the claims the policies in force read; `all` — every claim (a
   * what-if of policies that read other claims then sees them too).
   */
  tokenClaims?: 'read' | 'all';
  /**
   * Bytes of batches kept while the sink refuses them (a full disk, a writer restarting);
   * beyond it the oldest are dropped — and counted — rather than the process run out of
   * memory. Default 256 MiB.
   */
  maxQueuedBytes?: number;
}

const OPEN = 0x5b; // [
const COMMA = 0x2c;
const CLOSE = 0x5d; // ]
const NEWLINE = 0x0a;

/**
 * Items appended as UTF-8, each after a separator byte, to a buffer outside the JavaScript
 * heap (grown by doubling): what a batch keeps of its records between requests.
 */
class ByteText {
  #buf: Buffer;
  #end = 0;

  constructor(private readonly initial: number) {
    this.#buf = Buffer.allocUnsafeSlow(initial);
  }

  /** Bytes held now. */
  get length(): number {
    return this.#end;
  }

  push(separator: number, text: string): void {
    // UTF-8 takes at most three bytes per UTF-16 code unit.
    const most = this.#end + 1 + text.length * 3;
    if (most > this.#buf.length) this.#grow(most);
    this.#buf[this.#end] = separator;
    this.#end += 1 + this.#buf.write(text, this.#end + 1);
  }

  /**
   * The items so far, the first one's separator replaced by `open` and `close` appended, as
   * bytes the caller owns (they may be transferred to another thread); then starts again in a
   * new buffer of the same size. A full batch's bytes are handed over where they were written:
   * copying each into a fresh, zero-filled array cost the request thread ~0.3 µs a decision
   * and most of its page faults (perf, `npm run bench:http`'s workload).
   */
  takeBytes(open: number, close: number): Uint8Array {
    const size = this.#end + 1;
    // A small batch (a quiet server's, every 100 ms) is copied out instead: handing over a
    // mostly empty 64 KiB buffer would hold that much per batch while the log cannot be
    // written, far more than the queue's byte bound counts.
    if (size < this.#buf.length / 4) {
      const out = new Uint8Array(size);
      out.set(this.#buf.subarray(0, this.#end));
      out[0] = open;
      out[this.#end] = close;
      this.#restart();
      return out;
    }
    if (size > this.#buf.length) this.#grow(size);
    const out = this.#buf.subarray(0, size);
    out[0] = open;
    out[this.#end] = close;
    this.#end = 0;
    this.#buf = Buffer.allocUnsafeSlow(this.#buf.length > this.initial * 16 ? this.initial : this.#buf.length);
    return out;
  }

  /** As takeBytes, as a string. */
  takeText(open: string, close: string): string {
    const text = `${open}${this.#buf.toString('utf8', 1, this.#end)}${close}`;
    this.#restart();
    return text;
  }

  /** Empty again; a buffer an outsized batch grew is given back rather than kept for good. */
  #restart(): void {
    this.#end = 0;
    if (this.#buf.length > this.initial * 16) this.#buf = Buffer.allocUnsafeSlow(this.initial);
  }

  #grow(atLeast: number): void {
    let size = this.#buf.length * 2;
    while (size < atLeast) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    this.#buf.copy(next, 0, 0, this.#end);
    this.#buf = next;
  }
}

/**
 * A record as JSON. The interfaces bound what a request may hold (formats/json-depth.ts), so
 * this does not fail; if it ever did, the decision is still logged, without its request (as
 * with `keepRequests: false`), rather than the caller answered 500 for a decision made.
 */
function serialised(record: DecisionRecord): string {
  try {
    return JSON.stringify(record);
  } catch {
    const { request: _unloggable, ...outcome } = record;
    return JSON.stringify(outcome);
  }
}

/**
 * The decision log: the request path appends to an in-memory batch (no I/O), which is
 * written to the store in one transaction every `flushMs` or every `batchSize`
 * decisions, and on close — so a graceful stop loses nothing that was answered.
 *
 * A record is serialised when it is appended, straight into a UTF-8 buffer outside the
 * JavaScript heap, and so are the batch's ids: nothing of a record outlives its request on
 * the heap (strings held for a batch's 100 ms would be promoted to the old generation and
 * cost the request thread a major collection later), and a batch leaves as bytes the
 * writer thread takes over without a copy (worker-log-sink.ts) and SQLite stores as they are.
 */
export class DecisionLog {
  #records = new ByteText(64 * 1024);
  /** The summary's ids, each between newlines (decision-summary.ts). */
  #ids = new ByteText(8 * 1024);
  #count = 0;
  #firstAt = '';
  #lastAt = '';
  /** Filter keys of the records waiting (decision-summary.ts): a handful, however many records share them. */
  readonly #keys = new BatchKeys();
  #timer: NodeJS.Timeout | null = null;
  #failures = 0;
  /**
   * Batches the sink refused, oldest first, tried again before anything newer. While the sink
   * fails, new records are still cut into batches of the usual bounds and queued here: when
   * it recovers the backlog goes out batch by batch, never as one outsized write.
   */
  readonly #failed: ByteBoundedQueue<DecisionBatch>;
  /** Whether a retry of the queue is scheduled: until then new batches join it without a write. */
  #retrying = false;
  #dropped = 0;
  #droppedSaidAt = -Infinity;
  private readonly maxQueuedBytes: number;
  private readonly flushMs: number;
  private readonly batchSize: number;
  private readonly batchBytes: number;
  readonly keepsRequests: boolean;
  readonly tokenClaims: 'read' | 'all';

  constructor(
    private readonly sink: DecisionSink,
    options: DecisionLogOptions = {},
    private readonly onError: (err: unknown) => void = () => {},
  ) {
    this.flushMs = options.flushMs ?? 100;
    this.batchSize = options.batchSize ?? 500;
    this.batchBytes = options.batchBytes ?? 8 << 20;
    this.keepsRequests = options.keepRequests ?? true;
    this.tokenClaims = options.tokenClaims ?? 'read';
    this.maxQueuedBytes = options.maxQueuedBytes ?? 256 << 20;
    this.#failed = new ByteBoundedQueue<DecisionBatch>(this.maxQueuedBytes, heldBytes);
  }

  /** Decisions dropped because the sink refused them for longer than the queue could hold. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Decisions waiting to be written. */
  get depth(): number {
    let n = this.#count;
    for (const b of this.#failed) n += b.count;
    return n;
  }

  /** Writes that failed (the decisions stay queued and are tried again). */
  get failures(): number {
    return this.#failures;
  }

  append(record: DecisionRecord): void {
    this.#records.push(COMMA, serialised(record));
    this.#ids.push(NEWLINE, line(record.id));
    if (record.request_id !== undefined) this.#ids.push(NEWLINE, line(record.request_id));
    if (this.#count === 0) this.#firstAt = record.at;
    this.#lastAt = record.at;
    this.#count++;
    this.#keys.add(record);
    // Requests may be up to the body limit each: a batch is bounded in bytes as well as in count.
    if (this.#count < this.batchSize && this.#records.length < this.batchBytes) this.#timer ??= setTimeout(() => this.flush(), this.flushMs);
    else if (!this.#retrying) this.flush();
    else {
      // The sink is failing and a retry is scheduled: queue the full batch rather than try again per record.
      const batch = this.#cut();
      if (batch !== null) this.#queue(batch);
    }
  }

  flush(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const batch = this.#cut();
    if (batch !== null) this.#queue(batch);
    this.#retrying = false;
    for (let next = this.#failed.first; next !== undefined; next = this.#failed.first) {
      if (!this.#write(next)) return;
      this.#failed.shift();
    }
  }

  /** Queues a batch to be written; while the queue is over its bound, the oldest go. */
  #queue(batch: DecisionBatch): void {
    const dropped = this.#failed.push(batch).reduce((n, b) => n + b.count, 0);
    if (dropped === 0) return;
    this.#dropped += dropped;
    // Said when it starts, then at most once a minute: not a line per batch while the disk is full.
    const now = Date.now();
    if (now - this.#droppedSaidAt < 60_000) return;
    this.#droppedSaidAt = now;
    this.onError(new DecisionsDropped(`${this.#dropped} decisions dropped so far: the log could not be written for longer than its queue (${this.maxQueuedBytes >> 20} MiB) holds`));
  }

  /** The records waiting as one batch, or `null` when none wait; the buffers start again. */
  #cut(): DecisionBatch | null {
    if (this.#count === 0) return null;
    const batch = {
      firstAt: this.#firstAt,
      lastAt: this.#lastAt,
      count: this.#count,
      json: this.#records.takeBytes(OPEN, CLOSE),
      summary: { ids: this.#ids.takeText('\n', '\n'), keys: this.#keys.text() },
    };
    this.#count = 0;
    this.#keys.clear();
    return batch;
  }

  #write(batch: DecisionBatch): boolean {
    try {
      this.sink.appendBatch(batch);
      return true;
    } catch (err: unknown) {
      this.#failures++;
      this.onError(err);
      this.#retrying = true;
      this.#timer = setTimeout(() => this.flush(), this.flushMs * 10);
      return false;
    }
  }

  close(): void {
    this.flush();
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

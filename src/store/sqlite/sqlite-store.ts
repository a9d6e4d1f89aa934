import { accessSync, closeSync, constants, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { makeFoldersSync } from '../../formats/make-folders.js';
import Database from 'better-sqlite3';
import { REGISTRY_SECTIONS, type Client, type Registry, type RegistrySection } from '../../issuer/registry.js';
import { LOG_CURSOR, StoreError, type AuthCode, type CodeUse, type DecisionBatch, type DecisionFilter, type DecisionPage, type LogCursor, type DecisionQuery, type DecisionRecord, type DecisionWindow, type DirectoryChanges, type Entity, type PolicyRevision, type RefreshToken, type RefreshUse, type Store, type StoredSigningKey } from '../store.js';
import { MIGRATIONS, type SchemaEdit } from './migrations.js';
import { batchText, line, summarize } from '../decision-summary.js';
import { sortedJson } from '../../formats/sorted-json.js';

/** Batches a decision page asks for at a time. */
const SEQ_CHUNK = 64;
/** The longest pause between tries of a `write` waiting for the lock: a lock freed is taken within this. */
const LOCK_PAUSE_MAX_MS = 50;

/** Statements that record an issued token where its revocation will find it (`#recordLive`). */
type Recordings = Record<'exchange' | 'family' | 'parentRevoked' | 'familyRevoked' | 'revoke', Database.Statement>;

/** SQLite's "another connection holds the lock" (SQLITE_BUSY and its extended codes). */
function isBusy(err: unknown): err is Error {
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/**
 * The embedded store: one SQLite file in WAL mode with foreign keys on, migrated on open.
 * `synchronous = FULL` so that a transaction that returned is on disk: nothing
 * acknowledged is lost on a crash.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly size: Database.Statement;
  private readonly changes: Database.Statement;
  private readonly summarise: Database.Statement;
  private readonly appendIndexed: (batch: DecisionBatch) => void;
  #retention: { expired: Database.Statement; oldest: Database.Statement; newest: Database.Statement; drop: Database.Statement } | null = null;
  #expired: { grace: number; run: Database.Statement }[] | null = null;
  /** The connection `entityPages` reads with, opened on first use. */
  #reader: Database.Database | null = null;
  /** The statement `entityPages` is reading, while it is. */
  #reading: IterableIterator<unknown> | null = null;

  /** How long a write waits for another connection's lock (busy_timeout); `whenFree` work does not wait. */
  readonly #busyTimeoutMs: number;
  /** The file opened, to tell when the path comes to name another (or none); `null` in memory or read-only. */
  #file: { path: string; dev: number; ino: number } | null = null;
  /** The journal files (`-wal`, `-shm`) as first seen: removed or replaced, this connection writes where no one reads. */
  readonly #journals = new Map<string, { dev: number; ino: number }>();
  /** The connection's `synchronous` setting, restored after a relaxed write. */
  #synchronous: 'FULL' | 'NORMAL' = 'FULL';
  #claim: Database.Statement | undefined;
  #recording: Recordings | undefined;
  #countFailure: Database.Statement | undefined;

  // Every transaction that writes is BEGIN IMMEDIATE (`.immediate()`): it takes the write lock
  // first, waiting for it under busy_timeout. A deferred one reads first and, when another
  // connection — the decision log's writer, every 100 ms under load, or `gavel apply` —
  // commits before it writes, fails at once with SQLITE_BUSY_SNAPSHOT, which no timeout
  // retries: `gavel apply` against a busy server failed so.
  /**
   * `durability: 'normal'` (WAL with synchronous = NORMAL) is for the decision log's writer
   * connection: a crash of the process loses nothing committed, a power cut may lose the
   * last moments; every other write keeps FULL.
   */
  constructor(path: string, options: { durability?: 'full' | 'normal'; readOnly?: boolean; busyTimeoutMs?: number } = {}) {
    this.#busyTimeoutMs = options.readOnly === true ? 5000 : (options.busyTimeoutMs ?? 5000);
    if (options.readOnly === true) {
      // For commands that only read (`gavel log`, `explain`, `whatif`, `diff`): a database the
      // user may only read opens, and nothing — no migration — is written to it.
      this.db = new Database(path, { readonly: true, fileMustExist: true });
      this.db.pragma('busy_timeout = 5000');
      schemaReadable(this.db, path);
    } else {
      if (path !== ':memory:') {
        makeFoldersSync(dirname(path));
        createPrivately(path);
      }
      this.db = new Database(path);
      this.#synchronous = options.durability === 'normal' ? 'NORMAL' : 'FULL';
      try {
        // WAL is set in the same check as the migrations: in a folder this user cannot write,
        // setting it is what fails (SQLITE_READONLY_DIRECTORY), and the message must say so.
        readOnlyMeansStoreError(path, () => this.db.pragma('journal_mode = WAL'));
        this.db.pragma(`synchronous = ${this.#synchronous}`);
        this.db.pragma('foreign_keys = ON');
        this.db.pragma(`busy_timeout = ${this.#busyTimeoutMs}`);
        migrate(this.db, path);
        writable(this.db, path);
      } catch (err: unknown) {
        this.db.close();
        throw err;
      }
    }
    if (path !== ':memory:' && options.readOnly !== true) {
      const opened = statSync(path);
      this.#file = { path, dev: opened.dev, ino: opened.ino };
      this.fileProblem();
    }
    this.changes = this.db.prepare('SELECT n FROM serving_changes').pluck();
    this.insert = this.db.prepare('INSERT INTO decision_batches (first_at, last_at, count, records) VALUES (?, ?, ?, CAST(? AS TEXT))');
    this.size = this.db.prepare('INSERT OR REPLACE INTO decision_batch_sizes (seq, bytes) VALUES (?, ?)');
    this.summarise = this.db.prepare('INSERT INTO decision_summaries (seq, ids, keys) VALUES (?, ?, ?) ON CONFLICT (seq) DO UPDATE SET ids = excluded.ids, keys = excluded.keys');
    // The batch and its summary in one transaction: a batch is findable as soon as it is stored.
    const append = this.db.transaction((batch: DecisionBatch) => {
      const seq = this.insert.run(batch.firstAt, batch.lastAt, batch.count, batch.json).lastInsertRowid;
      this.size.run(seq, batchBytes(batch));
      const { ids, keys } = batch.summary ?? summarize(JSON.parse(batchText(batch)) as DecisionRecord[]);
      this.summarise.run(seq, ids, keys);
    });
    this.appendIndexed = (batch) => append.immediate(batch);
  }

  appendDecisions(records: readonly DecisionRecord[]): void {
    if (records.length === 0) return;
    for (const r of records) checkRecord(r);
    this.appendBatch({ firstAt: records[0].at, lastAt: records[records.length - 1].at, count: records.length, json: JSON.stringify(records), summary: summarize(records) });
  }

  appendBatch(batch: DecisionBatch): void {
    if (batch.count > 0) this.appendIndexed(batch);
  }

  queryDecisions(query: DecisionQuery): DecisionRecord[] {
    return this.decisionPage(query).decisions;
  }

  /**
   * The batches whose summary has every key the query filters by are read newest first,
   * each with json_each and the record filters, until the page is full: a page opens only
   * batches that may hold its records. The cursor is `SEQ.POS` of the last record listed.
   */
  decisionPage(query: DecisionQuery): DecisionPage {
    const { batchWhere, batchParams, recordWhere, recordParams } = decisionFilters(query);
    const after = query.after === undefined ? null : parseCursor(query.after);
    // The candidate batches a chunk at a time, newest first: a page reads as many as it
    // needs, not the numbers of every matching batch in a log of a million decisions.
    const candidates = this.db
      .prepare(`SELECT s.seq FROM decision_summaries s JOIN decision_batches b ON b.seq = s.seq WHERE ${[...batchWhere, 's.seq < ?'].join(' AND ')} ORDER BY s.seq DESC LIMIT ${SEQ_CHUNK}`)
      .pluck();
    const inBatch = this.db.prepare(
      `SELECT j.key AS pos, j.value AS record FROM decision_batches b, json_each(b.records) j WHERE b.seq = ? AND j.key < ? ${recordWhere.map((w) => `AND ${w}`).join(' ')} ORDER BY j.key DESC LIMIT ?`,
    );
    const decisions: DecisionRecord[] = [];
    let last: { seq: number; pos: number } | null = null;
    let below = after !== null ? after.seq + 1 : Number.MAX_SAFE_INTEGER;
    while (decisions.length < query.limit) {
      const seqs = candidates.all(...batchParams, below) as number[];
      if (seqs.length === 0) break;
      for (const seq of seqs) {
        if (decisions.length >= query.limit) break;
        const before = after !== null && seq === after.seq ? after.pos : Number.MAX_SAFE_INTEGER;
        for (const r of inBatch.all(seq, before, ...recordParams, query.limit - decisions.length) as { pos: number; record: string }[]) {
          decisions.push(JSON.parse(r.record) as DecisionRecord);
          last = { seq, pos: r.pos };
        }
      }
      below = seqs[seqs.length - 1]!;
    }
    return { decisions, next: last !== null && decisions.length === query.limit ? `${last.seq}.${last.pos}` : null };
  }

  /**
   * The decisions of the batches stored after the one `after` names (at most `maxBatches`
   * batches), oldest first, that match `query`'s filters — for following the log as it is
   * written — and the cursor to ask after next time (`more`: batches after it matched
   * already). Batch numbers start over when every batch has been dropped (retention, pruning):
   * a cursor's batch gone or another while batches at or below its number exist means the
   * numbering began again, and the log is read from its start. (Retention drops the oldest
   * first, so a cursor's batch dropped by age alone leaves none below it.)
   */
  decisionsAfter(after: LogCursor, query: DecisionFilter, maxBatches = SEQ_CHUNK): { decisions: DecisionRecord[]; after: LogCursor; more: boolean } {
    // One read transaction: one snapshot of the log for every statement below.
    return this.db.transaction(() => {
      const firstAt = this.db.prepare('SELECT first_at FROM decision_batches WHERE seq = ?').pluck();
      const restarted =
        after.seq > 0 &&
        firstAt.get(after.seq) !== after.firstAt &&
        this.db.prepare('SELECT 1 FROM decision_batches WHERE seq <= ? LIMIT 1').get(after.seq) !== undefined;
      const from = restarted ? 0 : after.seq;
      const newest = (this.db.prepare('SELECT max(seq) FROM decision_batches').pluck().get() as number | null) ?? 0;
      const { batchWhere, batchParams, recordWhere, recordParams } = decisionFilters(query);
      const seqs = this.db
        .prepare(`SELECT s.seq FROM decision_summaries s JOIN decision_batches b ON b.seq = s.seq WHERE ${[...batchWhere, 's.seq > ?'].join(' AND ')} ORDER BY s.seq LIMIT ?`)
        .pluck()
        .all(...batchParams, from, maxBatches) as number[];
      const inBatch = this.db.prepare(`SELECT j.value FROM decision_batches b, json_each(b.records) j WHERE b.seq = ? ${recordWhere.map((w) => `AND ${w}`).join(' ')} ORDER BY j.key`).pluck();
      const decisions: DecisionRecord[] = [];
      for (const seq of seqs) for (const record of inBatch.all(seq, ...recordParams) as string[]) decisions.push(JSON.parse(record) as DecisionRecord);
      const more = seqs.length === maxBatches;
      // Past the batches that matched, up to the newest: batches that did not match are not read again.
      const last = more ? seqs[seqs.length - 1]! : Math.max(from, newest);
      return { decisions, after: { seq: last, firstAt: last === 0 ? '' : ((firstAt.get(last) as string | undefined) ?? '') }, more };
    }).deferred();
  }

  decisionById(id: string): DecisionRecord | null {
    return this.findDecisions('id', id, 1)[0] ?? null;
  }

  decisionsByRequestId(requestId: string, limit: number): DecisionRecord[] {
    return this.findDecisions('request_id', requestId, limit);
  }

  /**
   * Newest first, one batch at a time: the decisions looked up are mostly recent, and the scan
   * of the summaries' ids lines (which list decision and request ids) stops once it has enough.
   */
  private findDecisions(field: 'id' | 'request_id', value: string, limit: number): DecisionRecord[] {
    const next = this.db.prepare('SELECT seq FROM decision_summaries WHERE instr(ids, ?) > 0 AND seq < ? ORDER BY seq DESC LIMIT 1').pluck();
    const find = this.db.prepare(`SELECT j.value FROM decision_batches b, json_each(b.records) j WHERE b.seq = ? AND j.value ->> '$.${field}' = ? ORDER BY j.key DESC LIMIT ?`).pluck();
    const text = `\n${line(value)}\n`;
    const found: DecisionRecord[] = [];
    for (let seq = next.get(text, Number.MAX_SAFE_INTEGER) as number | undefined; seq !== undefined && found.length < limit; seq = next.get(text, seq) as number | undefined) {
      // A batch whose ids line matched another id (newlines read as spaces) gives nothing.
      for (const record of find.all(seq, value, limit - found.length) as string[]) found.push(JSON.parse(record) as DecisionRecord);
    }
    return found;
  }

  *decisionBatches(window: DecisionWindow): Iterable<string> {
    const where: string[] = [];
    const params: string[] = [];
    if (window.since !== undefined) where.push('last_at >= ?'), params.push(window.since);
    if (window.until !== undefined) where.push('first_at <= ?'), params.push(window.until);
    // The batches' numbers first, then each batch on its own: one batch's text in memory at a
    // time, and no statement held open between two (a replay in slices lets other requests
    // use this connection in between).
    const seqs = this.db.prepare(`SELECT seq FROM decision_batches ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC`).pluck().all(...params) as number[];
    const one = this.db.prepare('SELECT records FROM decision_batches WHERE seq = ?').pluck();
    for (const seq of seqs) {
      const records = one.get(seq) as string | undefined;
      // Pruned since the numbers were read: nothing to replay there.
      if (records !== undefined) yield records;
    }
  }

  /**
   * Keeps the newest `keep` revisions, and of those no more than `maxBytes` of files (the
   * newest always): a thousand reloads of a large policy set would otherwise keep a thousand
   * copies of it — eight gigabytes for an 8 MB set.
   */
  savePolicyRevision(revision: PolicyRevision, keep = 1000, maxBytes = 256 << 20): boolean {
    return this.db.transaction((): boolean => {
      // Looked up first: a revision served again (a restart, a revert) writes nothing.
      if (this.db.prepare('SELECT 1 FROM policy_revisions WHERE id = ?').get(revision.id) !== undefined) return false;
      this.db.prepare('INSERT INTO policy_revisions (id, saved_at, files) VALUES (?, ?, ?)').run(revision.id, revision.savedAt, JSON.stringify(revision.files));
      this.db.prepare('DELETE FROM policy_revisions WHERE id NOT IN (SELECT id FROM policy_revisions ORDER BY saved_at DESC, rowid DESC LIMIT ?)').run(keep);
      // Newest first, the running size of the files; those past the bound go (never the newest).
      // Sized in the innermost query: `octet_length` of a column read straight from the table
      // comes from the record header, while over a window's rows it read every revision's
      // whole text — megabytes a revision, on every save (120 ms for 60 revisions of 10,000 policies).
      this.db
        .prepare(
          `DELETE FROM policy_revisions WHERE id IN (
             SELECT id FROM (
               SELECT id, SUM(bytes) OVER (ORDER BY saved_at DESC, seq DESC) AS running, ROW_NUMBER() OVER (ORDER BY saved_at DESC, seq DESC) AS n
               FROM (SELECT id, saved_at, rowid AS seq, octet_length(files) AS bytes FROM policy_revisions))
             WHERE running > ? AND n > 1)`,
        )
        .run(maxBytes);
      return true;
    }).immediate();
  }

  policyRevision(id: string): PolicyRevision | null {
    const row = this.db.prepare('SELECT id, saved_at, files FROM policy_revisions WHERE id = ?').get(id) as { id: string; saved_at: string; files: string } | undefined;
    return row === undefined ? null : { id: row.id, savedAt: row.saved_at, files: JSON.parse(row.files) as Record<string, string> };
  }

  policyRevisionIds(prefix: string): string[] {
    // substr, not LIKE: a prefix is matched as text, `%` and `_` included.
    return (this.db.prepare('SELECT id FROM policy_revisions WHERE substr(id, 1, ?) = ? ORDER BY saved_at DESC, rowid DESC').pluck().all(prefix.length, prefix) as string[]);
  }

  /** Decisions stored, all batches together. */
  decisionCount(): number {
    return this.db.prepare('SELECT COALESCE(SUM(count), 0) FROM decision_batches').pluck().get() as number;
  }

  /** Bytes of JSON the decision log holds. */
  decisionBytes(): number {
    return this.db.prepare('SELECT COALESCE(SUM(bytes), 0) FROM decision_batch_sizes').pluck().get() as number;
  }

  /**
   * Deletes whole batches the log no longer keeps, within a budget: first those written
   * wholly before `before`, by the time index, whatever their order (one batch stamped in the
   * future by a clock that jumped must not shield older ones); then the oldest ones whose
   * decisions the newest `keep.rows` can do without, and those past `keep.bytes` of JSON
   * (`total`: what is stored now). Stops at `budget.decisions` decisions or `budget.batches`
   * batches, so a call is short however large a backlog is, and batches of any size — one
   * decision, or 500 — count by what they hold. Never splits a batch, so it costs no parsing.
   * Answers how many decisions, and bytes, went.
   */
  dropOldestBatches(before: string, keep: { rows: number; bytes: number }, total: { rows: number; bytes: number }, budget: { decisions: number; batches: number }): { rows: number; bytes: number } {
    // Prepared once: the writer asks after every batch past the bound.
    const statements = (this.#retention ??= {
      expired: this.db.prepare(`SELECT seq, count, ${BATCH_BYTES} FROM decision_batches b WHERE last_at < ? ORDER BY last_at LIMIT ?`),
      oldest: this.db.prepare(`SELECT seq, count, ${BATCH_BYTES} FROM decision_batches b ORDER BY seq LIMIT ?`),
      newest: this.db.prepare('SELECT MAX(seq) FROM decision_batches').pluck(),
      // A batch's summary goes with it (ON DELETE CASCADE).
      drop: this.db.prepare('DELETE FROM decision_batches WHERE seq = ?'),
    });
    type Stored = { seq: number; count: number; bytes: number };
    return this.db.transaction(() => {
      const removed = { rows: 0, bytes: 0 };
      let batches = 0;
      const within = () => removed.rows < budget.decisions && batches < budget.batches;
      const drop = (b: Stored) => {
        statements.drop.run(b.seq);
        removed.rows += b.count;
        removed.bytes += b.bytes;
        batches++;
      };
      for (const b of statements.expired.all(before, budget.batches) as Stored[]) {
        if (!within()) break;
        drop(b);
      }
      // A page of the oldest at a time: many small batches may make up one large one.
      // The newest batch is never deleted for its bytes: one batch larger than the whole bound
      // would otherwise empty the log, the decisions just answered included.
      const newest = statements.newest.get() as number | null;
      let more = true;
      while (more && within()) {
        const page = statements.oldest.all(Math.min(256, budget.batches - batches)) as Stored[];
        more = page.length > 0;
        for (const b of page) {
          const pastRows = total.rows - removed.rows - b.count >= keep.rows;
          const pastBytes = total.bytes - removed.bytes > keep.bytes && b.seq !== newest;
          if (!(pastRows || pastBytes) || !within()) {
            more = false;
            break;
          }
          drop(b);
        }
      }
      return removed;
    }).immediate();
  }

  pruneDecisions(before: string, keep: number): number {
    return this.db.transaction(() => {
      let removed = 0;
      const update = this.db.prepare('UPDATE decision_batches SET first_at = ?, count = ?, records = ? WHERE seq = ?');
      // A batch's summary goes with it (ON DELETE CASCADE).
      const drop = this.db.prepare('DELETE FROM decision_batches WHERE seq = ?');
      /** Keeps the records of a batch that `keepIt` says to keep; answers how many went. */
      const trim = (seq: number, keepIt: (r: DecisionRecord, i: number) => boolean): number => {
        const { records } = this.db.prepare('SELECT records FROM decision_batches WHERE seq = ?').get(seq) as { records: string };
        const all = JSON.parse(records) as DecisionRecord[];
        const kept = all.filter(keepIt);
        if (kept.length === 0) drop.run(seq);
        else if (kept.length < all.length) {
          const json = JSON.stringify(kept);
          update.run(kept[0].at, kept.length, json, seq);
          this.size.run(seq, Buffer.byteLength(json));
          const { ids, keys } = summarize(kept);
          this.summarise.run(seq, ids, keys);
        }
        return all.length - kept.length;
      };
      // By age: whole batches before the cut, then the batches straddling it.
      removed += (this.db.prepare('SELECT COALESCE(SUM(count), 0) AS n FROM decision_batches WHERE last_at < ?').get(before) as { n: number }).n;
      this.db.prepare('DELETE FROM decision_batches WHERE last_at < ?').run(before);
      for (const { seq } of this.db.prepare('SELECT seq FROM decision_batches WHERE first_at < ?').all(before) as { seq: number }[]) removed += trim(seq, (r) => r.at >= before);
      // By count: the oldest beyond the newest `keep`.
      let extra = (this.db.prepare('SELECT COALESCE(SUM(count), 0) AS n FROM decision_batches').get() as { n: number }).n - keep;
      for (const { seq, count } of this.db.prepare('SELECT seq, count FROM decision_batches ORDER BY seq').all() as { seq: number; count: number }[]) {
        if (extra <= 0) break;
        const cut = Math.min(extra, count);
        // A batch that goes whole is deleted without reading it.
        if (cut === count) drop.run(seq);
        else trim(seq, (_r, i) => i >= cut);
        removed += cut;
        extra -= cut;
      }
      return removed;
    }).immediate();
  }

  entities(): Entity[] {
    const rows = this.db.prepare('SELECT type, id, attributes FROM entities ORDER BY type, id').all() as { type: string; id: string; attributes: string }[];
    return rows.map((r) => ({ type: r.type, id: r.id, attributes: JSON.parse(r.attributes) as Entity['attributes'] }));
  }

  *entityPages(size = 2_000): Generator<Entity[], void, void> {
    // A connection of its own: one statement read across turns is one snapshot, and the
    // store's connection stays free for what runs in between (better-sqlite3 allows nothing
    // else on a connection while a statement is being iterated). An in-memory database has
    // no second connection: it is read in one go.
    if (!this.db.memory && this.#reader === null) {
      this.#reader = new Database(this.db.name, { readonly: true, fileMustExist: true });
      this.#reader.pragma('busy_timeout = 5000');
    }
    const source = this.#reader ?? this.db;
    const rows = source.prepare('SELECT type, id, attributes FROM entities ORDER BY type, id').iterate() as IterableIterator<{ type: string; id: string; attributes: string }>;
    // Held so that `close` can end it: a connection with a statement being read cannot close.
    this.#reading = rows;
    try {
      let page: Entity[] = [];
      for (const r of rows) {
        page.push({ type: r.type, id: r.id, attributes: JSON.parse(r.attributes) as Entity['attributes'] });
        if (page.length >= size && !this.db.memory) {
          yield page;
          page = [];
        }
      }
      // Ended by `close`: what was read is not the directory, and must not be taken for it.
      if (!this.db.open) throw new Error('the store was closed while the directory was being read');
      if (page.length > 0) yield page;
    } finally {
      if (this.#reading === rows) this.#reading = null;
    }
  }

  applyEntities(entities: readonly Entity[], dryRun: boolean): DirectoryChanges {
    return this.applyDocument(entities, {}, dryRun);
  }

  /**
   * The document is compared with the store in a read snapshot, without the write lock; then,
   * under the lock, only its changes are written — if the directory, registry and keys are
   * still as compared (the change marker has not moved), else it is compared again. Compared
   * under the lock, a document of 100,000 entities held it for the whole comparison (most of a
   * second), and every other writer — a server's issuer writes on its request thread — waited.
   */
  applyDocument(entities: readonly Entity[] | undefined, sections: Partial<Registry>, dryRun: boolean): DirectoryChanges;
  applyDocument(entities: readonly Entity[] | undefined, sections: Partial<Registry>, dryRun: boolean, checkedAt: number): DirectoryChanges | null;
  applyDocument(entities: readonly Entity[] | undefined, sections: Partial<Registry>, dryRun: boolean, checkedAt?: number): DirectoryChanges | null {
    const planned = this.db.transaction(() => this.#plan(entities, sections));
    for (let attempt = 0; attempt < 3; attempt++) {
      // A dry run only reads: one snapshot, without the write lock — it neither waits for the
      // decision log's writer or another apply nor holds them up while it compares.
      const plan = planned.deferred();
      // The caller's checks (references, users against entities) were of an older store.
      if (checkedAt !== undefined && plan.marker !== checkedAt) return null;
      if (dryRun) return plan.changes;
      if (this.#commit(plan)) return plan.changes;
      if (checkedAt !== undefined) return null;
    }
    // Changed under it again and again (another busy writer of the directory): compared and written under the lock at once.
    return this.db
      .transaction(() => {
        const plan = this.#plan(entities, sections);
        this.#write(plan);
        return plan.changes;
      })
      .immediate();
  }

  /**
   * What the document changes, and the store's change marker it was compared at; written later
   * by `#commit`. Runs in a transaction (one snapshot).
   */
  #plan(entities: readonly Entity[] | undefined, sections: Partial<Registry>): DocumentPlan {
    const plan: DocumentPlan = { marker: this.changeMarker(), changes: { added: [], changed: [], removed: [] }, entities: [], registry: [] };
    if (entities !== undefined) {
      // Type and id are kept as they are, not parsed back out of the key: a type may hold `::`.
      const current = new Map(this.entities().map((e) => [key(e), { type: e.type, id: e.id, attributes: sortedJson(e.attributes) }]));
      const wanted = new Map(entities.map((e) => [key(e), e]));
      for (const [k, e] of wanted) {
        const attributes = JSON.stringify(e.attributes);
        const before = current.get(k);
        // Members in another order are the same attributes: not a change (one would reload every server).
        if (before?.attributes === sortedJson(e.attributes)) continue;
        (before === undefined ? plan.changes.added : plan.changes.changed).push(k);
        plan.entities.push({ type: e.type, id: e.id, attributes });
      }
      for (const [k, { type, id }] of current) {
        if (wanted.has(k)) continue;
        plan.changes.removed.push(k);
        plan.entities.push({ type, id, attributes: null });
      }
    }
    const read = this.db.prepare('SELECT key, value FROM registry WHERE section = ?');
    for (const section of REGISTRY_SECTIONS) {
      const wanted = sections[section];
      if (wanted === undefined) continue;
      const current = new Map((read.all(section) as { key: string; value: string }[]).map((r) => [r.key, r.value]));
      const keep = new Set<string>();
      for (const item of wanted) {
        const k = registryKey(section, item);
        const value = JSON.stringify(item);
        keep.add(k);
        const before = current.get(k);
        if (before === value || (before !== undefined && sortedJson(JSON.parse(before)) === sortedJson(item))) continue;
        (before === undefined ? plan.changes.added : plan.changes.changed).push(`${section}:${k}`);
        plan.registry.push({ section, key: k, value });
      }
      for (const [k, value] of current) {
        // Dynamically registered clients are not the document's to remove.
        if (keep.has(k) || (section === 'clients' && (JSON.parse(value) as Client).attributes?.dynamic === true)) continue;
        plan.changes.removed.push(`${section}:${k}`);
        plan.registry.push({ section, key: k, value: null });
      }
    }
    return plan;
  }

  /** Writes a plan if the store is still as it was compared; `false` (nothing written) if not. */
  #commit(plan: DocumentPlan): boolean {
    return this.db
      .transaction((): boolean => {
        if (this.changeMarker() !== plan.marker) return false;
        this.#write(plan);
        return true;
      })
      .immediate();
  }

  #write(plan: DocumentPlan): void {
    const upsert = this.db.prepare('INSERT INTO entities (type, id, attributes) VALUES (?, ?, ?) ON CONFLICT (type, id) DO UPDATE SET attributes = excluded.attributes');
    const remove = this.db.prepare('DELETE FROM entities WHERE type = ? AND id = ?');
    for (const e of plan.entities) {
      if (e.attributes === null) remove.run(e.type, e.id);
      else upsert.run(e.type, e.id, e.attributes);
    }
    const set = this.db.prepare('INSERT INTO registry (section, key, value) VALUES (?, ?, ?) ON CONFLICT (section, key) DO UPDATE SET value = excluded.value');
    const unset = this.db.prepare('DELETE FROM registry WHERE section = ? AND key = ?');
    for (const r of plan.registry) {
      if (r.value === null) unset.run(r.section, r.key);
      else set.run(r.section, r.key, r.value);
    }
  }

  addClient(client: Client): void {
    this.db.prepare("INSERT INTO registry (section, key, value) VALUES ('clients', ?, ?)").run(client.id, JSON.stringify(client));
  }

  registry(): Registry {
    const rows = this.db.prepare('SELECT section, value FROM registry ORDER BY section, key').all() as { section: RegistrySection; value: string }[];
    const out: Registry = { apis: [], clients: [], roles: [], groups: [], users: [] };
    for (const r of rows) (out[r.section] as unknown[]).push(JSON.parse(r.value));
    return out;
  }

  applyRegistry(sections: Partial<Registry>, dryRun: boolean): DirectoryChanges {
    return this.applyDocument(undefined, sections, dryRun);
  }

  signingKeys(): StoredSigningKey[] {
    return this.db.prepare('SELECT kid, alg, public_jwk AS publicJwk, sealed, created_at AS createdAt, retired_at AS retiredAt FROM signing_keys ORDER BY created_at, rowid').all() as StoredSigningKey[];
  }

  retireSigningKeys(alg: string, at: string): void {
    this.db.prepare('UPDATE signing_keys SET retired_at = ? WHERE alg = ? AND retired_at IS NULL').run(at, alg);
  }

  addSigningKeys(keys: readonly StoredSigningKey[]): void {
    const insert = this.db.prepare('INSERT INTO signing_keys (kid, alg, public_jwk, sealed, created_at) VALUES (?, ?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const k of keys) insert.run(k.kid, k.alg, k.publicJwk, k.sealed, k.createdAt);
    })();
  }

  revokedTokens(nowSeconds: number): Map<string, number> {
    // Read only (expired ones leave with the sweep of expired grants): a read never waits for another process's lock.
    const rows = this.db.prepare('SELECT jti, expires_at FROM revoked_tokens WHERE expires_at >= ?').all(nowSeconds) as { jti: string; expires_at: number }[];
    return new Map(rows.map((r) => [r.jti, r.expires_at]));
  }

  /**
   * Deletes issuer rows that have expired, at most `limit` of each kind: opaque tokens,
   * family links and revocations of access tokens past their `exp`, codes ten minutes after theirs, refresh
   * tokens a day after theirs (a stolen one presented late still revokes its family). Without
   * it these tables grow with every token ever issued. Answers the most deleted of any kind,
   * so a caller knows whether more wait.
   */
  deleteExpiredGrants(nowSeconds: number, limit: number): number {
    const sweeps = (this.#expired ??= [
      ['opaque_tokens', 0],
      ['family_access', 0],
      ['exchanged_tokens', 0],
      ['auth_codes', 600],
      ['refresh_tokens', 86_400],
      ['revoked_tokens', 0],
      ['used_proofs', 0],
      ['sign_in_failures', 0],
      ['revoked_families', 0],
    ].map(([table, grace]) => ({ grace: grace as number, run: this.db.prepare(`DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE expires_at < ? LIMIT ?)`) })));
    return this.db.transaction(() => Math.max(...sweeps.map((s) => s.run.run(nowSeconds - s.grace, limit).changes))).immediate();
  }

  /**
   * A write that need not survive a power cut, committed without waiting for the disk
   * (synchronous = NORMAL: a crash of the process still loses nothing committed): replay
   * memory and sign-in counts were held in memory before, and an fsync took 0.5 ms of every
   * DPoP token request (65 µs without, measured on this project's CI machine).
   */
  #relaxed<T>(write: () => T): T {
    this.db.pragma('synchronous = NORMAL');
    try {
      return write();
    } finally {
      this.db.pragma(`synchronous = ${this.#synchronous}`);
    }
  }

  claimProof(key: string, expiresAt: number, nowSeconds: number): boolean {
    return this.#relaxed(() => this.#claimed(key, expiresAt, nowSeconds));
  }

  /** Claimed when new, or when the row there expired (not yet swept). */
  #claimed(key: string, expiresAt: number, nowSeconds: number): boolean {
    const claim = (this.#claim ??= this.db.prepare('INSERT INTO used_proofs (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE used_proofs.expires_at < ?'));
    return claim.run(key, expiresAt, nowSeconds).changes === 1;
  }

  releaseProof(key: string): void {
    this.#relaxed(() => this.db.prepare('DELETE FROM used_proofs WHERE key = ?').run(key));
  }

  countSignInFailure(key: string, nowMs: number, windowMs: number): { count: number; untilMs: number } {
    // A window starts at its first failure; a failure after it ended starts a new one. One
    // statement counts and answers the count, so processes sharing the store cannot each
    // pass a check at one below the limit. `expires_at` (seconds) is what the sweep reads.
    const until = nowMs + windowMs;
    const count = (this.#countFailure ??= this.db.prepare(
      `INSERT INTO sign_in_failures (key, count, until_ms, expires_at) VALUES (@key, 1, @until, @expires)
       ON CONFLICT (key) DO UPDATE SET
         count = CASE WHEN until_ms <= @now THEN 1 ELSE count + 1 END,
         expires_at = CASE WHEN until_ms <= @now THEN @expires ELSE expires_at END,
         until_ms = CASE WHEN until_ms <= @now THEN @until ELSE until_ms END
       RETURNING count, until_ms`,
    ));
    const row = this.#relaxed(() => count.get({ key, now: nowMs, until, expires: Math.ceil(until / 1000) }) as { count: number; until_ms: number });
    return { count: row.count, untilMs: row.until_ms };
  }

  forgiveSignInFailure(key: string): void {
    this.#relaxed(() => this.db.prepare('UPDATE sign_in_failures SET count = count - 1 WHERE key = ? AND count > 0').run(key));
  }

  whenFree<T>(work: () => T): T | null {
    const tried = this.#tryOnce(work);
    return tried.busy === null ? tried.value : null;
  }

  async write<T>(work: (store: Store) => T): Promise<T> {
    const deadline = Date.now() + this.#busyTimeoutMs;
    for (let pause = 1; ; pause = Math.min(pause * 2, LOCK_PAUSE_MAX_MS)) {
      const tried = this.#tryOnce(() => work(this));
      if (tried.busy === null) return tried.value;
      if (Date.now() + pause > deadline) throw tried.busy;
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }

  /** `work` tried once without waiting for the write lock: its value, or the error that said the lock was taken. */
  #tryOnce<T>(work: () => T): { busy: null; value: T } | { busy: Error; value?: undefined } {
    this.db.pragma('busy_timeout = 0');
    try {
      return { busy: null, value: work() };
    } catch (err: unknown) {
      if (isBusy(err)) return { busy: err };
      throw err;
    } finally {
      this.db.pragma(`busy_timeout = ${this.#busyTimeoutMs}`);
    }
  }

  forgetSuccessors(rotatedBefore: number, limit = 500): number {
    // A slice at a time, as expired grants: a database from before the sweep may hold many.
    return this.db
      .prepare('UPDATE refresh_tokens SET successor_sealed = NULL WHERE rowid IN (SELECT rowid FROM refresh_tokens WHERE successor_sealed IS NOT NULL AND rotated_at < ? LIMIT ?)')
      .run(rotatedBefore, limit).changes;
  }

  revokeToken(jti: string, expiresAt: number): string[] {
    return this.db.transaction(() => {
      this.db.prepare('INSERT INTO revoked_tokens (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO NOTHING').run(jti, expiresAt);
      // What was exchanged from it, and from those, at any depth.
      const descendants = this.db
        .prepare(`WITH RECURSIVE d(jti, expires_at) AS (
            SELECT child, expires_at FROM exchanged_tokens WHERE parent = ?
            UNION SELECT e.child, e.expires_at FROM exchanged_tokens e JOIN d ON e.parent = d.jti
          ) SELECT jti, expires_at FROM d`)
        .all(jti) as { jti: string; expires_at: number }[];
      const revoke = this.db.prepare('INSERT INTO revoked_tokens (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO NOTHING');
      for (const d of descendants) revoke.run(d.jti, d.expires_at);
      return descendants.map((d) => d.jti);
    }).immediate();
  }

  recordExchange(parent: string, child: string, expiresAt: number): boolean {
    const r = this.#recordings();
    return this.#recordLive(r.exchange, r.parentRevoked, parent, child, expiresAt);
  }

  /** The statements of `#recordLive`, prepared once. */
  #recordings(): Recordings {
    return (this.#recording ??= {
      exchange: this.db.prepare('INSERT INTO exchanged_tokens (parent, child, expires_at) VALUES (?, ?, ?)'),
      family: this.db.prepare('INSERT INTO family_access (family, jti, expires_at) VALUES (?, ?, ?)'),
      parentRevoked: this.db.prepare('SELECT 1 FROM revoked_tokens WHERE jti = ?'),
      familyRevoked: this.db.prepare('SELECT 1 FROM revoked_families WHERE family = ?'),
      revoke: this.db.prepare('INSERT INTO revoked_tokens (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO NOTHING'),
    });
  }

  /**
   * Records a token (`insert` of `owner`, `jti`, `expiresAt`) in what it was issued from — a
   * family, a parent token — and, when `revoked` finds that owner revoked already (its
   * revocation could not see this token), revokes the token too; answers whether it is live.
   */
  #recordLive(insert: Database.Statement, revoked: Database.Statement, owner: string, jti: string, expiresAt: number): boolean {
    return this.db
      .transaction((): boolean => {
        insert.run(owner, jti, expiresAt);
        if (revoked.get(owner) === undefined) return true;
        this.#recordings().revoke.run(jti, expiresAt);
        return false;
      })
      .immediate();
  }

  saveOpaqueToken(hash: string, claims: Record<string, unknown>, expiresAt: number): void {
    this.db.prepare('INSERT INTO opaque_tokens (hash, claims, expires_at) VALUES (?, ?, ?)').run(hash, JSON.stringify(claims), expiresAt);
  }

  opaqueToken(hash: string, now: number): Record<string, unknown> | null {
    const row = this.db.prepare('SELECT claims, expires_at FROM opaque_tokens WHERE hash = ?').get(hash) as { claims: string; expires_at: number } | undefined;
    if (row === undefined || row.expires_at <= now) return null;
    return JSON.parse(row.claims) as Record<string, unknown>;
  }

  saveCode(c: AuthCode): void {
    this.db
      .prepare('INSERT INTO auth_codes (hash, client_id, redirect_uri, challenge, subject, scope, audience, expires_at, nonce, auth_time, ttl_cap, dpop_jkt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(c.hash, c.clientId, c.redirectUri, c.challenge, c.subject, c.scope, c.audience, c.expiresAt, c.nonce ?? null, c.authTime ?? null, c.ttlCap ?? null, c.dpopJkt ?? null);
  }

  saveCodeOnce(c: AuthCode, claim: { key: string; expiresAt: number; nowSeconds: number }): boolean {
    return this.db
      .transaction((): boolean => {
        // A code already stored (its claim swept first, or claimed by a process whose clock lags) is not stored twice.
        if (this.db.prepare('SELECT 1 FROM auth_codes WHERE hash = ?').get(c.hash) !== undefined) return false;
        if (!this.#claimed(claim.key, claim.expiresAt, claim.nowSeconds)) return false;
        this.saveCode(c);
        return true;
      })
      .immediate();
  }

  codeWaiting(hash: string, nowSeconds: number): boolean {
    return this.db.prepare('SELECT 1 FROM auth_codes WHERE hash = ? AND used_at IS NULL AND expires_at >= ?').get(hash, nowSeconds) !== undefined;
  }

  useCode(hash: string, now: number, check: (code: AuthCode) => string | null = () => null, owner?: string, family: string | null = null): CodeUse {
    return this.db.transaction((): CodeUse => {
      // Expired codes are dropped as they are met; a used one is kept until it expires, to catch replays.
      this.db.prepare('DELETE FROM auth_codes WHERE expires_at < ?').run(now - 600);
      const row = this.db.prepare('SELECT * FROM auth_codes WHERE hash = ?').get(hash) as CodeRow | undefined;
      if (row === undefined || (owner !== undefined && row.client_id !== owner)) return { kind: 'unknown' };
      if (row.used_at !== null) return { kind: 'reused', family: row.family };
      if (row.expires_at < now) return { kind: 'expired' };
      const code: AuthCode = { hash, clientId: row.client_id, redirectUri: row.redirect_uri, challenge: row.challenge, subject: row.subject, scope: row.scope, audience: row.audience, expiresAt: row.expires_at, nonce: row.nonce, authTime: row.auth_time, ttlCap: row.ttl_cap, dpopJkt: row.dpop_jkt };
      const reason = check(code);
      if (reason !== null) return { kind: 'refused', reason };
      // Used and tied to the family it starts in one step: a replay after this revokes that family.
      this.db.prepare('UPDATE auth_codes SET used_at = ?, family = ? WHERE hash = ?').run(now, family, hash);
      return { kind: 'ok', code };
    }).immediate();
  }

  saveRefreshToken(t: RefreshToken): boolean {
    // Saved revoked when its family was revoked before it was saved.
    const row = this.db
      .prepare('INSERT INTO refresh_tokens (hash, family, client_id, subject, scope, audience, expires_at, jkt, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, (SELECT revoked_at FROM revoked_families WHERE family = ?)) RETURNING revoked_at')
      .get(t.hash, t.family, t.clientId, t.subject, t.scope, t.audience, t.expiresAt, t.jkt ?? null, t.family) as { revoked_at: number | null };
    return row.revoked_at === null;
  }

  refreshToken(hash: string): RefreshToken | null {
    const row = this.db.prepare('SELECT * FROM refresh_tokens WHERE hash = ?').get(hash) as RefreshRow | undefined;
    return row === undefined ? null : refreshOf(hash, row);
  }

  liveRefreshToken(hash: string, nowSeconds: number): RefreshToken | null {
    const row = this.db.prepare('SELECT * FROM refresh_tokens WHERE hash = ? AND revoked_at IS NULL AND rotated_at IS NULL AND expires_at >= ?').get(hash, nowSeconds) as RefreshRow | undefined;
    return row === undefined ? null : refreshOf(hash, row);
  }

  rotateRefreshToken(hash: string, successorHash: string, successorSealed: string, now: number, grace: number, check: (token: RefreshToken) => string | null, owner?: string, bindTo: string | null = null): RefreshUse {
    return this.db.transaction((): RefreshUse => {
      const row = this.db.prepare('SELECT * FROM refresh_tokens WHERE hash = ?').get(hash) as RefreshRow | undefined;
      // Another client's token is unknown to the caller, whose presenting it must not revoke the family.
      if (row === undefined || row.revoked_at !== null || (owner !== undefined && row.client_id !== owner)) return { kind: 'unknown' };
      const token = refreshOf(hash, row);
      if (row.expires_at < now) return { kind: 'expired' };
      const fresh = row.rotated_at === null;
      // Within the grace window a replay is a lost response — unless the successor it would
      // answer has been used: then the client had it, and this is another party (RFC 9700 §4.14.2).
      // A rotation recorded before migration 18 did not keep its successor's hash: whether that
      // was used cannot be told, so it is taken as used — a lost answer is refused rather than
      // a stolen token's replay answered.
      const successorUsed = () => row.successor_hash === null || this.db.prepare('SELECT rotated_at IS NOT NULL FROM refresh_tokens WHERE hash = ?').pluck().get(row.successor_hash) === 1;
      // A grace of 0 is none: times are whole seconds, and `<= 0` would still have taken a replay in the same second.
      if (!fresh && !(grace > 0 && now - row.rotated_at! <= grace && row.successor_sealed !== null && !successorUsed())) {
        this.revokeFamily(row.family, now);
        return { kind: 'reused', family: row.family };
      }
      // Validate before anything changes: a refused request leaves the token usable.
      const reason = check(token);
      if (reason !== null) return { kind: 'refused', token, reason };
      if (!fresh) return { kind: 'replayed', token, successorSealed: row.successor_sealed! };
      this.db.prepare('UPDATE refresh_tokens SET rotated_at = ?, successor_sealed = ?, successor_hash = ? WHERE hash = ?').run(now, successorSealed, successorHash, hash);
      // An unbound family a public client now refreshes with a proof is bound from here on.
      this.saveRefreshToken({ ...token, hash: successorHash, jkt: token.jkt ?? bindTo });
      return { kind: 'rotated', token };
    }).immediate();
  }

  revokeRefreshFamily(hash: string, clientId: string, now: number): boolean {
    const row = this.db.prepare('SELECT family, client_id FROM refresh_tokens WHERE hash = ?').get(hash) as { family: string; client_id: string } | undefined;
    if (row === undefined || row.client_id !== clientId) return false;
    this.revokeFamily(row.family, now);
    return true;
  }

  familyOfAccess(jti: string): string | null {
    return (this.db.prepare('SELECT family FROM family_access WHERE jti = ? LIMIT 1').pluck().get(jti) as string | undefined) ?? null;
  }

  recordFamilyAccess(family: string, jti: string, expiresAt: number): boolean {
    const r = this.#recordings();
    return this.#recordLive(r.family, r.familyRevoked, family, jti, expiresAt);
  }

  revokeFamily(family: string, now: number): void {
    this.db.transaction(() => {
      // Marked for a day: longer than any grant issuing into it can be in flight.
      this.db.prepare('INSERT INTO revoked_families (family, revoked_at, expires_at) VALUES (?, ?, ?) ON CONFLICT (family) DO NOTHING').run(family, now, now + 86_400);
      this.db.prepare('UPDATE refresh_tokens SET revoked_at = ?, successor_sealed = NULL WHERE family = ? AND revoked_at IS NULL').run(now, family);
      this.db.prepare('INSERT INTO revoked_tokens (jti, expires_at) SELECT jti, expires_at FROM family_access WHERE family = ? ON CONFLICT (jti) DO NOTHING').run(family);
    }).immediate();
  }

  changeMarker(): number {
    return this.changes.get() as number;
  }

  revocationMarker(): number {
    return this.db.prepare('SELECT n FROM revocation_changes').pluck().get() as number;
  }

  ping(): boolean {
    if (this.fileProblem() !== null) return false;
    try {
      return this.db.prepare('SELECT 1 AS ok').get() !== undefined;
    } catch {
      return false;
    }
  }

  /**
   * Whether the file at the path is still the one this connection opened. SQLite keeps
   * writing to a file removed or replaced under it (`rm`, a restore, another `gavel apply`
   * making a new one), and everything written is then lost or split from other servers —
   * while `SELECT 1` answers as ever.
   */
  fileProblem(): string | null {
    if (this.#file === null) return null;
    let now: { dev: number; ino: number };
    try {
      now = statSync(this.#file.path);
    } catch {
      return `the database file \`${this.#file.path}\` was removed while serving: what is written now is lost when Gavel stops; put it back, or restart on a new one`;
    }
    if (now.dev !== this.#file.dev || now.ino !== this.#file.ino) return `the database file \`${this.#file.path}\` was replaced while serving (moved, restored, or made anew): this server still writes the one it opened; restart it`;
    // SQLite keeps the WAL and its index open: one removed (a cleanup of "stray" files) leaves
    // this server committing to a file no other process sees, and the next to open the
    // database starts a new WAL — `gavel apply` then wrote where this server's checkpoint at
    // stop overwrote it. Seen once, each must stay the file it was.
    for (const suffix of ['-wal', '-shm']) {
      const path = `${this.#file.path}${suffix}`;
      let journal: { dev: number; ino: number };
      try {
        journal = statSync(path);
      } catch {
        if (!this.#journals.has(suffix)) continue;
        return `the database's journal file \`${path}\` was removed while serving: this server's writes no longer reach the database other processes read, and are lost when it stops; restart it (never remove -wal or -shm files while the database is open)`;
      }
      const seen = this.#journals.get(suffix);
      if (seen === undefined) this.#journals.set(suffix, { dev: journal.dev, ino: journal.ino });
      else if (seen.dev !== journal.dev || seen.ino !== journal.ino) return `the database's journal file \`${path}\` was replaced while serving: this server's writes no longer reach the database other processes read; restart it`;
    }
    return null;
  }

  close(): void {
    // A directory being read between requests when the server stops: its statement ends first.
    this.#reading?.return?.();
    this.#reader?.close();
    this.db.close();
  }
}

/** A page cursor, `SEQ.POS`; anything else is no cursor (the first page). */
/**
 * A decision query's filters as SQL: on the batches' summaries (`s`, `b`), which rule out
 * batches without opening them, and on each record (`j`, from json_each of a batch).
 */
function decisionFilters(query: DecisionFilter): { batchWhere: string[]; batchParams: (string | number)[]; recordWhere: string[]; recordParams: (string | number)[] } {
    const batchWhere: string[] = [];
    const batchParams: (string | number)[] = [];
    const recordWhere: string[] = [];
    const recordParams: (string | number)[] = [];
    const key = (k: string) => (batchWhere.push('instr(s.keys, ?) > 0'), batchParams.push(`\n${line(k)}\n`));
    if (query.since !== undefined) batchWhere.push('b.last_at >= ?'), batchParams.push(query.since), recordWhere.push("j.value ->> '$.at' >= ?"), recordParams.push(query.since);
    if (query.until !== undefined) batchWhere.push('b.first_at <= ?'), batchParams.push(query.until), recordWhere.push("j.value ->> '$.at' <= ?"), recordParams.push(query.until);
    if (query.decision !== undefined) key(`d:${query.decision ? 1 : 0}`), recordWhere.push("j.value ->> '$.decision' = ?"), recordParams.push(query.decision ? 1 : 0);
    if (query.subjectId !== undefined) key(`s:${query.subjectId}`), recordWhere.push("j.value ->> '$.subject.id' = ?"), recordParams.push(query.subjectId);
    if (query.via !== undefined) key(`v:${query.via}`), recordWhere.push("j.value ->> '$.via' = ?"), recordParams.push(query.via);
    if (query.requestId !== undefined) {
      batchWhere.push('instr(s.ids, ?) > 0'), batchParams.push(`\n${line(query.requestId)}\n`);
      recordWhere.push("(j.value ->> '$.request_id' = ? OR (j.value ->> '$.request_id' IS NULL AND j.value ->> '$.id' = ?))"), recordParams.push(query.requestId, query.requestId);
    }
    if (query.policy !== undefined) key(`p:${query.policy}`), recordWhere.push("EXISTS (SELECT 1 FROM json_each(j.value, '$.determining') d WHERE d.value = ?)"), recordParams.push(query.policy);
  return { batchWhere, batchParams, recordWhere, recordParams };
}

function parseCursor(cursor: string): { seq: number; pos: number } | null {
  const m = LOG_CURSOR.exec(cursor);
  return m === null ? null : { seq: Number(m[1]), pos: Number(m[2]) };
}

/** An apply document's changes as compared with the store: `null` removes. */
interface DocumentPlan {
  marker: number;
  changes: DirectoryChanges;
  entities: { type: string; id: string; attributes: string | null }[];
  registry: { section: RegistrySection; key: string; value: string | null }[];
}

/** `type::"id"`, as policies write entity references. */
function key(e: { type: string; id: string }): string {
  return `${e.type}::${JSON.stringify(e.id)}`;
}

/** A record must have what the log's queries read; a batch with a bad one is refused whole. */
function checkRecord(r: DecisionRecord): void {
  if (typeof r.id !== 'string' || typeof r.at !== 'string' || typeof r.decision !== 'boolean' || typeof r.subject?.id !== 'string') {
    throw new TypeError('a decision record needs a string id, at and subject.id and a boolean decision');
  }
}

/** A database opened read-only must already be at this Gavel's schema: it cannot be migrated. */
/**
 * SQLite opens a file this user may not write read-only, without a word: the server then said
 * it served, and failed each write later (sign-ins answered 500, every decision went unlogged).
 * Writing the header's user version, as it is, is the smallest write there is.
 */
function writable(db: Database.Database, path: string): void {
  readOnlyMeansStoreError(path, () => db.pragma(`user_version = ${Number(db.pragma('user_version', { simple: true }))}`));
}

/** Runs a write; any of SQLite's read-only errors (SQLITE_READONLY, _READONLY_DIRECTORY, …) becomes one that says which file or folder. */
function readOnlyMeansStoreError(path: string, write: () => unknown): void {
  try {
    write();
  } catch (err: unknown) {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'string' || !code.startsWith('SQLITE_READONLY')) throw err;
    throw new StoreError(`the database \`${path}\` can only be read by this user (${readOnlyCulprit(path)}): give the user running Gavel write access to the file, its -wal and -shm files, and its folder`);
  }
}

/**
 * Which of the database's files this user may not write: the file, a `-wal` or `-shm` left
 * by another user or a failed start (read-only, it blocks every later start though the file
 * itself is writable), or the folder they are made in.
 */
function readOnlyCulprit(path: string): string {
  const blocked = [path, `${path}-wal`, `${path}-shm`, dirname(path)].filter((file) => {
    try {
      accessSync(file, constants.W_OK);
      return false;
    } catch (err: unknown) {
      return (err as NodeJS.ErrnoException).code !== 'ENOENT';
    }
  });
  if (blocked.length === 0) return 'the file, or the folder its journal files go in, is not writable';
  return `not writable: ${blocked.map((f) => `\`${f}\``).join(', ')}`;
}

function schemaReadable(db: Database.Database, path: string): void {
  const latest = MIGRATIONS[MIGRATIONS.length - 1]!.version;
  let version = 0;
  try {
    version = (db.prepare('SELECT max(version) FROM schema_migrations').pluck().get() as number | null) ?? 0;
  } catch (err: unknown) {
    // A damaged file or no database at all is SQLite's to say; a database without the table is not Gavel's.
    if ((err as { code?: unknown }).code !== 'SQLITE_ERROR') throw err;
    throw new StoreError(`\`${path}\` is not a Gavel database (it has no schema_migrations table)`);
  }
  if (version < latest) throw new StoreError(`the database \`${path}\` is at schema version ${version}, and this Gavel reads version ${latest}: start \`gavel serve\` (or run \`gavel apply\`) on it once, which migrates it`);
  if (version > latest) throw new StoreError(`the database \`${path}\` was written by a newer Gavel (schema version ${version}; this one reads up to ${latest})`);
}

function migrate(db: Database.Database, path: string): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT');
  const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
  // An older Gavel on a database a newer one migrated (a rollback) would read and write tables
  // it does not know as it knew them: refused, as the read-only commands refuse it.
  const latest = MIGRATIONS[MIGRATIONS.length - 1]!.version;
  const newest = Math.max(0, ...applied);
  if (newest > latest) throw new StoreError(`the database \`${path}\` was written by a newer Gavel (schema version ${newest}; this one reads up to ${latest}): run that version, or restore a backup taken before the upgrade`);
  for (const m of MIGRATIONS) {
    if (applied.has(m.version)) continue;
    // Another process (`gavel apply` beside `gavel serve`) may be migrating the same file: each
    // migration takes the write lock first (IMMEDIATE) and looks again under it.
    const apply = () => {
      if (db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(m.version) !== undefined) return;
      if ('sql' in m) db.exec(m.sql);
      else editSchema(db, m.version, m.edit);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
    };
    if ('sql' in m) db.transaction(apply).immediate();
    else {
      // better-sqlite3 opens databases in defensive mode, which forbids writing sqlite_schema: lifted for this alone.
      db.unsafeMode(true);
      try {
        db.transaction(apply).immediate();
      } finally {
        db.unsafeMode(false);
      }
    }
  }
}

/**
 * SQLite's procedure for schema changes that leave the stored rows valid, inside the
 * migration's transaction: the table's CREATE text is rewritten in sqlite_schema and the
 * schema version bumped, so every connection reads the new definition.
 */
function editSchema(db: Database.Database, version: number, edit: SchemaEdit): void {
  const sql = db.prepare("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?").pluck().get(edit.table) as string | undefined;
  if (sql === undefined || !sql.includes(edit.from)) throw new Error(`migration ${version}: table ${edit.table} is not as an earlier migration created it (no \`${edit.from}\`)`);
  const schemaVersion = db.pragma('schema_version', { simple: true }) as number;
  db.pragma('writable_schema = ON');
  try {
    db.prepare("UPDATE sqlite_schema SET sql = ? WHERE type = 'table' AND name = ?").run(sql.replace(edit.from, edit.to), edit.table);
    db.pragma(`schema_version = ${schemaVersion + 1}`);
  } finally {
    db.pragma('writable_schema = OFF');
  }
  // The schema is parsed again here: an edit SQLite cannot read fails inside the transaction, which then undoes it.
  db.prepare(`SELECT 1 FROM "${edit.table}" LIMIT 0`).all();
}

/** The key a registry item is stored under. */
function registryKey(section: RegistrySection, item: unknown): string {
  const x = item as { identifier?: string; id?: string; name?: string };
  return (section === 'apis' ? x.identifier : section === 'clients' || section === 'users' ? x.id : x.name) ?? '';
}

interface CodeRow {
  client_id: string;
  redirect_uri: string;
  challenge: string;
  subject: string;
  scope: string;
  audience: string;
  expires_at: number;
  used_at: number | null;
  family: string | null;
  nonce: string | null;
  auth_time: number | null;
  ttl_cap: number | null;
  dpop_jkt: string | null;
}

function refreshOf(hash: string, row: RefreshRow): RefreshToken {
  return { hash, family: row.family, clientId: row.client_id, subject: row.subject, scope: row.scope, audience: row.audience, expiresAt: row.expires_at, jkt: row.jkt };
}

/** A stored batch's bytes, from its row in decision_batch_sizes (migration 19); `b` is the batch. */
const BATCH_BYTES = 'COALESCE((SELECT bytes FROM decision_batch_sizes s WHERE s.seq = b.seq), 0) AS bytes';

/** A batch's bytes of JSON, as stored. */
export const batchBytes = (batch: DecisionBatch): number => (typeof batch.json === 'string' ? Buffer.byteLength(batch.json) : batch.json.byteLength);

/**
 * A new database file is made readable by its owner only (0600), as the issuer secret beside
 * it is: it holds users' password hashes, their attributes and the decision log. SQLite gives
 * its -wal and -shm files the database's permissions. An existing file is left as it is.
 */
function createPrivately(path: string): void {
  try {
    closeSync(openSync(path, 'wx', 0o600));
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

interface RefreshRow {
  family: string;
  client_id: string;
  subject: string;
  scope: string;
  audience: string;
  expires_at: number;
  rotated_at: number | null;
  successor_sealed: string | null;
  successor_hash: string | null;
  revoked_at: number | null;
  jkt: string | null;
}

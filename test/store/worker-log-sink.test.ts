import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { summarize } from '../../src/store/decision-summary.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
// From dist/: the writer is a worker thread, started from the built .js file beside it (global-setup builds dist/).
import { WorkerLogSink } from '../../dist/store/sqlite/worker-log-sink.js';
import { DecisionsDropped } from '../../dist/store/store.js';
import type { DecisionBatch } from '../../src/store/store.js';
import { decisionRecord } from './records.js';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gavel-writer-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const batch = (...ids: string[]): DecisionBatch => {
  const records = ids.map((id) => decisionRecord(id));
  return { firstAt: records[0]!.at, lastAt: records[0]!.at, count: records.length, json: new TextEncoder().encode(JSON.stringify(records)), summary: summarize(records) };
};
/** Polls `check` until it answers true (it is not asked again after), or `ms` pass. */
const until = async (check: () => boolean, ms = 10_000) => {
  for (const start = Date.now(); Date.now() - start < ms; await new Promise((resolve) => setTimeout(resolve, 25))) if (check()) return true;
  return false;
};

/** The ids the log at `path` holds, newest first. */
const loggedIds = (path: string): string[] => {
  const store = new SqliteStore(path, { readOnly: true });
  try {
    return store.queryDecisions({ limit: 10 }).map((r) => r.id);
  } finally {
    store.close();
  }
};

/** A writer started again takes a batch once it can, writes it and closes cleanly: the log then holds that batch alone. */
async function writesOnceStartedAgain(sink: WorkerLogSink, path: string): Promise<void> {
  expect(await until(() => { try { sink.appendBatch(batch('after')); return true; } catch { return false; } })).toBe(true);
  expect(await until(() => sink.depth === 0)).toBe(true);
  expect(await sink.close()).toBe(0);
  expect(loggedIds(path)).toEqual(['after']);
}

describe("the decision log's writer thread", () => {
  test('a writer that stops is started again, and later batches are written', async () => {
    const path = join(dir, 'gavel.db');
    // A folder where the database should be: the writer cannot open it, and exits.
    mkdirSync(path);
    const errors: string[] = [];
    const sink = new WorkerLogSink(path, { days: 30, maxRows: 1_000, maxBytes: 1 << 30 }, (err) => errors.push(err.message));
    try {
      expect(await until(() => errors.some((m) => m.includes('the decision log writer stopped')))).toBe(true);
      // Meanwhile the decision log keeps what it cannot hand over (and tries again).
      expect(() => sink.appendBatch(batch('while-down'))).toThrow('restarting');
      rmSync(path, { recursive: true });
      // Started again after a second, it opens the database and writes.
      await writesOnceStartedAgain(sink, path);
    } finally {
      await sink.close(100);
    }
  });

  test('a writer started while another process holds the lock says why it stopped, and is started again', async () => {
    const path = join(dir, 'gavel.db');
    new SqliteStore(path).close();
    const { default: Database } = await import('better-sqlite3');
    const holder = new Database(path);
    holder.exec('BEGIN EXCLUSIVE');
    const errors: string[] = [];
    const sink = new WorkerLogSink(path, { days: 30, maxRows: 1_000, maxBytes: 1 << 30 }, (err) => errors.push(err.message));
    try {
      // SQLite's error reaches this thread cloned: its message had been lost ("[object Object]").
      expect(await until(() => errors.some((m) => m.includes('stopped')))).toBe(true);
      expect(errors[0]).toBe(`the decision log writer cannot open ${path}: database is locked (SQLITE_BUSY)`);
      holder.exec('ROLLBACK');
      await writesOnceStartedAgain(sink, path);
    } finally {
      holder.close();
      await sink.close(100);
    }
  });

  test('writes failing under a lock held elsewhere are said once, not every retry; the first write after is said too', async () => {
    const path = join(dir, 'gavel.db');
    new SqliteStore(path).close();
    const errors: string[] = [];
    const recovered: Date[] = [];
    const sink = new WorkerLogSink(path, { days: 30, maxRows: 1_000, maxBytes: 1 << 30 }, (err) => errors.push(err.message), () => {}, undefined, (since) => recovered.push(since));
    const { default: Database } = await import('better-sqlite3');
    const holder = new Database(path);
    try {
      // The writer running first, as under a server: it has written a batch.
      sink.appendBatch(batch('before'));
      expect(await until(() => loggedIds(path).length === 1)).toBe(true);
      holder.exec('BEGIN EXCLUSIVE');
      sink.appendBatch(batch('held'));
      // Each try waits out the writer's busy timeout and fails; several fail while the lock is held.
      expect(await until(() => sink.failing !== null, 20_000)).toBe(true);
      // A try takes the 5 s busy timeout and a second more: this sees at least one more fail.
      await new Promise((resolve) => setTimeout(resolve, 7_000));
      expect(errors.filter((m) => m.includes('locked'))).toHaveLength(1);
      expect(recovered).toEqual([]);
      holder.exec('ROLLBACK');
      expect(await until(() => recovered.length > 0, 20_000)).toBe(true);
      expect(recovered).toHaveLength(1);
      expect(sink.failing).toBeNull();
      expect(await sink.close()).toBe(0);
      expect(loggedIds(path)).toEqual(['held', 'before']);
    } finally {
      holder.close();
      await sink.close(100);
    }
  }, 60_000);

  test('decisions dropped while writes fail make the log failing at once, before the writer reports its retries', async () => {
    const path = join(dir, 'gavel.db');
    new SqliteStore(path).close();
    const errors: Error[] = [];
    // Room for about one batch while writes fail: the next one pushes the oldest out.
    const one = Buffer.byteLength(JSON.stringify([decisionRecord('first')]));
    const sink = new WorkerLogSink(path, { days: 30, maxRows: 1_000, maxBytes: 1 << 30 }, (err) => errors.push(err), () => {}, one + 16);
    const { default: Database } = await import('better-sqlite3');
    const holder = new Database(path);
    try {
      // The writer running first, as under a server: it has written a batch.
      sink.appendBatch(batch('before'));
      expect(await until(() => sink.depth === 0)).toBe(true);
      holder.exec('BEGIN EXCLUSIVE');
      const started = Date.now();
      sink.appendBatch(batch('first'));
      sink.appendBatch(batch('second'));
      sink.appendBatch(batch('third'));
      expect(await until(() => sink.dropped > 0, 4_000)).toBe(true);
      // The writer says a failing write only after 5 s of retries; a drop is said at once.
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(sink.failing?.error).toMatch(/decisions dropped so far/);
      expect(errors.some((e) => e instanceof DecisionsDropped)).toBe(true);
      expect(errors.some((e) => e.message.includes('locked'))).toBe(false);
      holder.exec('ROLLBACK');
      expect(await until(() => sink.depth === 0, 20_000)).toBe(true);
      expect(await sink.close()).toBe(0);
      // What was kept is written; what was dropped is not, and was counted.
      const kept = loggedIds(path);
      expect(kept).toContain('third');
      expect(kept).toContain('before');
      expect(kept.length + sink.dropped).toBe(4);
    } finally {
      holder.close();
      await sink.close(100);
    }
  }, 60_000);
});

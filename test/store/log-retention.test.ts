import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { LogRetention } from '../../src/store/sqlite/log-retention.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { DecisionRecord } from '../../src/store/store.js';
import { decisionRecord } from './records.js';

let dir = '';
let store: SqliteStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gavel-retention-'));
  store = new SqliteStore(join(dir, 'gavel.db'));
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-22T12:00:00.000Z');

const record = (id: string, at: number): DecisionRecord => decisionRecord(id, { at: new Date(at).toISOString(), determining: ['p'] });

/** Writes a batch of `size` decisions made at `at`, named `<batch>.<i>`, as the log's writer does; tells `retention`. */
function write(retention: LogRetention | null, batch: string, size: number, at = NOW): void {
  const before = store.decisionBytes();
  store.appendDecisions(Array.from({ length: size }, (_, i) => record(`${batch}.${i}`, at)));
  retention?.written(size, store.decisionBytes() - before);
}

const UNBOUNDED = Number.MAX_SAFE_INTEGER;

const ids = (): string[] => store.queryDecisions({ limit: 10_000 }).map((r) => r.id);

describe("the decision log's retention, kept as it is written", () => {
  test('holds the newest max_rows decisions, and at most one batch more, deleting whole batches oldest first', () => {
    const retention = new LogRetention(store, { days: 30, maxRows: 20, maxBytes: UNBOUNDED }, () => NOW);
    for (let b = 0; b < 10; b++) write(retention, `b${b}`, 6);
    expect(retention.total).toBe(store.decisionCount());
    // 60 written: keeping 20 needs b6…b9 (24); deleting b6 would leave 18.
    expect(store.decisionCount()).toBe(24);
    expect(ids().at(-1)).toBe('b6.0');
    expect(ids()[0]).toBe('b9.5');
  });

  test('holds at most max_megabytes of records however few rows they are, deleting whole batches oldest first', () => {
    // A batch of 6 here is about 2 KB: a bound of 5 KB keeps the newest two.
    write(null, 'probe', 6);
    const perBatch = store.decisionBytes();
    store.close();
    rmSync(dir, { recursive: true, force: true });
    dir = mkdtempSync(join(tmpdir(), 'gavel-retention-'));
    store = new SqliteStore(join(dir, 'gavel.db'));
    const retention = new LogRetention(store, { days: 30, maxRows: 1_000_000, maxBytes: Math.floor(2.5 * perBatch) }, () => NOW);
    for (let b = 0; b < 10; b++) write(retention, `b${b}`, 6);
    expect(retention.bytes).toBe(store.decisionBytes());
    expect(store.decisionBytes()).toBeLessThanOrEqual(2.5 * perBatch);
    expect(ids()).toEqual([...['b9', 'b8'].flatMap((b) => [5, 4, 3, 2, 1, 0].map((i) => `${b}.${i}`))]);
  });

  test('a batch larger than max_megabytes on its own is kept, the newest: the log is never emptied for bytes', () => {
    write(null, 'probe', 6);
    const perBatch = store.decisionBytes();
    const retention = new LogRetention(store, { days: 30, maxRows: 1_000_000, maxBytes: Math.floor(perBatch / 2) }, () => NOW);
    for (let b = 0; b < 3; b++) write(retention, `b${b}`, 6);
    retention.trim();
    expect(ids()).toEqual([5, 4, 3, 2, 1, 0].map((i) => `b2.${i}`));
    expect(retention.bytes).toBe(store.decisionBytes());
  });

  test('deletes batches older than retention_days, whatever their number and their order', () => {
    const retention = new LogRetention(store, { days: 7, maxRows: 1_000, maxBytes: UNBOUNDED }, () => NOW);
    write(null, 'old', 3, NOW - 8 * DAY);
    write(null, 'recent', 3, NOW - 2 * DAY);
    // Written after a recent batch, yet older (a batch retried after a failure): deleted too.
    write(null, 'late', 3, NOW - 9 * DAY);
    retention.recount();
    expect(retention.trim()).toBe(6);
    expect(ids()).toEqual(['recent.2', 'recent.1', 'recent.0']);
  });

  test('a backlog — a database from before, or a lowered max_rows — shrinks by twice what each write adds, and by more each trim()', () => {
    for (let b = 0; b < 100; b++) write(null, `b${b}`, 2);
    const retention = new LogRetention(store, { days: 30, maxRows: 10, maxBytes: UNBOUNDED }, () => NOW);
    expect(retention.total).toBe(200);
    // A write of 2 deletes up to 4 decisions: the backlog shrinks under load too.
    write(retention, 'next', 2);
    expect(store.decisionCount()).toBe(202 - 4);
    // Between writes, a larger budget: down to the bound.
    expect(retention.trim()).toBe(198 - 10);
    expect(retention.trim()).toBe(0);
    expect(store.decisionCount()).toBe(10);
    expect(ids()[0]).toBe('next.1');
  });

  test('many small batches at the tail (a quiet hour) are deleted as a busy hour writes large ones: the bound holds', () => {
    const retention = new LogRetention(store, { days: 30, maxRows: 50, maxBytes: UNBOUNDED }, () => NOW);
    for (let b = 0; b < 50; b++) write(retention, `quiet${b}`, 1);
    for (let b = 0; b < 20; b++) {
      write(retention, `busy${b}`, 25);
      // At least the bound, at most one batch more.
      expect(store.decisionCount()).toBeGreaterThanOrEqual(50);
      expect(store.decisionCount()).toBeLessThanOrEqual(50 + 25);
    }
    expect(retention.total).toBe(store.decisionCount());
  });

  test('a batch stamped in the future (a clock that jumped) does not shield older ones from retention_days', () => {
    const retention = new LogRetention(store, { days: 30, maxRows: 1_000, maxBytes: UNBOUNDED }, () => NOW);
    write(null, 'future', 2, NOW + 365 * DAY);
    write(null, 'old', 2, NOW - 90 * DAY);
    write(null, 'older', 2, NOW - 120 * DAY);
    retention.recount();
    expect(retention.trim()).toBe(4);
    expect(ids()).toEqual(['future.1', 'future.0']);
  });

  test('counts again what another connection wrote', () => {
    const retention = new LogRetention(store, { days: 30, maxRows: 3, maxBytes: UNBOUNDED }, () => NOW);
    const other = new SqliteStore(join(dir, 'gavel.db'));
    other.appendDecisions([record('x.0', NOW), record('x.1', NOW), record('x.2', NOW)]);
    other.close();
    // Not counted, x would seem needed to keep 3; counted, it goes once y is written.
    retention.recount();
    write(retention, 'y', 3);
    expect(store.decisionCount()).toBe(3);
    expect(ids()).toEqual(['y.2', 'y.1', 'y.0']);
  });
});

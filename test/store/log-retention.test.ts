import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { LogRetention } from '../../src/store/sqlite/log-retention.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { DecisionRecord } from '../../src/store/store.js';

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

const record = (id: string, at: number): DecisionRecord => ({
  id,
  at: new Date(at).toISOString(),
  via: 'native',
  decision: true,
  revision: 'abc',
  subject: { type: 'user', id: 'alice' },
  action: 'read',
  resource: { type: 'doc', id },
  latencyUs: 1,
  determining: ['p'],
  reasons: [],
  errors: [],
});

/** Writes a batch of `size` decisions made at `at`, named `<batch>.<i>`, as the log's writer does; tells `retention`. */
function write(retention: LogRetention | null, batch: string, size: number, at = NOW): void {
  store.appendDecisions(Array.from({ length: size }, (_, i) => record(`${batch}.${i}`, at)));
  retention?.written(size);
}

const ids = (): string[] => store.queryDecisions({ limit: 10_000 }).map((r) => r.id);

describe("the decision log's retention, kept as it is written", () => {
  test('holds the newest max_rows decisions, and at most one batch more, deleting whole batches oldest first', () => {
    const retention = new LogRetention(store, { days: 30, maxRows: 20 }, () => NOW);
    for (let b = 0; b < 10; b++) write(retention, `b${b}`, 6);
    expect(retention.total).toBe(store.decisionCount());
    // 60 written: keeping 20 needs b6…b9 (24); deleting b6 would leave 18.
    expect(store.decisionCount()).toBe(24);
    expect(ids().at(-1)).toBe('b6.0');
    expect(ids()[0]).toBe('b9.5');
  });

  test('deletes batches older than retention_days, whatever their number, and stops at the first it keeps', () => {
    const retention = new LogRetention(store, { days: 7, maxRows: 1_000 }, () => NOW);
    write(null, 'old', 3, NOW - 8 * DAY);
    write(null, 'recent', 3, NOW - 2 * DAY);
    // Out of order in time: behind a batch it keeps, an older one waits for its turn.
    write(null, 'late', 3, NOW - 9 * DAY);
    retention.recount();
    expect(retention.trim()).toBe(3);
    expect(ids()).toEqual(['late.2', 'late.1', 'late.0', 'recent.2', 'recent.1', 'recent.0']);
  });

  test('a backlog — a database from before, or a lowered max_rows — goes a bounded number of batches per call', () => {
    for (let b = 0; b < 100; b++) write(null, `b${b}`, 2);
    const retention = new LogRetention(store, { days: 30, maxRows: 10 }, () => NOW);
    expect(retention.total).toBe(200);
    // A write deletes at most 4 batches: more than it adds, so a backlog shrinks under load.
    write(retention, 'next', 2);
    expect(store.decisionCount()).toBe(202 - 8);
    // Between writes, 64 at a time.
    expect(retention.trim()).toBe(128);
    expect(retention.trim()).toBe(202 - 8 - 128 - 10);
    expect(retention.trim()).toBe(0);
    expect(store.decisionCount()).toBe(10);
    expect(ids()[0]).toBe('next.1');
  });

  test('counts again what another connection wrote', () => {
    const retention = new LogRetention(store, { days: 30, maxRows: 3 }, () => NOW);
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

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { DecisionLog } from '../../src/engine/decision-log.js';
import { batchText, heldBytes } from '../../src/store/decision-summary.js';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { DecisionBatch, DecisionRecord } from '../../src/store/store.js';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gavel-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A database as an older Gavel left it: migrated up to, not including, `version`. */
function databaseBefore(path: string, version: number): Database.Database {
  const db = new Database(path);
  db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT');
  for (const m of MIGRATIONS.filter((x) => x.version < version)) {
    // A schema edit needs the store's own runner (defensive mode lifted): build such databases with SqliteStore.
    if (!('sql' in m)) throw new Error(`databaseBefore(${version}): migration ${m.version} is a schema edit`);
    db.exec(m.sql);
    db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, '2026-11-01T00:00:00Z');
  }
  return db;
}

const record = (id: string, decision = true): DecisionRecord => ({
  id,
  at: '2026-11-22T12:00:00.000Z',
  via: 'native',
  decision,
  revision: 'abc',
  subject: { type: 'user', id: 'alice' },
  action: 'read',
  resource: { type: 'doc', id: id },
  latencyUs: 1.5,
  determining: decision ? ['p'] : [],
  reasons: [],
  errors: [],
  request: { subject: { type: 'user', id: 'alice' }, token: { sub: 'alice' } },
});

describe('the SQLite store', () => {
  test('creates the file and its folder, in WAL mode with foreign keys on, migrated once', () => {
    const path = join(dir, 'nested', 'gavel.db');
    new SqliteStore(path).close();
    const again = new SqliteStore(path); // migrating again changes nothing
    // Only its owner may read it (password hashes, the decision log), nor its journal.
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(`${path}-wal`).mode & 0o777).toBe(0o600);
    again.close();
    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.prepare('SELECT version, name FROM schema_migrations').all()).toEqual([
      { version: 1, name: 'decision log' },
      { version: 2, name: 'directory' },
      { version: 3, name: 'decision log: no index on request ids' },
      { version: 4, name: 'token issuer' },
      { version: 5, name: 'authorization codes and refresh tokens' },
      { version: 6, name: 'OpenID Connect: nonce and sign-in time of a code' },
      { version: 7, name: 'opaque access tokens' },
      { version: 8, name: 'lifetime caps of codes; key binding of refresh tokens' },
      { version: 9, name: 'decision log in batches' },
      { version: 10, name: 'policy revisions' },
      { version: 11, name: 'decision log summaries' },
      { version: 12, name: 'a counter of changes to what a server holds in memory' },
      { version: 13, name: 'decision log: no JSON check on insert' },
      { version: 14, name: 'issuer: expiry indexes, for deleting what has expired' },
      { version: 15, name: 'issuer: sealed refresh successors found by rotation time, to forget them after the grace window' },
      { version: 16, name: 'issuer: a family found by one of its access tokens, so that tokens exchanged from it join it' },
      { version: 17, name: 'issuer: when a signing algorithm stopped being used, so that its last key is published for the overlap from then' },
      { version: 18, name: 'issuer: a rotated refresh token names its successor, so a replay after the successor was used is reuse, not a lost response' },
      { version: 19, name: 'decision log: the bytes of each batch, so that retention can bound the log in bytes too' },
      { version: 20, name: 'a counter of revocations, so that every process serving the store sees one within a second' },
      { version: 21, name: 'issuer: which access token each exchanged one came from, so that revoking a token revokes what was exchanged from it' },
      { version: 22, name: 'issuer: used DPoP proofs and client assertions, and failed sign-ins, shared by every process serving the store' },
      { version: 23, name: 'issuer: revoked token families, so that what is issued into one after its revocation is revoked too' },
      { version: 24, name: 'issuer: codes bound to a DPoP key (dpop_jkt)' },
    ]);
    db.close();
  });

  test('decisions round-trip, newest first', () => {
    const store = new SqliteStore(join(dir, 'gavel.db'));
    store.appendDecisions([record('a'), record('b', false)]);
    expect(store.queryDecisions({ limit: 10 })).toEqual([record('b', false), record('a')]);
    expect(store.ping()).toBe(true);
    store.close();
  });

  test('queries by decision, subject, policy and time; prunes by age and count', () => {
    const store = new SqliteStore(join(dir, 'gavel.db'));
    store.appendDecisions([record('a'), record('b', false), { ...record('c'), at: '2026-11-23T00:00:00.000Z', subject: { type: 'user', id: 'bob' } }]);
    expect(store.queryDecisions({ decision: false, limit: 10 }).map((r) => r.id)).toEqual(['b']);
    expect(store.queryDecisions({ subjectId: 'bob', limit: 10 }).map((r) => r.id)).toEqual(['c']);
    expect(store.queryDecisions({ policy: 'p', limit: 10 }).map((r) => r.id)).toEqual(['c', 'a']);
    expect(store.queryDecisions({ since: '2026-11-22T23:00:00.000Z', limit: 10 }).map((r) => r.id)).toEqual(['c']);
    expect(store.pruneDecisions('2026-11-22T13:00:00.000Z', 1000)).toBe(2);
    expect(store.queryDecisions({ limit: 10 }).map((r) => r.id)).toEqual(['c']);
    store.appendDecisions([record('d'), record('e')]);
    expect(store.pruneDecisions('2000-01-01T00:00:00.000Z', 2)).toBe(1);
    expect(store.queryDecisions({ limit: 10 }).map((r) => r.id)).toEqual(['e', 'd']);
    store.close();
  });

  test('decisions logged one row each (before migration 9) are kept, as records, through the migration', () => {
    const path = join(dir, 'old.db');
    const old = databaseBefore(path, 9);
    old
      .prepare('INSERT INTO decisions (id, at, via, decision, revision, subject_type, subject_id, action, resource_type, resource_id, latency_us, determining, reasons, errors, request) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run('r1', '2026-11-01T10:00:00.000Z', 'authzen', 0, 'abc', 'user', 'alice', 'read', 'doc', 'd1', 4.5, '["p"]', '["no"]', '[]', '{"subject":{"type":"user","id":"alice"}}');
    old.close();
    const store = new SqliteStore(path);
    expect(store.queryDecisions({ limit: 10 })).toEqual([
      { id: 'r1', at: '2026-11-01T10:00:00.000Z', via: 'authzen', decision: false, revision: 'abc', subject: { type: 'user', id: 'alice' }, action: 'read', resource: { type: 'doc', id: 'd1' }, latencyUs: 4.5, determining: ['p'], reasons: ['no'], errors: [], request: { subject: { type: 'user', id: 'alice' } } },
    ]);
    store.close();
  });

  test('a log written before migration 13 stays readable after it, and batches are no longer parsed on insert', () => {
    const path = join(dir, 'old.db');
    const old = databaseBefore(path, 13);
    old.prepare('INSERT INTO decision_batches (first_at, last_at, count, records) VALUES (?, ?, 1, ?)').run(record('old').at, record('old').at, JSON.stringify([record('old')]));
    old.prepare("INSERT INTO decision_summaries (seq, ids, keys) VALUES (1, ?, ?)").run('\nold\n', '\ns:alice\nv:native\nd:1\np:p\n');
    old.close();
    const store = new SqliteStore(path);
    expect(store.queryDecisions({ limit: 10, subjectId: 'alice' })).toEqual([record('old')]);
    store.appendDecisions([record('new')]);
    expect(store.queryDecisions({ limit: 10 }).map((r) => r.id)).toEqual(['new', 'old']);
    store.close();
    const db = new Database(path, { readonly: true });
    expect(db.prepare("SELECT sql FROM sqlite_schema WHERE name = 'decision_batches'").pluck().get()).not.toContain('json_valid');
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
  });

  test('a batch is one transaction: one bad record stores none of it', () => {
    const store = new SqliteStore(join(dir, 'gavel.db'));
    const bad = { ...record('c'), id: null } as unknown as DecisionRecord;
    expect(() => store.appendDecisions([record('ok'), bad])).toThrow();
    expect(store.queryDecisions({ limit: 10 })).toEqual([]);
    store.close();
  });

  test("the change marker moves when another connection changes the directory, the registry or the keys, and not for the decision log's writes", () => {
    const server = new SqliteStore(join(dir, 'gavel.db'));
    const other = new SqliteStore(join(dir, 'gavel.db'));
    let seen = server.changeMarker();
    const moved = () => {
      const now = server.changeMarker();
      const changed = now !== seen;
      seen = now;
      return changed;
    };
    other.appendDecisions([record('a'), record('b')]);
    other.pruneDecisions('2000-01-01T00:00:00.000Z', 1);
    expect(moved()).toBe(false);
    other.applyDocument([{ type: 'user', id: 'alice', attributes: { team: 'a' } }], {}, false);
    expect(moved()).toBe(true);
    other.applyDocument([{ type: 'user', id: 'alice', attributes: { team: 'a' } }], {}, true); // dry run
    expect(moved()).toBe(false);
    other.applyDocument(undefined, { roles: [{ name: 'viewer', scopes: ['invoice:read'] }] }, false);
    expect(moved()).toBe(true);
    other.addSigningKeys([{ kid: 'k2', alg: 'ES256', publicJwk: '{}', sealed: 'x', createdAt: '2026-11-22T12:00:00.000Z' }]);
    expect(moved()).toBe(true);
    other.close();
    server.close();
  });
});

describe('reading a log of many batches', () => {
  test('pages run across any number of batches, with and without filters, and ids are found however old', () => {
    const store = new SqliteStore(join(dir, 'gavel.db'));
    // 300 batches of one decision: more than a page asks the summaries for at a time.
    for (let i = 0; i < 300; i++) store.appendDecisions([{ ...record(`r${i}`, i % 50 !== 0), subject: { type: 'user', id: i % 100 === 7 ? 'rare' : 'alice' } }]);
    const first = store.decisionPage({ limit: 150 });
    expect(first.decisions.map((r) => r.id)).toEqual(Array.from({ length: 150 }, (_, k) => `r${299 - k}`));
    const second = store.decisionPage({ limit: 200, after: first.next! });
    expect(second.decisions.map((r) => r.id)).toEqual(Array.from({ length: 150 }, (_, k) => `r${149 - k}`));
    expect(second.next).toBeNull();
    expect(store.queryDecisions({ limit: 10, decision: false }).map((r) => r.id)).toEqual(['r250', 'r200', 'r150', 'r100', 'r50', 'r0']);
    expect(store.queryDecisions({ limit: 10, subjectId: 'rare' }).map((r) => r.id)).toEqual(['r207', 'r107', 'r7']);
    expect(store.decisionById('r0')?.id).toBe('r0');
    expect(store.decisionById('r299')?.id).toBe('r299');
    expect(store.decisionById('r300')).toBeNull();
    store.close();
  });
});

describe('the decision log', () => {
  test('batches in memory and writes on close', () => {
    const store = new SqliteStore(join(dir, 'gavel.db'));
    const log = new DecisionLog(store, { flushMs: 60_000, batchSize: 1000 });
    for (let i = 0; i < 10; i++) log.append(record(`r${i}`));
    expect(log.depth).toBe(10);
    expect(store.queryDecisions({ limit: 100 })).toHaveLength(0);
    log.close();
    expect(log.depth).toBe(0);
    expect(store.queryDecisions({ limit: 100 })).toHaveLength(10);
    store.close();
  });

  test('writes at once when a batch is full', () => {
    const store = new SqliteStore(join(dir, 'gavel.db'));
    const log = new DecisionLog(store, { flushMs: 60_000, batchSize: 5 });
    for (let i = 0; i < 5; i++) log.append(record(`r${i}`));
    expect(store.queryDecisions({ limit: 100 })).toHaveLength(5);
    log.close();
    store.close();
  });

  test('writes at once when the records waiting reach batchBytes, whatever their count', () => {
    const store = new SqliteStore(join(dir, 'gavel.db'));
    const log = new DecisionLog(store, { flushMs: 60_000, batchBytes: 2_000 });
    const big = (id: string) => ({ ...record(id), reasons: ['x'.repeat(1_000)] });
    log.append(big('b1'));
    expect(log.depth).toBe(1);
    log.append(big('b2'));
    expect(log.depth).toBe(0);
    expect(store.queryDecisions({ limit: 10 }).map((r) => r.id)).toEqual(['b2', 'b1']);
    log.close();
    store.close();
  });

  test('a failed write keeps the decisions queued and reports the failure', () => {
    const store = new SqliteStore(join(dir, 'gavel.db'));
    const errors: unknown[] = [];
    let broken = true;
    const flaky = {
      ...store,
      appendBatch: (batch: DecisionBatch) => {
        if (broken) throw new Error('disk full');
        store.appendBatch(batch);
      },
      queryDecisions: store.queryDecisions.bind(store),
      pruneDecisions: store.pruneDecisions.bind(store),
      ping: () => true,
      close: () => store.close(),
    };
    const log = new DecisionLog(flaky, { flushMs: 60_000 }, (err) => errors.push(err));
    log.append(record('kept'));
    log.flush();
    expect(log.depth).toBe(1);
    expect(log.failures).toBe(1);
    broken = false;
    log.close();
    expect(store.queryDecisions({ limit: 10 }).map((r) => r.id)).toEqual(['kept']);
    store.close();
  });

  test('records appended while a failed batch waits are written after it, in order', () => {
    const store = new SqliteStore(join(dir, 'gavel.db'));
    let broken = true;
    const flaky = {
      appendBatch: (batch: DecisionBatch) => {
        if (broken) throw new Error('disk full');
        store.appendBatch(batch);
      },
    };
    const log = new DecisionLog(flaky, { flushMs: 60_000 });
    log.append(record('first'));
    log.flush();
    log.append(record('second'));
    expect(log.depth).toBe(2);
    broken = false;
    log.close();
    expect(log.depth).toBe(0);
    expect(store.queryDecisions({ limit: 10 }).map((r) => r.id)).toEqual(['second', 'first']);
    store.close();
  });

  test('while the sink fails, new records queue as batches of the usual size, written in order once it recovers', () => {
    const store = new SqliteStore(join(dir, 'gavel.db'));
    let broken = true;
    const sizes: number[] = [];
    const attempts: number[] = [];
    const flaky = {
      appendBatch: (batch: DecisionBatch) => {
        attempts.push(batch.count);
        if (broken) throw new Error('disk full');
        sizes.push(batch.count);
        store.appendBatch(batch);
      },
    };
    const log = new DecisionLog(flaky, { flushMs: 60_000, batchSize: 2 });
    for (let i = 1; i <= 7; i++) log.append(record(`q${i}`));
    expect(log.depth).toBe(7);
    // One write was tried (the first full batch); the later ones joined the queue without a write each.
    expect(attempts).toEqual([2]);
    broken = false;
    log.close();
    expect(log.depth).toBe(0);
    expect(sizes).toEqual([2, 2, 2, 1]);
    expect(store.queryDecisions({ limit: 10 }).map((r) => r.id)).toEqual(['q7', 'q6', 'q5', 'q4', 'q3', 'q2', 'q1']);
    store.close();
  });

  test('while the sink refuses, waiting batches are bounded in bytes: the oldest are dropped, counted and reported', () => {
    const errors: string[] = [];
    const log = new DecisionLog({ appendBatch: () => { throw new Error('disk full'); } }, { flushMs: 60_000, batchSize: 1, maxQueuedBytes: 2_000 }, (err) => errors.push((err as Error).message));
    for (let i = 0; i < 20; i++) log.append(record(`q${i}`));
    // About 300 bytes a record: a handful fit under 2,000 bytes; the rest went, oldest first.
    expect(log.depth).toBeGreaterThan(0);
    expect(log.depth + log.dropped).toBe(20);
    expect(log.dropped).toBeGreaterThan(10);
    // Said once, not once a batch.
    expect(errors.filter((m) => /^\d+ decisions dropped so far: the log could not be written/.test(m))).toHaveLength(1);
  });

  test('a small batch waiting for the sink holds about its own size, not the 64 KiB buffer it was written in', () => {
    const held: DecisionBatch[] = [];
    const log = new DecisionLog({ appendBatch: (b) => void held.push(b) }, { flushMs: 60_000 });
    log.append(record('small'));
    log.flush();
    expect(heldBytes(held[0]!)).toBeLessThan(4_096);
    expect(JSON.parse(batchText(held[0]!))).toHaveLength(1);
  });

  test('a batch handed to the sink keeps its bytes while later records are appended', () => {
    const held: DecisionBatch[] = [];
    // A sink that keeps batches without copying them, as the writer thread does until it has written them.
    const log = new DecisionLog({ appendBatch: (batch) => void held.push(batch) }, { flushMs: 60_000, batchSize: 2 });
    for (let i = 1; i <= 6; i++) log.append(record(`h${i}`));
    log.close();
    expect(held.map((b) => (JSON.parse(batchText(b)) as DecisionRecord[]).map((r) => r.id))).toEqual([
      ['h1', 'h2'],
      ['h3', 'h4'],
      ['h5', 'h6'],
    ]);
  });

  test('text outside ASCII and ids holding newlines are stored as they were decided, and found by id', () => {
    const store = new SqliteStore(join(dir, 'gavel.db'));
    const log = new DecisionLog(store, { flushMs: 60_000 });
    const unusual = { ...record('line\nbreak'), subject: { type: 'user', id: 'zoë 🦊 山田' }, reasons: ['€ — “quoted”'] };
    // Long enough to make the batch buffer grow well past its first size (and be given back after).
    const long = { ...record('long'), reasons: ['ü'.repeat(600_000)] };
    log.append(unusual);
    log.append(long);
    log.flush();
    const after = { ...record('after'), reasons: ['ñ'] };
    log.append(after);
    log.close();
    expect(store.decisionById('line\nbreak')).toEqual(unusual);
    expect(store.decisionById('long')).toEqual(long);
    expect(store.decisionById('after')).toEqual(after);
    expect(store.queryDecisions({ limit: 10, subjectId: 'zoë 🦊 山田' }).map((r) => r.id)).toEqual(['line\nbreak']);
    store.close();
  });
});

describe('the directory read a page at a time (a server reading it again between requests)', () => {
  test('pages come in order, of the size asked, all from the snapshot the first page was read in; the store writes meanwhile', () => {
    const path = join(dir, 'g.db');
    const store = new SqliteStore(path);
    try {
      const entities = Array.from({ length: 25 }, (_, i) => ({ type: i % 2 === 0 ? 'user' : 'doc', id: `e${String(i).padStart(2, '0')}`, attributes: { n: i } }));
      store.applyDocument(entities, {}, false);
      const pages = store.entityPages(10);
      const first = pages.next();
      // Between pages, the same store writes: the pages still read the directory as it was.
      store.applyDocument([{ type: 'user', id: 'late', attributes: {} }], {}, false);
      const read = [...(first.value ?? []), ...[...pages].flat()];
      expect(first.value).toHaveLength(10);
      expect(read).toEqual([...entities].sort((a, b) => (a.type + a.id < b.type + b.id ? -1 : 1)));
      expect([...store.entityPages(10)].flat().map((e) => e.id)).toContain('late');
    } finally {
      store.close();
    }
  });
});

describe('writing while another process writes (a server logging decisions, gavel apply beside it)', () => {
  test('applying a document waits for the other writer instead of failing with SQLITE_BUSY_SNAPSHOT', async () => {
    const path = join(dir, 'g.db');
    const store = new SqliteStore(path);
    store.applyDocument([{ type: 'user', id: 'seed', attributes: {} }], {}, false);
    // Another process committing a small write every millisecond, as the log writer does under load.
    const { spawn } = await import('node:child_process');
    const writer = spawn(process.execPath, ['-e', `
      const db = new (require(${JSON.stringify(require.resolve('better-sqlite3'))}))(${JSON.stringify(path)});
      db.pragma('busy_timeout = 5000');
      db.exec('CREATE TABLE IF NOT EXISTS other_writes (x)');
      const insert = db.prepare('INSERT INTO other_writes VALUES (1)');
      process.stdout.write('ready\\n');
      const end = Date.now() + 4000;
      (function loop() { if (Date.now() > end) return; insert.run(); setTimeout(loop, 1); })();
    `]);
    try {
      await new Promise<void>((resolve) => writer.stdout.once('data', () => resolve()));
      const entities = Array.from({ length: 20_000 }, (_, i) => ({ type: 'user', id: `u${i}`, attributes: { n: i } }));
      // Each apply reads the directory first, then writes: the other process commits in between.
      for (let round = 0; round < 5; round++) {
        expect(() => store.applyDocument(entities.map((e) => ({ ...e, attributes: { n: e.attributes.n + round } })), {}, false)).not.toThrow();
      }
      expect(store.entities().find((e) => e.id === 'u7')?.attributes).toEqual({ n: 11 });
    } finally {
      writer.kill();
      store.close();
    }
  });
});

describe('a database a newer Gavel migrated', () => {
  test('is refused, saying so, and left as it was (a rollback must not write tables it does not know)', () => {
    const path = join(dir, 'g.db');
    new SqliteStore(path).close();
    const other = new Database(path);
    other.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from the future', '2030-01-01')").run();
    other.close();
    expect(() => new SqliteStore(path)).toThrow(/was written by a newer Gavel \(schema version 999; this one reads up to \d+\): run that version, or restore a backup taken before the upgrade/);
  });
});

describe('background sweeps beside another writer', () => {
  test('work run whenFree answers null at once while another connection holds the write lock, and runs once it is free', () => {
    const path = join(dir, 'g.db');
    const store = new SqliteStore(path);
    store.saveRefreshToken({ hash: 'old', family: 'f', clientId: 'c', subject: 's', scope: 'x', audience: 'https://api.example.com', expiresAt: 1 });
    const other = new Database(path);
    other.prepare('BEGIN IMMEDIATE').run();
    try {
      const started = Date.now();
      expect(store.whenFree(() => store.deleteExpiredGrants(1_000_000, 500))).toBeNull();
      // Not the 5 s lock timeout the request thread used to wait here.
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      other.prepare('COMMIT').run();
      other.close();
    }
    expect(store.whenFree(() => store.deleteExpiredGrants(1_000_000, 500))).toBe(1);
    store.close();
  });

  test('after it, other writes wait for a lock as before (the lock timeout is restored)', async () => {
    const path = join(dir, 'g.db');
    const store = new SqliteStore(path);
    store.whenFree(() => 0);
    // Another process holds the write lock for half a second.
    const holder = spawn(process.execPath, ['-e', `const D = require('better-sqlite3'); const db = new D(${JSON.stringify(path)}); db.prepare('BEGIN IMMEDIATE').run(); console.log('locked'); setTimeout(() => { db.prepare('COMMIT').run(); db.close(); }, 500);`], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
    store.saveRefreshToken({ hash: 'new', family: 'f', clientId: 'c', subject: 's', scope: 'x', audience: 'https://api.example.com', expiresAt: 9_999_999_999 });
    expect(store.refreshToken('new')).not.toBeNull();
    await new Promise((resolve) => holder.on('exit', resolve));
    store.close();
  });
});

describe('request writes beside another writer (store.write)', () => {
  const token = (hash: string) => ({ hash, family: 'f', clientId: 'c', subject: 's', scope: 'x', audience: 'https://api.example.com', expiresAt: 9_999_999_999 });

  test('wait for the lock with the event loop free, and are written once the lock is released', async () => {
    const path = join(dir, 'g.db');
    const store = new SqliteStore(path);
    const other = new Database(path);
    other.prepare('BEGIN IMMEDIATE').run();
    // Only a timer on this thread lets the other connection go: a write that held the thread while it waited would never see it.
    setTimeout(() => {
      other.prepare('COMMIT').run();
      other.close();
    }, 100);
    await store.write(() => store.saveRefreshToken(token('waited')));
    expect(store.refreshToken('waited')).not.toBeNull();
    store.close();
  });

  test('a lock held past the busy timeout throws SQLite\'s SQLITE_BUSY, and nothing is written', async () => {
    const path = join(dir, 'g.db');
    const store = new SqliteStore(path, { busyTimeoutMs: 200 });
    const other = new Database(path);
    other.prepare('BEGIN IMMEDIATE').run();
    try {
      await expect(store.write(() => store.saveRefreshToken(token('refused')))).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    } finally {
      other.prepare('COMMIT').run();
      other.close();
    }
    expect(store.refreshToken('refused')).toBeNull();
    store.close();
  });

  test('errors other than a taken lock are thrown at once, not retried', async () => {
    const store = new SqliteStore(join(dir, 'g.db'));
    let tries = 0;
    await expect(
      store.write(() => {
        tries++;
        throw new Error('not a lock');
      }),
    ).rejects.toThrow('not a lock');
    expect(tries).toBe(1);
    store.close();
  });
});

describe('following the log (decisionsAfter)', () => {
  const START = { seq: 0, firstAt: '' };
  const record = (id: string, decision: boolean) => ({ id, at: `2026-11-24T01:00:0${id.slice(1)}.000Z`, via: 'native' as const, decision, revision: 'r', determining: [], reasons: [], errors: [], subject: { type: 'user', id: 'a' }, action: 'read', resource: { type: 'doc', id: '1' }, latencyUs: 1 });

  test('answers the batches after the one last read, oldest first, filtered, a chunk at a time', () => {
    const store = new SqliteStore(join(dir, 'g.db'));
    store.appendDecisions([record('d1', true), record('d2', false)]);
    store.appendDecisions([record('d3', true)]);
    store.appendDecisions([record('d4', false)]);
    const all = store.decisionsAfter(START, {});
    expect([all.decisions.map((r) => r.id), all.more]).toEqual([['d1', 'd2', 'd3', 'd4'], false]);
    expect(store.decisionsAfter(all.after, {}).decisions).toEqual([]);
    expect(store.decisionsAfter(START, { decision: false }).decisions.map((r) => r.id)).toEqual(['d2', 'd4']);
    // Two batches a call: the first call says more are there, the next goes on after them.
    const first = store.decisionsAfter(START, {}, 2);
    expect([first.decisions.map((r) => r.id), first.more]).toEqual([['d1', 'd2', 'd3'], true]);
    expect(store.decisionsAfter(first.after, {}, 2).decisions.map((r) => r.id)).toEqual(['d4']);
    store.close();
  });

  test('a log emptied and begun again (numbers start over) is read from its start, however many batches came meanwhile; batches dropped by age only are not read again', () => {
    const path = join(dir, 'g.db');
    const store = new SqliteStore(path);
    const emptied = () => {
      const other = new Database(path);
      other.exec('DELETE FROM decision_summaries; DELETE FROM decision_batch_sizes; DELETE FROM decision_batches');
      other.close();
    };
    store.appendDecisions([record('d1', true)]);
    store.appendDecisions([record('d2', true)]);
    store.appendDecisions([record('d3', true)]);
    const read = store.decisionsAfter(START, {});
    emptied();
    // More batches than the cursor's number: renumbered 1 to 4, past the cursor's 3.
    for (const id of ['d4', 'd5', 'd6', 'd7']) store.appendDecisions([record(id, true)]);
    const after = store.decisionsAfter(read.after, {});
    expect(after.decisions.map((r) => r.id)).toEqual(['d4', 'd5', 'd6', 'd7']);
    // Fewer than it: the same.
    emptied();
    store.appendDecisions([record('d8', true)]);
    expect(store.decisionsAfter(after.after, {}).decisions.map((r) => r.id)).toEqual(['d8']);
    // The oldest batches dropped (retention by age), the cursor's among them: nothing is shown twice.
    store.appendDecisions([record('d9', true)]);
    const latest = store.decisionsAfter(START, {});
    const other = new Database(path);
    other.exec('DELETE FROM decision_summaries; DELETE FROM decision_batch_sizes; DELETE FROM decision_batches');
    other.close();
    expect(store.decisionsAfter(latest.after, {}).decisions).toEqual([]);
    store.close();
  });
});

describe('a dry run (gavel apply --dry-run, POST /v1/apply?dry_run=true)', () => {
  test('reads without the write lock: it answers while another connection holds it, and changes nothing', () => {
    const path = join(dir, 'g.db');
    const store = new SqliteStore(path);
    store.applyDocument([{ type: 'user', id: 'alice', attributes: { role: 'viewer' } }], { apis: [{ identifier: 'https://api.example.com', scopes: ['a:read'], tokenFormat: 'jwt', accessTokenTtl: 300 }] }, false);
    // Another writer mid-transaction: the decision log's writer, or a large apply from another process.
    const other = new Database(path);
    other.prepare('BEGIN IMMEDIATE').run();
    other.prepare("INSERT INTO entities (type, id, attributes) VALUES ('user', 'carol', '{}')").run();
    try {
      const changes = store.applyDocument(
        [
          { type: 'user', id: 'alice', attributes: { role: 'editor' } },
          { type: 'user', id: 'bob', attributes: {} },
        ],
        { apis: [] },
        true,
      );
      expect(changes).toEqual({ added: ['user::"bob"'], changed: ['user::"alice"'], removed: ['apis:https://api.example.com'] });
    } finally {
      other.prepare('COMMIT').run();
      other.close();
    }
    expect(store.entities().map((e) => [e.id, e.attributes])).toEqual([
      ['alice', { role: 'viewer' }],
      ['carol', {}],
    ]);
    expect(store.registry().apis).toHaveLength(1);
    store.close();
  });
});

describe('applying a document beside other writers (gavel apply against a serving store)', () => {
  test('the document is compared without the write lock; a change committed meanwhile is compared again, not overwritten', () => {
    const path = join(dir, 'g.db');
    const store = new SqliteStore(path);
    store.applyDocument(
      [
        { type: 'user', id: 'alice', attributes: { role: 'viewer' } },
        { type: 'user', id: 'bob', attributes: {} },
      ],
      {},
      false,
    );
    // Another writer commits while the document is compared: without a busy timeout, it fails at once if the lock is held.
    const other = new Database(path, { timeout: 0 });
    const entities = store.entities.bind(store);
    let wrote = false;
    // The write lands after the comparison has read the directory: the store has moved since what was compared.
    store.entities = () => {
      const read = entities();
      if (!wrote) {
        wrote = true;
        other.prepare('UPDATE entities SET attributes = ? WHERE id = ?').run('{"role":"admin"}', 'bob');
      }
      return read;
    };
    const changes = store.applyDocument(
      [
        { type: 'user', id: 'alice', attributes: { role: 'editor' } },
        { type: 'user', id: 'bob', attributes: {} },
        { type: 'user', id: 'carol', attributes: {} },
      ],
      {},
      false,
    );
    other.close();
    expect(wrote).toBe(true);
    // Compared again after bob changed: the document's bob is written, and said to be.
    expect(changes).toEqual({ added: ['user::"carol"'], changed: ['user::"alice"', 'user::"bob"'], removed: [] });
    expect(entities().map((e) => [e.id, e.attributes])).toEqual([
      ['alice', { role: 'editor' }],
      ['bob', {}],
      ['carol', {}],
    ]);
    store.close();
  });
});

describe('applying a document whose entities change under it again and again', () => {
  test('after three comparisons overtaken by other writes, it compares and writes under the lock at once', () => {
    const path = join(dir, 'g.db');
    const store = new SqliteStore(path);
    store.applyDocument([{ type: 'user', id: 'bob', attributes: {} }], {}, false);
    const other = new Database(path, { timeout: 0 });
    const entities = store.entities.bind(store);
    let reads = 0;
    store.entities = () => {
      const read = entities();
      // Each of the first three comparisons is overtaken; the fourth runs under the lock, where the other writer is refused.
      reads++;
      if (reads <= 3) other.prepare('UPDATE entities SET attributes = ? WHERE id = ?').run(JSON.stringify({ n: reads }), 'bob');
      else expect(() => other.prepare('UPDATE entities SET attributes = ? WHERE id = ?').run('{"n":99}', 'bob')).toThrow(/database is locked/);
      return read;
    };
    const changes = store.applyDocument([{ type: 'user', id: 'bob', attributes: {} }, { type: 'user', id: 'carol', attributes: {} }], {}, false);
    other.close();
    expect(reads).toBe(4);
    expect(changes).toEqual({ added: ['user::"carol"'], changed: ['user::"bob"'], removed: [] });
    expect(entities().map((e) => [e.id, e.attributes])).toEqual([
      ['bob', {}],
      ['carol', {}],
    ]);
    store.close();
  });

  test('an entity whose type holds "::" is removed like any other', () => {
    const store = new SqliteStore(join(dir, 'g.db'));
    store.applyDocument([{ type: 'Acme::Doc', id: 'a::b', attributes: {} }], {}, false);
    expect(store.applyDocument([], {}, false)).toEqual({ added: [], changed: [], removed: ['Acme::Doc::"a::b"'] });
    expect(store.entities()).toEqual([]);
    store.close();
  });
});

describe('closing the store while the directory is being read (a server stopping mid-refresh)', () => {
  test('closes, and the read that was under way fails rather than pass for the whole directory', () => {
    const store = new SqliteStore(join(dir, 'g.db'));
    store.applyDocument(Array.from({ length: 30 }, (_, i) => ({ type: 'user', id: `u${i}`, attributes: {} })), {}, false);
    const pages = store.entityPages(10);
    expect(pages.next().value).toHaveLength(10);
    expect(() => store.close()).not.toThrow();
    expect(() => pages.next()).toThrow('the store was closed while the directory was being read');
  });
});

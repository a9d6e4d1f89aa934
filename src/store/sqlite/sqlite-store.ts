import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { DecisionRecord, Store } from '../store.js';
import { MIGRATIONS } from './migrations.js';

interface DecisionRow {
  id: string;
  at: string;
  via: string;
  decision: number;
  revision: string;
  determining: string;
  reasons: string;
  errors: string;
  request: string;
}

/**
 * The embedded store: one SQLite file in WAL mode with foreign keys on, migrated on open.
 * `synchronous = FULL` so that a transaction that returned is on disk: nothing
 * acknowledged is lost on a crash.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly appendAll: (records: readonly DecisionRecord[]) => void;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    migrate(this.db);
    this.insert = this.db.prepare(
      'INSERT INTO decisions (id, at, via, decision, revision, determining, reasons, errors, request) VALUES (@id, @at, @via, @decision, @revision, @determining, @reasons, @errors, @request)',
    );
    this.appendAll = this.db.transaction((records: readonly DecisionRecord[]) => {
      for (const r of records) {
        this.insert.run({
          id: r.id,
          at: r.at,
          via: r.via,
          decision: r.decision ? 1 : 0,
          revision: r.revision,
          determining: JSON.stringify(r.determining),
          reasons: JSON.stringify(r.reasons),
          errors: JSON.stringify(r.errors),
          request: JSON.stringify(r.request),
        });
      }
    });
  }

  appendDecisions(records: readonly DecisionRecord[]): void {
    if (records.length > 0) this.appendAll(records);
  }

  recentDecisions(limit: number): DecisionRecord[] {
    const rows = this.db.prepare('SELECT * FROM decisions ORDER BY seq DESC LIMIT ?').all(limit) as DecisionRow[];
    return rows.map((row) => ({
      id: row.id,
      at: row.at,
      via: row.via,
      decision: row.decision === 1,
      revision: row.revision,
      determining: JSON.parse(row.determining) as string[],
      reasons: JSON.parse(row.reasons) as string[],
      errors: JSON.parse(row.errors) as string[],
      request: JSON.parse(row.request) as unknown,
    }));
  }

  ping(): boolean {
    try {
      return this.db.prepare('SELECT 1 AS ok').get() !== undefined;
    } catch {
      return false;
    }
  }

  close(): void {
    this.db.close();
  }
}

function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT');
  const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
  for (const m of MIGRATIONS) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
    })();
  }
}

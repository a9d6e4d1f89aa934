/**
 * Everything durable goes through a Store. SQLite (better-sqlite3) is the embedded
 * default; a PostgreSQL implementation will let replicas share one database, so every
 * write here is one explicit transaction and nothing assumes a single writer.
 */
export interface DecisionRecord {
  /** The request id (X-Request-ID or generated): what a caller can quote. */
  id: string;
  /** ISO 8601, when the decision was made. */
  at: string;
  /** Which interface asked: authzen, native, forward_auth, … */
  via: string;
  decision: boolean;
  revision: string;
  determining: string[];
  reasons: string[];
  /** Policy ids whose conditions errored. */
  errors: string[];
  /** The request as decided, for explanation and replay: token claims, never the raw token. */
  request: unknown;
}

export interface Store {
  /** Appends decisions in one transaction: all are stored, or none. */
  appendDecisions(records: readonly DecisionRecord[]): void;
  /** The most recent decisions, newest first. */
  recentDecisions(limit: number): DecisionRecord[];
  /** Whether the database answers; for /readyz. */
  ping(): boolean;
  close(): void;
}

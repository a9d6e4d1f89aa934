import type { DecisionRecord, Store } from '../store/store.js';

/*
 * The console's only access to the decision log. Today's Store answers `queryDecisions`
 * (filters + limit, newest first) and nothing else, so paging and looking one record up
 * are emulated here. When the store gains a cursor and `decisionById`, each function below
 * becomes a one-line call: the pages do not change.
 */

export interface DecisionFilter {
  decision?: boolean;
  subjectId?: string;
  policy?: string;
  /** ISO 8601. */
  since?: string;
}

export interface DecisionPage {
  records: DecisionRecord[];
  /** Where the next (older) page starts; `null` on the last page. Opaque to the pages. */
  older: string | null;
}

/** At most this many records are skipped to reach a page (offset paging over today's store). */
export const MAX_OFFSET = 10_000;

/**
 * One page of matching decisions, newest first. `cursor` is what a previous page answered
 * as `older`. Today the cursor is an offset: the page re-reads the records before it.
 * With a store cursor: `return store.queryDecisions({ ...filter, limit: size, after: cursor })`.
 */
export function decisionPage(store: Store, filter: DecisionFilter, size: number, cursor: string | null): DecisionPage {
  const offset = cursor === null ? 0 : Math.min(Number.parseInt(cursor, 10) || 0, MAX_OFFSET);
  const rows = store.queryDecisions({ ...filter, limit: offset + size + 1 });
  const records = rows.slice(offset, offset + size);
  return { records, older: rows.length > offset + size ? String(offset + size) : null };
}

/**
 * Where a decision can be found again: its id, and what the link knows of it. Today's
 * store cannot look an id up, so the link carries the record's time, subject and outcome,
 * and the lookup reads only the matching records since then.
 */
export interface DecisionRef {
  id: string;
  at?: string;
  subjectId?: string;
  decision?: boolean;
}

/** How many records at most are searched for one id. */
const LOOKUP_LIMIT = 5_000;

/**
 * One record by id; `null` when it is not in the log (never logged, pruned, or beyond the
 * lookup's reach). With `store.decisionById`: `return store.decisionById(ref.id)`.
 */
export function decisionById(store: Store, ref: DecisionRef): DecisionRecord | null {
  const { id: _id, at, ...hints } = ref;
  const rows = store.queryDecisions({ ...hints, ...(at === undefined ? {} : { since: at }), limit: LOOKUP_LIMIT });
  return rows.find((r) => r.id === ref.id) ?? null;
}

/** The link's query for a record: what `decisionById` needs besides the id. */
export function refOf(r: DecisionRecord): DecisionRef {
  return { id: r.id, at: r.at, subjectId: r.subject.id, decision: r.decision };
}

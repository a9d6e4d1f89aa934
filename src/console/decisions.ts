import type { DecisionRecord, Store } from '../store/store.js';

/*
 * The console's only access to the decision log: pages follow the store's cursor (the
 * per-batch summaries make filtered pages and lookups by id read only the batches that
 * may hold an answer), so the pages never depend on how the log is stored.
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

/** One page of matching decisions, newest first. `cursor` is what a previous page answered as `older`. */
export function decisionPage(store: Store, filter: DecisionFilter, size: number, cursor: string | null): DecisionPage {
  const page = store.decisionPage({ ...filter, limit: size, ...(cursor === null ? {} : { after: cursor }) });
  return { records: page.decisions, older: page.next };
}

/** One record by its decision id, or by a request id only one decision was logged under (engine/find-decision.ts). */
export { findDecision } from '../engine/find-decision.js';

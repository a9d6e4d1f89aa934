import type { DecisionRecord, Store } from '../store/store.js';

/** The most decisions an ambiguous request id lists. */
const AMBIGUOUS_LIST = 20;

export type FoundDecision = { kind: 'found'; record: DecisionRecord } | { kind: 'ambiguous'; records: DecisionRecord[] } | { kind: 'none' };

/**
 * A logged decision by the id someone quotes: Gavel's decision id, or a caller's request id
 * (X-Request-ID) when only one decision was logged under it. Callers choose request ids, so
 * one may have been reused — by chance, or to put another decision where an investigator
 * would look: then every candidate is listed, never one picked.
 */
export function findDecision(store: Store, id: string): FoundDecision {
  const byId = store.decisionById(id);
  if (byId !== null) return { kind: 'found', record: byId };
  const byRequest = store.decisionsByRequestId(id, AMBIGUOUS_LIST);
  if (byRequest.length === 0) return { kind: 'none' };
  return byRequest.length === 1 ? { kind: 'found', record: byRequest[0]! } : { kind: 'ambiguous', records: byRequest };
}

/** The ambiguity as one line of text. */
export function ambiguity(id: string, records: readonly DecisionRecord[]): string {
  return `${records.length >= AMBIGUOUS_LIST ? `${AMBIGUOUS_LIST} or more` : records.length} decisions were logged under request id \`${id}\`; ask for one by its decision id: ${records.map((r) => `${r.id} (${r.at}, ${r.via})`).join(', ')}`;
}

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
  // A decision id of Gavel's own is unique. A record logged before request ids were kept has
  // the caller's request id as its id: it is one candidate among the others under that id.
  if (byId !== null && byId.request_id !== undefined) return { kind: 'found', record: byId };
  const candidates = [...(byId === null ? [] : [byId]), ...store.decisionsByRequestId(id, AMBIGUOUS_LIST)];
  if (candidates.length === 0) return { kind: 'none' };
  return candidates.length === 1 ? { kind: 'found', record: candidates[0]! } : { kind: 'ambiguous', records: candidates };
}

/** The ambiguity as one line of text. */
export function ambiguity(id: string, records: readonly DecisionRecord[]): string {
  const many = records.length >= AMBIGUOUS_LIST;
  return `${many ? `${AMBIGUOUS_LIST} or more` : records.length} decisions were logged under request id \`${id}\`; ask for one by its decision id: ${records.map((r) => `${r.id} (${r.at}, ${r.via})`).join(', ')}${many ? `; list them all with GET /v1/decisions?request_id=${encodeURIComponent(id)} or gavel log --request-id` : ''}`;
}

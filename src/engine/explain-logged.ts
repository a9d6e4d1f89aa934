/**
 * "Why was this request denied yesterday?": a logged decision decided again, with its
 * explanation, against the policy revision that made it — rebuilt from the stored
 * revisions — or, when that revision is not stored (saved before revisions were kept, or
 * pruned), against the live set, labelled so. For a deny, `whyNot` adds the forbids that
 * fired and what each near-miss permit would need.
 */
import type { Request } from '../language/eval/activation.js';
import type { DecisionRecord } from '../store/store.js';
import { decide } from './decide.js';
import type { Decision } from './decision.js';
import type { PolicySet } from './policy-set.js';
import type { RevisionLookup } from './revisions.js';
import { whyNot, type WhyNot } from './why-not.js';

/** Why a record logged without its request cannot be explained again. */
export const REQUEST_NOT_KEPT = 'This decision was logged without its request (decision_log.keep_requests was false): it cannot be decided again or explained.';

export type ExplainedWith =
  | { source: 'stored'; revision: string; saved_at: string }
  /** The record's revision is not available: explained with the live set, which may differ. */
  | { source: 'live'; revision: string; logged_revision: string; note: string };

export interface LoggedExplanation {
  record: DecisionRecord;
  explained_with: ExplainedWith;
  decision: Decision;
  /** Whether deciding again gives the logged verdict (it may not with the live set). */
  same_verdict: boolean;
  why_not: Omit<WhyNot, 'decision'> | null;
}

/** The record decided again; `null` when it was logged without its request (REQUEST_NOT_KEPT). */
export function explainLogged(record: DecisionRecord, revision: (id: string) => RevisionLookup, live: PolicySet): LoggedExplanation | null {
  if (record.request === undefined || record.request === null) return null;
  const found = revision(record.revision);
  let set: PolicySet;
  let explainedWith: ExplainedWith;
  if (found.kind === 'found') {
    set = found.set;
    explainedWith = { source: 'stored', revision: set.revision, saved_at: found.savedAt };
  } else {
    set = live;
    const why = found.kind === 'unknown' ? `revision ${record.revision} is not stored` : found.message;
    explainedWith = { source: 'live', revision: live.revision, logged_revision: record.revision, note: `${why}; explained with the live revision ${live.revision}, which may not be what decided` };
  }
  const request = record.request as Request;
  const decision = decide(set, request, { explain: true });
  let why: LoggedExplanation['why_not'] = null;
  if (!decision.decision) {
    const { forbids, permits, overridden } = whyNot(set, request);
    why = { forbids, permits, overridden };
  }
  return { record, explained_with: explainedWith, decision, same_verdict: decision.decision === record.decision, why_not: why };
}

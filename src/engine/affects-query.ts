import type { Effect } from '../language/ast.js';
import { formatDiagnostic } from '../language/diagnostic.js';
import { parseFacts } from '../language/partial/partial.js';
import { affects, type AffectsRow } from './affects.js';
import type { PolicySet } from './policy-set.js';

/** An affects question as the HTTP API and the console receive it. */
export interface AffectsQuery {
  /** Facts in the policy language; the N-th is named `where#N` in diagnostics. */
  where: readonly string[];
  tags?: readonly string[];
  owners?: readonly string[];
  effect?: Effect;
  all?: boolean;
}

export type AffectsAnswer = { kind: 'rows'; rows: AffectsRow[] } | { kind: 'bad-facts'; diagnostics: string[] };

/** Facts one question may give, and a fact's length: partial evaluation's cost grows with both. */
export const MAX_FACTS = 64;
export const MAX_FACT_LENGTH = 4096;

/** Parses the facts and classifies the set's policies; bad facts are located messages, never thrown. */
export function answerAffects(set: PolicySet, q: AffectsQuery): AffectsAnswer {
  if (q.where.length > MAX_FACTS) return { kind: 'bad-facts', diagnostics: [`at most ${MAX_FACTS} facts, not ${q.where.length}`] };
  const long = q.where.findIndex((f) => f.length > MAX_FACT_LENGTH);
  if (long >= 0) return { kind: 'bad-facts', diagnostics: [`where#${long + 1}: a fact is at most ${MAX_FACT_LENGTH} characters`] };
  const facts = parseFacts(q.where.map((text, i) => ({ file: `where#${i + 1}`, text })), set.schema);
  if ('diagnostics' in facts) return { kind: 'bad-facts', diagnostics: facts.diagnostics.map(formatDiagnostic) };
  const rows = affects(set, facts.knowledge, { tags: q.tags, owners: q.owners, effect: q.effect, all: q.all ?? false });
  return { kind: 'rows', rows };
}

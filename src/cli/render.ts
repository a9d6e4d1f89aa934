import type { Decision } from '../engine/decision.js';

/** A decision for people: the verdict, why, and (with --explain) every candidate's outcome. */
export function renderDecision(d: Decision): string[] {
  const lines = [`${d.decision ? 'ALLOW' : 'DENY'}${d.determining.length > 0 ? ` by ${d.determining.join(', ')}` : d.decision ? '' : ' (no policy applies)'}`];
  for (const r of d.reasons) lines.push(`  reason: ${r}`);
  for (const e of d.errors) lines.push(`  error in ${e.policy} at ${e.location}: ${e.message}`);
  if (d.explanation !== undefined) {
    const x = d.explanation;
    lines.push(`  ${x.candidates} of ${x.policies} policies were candidates (revision ${d.revision}):`);
    for (const t of x.trace) {
      const head = `    ${t.outcome.padEnd(13)} ${t.effect.padEnd(6)} ${t.id}  (${t.location})`;
      lines.push(head);
      if (t.failed) lines.push(`      ${t.failed.part === 'unless' ? 'unless held' : `${t.failed.part} failed`}: ${t.failed.condition}  (${t.failed.location})`);
      if (t.error) lines.push(`      error: ${t.error}`);
    }
  }
  return lines;
}

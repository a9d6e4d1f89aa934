import type { Decision } from '../engine/decision.js';
import type { WhyNot } from '../engine/why-not.js';

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
      if (t.failed) lines.push(`      ${failedLabel(t.failed.part)}: ${t.failed.condition}  (${t.failed.location})`);
      if (t.error) lines.push(`      error: ${t.error}`);
    }
  }
  return lines;
}

/** `--why --json`: the decision without its trace (the rows say what matters), and why. */
export function whyJson(w: WhyNot): object {
  const { explanation: _trace, ...decision } = w.decision;
  return { ...decision, why: { forbids: w.forbids, permits: w.permits, overridden: w.overridden } };
}

/** `--why`: the verdict, the forbids that fired, and what each near-miss permit would need. */
export function renderWhyNot(w: WhyNot): string[] {
  const d = w.decision;
  const lines = renderDecision({ ...d, explanation: undefined });
  if (d.decision) return [...lines, '  allowed: nothing to explain'];
  if (w.forbids.length > 0) {
    lines.push('  forbids that fired:');
    for (const f of w.forbids) {
      lines.push(`    ${f.id}  (${f.location})`);
      if (f.reason !== null) lines.push(`      reason: ${f.reason}`);
      if (f.error !== null) lines.push(`      failed closed: ${f.error}`);
      lines.push(f.stops === null ? '      stops applying: never, for a request its target matches (it has no conditions)' : `      stops applying when: ${f.stops}`);
    }
  }
  if (w.overridden.length > 0) lines.push(`  permits that would allow, overridden by the forbids above: ${w.overridden.map((p) => `${p.id}  (${p.location})`).join(', ')}`);
  if (w.permits.length === 0) {
    if (w.overridden.length === 0) lines.push('  no permit matches this request\'s target');
  }
  else lines.push(w.forbids.length === 0 ? '  permits whose target matched:' : '  permits whose target matched (each allows only once every forbid above stops applying):');
  for (const p of w.permits) {
    lines.push(`    ${p.id}  (${p.location})`);
    if (p.failed !== null) lines.push(`      ${p.failed.part === 'unless' ? 'unless held' : 'when failed'}: ${p.failed.condition}  (${p.failed.location})`);
    if (p.error !== null) lines.push(`      error: ${p.error}`);
    lines.push(`      would allow when: ${p.needs}`);
  }
  return lines;
}

/** How a candidate's first false part is named: `target failed`, `when failed`, `unless held`. */
export function failedLabel(part: 'target' | 'when' | 'unless'): string {
  return part === 'unless' ? 'unless held' : `${part} failed`;
}

import { entityLabel } from '../../formats/entity-label.js';
import { visible } from '../../formats/visible.js';
import { relative } from 'node:path';
import { existsSync } from 'node:fs';
import { explainLogged, REQUEST_NOT_KEPT, type LoggedExplanation } from '../../engine/explain-logged.js';
import { RevisionSets } from '../../engine/revisions.js';
import type { PolicySet } from '../../engine/policy-set.js';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { COMMON, flags, serverPoliciesDir, databasePath, CONFIG } from '../args.js';
import { Exit, UsageError, writeLine, type CliIo } from '../io.js';
import { loadSet } from '../load.js';
import { failedLabel } from '../render.js';
import { ambiguity, findDecision } from '../../engine/find-decision.js';

export const explainHelp = `Usage: gavel explain ID [--db FILE] [--config FILE] [--policies DIR] [--json]

Explains a logged decision. ID is its decision id, as \`gavel log\` shows it in brackets, or
the caller's request id when only one decision was logged under it. The logged request is
decided again, with the explanation, by the policy revision that decided it — rebuilt from
the revisions \`gavel serve\` stores. For a deny it adds the forbids that fired and, for
each permit whose target matched, the condition that failed and what would allow. When that
revision is not stored (logged before revisions were kept, or pruned), it says so and
explains with the policies in DIR instead, labelled as such.

Options:
      --db FILE          SQLite database (default ./data/gavel.db; also GAVEL_DB)
  -c, --config FILE      the config file gavel serve reads: its \`db\` is the database
                         when neither --db nor GAVEL_DB names one (also GAVEL_CONFIG)
  -p, --policies DIR     the fallback policies folder (default: GAVEL_POLICIES, the config file's
                         \`policies\`, ./policies)
      --json             the explanation as JSON
  -h, --help             show this help

Exit codes: 0 explained, 1 no decision with that id (or several under that request id: they are listed), 2 usage error (no database, no id).`;

export async function explain(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = flags({ args: argv, strict: true, allowPositionals: true, options: { ...COMMON, db: { type: 'string' }, ...CONFIG, json: { type: 'boolean' } } });
  if (values.help) return writeLine(io.stdout, explainHelp), Exit.ok;
  if (positionals.length !== 1) throw new UsageError('give one decision id: gavel explain ID');
  const [id] = positionals as [string];
  const path = databasePath(io.cwd, values.db, values.config);
  if (!existsSync(path)) throw new UsageError(`no database at \`${path}\`; \`gavel serve\` creates it (or pass --db)`);
  const store = new SqliteStore(path, { readOnly: true });
  try {
    const found = findDecision(store, id);
    if (found.kind !== 'found') {
      writeLine(io.stderr, `gavel explain: ${found.kind === 'none' ? `no decision with id \`${id}\` in the log (unknown, or pruned)` : ambiguity(id, found.records)}`);
      return Exit.failed;
    }
    const record = found.record;
    const revisions = new RevisionSets(store);
    const stored = revisions.get(record.revision);
    // The policies folder is read only when the revision is not stored: it is the fallback.
    let live: PolicySet;
    if (stored.kind === 'found') live = stored.set;
    else {
      const folder = serverPoliciesDir(io.cwd, values.policies, values.config);
      const fallback = await loadSet(folder);
      if (fallback.set === null) throw new UsageError(`revision ${record.revision} is not stored and the policies in \`${values.policies ?? relative(io.cwd, folder)}\` are invalid`);
      live = fallback.set;
    }
    const explained = explainLogged(record, (r) => revisions.get(r), live);
    if (explained === null) {
      writeLine(io.stderr, `gavel explain: decision \`${id}\`: ${REQUEST_NOT_KEPT}`);
      return Exit.failed;
    }
    if (values.json) writeLine(io.stdout, JSON.stringify(explained, null, 2));
    else for (const line of render(explained)) writeLine(io.stdout, line);
    return Exit.ok;
  } finally {
    store.close();
  }
}

function render(x: LoggedExplanation): string[] {
  const r = x.record;
  const verdict = (b: boolean) => (b ? 'ALLOW' : 'DENY');
  const out = [
    // Caller-chosen ids are shown with their hidden characters escaped, as gavel log shows them.
    visible(`${r.id}${r.request_id === undefined ? '' : ` (request ${r.request_id})`}: ${verdict(r.decision)} ${entityLabel(r.subject)} ${r.action} ${entityLabel(r.resource)} at ${r.at} via ${r.via} (revision ${r.revision})`),
    x.explained_with.source === 'stored' ? `explained with the stored revision ${x.explained_with.revision} (saved ${x.explained_with.saved_at})` : `NOTE: ${x.explained_with.note}`,
    `decided again: ${verdict(x.decision.decision)}${x.same_verdict ? '' : ` — NOT the logged verdict`}${x.decision.determining.length > 0 ? ` by ${x.decision.determining.join(', ')}` : ' (no policy applies)'}`,
  ];
  for (const reason of x.decision.reasons) out.push(`  reason: ${reason}`);
  for (const e of x.decision.errors) out.push(`  error: ${e.policy} at ${e.location}: ${e.message}`);
  out.push('', 'candidates:');
  for (const t of x.decision.explanation?.trace ?? []) {
    // Worded as gavel eval words it.
    const failed = t.failed === undefined ? '' : `  ${failedLabel(t.failed.part)}: ${t.failed.condition} (${t.failed.location})`;
    out.push(`  ${t.effect.padEnd(6)} ${t.id}  ${t.outcome}${failed}${t.error === undefined ? '' : `  error: ${t.error}`}`);
  }
  if (x.why_not !== null) {
    const fired = x.why_not.forbids;
    if (fired.length > 0) {
      out.push('', 'forbids that fired:');
      for (const f of fired) {
        out.push(`  ${f.id} (${f.location})${f.reason === null ? '' : `: ${f.reason}`}${f.error === null ? '' : ` [failed closed: ${f.error}]`}`);
        out.push(f.stops === null ? '    stops applying: never, for a request its target matches (it has no conditions)' : `    stops applying when: ${f.stops}`);
      }
    }
    if (x.why_not.overridden.length > 0) out.push('', 'permits that would allow, overridden by the forbids above:', ...x.why_not.overridden.map((p) => `  ${p.id} (${p.location})`));
    if (x.why_not.permits.length > 0) out.push('', fired.length === 0 ? 'what would allow:' : 'what would allow, once every forbid that fired stops applying:', ...x.why_not.permits.map((p) => `  ${p.id} (${p.location}) needs: ${p.needs}`));
  }
  return out;
}

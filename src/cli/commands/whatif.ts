import { existsSync } from 'node:fs';
import { readsByRevision } from '../../engine/revisions.js';
import { resolve } from 'node:path';
import { whatIf, type WhatIfExample, type WhatIfReport } from '../../engine/whatif.js';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { flags, timeFlag, databasePath, CONFIG } from '../args.js';
import { Exit, UsageError, writeLine, type CliIo } from '../io.js';
import { loadSet, printDiagnostics } from '../load.js';
import { renderTable } from '../../formats/table.js';
import { visible } from '../../formats/visible.js';
import { INTERFACE_WIDTH } from '../../server/interfaces.js';

export const whatifHelp = `Usage: gavel whatif --candidate DIR [--db FILE] [--config FILE] [--since TIME] [--until TIME] [--limit N]
                    [--examples N] [--json]

Replays decisions from the decision log against the policies in DIR and reports which
would change: how many flip allow→deny and deny→allow, by determining policy (the
candidate's for the new verdict, the logged ones for the old), with examples.

Replay decides each logged request as it was decided: the directory's attributes then, a
token's verified claims, the risk signals computed then. Signals no policy read at the time
were not computed and are absent: a candidate reading them fails closed (its permit does
not apply, its forbid does), and such replays are counted as "with errors".

Options:
      --candidate DIR    the policies folder to try (must be valid, as \`gavel check\` says)
      --db FILE          SQLite database (default ./data/gavel.db; also GAVEL_DB)
  -c, --config FILE      the config file gavel serve reads: its \`db\` is the database
                         when neither --db nor GAVEL_DB names one (also GAVEL_CONFIG)
      --since TIME       only decisions at or after TIME (ISO 8601, or an age: 15m, 2h, 7d)
      --until TIME       only decisions at or before TIME (the same forms)
      --limit N          replay at most the newest N decisions
      --examples N       examples per direction and per policy (default 5)
      --json             the report as JSON
  -h, --help             show this help

Exit codes: 0 replayed (whether or not anything changes), 2 usage or input error (no
database, invalid candidate policies: their diagnostics on stderr).`;

export async function whatif(argv: string[], io: CliIo): Promise<number> {
  const { values } = flags({ args: argv, strict: true, options: {
    candidate: { type: 'string' },
    db: { type: 'string' }, ...CONFIG,
    since: { type: 'string' },
    until: { type: 'string' },
    limit: { type: 'string' },
    examples: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  } });
  if (values.help) return writeLine(io.stdout, whatifHelp), Exit.ok;
  if (values.candidate === undefined) throw new UsageError('give the policies to try: --candidate DIR');
  const since = timeFlag('since', values.since);
  const until = timeFlag('until', values.until);
  const count = (flag: string, v: string | undefined, least: number) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    // At least one decision replayed (0 reported an empty log); examples may be 0.
    if (v.trim() === '' || !Number.isInteger(n) || n < least) throw new UsageError(`--${flag} is a whole number${least > 0 ? ` from ${least}` : ''}`);
    return n;
  };
  const limit = count('limit', values.limit, 1);
  const examples = count('examples', values.examples, 0);
  const path = databasePath(io.cwd, values.db, values.config);
  if (!existsSync(path)) throw new UsageError(`no database at \`${path}\`; \`gavel serve\` creates it (or pass --db)`);
  const built = await loadSet(resolve(io.cwd, values.candidate));
  if (built.set === null) {
    printDiagnostics(io, built, values.candidate);
    throw new UsageError(`\`${values.candidate}\` has invalid policies; \`gavel check --policies ${values.candidate}\` lists them`);
  }
  // A wrong but existing folder would "deny everything": say so rather than report it.
  if (built.folder.sources.length === 0) throw new UsageError(`no *.gavel files under \`${values.candidate}\`: give the folder of the candidate policies`);
  const store = new SqliteStore(path, { readOnly: true });
  let report: WhatIfReport;
  try {
    report = whatIf(store, built.set, { ...(since === undefined ? {} : { since }), ...(until === undefined ? {} : { until }), ...(limit === undefined ? {} : { limit }), ...(examples === undefined ? {} : { examples }), readsOf: readsByRevision(store) });
  } finally {
    store.close();
  }
  if (values.json) writeLine(io.stdout, JSON.stringify(report, null, 2));
  else for (const line of render(report, values.candidate)) writeLine(io.stdout, line);
  return Exit.ok;
}

function render(r: WhatIfReport, dir: string): string[] {
  const none = r.without_request > 0 ? 'no decision logged with its request' : 'no decisions in the log';
  const span = r.window.oldest === null ? none + (r.window.since !== null || r.window.until !== null ? ' for that window' : '') : `${r.window.oldest} … ${r.window.newest}`;
  const revisions = Object.entries(r.revisions).map(([rev, n]) => `${rev} (${n})`).join(', ');
  const out = [
    `candidate ${dir} (revision ${r.candidate.revision}, ${r.candidate.policies} policies)`,
    `replayed ${r.replayed} decisions: ${span}${revisions === '' ? '' : `; logged by ${revisions}`}`,
    `changed ${r.changed}: ${r.allow_to_deny} allow→deny, ${r.deny_to_allow} deny→allow; ${r.with_errors} replays with evaluation errors`,
  ];
  if (r.not_known > 0) out.push(`not known: ${r.not_known} more were decided through what the log did not keep (${r.not_known_reads.join(', ')}): their records lack it, so the candidate saw it missing; changed or not, they are not counted above`);
  if (r.without_request > 0) out.push(`not replayed: ${r.without_request} decisions logged without their request (decision_log.keep_requests was false)`);
  if (r.changed === 0) return out;
  out.push('', ...renderTable(['POLICY', 'SIDE', 'ALLOW→DENY', 'DENY→ALLOW', 'EXAMPLES'], r.policies.map((p) => [p.policy, p.side, String(p.allow_to_deny), String(p.deny_to_allow), p.examples.join(' ')])));
  for (const [title, xs] of [['allow→deny', r.examples.allow_to_deny], ['deny→allow', r.examples.deny_to_allow]] as const) {
    if (xs.length === 0) continue;
    out.push('', `examples ${title}:`, ...xs.map(example));
  }
  return out;
}

function example(x: WhatIfExample): string {
  const by = (ps: string[]) => (ps.length === 0 ? 'no policy' : ps.join(', '));
  const errors = x.errorsAfter.length > 0 ? ` (errors: ${x.errorsAfter.join(', ')})` : '';
  // Caller-chosen ids are shown with their hidden characters escaped, as gavel log shows them.
  return visible(`  ${x.at}  ${x.via.padEnd(INTERFACE_WIDTH)} ${x.subject} ${x.action} ${x.resource}  ${x.before} by ${by(x.determiningBefore)} → ${x.after} by ${by(x.determiningAfter)}${errors}  [${x.id}]`);
}

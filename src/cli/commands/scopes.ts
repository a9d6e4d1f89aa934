import { scopeCoherence, type ScopeRow } from '../../engine/scope-coherence.js';
import { renderTable } from '../../formats/table.js';
import { readRegistry } from '../../issuer/registry.js';
import { COMMON, flags, policiesDir } from '../args.js';
import { Exit, UsageError, writeLine, type CliIo } from '../io.js';
import { loadSet, printDiagnostics } from '../load.js';
import { readJsonDocument } from '../read-document.js';

export const scopesHelp = `Usage: gavel scopes --registry FILE.json [--policies DIR] [--json]

Do the policies and the token issuer's registry agree on scopes? For every scope an API
of the registry (the document \`gavel apply\` takes) offers, and every scope a policy tests
with \`token.scope contains "…"\` (or contains_any, contains_all, "…" in token.scope):
  MINTED BY   the mint permits that may grant it: partial evaluation of a mint request for
              it (action == "mint" on scope::"<name>", no token, no context but ip,
              grant_type, client_id, audience and time), none when a forbid refuses it to
              every such request; an upper bound ("never minted" is certain)
  CHECKED BY  the policies that test for it
and what is wrong:
  never minted   an API offers it, but no mint policy can grant it: no token will carry it
  not offered    a policy waits for it, but no API offers it: only another issuer's tokens can
  never checked  it can be minted, but no policy reads it (a note: another service may)

Exit codes: 0 no scope is never minted, 1 some scope is (or the policies are invalid),
2 usage, or a registry that cannot be read.

Options:
  -p, --policies DIR    policies folder (default ./policies)
      --registry FILE   the apply document holding the \`apis\` section
      --json            the rows as JSON
  -h, --help            show this help`;

const SAID: Record<NonNullable<ScopeRow['problem']>, string> = { 'never-minted': 'never minted', 'not-offered': 'not offered', 'never-checked': 'never checked' };

export async function scopes(argv: string[], io: CliIo): Promise<number> {
  const { values } = flags({ args: argv, strict: true, options: { ...COMMON, registry: { type: 'string' }, json: { type: 'boolean' } } });
  if (values.help) return writeLine(io.stdout, scopesHelp), Exit.ok;
  const file = values.registry;
  if (file === undefined) throw new UsageError('give the registry: gavel scopes --registry FILE.json (the document gavel apply takes)');
  const document = await readJsonDocument(io.cwd, file);
  if (typeof document !== 'object' || document === null || Array.isArray(document)) throw new UsageError(`${file}: a registry is a JSON object with an \`apis\` section`);
  const { registry, problems } = readRegistry(document as Parameters<typeof readRegistry>[0]);
  if (problems.length > 0) throw new UsageError(`${file}: invalid document:\n  ${problems.join('\n  ')}`);
  const result = await loadSet(policiesDir(io.cwd, values.policies));
  if (result.set === null) {
    printDiagnostics(io, result, values.policies ?? 'policies');
    return Exit.failed;
  }
  const rows = scopeCoherence(result.set, registry.apis ?? []);
  if ('problems' in rows) {
    for (const problem of rows.problems) writeLine(io.stderr, `gavel scopes: ${problem}`);
    return Exit.failed;
  }
  if (values.json) writeLine(io.stdout, JSON.stringify(rows, null, 2));
  else {
    const or = (list: string[]) => (list.length === 0 ? '-' : list.join(','));
    const table = rows.map((r) => [r.scope, or(r.apis), or(r.minted_by), or(r.checked_by), r.problem === null ? '' : SAID[r.problem]]);
    for (const line of renderTable(['SCOPE', 'OFFERED BY', 'MINTED BY', 'CHECKED BY', 'PROBLEM'], table)) writeLine(io.stdout, line);
    const count = (p: ScopeRow['problem']) => rows.filter((r) => r.problem === p).length;
    writeLine(io.stdout, `${rows.length} scopes: ${count('never-minted')} never minted, ${count('not-offered')} not offered, ${count('never-checked')} never checked`);
  }
  return rows.some((r) => r.problem === 'never-minted') ? Exit.failed : Exit.ok;
}

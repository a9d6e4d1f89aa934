import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { decide } from '../../engine/decide.js';
import { Directory } from '../../engine/directory.js';
import { search, type SearchAnswer, type SearchKind } from '../../engine/search.js';
import { validateSearchRequest } from '../../engine/search-request.js';
import { userEntities } from '../../issuer/apply-document.js';
import { offlineRequest } from '../../signals/offline.js';
import { openStore } from '../new-database.js';
import { COMMON, flags, serverPoliciesDir, databasePath, CONFIG } from '../args.js';
import { Exit, readAll, UsageError, writeLine, type CliIo } from '../io.js';
import { loadSet, printDiagnostics } from '../load.js';

export const searchHelp = `Usage: gavel search subject|resource|action [--policies DIR] [--db FILE] [--config FILE] [--request FILE|-] [--json]

Answers an AuthZEN search offline, as POST /access/v1/search/KIND would on a server over
the same policies and database (docs/compliance.md#who-may-the-authzen-search-apis):

  subject   which subjects of a type may do the action on the resource
            {"subject": {"type": "user"}, "action": {"name": "delete"},
             "resource": {"type": "invoice", "id": "inv-1"}}
  resource  which resources of a type the subject may do the action on
            {"subject": {"type": "user", "id": "alice"}, "action": {"name": "delete"},
             "resource": {"type": "invoice"}}
  action    which actions the subject may take on the resource
            {"subject": {"type": "user", "id": "alice"}, "resource": {"type": "invoice", "id": "inv-1"}}

Candidates are the directory's entities of the searched type (entities applied with
\`gavel apply\`, and the registry's users as type "user"), or for an action search the
action names the policies name; each is decided as \`gavel eval\` would, after the
directory's attributes are added. As with \`gavel eval\`, the request may carry "token"
(JWT claims) and "risk" (signal values), and "page": {"limit": N, "token": "…"}.

Exit codes: 0 searched (even with no results), 1 the policies are invalid, 2 bad input or usage.

Options:
  -p, --policies DIR   policies folder (default: GAVEL_POLICIES, the config file's \`policies\`, ./policies)
      --db FILE        SQLite database holding the directory (default ./data/gavel.db; also GAVEL_DB)
  -c, --config FILE    the config file gavel serve reads: its \`db\` is the database
                       when neither --db nor GAVEL_DB names one (also GAVEL_CONFIG)
  -r, --request FILE   the search request as JSON; - or omitted reads stdin
      --json           print the AuthZEN search response as JSON
  -h, --help           show this help`;

const KINDS: readonly string[] = ['subject', 'resource', 'action'];

/**
 * Page tokens of the offline tool: still bound to the search they continue, but MACed with
 * a fixed key — there is no trust boundary between a user and their own command line.
 */
const OFFLINE_PAGE_KEY = 'gavel search (offline)';

export async function searchCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = flags({ args: argv, strict: true, allowPositionals: true, options: { ...COMMON, db: { type: 'string' }, ...CONFIG, request: { type: 'string', short: 'r' }, json: { type: 'boolean' } } });
  if (values.help) return writeLine(io.stdout, searchHelp), Exit.ok;
  const kind = positionals[0];
  if (positionals.length !== 1 || !KINDS.includes(kind)) throw new UsageError('say what to search: gavel search subject|resource|action');
  const folder = serverPoliciesDir(io.cwd, values.policies, values.config);
  const loaded = await loadSet(folder);
  if (loaded.set === null) {
    printDiagnostics(io, loaded, values.policies ?? relative(io.cwd, folder));
    return Exit.failed;
  }
  const set = loaded.set;
  const source = values.request ?? '-';
  const where = source === '-' ? 'stdin' : source;
  const checked = validateSearchRequest(kind as SearchKind, parseJson(source === '-' ? await readAll(io.stdin) : await readText(resolve(io.cwd, source), source), where), { trusted: true });
  if ('problems' in checked) throw new UsageError(`${where}: invalid search request:\n  ${checked.problems.join('\n  ')}`);
  const directory = openDirectory(databasePath(io.cwd, values.db, values.config));
  const outcome = search(checked.query, { set, directory, decide: (r) => decide(set, directory.enrich(offlineRequest(r))), pageKey: OFFLINE_PAGE_KEY });
  if (!outcome.ok) throw new UsageError(outcome.message);
  if (values.json) writeLine(io.stdout, JSON.stringify({ page: outcome.answer.page, results: outcome.answer.results }, null, 2));
  else for (const line of render(outcome.answer)) writeLine(io.stdout, line);
  return Exit.ok;
}

/** The directory as a server builds it: the store's entities and the registry's users. */
function openDirectory(db: string): Directory {
  // Opening would create an empty database: a mistyped path would then find nothing, silently.
  if (!existsSync(db)) throw new UsageError(`the database \`${db}\` does not exist; fill it with \`gavel apply\`, or name it with --db`);
  const store = openStore(db);
  try {
    return new Directory([...store.entities(), ...userEntities(store.registry())]);
  } finally {
    store.close();
  }
}

function render(answer: SearchAnswer): string[] {
  const lines = answer.results.map((r) => ('name' in r ? r.name : `${r.type}::${JSON.stringify(r.id)}`));
  const { count, total, next_token } = answer.page;
  if (total === 0) lines.push('no results');
  else lines.push(next_token === '' && count === total ? `${total} result${total === 1 ? '' : 's'}` : `${count} of ${total} results${next_token === '' ? '' : `; for the next page add "token": "${next_token}" to "page"`}`);
  return lines;
}

async function readText(path: string, shown: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' ? `request file \`${shown}\` does not exist` : `cannot read \`${shown}\`: ${String(err)}`);
  }
}

function parseJson(text: string, where: string): unknown {
  if (text.trim() === '') throw new UsageError(`${where}: empty input; expected a JSON search request`);
  try {
    return JSON.parse(text);
  } catch (err: unknown) {
    throw new UsageError(`${where}: invalid JSON: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
}

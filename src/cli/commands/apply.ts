import { existsSync } from 'node:fs';
import { applyDocument } from '../../issuer/apply-document.js';
import { flags, databasePath, CONFIG } from '../args.js';
import { Exit, UsageError, writeLine, type CliIo } from '../io.js';
import { NewDatabase, openStore } from '../new-database.js';
import { readJsonDocument } from '../read-document.js';

export const applyHelp = `Usage: gavel apply FILE.json [--db FILE] [--config FILE] [--dry-run] [--json]

Makes the directory and the token issuer's registry in the database exactly what FILE
says — adding, changing and removing in one transaction — so running it twice changes
nothing. Each section given is the whole truth for its kind; sections left out are left
as they are (docs/issuer.md):

  {"entities": [{"type": "document", "id": "d1", "attributes": {"owner": "alice"}}],
   "apis":     [{"identifier": "https://api.example.com", "scopes": ["invoice:read"]}],
   "clients":  [{"id": "reporting-app", "secret": "…32+ random characters…",
                 "grant_types": ["client_credentials"], "scopes": ["invoice:read"]}],
   "roles":    [{"name": "clerk", "scopes": ["invoice:read"]}],
   "groups":   [{"name": "finance", "roles": ["clerk"]}],
   "users":    [{"id": "alice", "password": "…", "attributes": {"department": "finance"},
                 "groups": ["finance"]}]}

Client secrets and passwords are stored hashed, never in the clear; users are directory
entities of type "user" with their roles and groups among the attributes.

A running \`gavel serve\` picks the change up within about a second (it checks the
database once a second). Directory attributes win over what callers send: a caller cannot
grant itself a role.

Options:
      --db FILE          SQLite database (default ./data/gavel.db; also GAVEL_DB); created if absent
  -c, --config FILE      the config file gavel serve reads: its \`db\` is the database
                         when neither --db nor GAVEL_DB names one (also GAVEL_CONFIG)
      --dry-run          change nothing; show what would change
      --json             print the changes as JSON: {"dry_run", "added", "changed", "removed"},
                         as POST /v1/apply answers
  -h, --help             show this help

Exit codes: 0 applied (or nothing to do), 1 other applies kept changing the store (nothing
applied; apply it again), 2 the document is invalid or unreadable.`;

export async function apply(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = flags({ args: argv, strict: true, allowPositionals: true, options: { db: { type: 'string' }, ...CONFIG, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) return writeLine(io.stdout, applyHelp), Exit.ok;
  if (positionals.length !== 1) throw new UsageError('give exactly one document: gavel apply FILE.json');
  const file = positionals[0];
  const json = await readJsonDocument(io.cwd, file);
  const path = databasePath(io.cwd, values.db, values.config);
  const dryRun = values['dry-run'] ?? false;
  // A dry run changes nothing, a database not yet made included: against none, it is what the first apply would add.
  const fresh = dryRun && !existsSync(path);
  if (fresh) writeLine(io.stderr, `no database at \`${path}\` yet: compared with an empty one`);
  const made = new NewDatabase(fresh ? ':memory:' : path);
  const store = openStore(fresh ? ':memory:' : path, made);
  let failed = true;
  try {
    const applied = await applyDocument(store, json, dryRun);
    if ('problems' in applied) throw new UsageError(`${file}: invalid document:\n  ${applied.problems.join('\n  ')}`);
    if ('busy' in applied) {
      writeLine(io.stderr, `gavel apply: ${file}: ${applied.busy}`);
      return Exit.failed;
    }
    failed = false;
    // A new database is worth a word: applied from the wrong folder, or with a typo in --db, a server using another one sees nothing.
    if (made.created) writeLine(io.stderr, `created the database \`${path}\` (there was none)`);
    const changes = applied.changes;
    if (values.json) writeLine(io.stdout, JSON.stringify({ dry_run: dryRun, ...changes }, null, 2));
    else {
      for (const k of changes.added) writeLine(io.stdout, `+ ${shown(k)}`);
      for (const k of changes.changed) writeLine(io.stdout, `~ ${shown(k)}`);
      for (const k of changes.removed) writeLine(io.stdout, `- ${shown(k)}`);
      const counts = `${changes.added.length} added, ${changes.changed.length} changed, ${changes.removed.length} removed`;
      writeLine(io.stdout, dryRun ? `dry run: would apply ${counts}` : `applied: ${counts}`);
    }
  } finally {
    store.close();
    if (failed) made.discard();
  }
  return Exit.ok;
}

/** A change's key as one line: one holding a line break or another control character (a type from the document) is quoted, so it cannot print lines of its own. */
function shown(key: string): string {
  return /[\x00-\x1f\x7f]/.test(key) ? JSON.stringify(key) : key;
}

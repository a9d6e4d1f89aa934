import { existsSync } from 'node:fs';
import { buildFromFiles } from '../../engine/revisions.js';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { resolve } from 'node:path';
import { diffPolicies, type PolicyChange, type PolicyDiff, type PolicySide } from '../../engine/policy-diff.js';
import type { PolicySet } from '../../engine/policy-set.js';
import { flags, optionalDatabasePath } from '../args.js';
import { Exit, UsageError, writeLine, type CliIo } from '../io.js';
import { joinPath, loadSet, printDiagnostics } from '../load.js';
import { renderTable } from '../../formats/table.js';

export const diffHelp = `Usage: gavel diff BEFORE AFTER [--db FILE] [--json] [--exit-code]

Compares two policies folders and lists the policies added, removed and changed, keyed
by policy id. Policies are compared in canonical form (as \`gavel fmt\` prints them,
without comments), so layout and comment edits are not changes. For each changed policy
it names what changed (annotations, effect, target, conditions, reason) and shows a
unified diff of its text; added and removed policies are shown in full.

BEFORE and AFTER are policies folders; with --db, either may instead be a policy revision
id that \`gavel serve\` stored (or a unique prefix of one), e.g. the revision a decision in
\`gavel log\` names: a name that is an existing folder is always the folder.

Both sides must be valid (as \`gavel check\` says); diagnostics are an input error here,
so that exit 1 keeps one meaning under --exit-code.

Exit codes: 0 compared (1 with --exit-code when anything differs), 2 usage or input error.

Options:
      --db FILE     SQLite database holding stored revisions (also GAVEL_DB)
      --json        print the comparison as JSON
      --exit-code   exit 1 when the folders differ, like \`git diff --exit-code\`
  -h, --help        show this help`;

export async function diff(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = flags({ args: argv, strict: true, allowPositionals: true, options: {
    json: { type: 'boolean' },
    db: { type: 'string' },
    'exit-code': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  } });
  if (values.help) return writeLine(io.stdout, diffHelp), Exit.ok;
  if (positionals.length !== 2) throw new UsageError('give two policies folders (or, with --db, revision ids): gavel diff BEFORE AFTER');
  const db = optionalDatabasePath(io.cwd, values.db);
  const store = db === undefined ? null : openStore(db);
  let before: PolicySet, after: PolicySet, beforeDir: string, afterDir: string;
  try {
    ({ set: before, label: beforeDir } = await side(io, positionals[0]!, store));
    ({ set: after, label: afterDir } = await side(io, positionals[1]!, store));
  } finally {
    store?.close();
  }
  const result = diffPolicies(before.files, after.files);
  if (values.json) {
    const shown = (dir: string, set: PolicySet) => ({ dir, revision: set.revision });
    const changes = result.changes.map((c) => located(c, beforeDir, afterDir));
    writeLine(io.stdout, JSON.stringify({ before: shown(beforeDir, before), after: shown(afterDir, after), ...counts(result), changes }, null, 2));
  } else for (const line of render(result, { dir: beforeDir, set: before }, { dir: afterDir, set: after })) writeLine(io.stdout, line);
  return values['exit-code'] && result.changes.length > 0 ? Exit.failed : Exit.ok;
}

function openStore(path: string): SqliteStore {
  if (!existsSync(path)) throw new UsageError(`no database at \`${path}\``);
  return new SqliteStore(path, { readOnly: true });
}

/** A folder, or with a store a stored revision (id or unique prefix), labelled `revision:ID`. */
async function side(io: CliIo, name: string, store: SqliteStore | null): Promise<{ set: PolicySet; label: string }> {
  if (store === null && !existsSync(resolve(io.cwd, name)) && /^[0-9a-f]{4,64}$/.test(name)) {
    throw new UsageError(`\`${name}\` is not a folder; to compare a stored policy revision, give the database: --db FILE (or GAVEL_DB)`);
  }
  if (store === null || existsSync(resolve(io.cwd, name))) return { set: await loadValid(io, name), label: name };
  const ids = store.policyRevisionIds(name);
  if (ids.length === 0) throw new UsageError(`\`${name}\` is neither a folder nor a stored policy revision`);
  if (ids.length > 1) throw new UsageError(`\`${name}\` is a prefix of ${ids.length} stored revisions (${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''}); give more of it`);
  const stored = store.policyRevision(ids[0]!)!;
  const { set, diagnostics } = buildFromFiles(stored.files, { stored: true });
  if (set === null) throw new UsageError(`stored revision ${stored.id} no longer builds: ${diagnostics[0]?.message ?? 'unknown error'}`);
  return { set, label: `revision:${stored.id}` };
}

async function loadValid(io: CliIo, dir: string): Promise<PolicySet> {
  const result = await loadSet(resolve(io.cwd, dir));
  if (result.set !== null) return result.set;
  printDiagnostics(io, result, dir);
  throw new UsageError(`\`${dir}\` has invalid policies; \`gavel check --policies ${dir}\` lists them`);
}

function counts(d: PolicyDiff) {
  return { added: d.added, removed: d.removed, changed: d.changed, unchanged: d.unchanged };
}

/** File names as the user gave the folders, so the locations can be opened. */
function located(c: PolicyChange, beforeDir: string, afterDir: string): PolicyChange {
  const move = (s: PolicySide, dir: string) => ({ ...s, file: joinPath(dir, s.file) });
  switch (c.kind) {
    case 'added':
      return { ...c, after: move(c.after, afterDir) };
    case 'removed':
      return { ...c, before: move(c.before, beforeDir) };
    case 'changed':
      return { ...c, before: move(c.before, beforeDir), after: move(c.after, afterDir) };
  }
}

function render(d: PolicyDiff, before: { dir: string; set: PolicySet }, after: { dir: string; set: PolicySet }): string[] {
  const summary = `${d.added} added, ${d.removed} removed, ${d.changed} changed, ${d.unchanged} unchanged`;
  const head = `${before.dir} (revision ${before.set.revision}) → ${after.dir} (revision ${after.set.revision})`;
  if (d.changes.length === 0) return [head, summary];
  const changes = d.changes.map((c) => located(c, before.dir, after.dir));
  const table = renderTable(['CHANGE', 'ID', 'EFFECT', 'WHAT', 'LOCATION'], changes.map(row));
  const details = changes.flatMap((c) => ['', ...detail(c)]);
  return [head, '', ...table, '', summary, ...details];
}

function row(c: PolicyChange): string[] {
  const at = (s: PolicySide) => `${s.file}:${s.line}`;
  switch (c.kind) {
    case 'added':
      return ['added', c.id, c.after.effect, '-', at(c.after)];
    case 'removed':
      return ['removed', c.id, c.before.effect, '-', at(c.before)];
    case 'changed': {
      const effect = c.before.effect === c.after.effect ? c.after.effect : `${c.before.effect}→${c.after.effect}`;
      return ['changed', c.id, effect, c.aspects.join(','), at(c.after)];
    }
  }
}

function detail(c: PolicyChange): string[] {
  switch (c.kind) {
    case 'added':
      return [`+++ ${c.id} (${c.after.file}:${c.after.line})`, ...c.after.text.split('\n').map((l) => `+${l}`)];
    case 'removed':
      return [`--- ${c.id} (${c.before.file}:${c.before.line})`, ...c.before.text.split('\n').map((l) => `-${l}`)];
    case 'changed':
      return [`--- ${c.id} (${c.before.file}:${c.before.line})`, `+++ ${c.id} (${c.after.file}:${c.after.line})`, ...c.diff];
  }
}

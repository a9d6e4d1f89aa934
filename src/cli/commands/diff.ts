import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { diffPolicies, type PolicyChange, type PolicyDiff, type PolicySide } from '../../engine/policy-diff.js';
import type { PolicySet } from '../../engine/policy-set.js';
import { flags } from '../args.js';
import { Exit, UsageError, writeLine, type CliIo } from '../io.js';
import { joinPath, loadSet, printDiagnostics } from '../load.js';
import { renderTable } from '../table.js';

export const diffHelp = `Usage: gavel diff BEFORE AFTER [--json] [--exit-code]

Compares two policies folders and lists the policies added, removed and changed, keyed
by policy id. Policies are compared in canonical form (as \`gavel fmt\` prints them,
without comments), so layout and comment edits are not changes. For each changed policy
it names what changed (annotations, effect, target, conditions, reason) and shows a
unified diff of its text; added and removed policies are shown in full.

Both folders must be valid (as \`gavel check\` says); diagnostics are an input error here,
so that exit 1 keeps one meaning under --exit-code. Policy revisions are not stored
anywhere Gavel can read them back: to compare with a deployed revision, check it out
(e.g. \`git worktree add /tmp/live v1.2\`) and compare folders.

Exit codes: 0 compared (1 with --exit-code when anything differs), 2 usage or input error.

Options:
      --json        print the comparison as JSON
      --exit-code   exit 1 when the folders differ, like \`git diff --exit-code\`
  -h, --help        show this help`;

export async function diff(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = flags(() => parseArgs({ args: argv, strict: true, allowPositionals: true, options: {
    json: { type: 'boolean' },
    'exit-code': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  } }));
  if (values.help) return writeLine(io.stdout, diffHelp), Exit.ok;
  if (positionals.length !== 2) throw new UsageError('give two policies folders: gavel diff BEFORE AFTER');
  const [beforeDir, afterDir] = positionals;
  const before = await loadValid(io, beforeDir);
  const after = await loadValid(io, afterDir);
  const result = diffPolicies(before.files, after.files);
  if (values.json) {
    const shown = (dir: string, set: PolicySet) => ({ dir, revision: set.revision });
    const changes = result.changes.map((c) => located(c, beforeDir, afterDir));
    writeLine(io.stdout, JSON.stringify({ before: shown(beforeDir, before), after: shown(afterDir, after), ...counts(result), changes }, null, 2));
  } else for (const line of render(result, { dir: beforeDir, set: before }, { dir: afterDir, set: after })) writeLine(io.stdout, line);
  return values['exit-code'] && result.changes.length > 0 ? Exit.failed : Exit.ok;
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

import type { Effect } from '../../language/ast.js';
import { filterInventory, inventory, type InventoryRow } from '../../engine/inventory.js';
import { COMMON, flags, policiesDir } from '../args.js';
import { Exit, UsageError, writeLine, type CliIo } from '../io.js';
import { joinPath, loadSet, printDiagnostics } from '../load.js';
import { renderCsv, renderTable } from '../../formats/table.js';

export const policiesHelp = `Usage: gavel policies [--policies DIR] [--tag T] [--owner O] [--effect permit|forbid] [--json|--csv]

Lists every policy under DIR (default ./policies) with its id, effect, owner, tags,
location, target (in the policy language) and description, in file order. Filters
combine: a policy is listed when it matches all of them. The policies must be valid
(as \`gavel check\` says); otherwise their diagnostics are printed.

Exit codes: 0 listed (even when no policy matches), 1 the policies are invalid, 2 usage error.

Options:
  -p, --policies DIR   policies folder (default ./policies)
      --tag T          only policies with T among their @tags
      --owner O        only policies whose @owner is O
      --effect E       only permit or only forbid policies
      --json           print {revision, policies: [...]} as JSON, with conditions and reasons
      --csv            print CSV (RFC 4180): id,effect,owner,tags,file,line,target,description;
                       tags separated by ";"
  -h, --help           show this help`;

const EFFECTS: readonly Effect[] = ['permit', 'forbid'];

export async function policies(argv: string[], io: CliIo): Promise<number> {
  const { values } = flags({ args: argv, strict: true, options: { ...COMMON,
    tag: { type: 'string' },
    owner: { type: 'string' },
    effect: { type: 'string' },
    json: { type: 'boolean' },
    csv: { type: 'boolean' },
  } });
  if (values.help) return writeLine(io.stdout, policiesHelp), Exit.ok;
  if (values.json && values.csv) throw new UsageError('choose one of --json and --csv');
  const effect = values.effect;
  if (effect !== undefined && !isEffect(effect)) throw new UsageError(`--effect is \`permit\` or \`forbid\`, not \`${effect}\``);
  const shown = values.policies ?? 'policies';
  const result = await loadSet(policiesDir(io.cwd, values.policies));
  if (result.set === null) {
    printDiagnostics(io, result, shown);
    return Exit.failed;
  }
  const all = inventory(result.set.files);
  const rows = filterInventory(all, { tag: values.tag, owner: values.owner, effect }).map((r) => ({ ...r, file: joinPath(shown, r.file) }));
  if (values.json) writeLine(io.stdout, JSON.stringify({ revision: result.set.revision, policies: rows }, null, 2));
  else if (values.csv) io.stdout.write(renderCsv(CSV_HEADERS, rows.map(csvRow)));
  else {
    if (rows.length > 0) for (const line of renderTable(TABLE_HEADERS, rows.map(tableRow))) writeLine(io.stdout, line);
    writeLine(io.stdout, `${rows.length} of ${all.length} policies (revision ${result.set.revision})`);
  }
  return Exit.ok;
}

function isEffect(s: string): s is Effect {
  return (EFFECTS as readonly string[]).includes(s);
}

const TABLE_HEADERS = ['ID', 'EFFECT', 'OWNER', 'TAGS', 'LOCATION', 'TARGET', 'DESCRIPTION'];
const CSV_HEADERS = ['id', 'effect', 'owner', 'tags', 'file', 'line', 'target', 'description'];

/** `-` marks an empty cell so columns stay countable with `awk`. */
function tableRow(r: InventoryRow): string[] {
  const or = (s: string | null) => (s === null || s === '' ? '-' : s);
  return [r.id, r.effect, or(r.owner), or(r.tags.join(',')), `${r.file}:${r.line}`, or(r.target), or(r.description)];
}

function csvRow(r: InventoryRow): string[] {
  return [r.id, r.effect, r.owner ?? '', r.tags.join(';'), r.file, String(r.line), r.target, r.description ?? ''];
}

import { Exit, UsageError, writeLine, type CliIo } from '../io.js';
import { COMMON, flags, policiesDir } from '../args.js';
import { joinPath, loadSet, printDiagnostics } from '../load.js';
import type { Diagnostic } from '../../language/diagnostic.js';
import { count } from '../../formats/count.js';

export const checkHelp = `Usage: gavel check [--policies DIR] [--json]

Parses and type-checks every *.gavel file under DIR (default ./policies) against
DIR/schema.json when present. Prints one diagnostic a line on stderr:
  FILE:LINE:COL: error: MESSAGE

Exit codes: 0 valid, 1 invalid, 2 usage error.

Options:
  -p, --policies DIR   policies folder (default ./policies)
      --json           print the result as JSON on stdout
  -h, --help           show this help`;

export async function check(argv: string[], io: CliIo): Promise<number> {
  const { values } = flags({ args: argv, strict: true, options: { ...COMMON, json: { type: 'boolean' } } });
  if (values.help) return writeLine(io.stdout, checkHelp), Exit.ok;
  const shown = values.policies ?? 'policies';
  let result: Awaited<ReturnType<typeof loadSet>>;
  try {
    result = await loadSet(policiesDir(io.cwd, values.policies));
  } catch (err: unknown) {
    // A folder that cannot be read (missing, not a folder): with --json, still one object on
    // stdout — a CI step parsing it would otherwise get nothing.
    if (!values.json || !(err instanceof UsageError)) throw err;
    writeLine(io.stdout, JSON.stringify({ ok: false, error: err.message, files: 0, policies: null, revision: null, diagnostics: [] }, null, 2));
    return Exit.usage;
  }
  const ok = result.set !== null;
  if (values.json) {
    const diagnostics = result.diagnostics.map((d) => ({
      file: joinPath(shown, d.file),
      line: d.span.start.line,
      col: d.span.start.col,
      code: d.code,
      message: d.message,
      ...(d.help === undefined ? {} : { help: d.help }),
      ...(d.related === undefined ? {} : { related: { file: joinPath(shown, d.related.file), line: d.related.span.start.line, col: d.related.span.start.col } }),
    }));
    const summary = { ok, files: result.folder.sources.length, policies: result.set?.policies.length ?? null, revision: result.set?.revision ?? null, diagnostics };
    writeLine(io.stdout, JSON.stringify(summary, null, 2));
  } else {
    printDiagnostics(io, result, shown);
    if (result.folder.sources.length === 0) writeLine(io.stderr, `warning: no *.gavel files under ${shown}: every request will be denied`);
    else if (ok && result.set!.policies.length === 0) writeLine(io.stderr, `warning: the *.gavel files under ${shown} hold no policy: every request will be denied`);
    if (ok) writeLine(io.stdout, `${count(result.set!.policies.length, 'policy', 'policies')} in ${count(result.folder.sources.length, 'file')}: ok (revision ${result.set!.revision})`);
    else writeLine(io.stderr, errorCount(result.diagnostics));
  }
  return ok ? Exit.ok : Exit.failed;
}

/** The closing count: the errors listed — a file's "too many errors" note is not one — and whether more went unlisted. */
function errorCount(diagnostics: readonly Diagnostic[]): string {
  const errors = diagnostics.filter((d) => d.code !== 'truncated').length;
  const capped = diagnostics.length - errors;
  return `${errors} error${errors === 1 ? '' : 's'}${capped === 0 ? '' : `, and more not listed in ${capped} file${capped === 1 ? '' : 's'}`}`;
}

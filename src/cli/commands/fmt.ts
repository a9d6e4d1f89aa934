import { constants } from 'node:fs';
import { access, chmod, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { format } from '../../language/format/format.js';
import { formatDiagnostic } from '../../language/diagnostic.js';
import { Exit, UsageError, writeLine, type CliIo } from '../io.js';
import { COMMON, flags, policiesDir } from '../args.js';
import { joinPath, loadFolder } from '../load.js';

export const fmtHelp = `Usage: gavel fmt [--policies DIR] [--check]

Rewrites every *.gavel file under DIR (default ./policies) in canonical form. Comments
are kept; formatting twice changes nothing. A file with syntax errors is left untouched
and its errors are printed.

Exit codes: 0 done (or, with --check, nothing to change), 1 a file would change or has
errors, 2 usage error.

Options:
  -p, --policies DIR   policies folder (default ./policies)
      --check          change nothing; list files that are not formatted
  -h, --help           show this help`;

export async function fmt(argv: string[], io: CliIo): Promise<number> {
  const { values } = flags({ args: argv, strict: true, options: { ...COMMON, check: { type: 'boolean' } } });
  if (values.help) return writeLine(io.stdout, fmtHelp), Exit.ok;
  const shown = values.policies ?? 'policies';
  const dir = policiesDir(io.cwd, values.policies);
  const folder = await loadFolder(dir);
  let failed = false;
  for (const source of folder.sources) {
    const result = format(source.file, source.text);
    const name = joinPath(shown, source.file);
    if (result.diagnostics.length > 0) {
      for (const d of result.diagnostics) writeLine(io.stderr, formatDiagnostic({ ...d, file: name }));
      failed = true;
    } else if (result.text !== source.text) {
      if (values.check) {
        writeLine(io.stdout, `${name}: not formatted`);
        failed = true;
      } else {
        await writeAtomically(join(dir, source.file), name, result.text);
        writeLine(io.stdout, `${name}: formatted`);
      }
    }
  }
  return failed ? Exit.failed : Exit.ok;
}

/**
 * Write beside, then rename: a crash never leaves a half-written policy file. The file
 * keeps its permissions, and a file its owner made read-only is not rewritten. A symlink
 * (a ConfigMap's files are) is followed: its target is rewritten, and the link stays one —
 * renaming over the link replaced it with a plain file and left the target unformatted.
 */
async function writeAtomically(linkOrPath: string, shown: string, text: string): Promise<void> {
  let path = linkOrPath;
  let temp = `${linkOrPath}.${process.pid}.tmp`;
  try {
    path = await realpath(linkOrPath);
    temp = `${path}.${process.pid}.tmp`;
    await access(path, constants.W_OK);
    const { mode } = await stat(path);
    await writeFile(temp, text, { encoding: 'utf8', mode });
    await chmod(temp, mode);
    await rename(temp, path);
  } catch (err: unknown) {
    await rm(temp, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot write \`${shown}\`: ${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : String(err)}`);
  }
}

import { buildPolicySet, type BuildResult } from '../engine/policy-set.js';
import { FolderError, loadPolicyFolder, type PolicyFolder } from '../engine/folder.js';
import { formatDiagnostic, type Diagnostic } from '../language/diagnostic.js';
import { UsageError, writeLine, type CliIo } from './io.js';

/** Reads and builds a policies folder; a missing folder is a usage error (exit 2). */
export async function loadFolder(dir: string): Promise<PolicyFolder> {
  try {
    return await loadPolicyFolder(dir);
  } catch (err: unknown) {
    if (err instanceof FolderError) throw new UsageError(err.message);
    throw err;
  }
}

export async function loadSet(dir: string): Promise<{ folder: PolicyFolder } & BuildResult> {
  const folder = await loadFolder(dir);
  return { folder, ...buildPolicySet(folder.sources, folder.schema) };
}

/** One diagnostic a line on stderr, paths as given on the command line. */
export function printDiagnostics(io: CliIo, result: BuildResult, prefix: string): void {
  for (const line of diagnosticLines(result, prefix)) writeLine(io.stderr, line);
}

export function diagnosticLines(result: BuildResult, prefix: string): string[] {
  return result.diagnostics.map((d) => formatDiagnostic(underFolder(d, prefix)));
}

/** File names in diagnostics are relative to the policies folder; shown, they include it. */
export function underFolder(d: Diagnostic, dir: string): Diagnostic {
  const moved = { ...d, file: joinPath(dir, d.file) };
  if (d.related !== undefined) moved.related = { ...d.related, file: joinPath(dir, d.related.file) };
  return moved;
}

export function joinPath(dir: string, file: string): string {
  return dir === '' || dir === '.' ? file : `${dir.replace(/\/+$/, '')}/${file}`;
}

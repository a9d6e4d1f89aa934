import { existsSync, mkdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

/** The folders of `dir` that do not exist yet, outermost first. */
function missingFolders(dir: string): string[] {
  const missing: string[] = [];
  for (let at = dir; !existsSync(at); at = dirname(at)) {
    missing.unshift(at);
    if (dirname(at) === at) break;
  }
  return missing;
}

/**
 * `mkdir -p`, one level at a time. Node's `{recursive: true}` spins forever, at full CPU and
 * deaf to SIGTERM, where mkdir answers ENOENT under a folder that exists (`/proc/x`, a
 * read-only mount's quirks): a mistyped `--db` must be an error, not a hung server.
 */
export function makeFoldersSync(dir: string): void {
  for (const folder of missingFolders(dir)) {
    try {
      mkdirSync(folder);
    } catch (err: unknown) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/** As `makeFoldersSync`, without blocking. */
export async function makeFolders(dir: string): Promise<void> {
  for (const folder of missingFolders(dir)) {
    try {
      await mkdir(folder);
    } catch (err: unknown) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

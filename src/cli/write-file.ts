import { rename, rm, writeFile } from 'node:fs/promises';
import { makeFolders } from '../formats/make-folders.js';
import { dirname } from 'node:path';
import { UsageError } from './io.js';

/**
 * Writes beside the target, then renames over it: readers (a server reloading the policies
 * folder) see the old file or the new one, never half of one, and a failed write leaves
 * the old file as it was.
 */
export async function writeFileAtomically(path: string, shown: string, text: string): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  try {
    await makeFolders(dirname(path));
    await writeFile(temp, text, 'utf8');
    await rename(temp, path);
  } catch (err: unknown) {
    await rm(temp, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot write \`${shown}\`: ${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : err instanceof Error ? err.message : String(err)}`);
  }
}

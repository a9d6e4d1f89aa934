/**
 * Why a file could not be read, in words: the common causes by their error code, anything
 * else as the system says it. `missing` is how a file that does not exist is said where it
 * is asked for (`it does not exist`, `no such file`).
 */
export function whyUnreadable(err: unknown, missing = 'it does not exist'): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return missing;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a folder';
  if (code === 'ENOTDIR') return 'a part of its path is not a folder';
  return err instanceof Error ? err.message : String(err);
}

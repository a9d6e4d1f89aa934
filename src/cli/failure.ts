import { StoreError } from '../store/store.js';
import { Exit, UsageError } from './io.js';

/**
 * What a command that failed says, and its exit code: a usage error (2), the store refusing
 * (1), SQLite's trouble with a hint of where to look (1), or anything else as an internal
 * error (1). One wording for `gavel` on stderr and for a JSON-logging server's start.
 */
export function failure(err: unknown): { message: string; exit: number } {
  if (err instanceof UsageError) return { message: err.message, exit: Exit.usage };
  if (err instanceof StoreError) return { message: err.message, exit: Exit.failed };
  const text = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('SQLITE_')) {
    // The database, not Gavel: say which kind of trouble, so the operator knows where to look.
    const hint = code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB' ? ' — the file is damaged or not a database; restore it from a backup' : code === 'SQLITE_READONLY_DIRECTORY' ? " — to read a WAL database SQLite makes its -shm file beside it: read it while `gavel serve` runs on it, or as a user who may write its folder" : code.startsWith('SQLITE_READONLY') ? ' — this command writes, and the file or its folder is read-only for this user' : code.startsWith('SQLITE_CANTOPEN') ? ' — check the path and the permissions of the file and its folder' : '';
    return { message: `database error: ${text} (${code})${hint}`, exit: Exit.failed };
  }
  return { message: `internal error: ${text}`, exit: Exit.failed };
}

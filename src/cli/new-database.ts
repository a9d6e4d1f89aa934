import { lstatSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { UsageError } from './io.js';

/**
 * Whether anything is at `path` — a dangling symbolic link included (`existsSync` follows
 * links). A path that cannot be examined (a file where a folder should be) counts as there:
 * nothing is ever removed that was not seen to be absent.
 */
function present(path: string): boolean {
  try {
    return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return true;
  }
}

/**
 * A database a command may create, taken back if the command then fails: a failed command
 * changes nothing, and leaves no empty database behind for the next command to find (`gavel
 * apply` from the wrong folder made `./data/gavel.db` there). Only what was not there before
 * goes: the database and its journal files, files the command made beside it (`remember`),
 * and the folders made to hold it — each only while empty.
 */
export class NewDatabase {
  readonly #files: string[] = [];
  /** Folders that did not exist, innermost first. */
  readonly #folders: string[] = [];
  /** Whether the database did not exist before. */
  readonly created: boolean;

  constructor(readonly path: string) {
    this.created = path !== ':memory:' && !present(path);
    if (!this.created) return;
    for (let at = dirname(path); !present(at) && dirname(at) !== at; at = dirname(at)) this.#folders.push(at);
    for (const file of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) if (!present(file)) this.#files.push(file);
  }

  /** A file made for the new database (a secret beside it); removed with it. */
  remember(file: string): void {
    if (this.created) this.#files.push(file);
  }

  /**
   * Removes what was made for a database that did not exist before; the store must be closed.
   * Never throws: the command's own error is the one to report.
   */
  discard(): void {
    if (!this.created) return;
    for (const file of this.#files) {
      try {
        rmSync(file, { force: true });
      } catch {
        // Left behind rather than hide why the command failed.
      }
    }
    for (const folder of this.#folders) {
      try {
        rmdirSync(folder);
      } catch {
        // Not empty (something else put a file there) or already gone: left as it is.
      }
    }
  }
}

/**
 * Opens (and, unless it exists, creates and migrates) the store at `path` for a command; one
 * that cannot be opened is a usage error naming it, and takes back what `made` created for it.
 */
export function openStore(path: string, made: NewDatabase | null = null): SqliteStore {
  try {
    return new SqliteStore(path);
  } catch (err: unknown) {
    made?.discard();
    // SQLite says only "unable to open database file" for a folder given as the database.
    const folder = path !== ':memory:' && isFolder(path);
    throw new UsageError(`cannot open the database \`${path}\`: ${folder ? 'it is a folder; name the database file in it (for example data/gavel.db)' : err instanceof Error ? err.message : String(err)}`);
  }
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

import { existsSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * A database a command may create, taken back if the command then fails: a failed command
 * changes nothing, and leaves no empty database behind for the next command to find (`gavel
 * apply` from the wrong folder made `./data/gavel.db` there). Files the command made beside it
 * (`remember`) go too, and so does the folder made to hold it.
 */
export class NewDatabase {
  readonly #files: string[] = [];
  readonly #folder: string | null;
  /** Whether the database did not exist before. */
  readonly created: boolean;

  constructor(readonly path: string) {
    this.created = path !== ':memory:' && !existsSync(path);
    let folder: string | null = null;
    if (this.created) {
      // The outermost folder that does not exist yet: opening the database makes it.
      for (let at = dirname(path); !existsSync(at) && dirname(at) !== at; at = dirname(at)) folder = at;
      this.#files.push(path, `${path}-wal`, `${path}-shm`, `${path}-journal`);
    }
    this.#folder = folder;
  }

  /** A file made for the new database (a secret beside it); removed with it. */
  remember(file: string): void {
    if (this.created) this.#files.push(file);
  }

  /** Removes what was made for a database that did not exist before; the store must be closed. */
  discard(): void {
    if (!this.created) return;
    for (const file of this.#files) rmSync(file, { force: true });
    if (this.#folder !== null) rmSync(this.#folder, { recursive: true, force: true });
  }
}

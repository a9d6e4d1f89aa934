import { statSync, watch, type FSWatcher } from 'node:fs';

/**
 * One `fs.watch` per folder that holds a watched file. Folders, not files: an editor saves
 * by writing a new file and renaming it over the old one, and Kubernetes updates a mounted
 * ConfigMap by swapping a `..data` symlink, and a watch on the old file sees neither.
 */
export class DirWatchers {
  /** A watch follows the folder it was opened on, not its path: the inode tells when the path names another. */
  readonly #watchers = new Map<string, { watcher: FSWatcher; ino: number }>();

  constructor(private readonly onEvent: (dir: string, filename: string | null) => void) {}

  /**
   * Watches exactly `dirs`; a folder that cannot be watched (gone) is tried again at the next
   * sync, and one replaced under its path (`mv new old`) is watched again. Answers the folders
   * whose watch starts now: what changed in them before it did was seen by no watch.
   */
  sync(dirs: ReadonlySet<string>): string[] {
    const started: string[] = [];
    for (const [dir, w] of this.#watchers) {
      if (dirs.has(dir) && inode(dir) === w.ino) continue;
      w.watcher.close();
      this.#watchers.delete(dir);
    }
    for (const dir of dirs) {
      if (this.#watchers.has(dir)) continue;
      const ino = inode(dir);
      if (ino === null) continue;
      try {
        const w = watch(dir, { persistent: false }, (_event, filename) => this.onEvent(dir, filename === null ? null : String(filename)));
        // The folder went away (a ConfigMap's old `..2024_…` folder): forget it and let a reload look again.
        w.on('error', () => {
          w.close();
          if (this.#watchers.get(dir)?.watcher === w) this.#watchers.delete(dir);
          this.onEvent(dir, null);
        });
        this.#watchers.set(dir, { watcher: w, ino });
        started.push(dir);
      } catch {
        // Not there now; the list's own read reports the missing file.
      }
    }
    return started;
  }

  get dirs(): string[] {
    return [...this.#watchers.keys()];
  }

  close(): void {
    for (const w of this.#watchers.values()) w.watcher.close();
    this.#watchers.clear();
  }
}

function inode(dir: string): number | null {
  try {
    return statSync(dir).ino;
  } catch {
    return null;
  }
}

import { basename, dirname, resolve } from 'node:path';
import { formatDiagnostic } from '../language/diagnostic.js';
import { DirWatchers } from '../signals/ip/dir-watchers.js';
import { FolderError, folderState, loadPolicyFolder, type PolicyFolder } from './folder.js';

type FolderState = Awaited<ReturnType<typeof folderState>>;
import type { LivePolicySet } from './live-set.js';
import { buildPolicySetInSlices, revisionOfSources, type PolicySet } from './policy-set.js';

/** What the last reload attempt did. */
export type ReloadOutcome =
  | { result: 'applied'; revision: string; at: Date }
  | { result: 'unchanged'; revision: string; at: Date }
  | { result: 'rejected'; errors: string[]; at: Date };

export interface ReloadStatus {
  applied: number;
  rejected: number;
  /** The most recent rejected reload while it is still the latest attempt; `null` after a good one. */
  rejection: Extract<ReloadOutcome, { result: 'rejected' }> | null;
}

/**
 * Whether a changed name may be something a load reads: a policy, schema or test file, a
 * folder (a name without a dot), or a Kubernetes `..data` link. Not `gavel.db-wal`.
 */
function mayMatter(name: string): boolean {
  const base = name.split(/[\\/]/).pop() ?? name;
  return base.endsWith('.gavel') || base === 'schema.json' || /\.test\.(ya?ml|json)$/.test(base) || base.startsWith('..') || !base.includes('.');
}

/** How often the folder is polled besides being watched, and how long a file must be left alone before it is read. */
const POLL_MS = 2_000;
const SETTLE_MS = 300;
/** Reloads put off for a file still being written, before the folder is read anyway (a clock skewed into the future). */
const MAX_PUT_OFF = 10;

/**
 * Rebuilds the policy set when files in the policies folder change, and swaps it in only
 * when the whole folder is valid: a broken edit keeps the previous revision serving and
 * is reported (readyz, metrics). Changes are debounced, so an editor's save or a git
 * checkout of many files is one reload.
 *
 * Every folder a load walks is watched on its own (non-recursive `fs.watch`), and so is the
 * folder above, for the policies folder itself being replaced; the watches follow each
 * reload. Node's recursive watch on Linux stopped reporting a file once it had been
 * replaced by a rename — `sed -i`, an editor's save — and later edits were never applied,
 * with /readyz still ready. Every two seconds the folder is also polled (each file's size,
 * time and inode), so an event lost anyway costs seconds, not the change. A file written in
 * the last 300 ms puts the reload off: a file caught half-written would be applied as it
 * stands if what was written so far happened to be valid.
 */
export class PolicyReloader {
  #watchers: DirWatchers | null = null;
  #poll: NodeJS.Timeout | null = null;
  #polled: string | null = null;
  #putOff = 0;
  #timer: NodeJS.Timeout | null = null;
  #firstScheduledAt = 0;
  #closed = false;
  #running: Promise<ReloadOutcome> | null = null;
  /** The run explicit reloads asked for during another share, once that one is done. */
  #explicit: Promise<ReloadOutcome> | null = null;
  #again = false;
  /** Until the watch's first look has an outcome: that look finding what was loaded is not a reload anyone asked for. */
  #firstLook = false;
  readonly status: ReloadStatus = { applied: 0, rejected: 0, rejection: null };

  constructor(
    private readonly dir: string,
    private readonly live: LivePolicySet,
    private readonly onOutcome: (outcome: ReloadOutcome) => void = () => {},
    private readonly debounceMs = 150,
    /** Told the set and folder of each applied reload (the server stores the revision's files). */
    private readonly onApplied: (set: PolicySet, folder: PolicyFolder) => void = () => {},
    /** Longest stretch of building before requests waiting are answered (buildPolicySetInSlices). */
    private readonly sliceMs = 4,
  ) {}

  watch(): void {
    const root = resolve(this.dir);
    const parent = dirname(root);
    this.#watchers = new DirWatchers((dir, file) => {
      // Above the folder, only the folder's own name matters (it was replaced or removed).
      if (dir === parent && file !== null && file !== basename(root)) return;
      // Inside it, files that are not read do not matter: a database or log written beside the
      // policies (`--policies .`) would otherwise keep putting every reload off.
      if (file !== null && !mayMatter(file)) return;
      this.schedule();
    });
    // The folder and the one above at once; the rest, and the state the poll compares with,
    // come with a first reload (unchanged, unless the folder changed since it was loaded).
    this.#watchers.sync(new Set([root, parent]));
    this.#firstLook = true;
    this.schedule();
    this.#poll = setInterval(() => void this.poll(), POLL_MS);
    this.#poll.unref();
  }

  close(): void {
    this.#closed = true;
    this.#watchers?.close();
    this.#watchers = null;
    if (this.#poll !== null) clearInterval(this.#poll);
    if (this.#timer !== null) clearTimeout(this.#timer);
  }

  /**
   * Watches the folders the folder was made of when `state` was taken (before a reload read
   * it), and remembers that state for the poll: a change after it differs from it.
   */
  private follow(state: FolderState | null): void {
    this.#polled = state?.fingerprint ?? null;
    if (this.#watchers === null) return;
    const root = resolve(this.dir);
    // The folder gone or unreadable: its parent's watch sees it come back.
    this.#watchers.sync(new Set([root, dirname(root), ...(state?.dirs ?? [])]));
  }

  private async poll(): Promise<void> {
    if (this.#timer !== null || this.#running !== null) return;
    const now = await folderState(resolve(this.dir)).then((s) => s.fingerprint, () => null);
    if (now !== this.#polled) this.schedule();
  }

  private schedule(delayMs = this.debounceMs): void {
    if (this.#closed) return;
    // Debounced, but not for ever: changes that keep coming are read at least once a poll period.
    if (this.#timer !== null && Date.now() - this.#firstScheduledAt > POLL_MS) return;
    if (this.#timer === null) this.#firstScheduledAt = Date.now();
    else clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.reload(true);
    }, delayMs);
  }

  /**
   * Reloads now; a change during a run triggers one more. `settle`: a reload the watch started
   * waits for files written a moment ago, and joins a run under way. An explicit one — SIGHUP,
   * POST /v1/reload — reads the folder as it is when asked: during a run it waits for it and
   * then reads the folder again (explicit calls made meanwhile share that one run), since a run
   * begun earlier may have read the folder before the caller's change — a deploy writing its
   * files and asking for a reload would be told about a revision before its own.
   */
  async reload(settle = false): Promise<ReloadOutcome> {
    if (this.#running !== null) {
      if (!settle) {
        this.#explicit ??= this.#running.then(() => {
          this.#explicit = null;
          return this.reload(false);
        });
        return this.#explicit;
      }
      this.#again = true;
      return this.#running;
    }
    this.#running = this.attempt(settle);
    try {
      const outcome = await this.#running;
      return outcome;
    } finally {
      this.#running = null;
      if (this.#again) {
        this.#again = false;
        void this.reload(true);
      }
    }
  }

  private async attempt(settle: boolean): Promise<ReloadOutcome> {
    if (this.#closed) return { result: 'unchanged', revision: this.live.current.revision, at: new Date() };
    const state = await folderState(resolve(this.dir)).catch(() => null);
    if (settle && state !== null && Date.now() - state.newestMs < SETTLE_MS && this.#putOff < MAX_PUT_OFF) {
      // Written a moment ago, perhaps still being written: read it once it has been left alone.
      this.#putOff++;
      this.schedule(SETTLE_MS);
      return { result: 'unchanged', revision: this.live.current.revision, at: new Date() };
    }
    this.#putOff = 0;
    const outcome = await this.build();
    // Closed while building (the server stopping): nothing was swapped, and nothing is reported.
    if (this.#closed) return outcome;
    this.follow(state);
    if (outcome.result === 'rejected') {
      this.status.rejected++;
      this.status.rejection = outcome;
    } else {
      this.status.rejection = null;
      if (outcome.result === 'applied') this.status.applied++;
    }
    // The watch's first look finding the folder as loaded is not reported (it counted as an
    // `unchanged` reload in /metrics on every start).
    const firstLook = this.#firstLook;
    this.#firstLook = false;
    if (!(firstLook && outcome.result === 'unchanged')) this.onOutcome(outcome);
    return outcome;
  }

  private async build(): Promise<ReloadOutcome> {
    const at = new Date();
    try {
      const folder = await loadPolicyFolder(this.dir);
      // The same text builds the same set: a touched file, a poll after a lost event or the
      // first reload after watching costs a hash of the files, not a build.
      const revision = revisionOfSources(folder.sources, folder.schema);
      if (revision === this.live.current.revision) return { result: 'unchanged', revision, at };
      // Built in slices between requests: a large set would otherwise stall every request for the whole build.
      const { set, diagnostics } = await buildPolicySetInSlices(folder.sources, folder.schema, this.sliceMs);
      if (set === null) return { result: 'rejected', errors: diagnostics.map(formatDiagnostic), at };
      // A folder emptied while serving is more often a deploy caught between its `rm` and its
      // `cp`, or a mount gone wrong, than a wish to deny everything: it is not swapped in.
      const serving = this.live.current.policies.length;
      if (set.policies.length === 0 && serving > 0) {
        return { result: 'rejected', errors: [`${this.dir}: the folder holds no policies now; the ${serving} of revision ${this.live.current.revision} keep serving (to deny every request, leave a policy that does, or restart on the empty folder)`], at };
      }
      if (this.#closed) return { result: 'unchanged', revision: this.live.current.revision, at };
      this.live.swap(set);
      // Storing the revision's files (a SQLite write of all of them) in a turn of its own:
      // requests waiting since the build's last slice are answered first.
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.onApplied(set, folder);
      return { result: 'applied', revision: set.revision, at };
    } catch (err: unknown) {
      // Out of file descriptors (a flood of connections), say: nothing is wrong with the
      // policies, and the folder is read again by itself rather than at its next change.
      if (err instanceof FolderError && err.transient) {
        this.schedule(TRANSIENT_RETRY_MS);
        return { result: 'rejected', errors: [`${err.message} (tried again in ${TRANSIENT_RETRY_MS / 1000} s)`], at };
      }
      return { result: 'rejected', errors: [err instanceof Error ? err.message : String(err)], at };
    }
  }
}

/** How soon a folder that could not be read for a passing reason is read again. */
const TRANSIENT_RETRY_MS = 5_000;

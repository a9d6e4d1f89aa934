import { watch, type FSWatcher } from 'node:fs';
import { formatDiagnostic } from '../language/diagnostic.js';
import { loadPolicyFolder, type PolicyFolder } from './folder.js';
import type { LivePolicySet } from './live-set.js';
import { buildPolicySet, type PolicySet } from './policy-set.js';

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
 * Rebuilds the policy set when files in the policies folder change, and swaps it in only
 * when the whole folder is valid: a broken edit keeps the previous revision serving and
 * is reported (readyz, metrics). Changes are debounced, so an editor's save or a git
 * checkout of many files is one reload.
 */
export class PolicyReloader {
  #watcher: FSWatcher | null = null;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<ReloadOutcome> | null = null;
  #again = false;
  readonly status: ReloadStatus = { applied: 0, rejected: 0, rejection: null };

  constructor(
    private readonly dir: string,
    private readonly live: LivePolicySet,
    private readonly onOutcome: (outcome: ReloadOutcome) => void = () => {},
    private readonly debounceMs = 150,
    /** Told the set and folder of each applied reload (the server stores the revision's files). */
    private readonly onApplied: (set: PolicySet, folder: PolicyFolder) => void = () => {},
  ) {}

  watch(): void {
    this.#watcher = watch(this.dir, { recursive: true }, () => this.schedule());
    // A watcher error (the folder was removed) keeps the current set; a reload reports why.
    this.#watcher.on('error', () => this.schedule());
  }

  close(): void {
    this.#watcher?.close();
    if (this.#timer !== null) clearTimeout(this.#timer);
  }

  private schedule(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.reload();
    }, this.debounceMs);
  }

  /** Reloads now; concurrent calls share one run, and a change during a run triggers one more. */
  async reload(): Promise<ReloadOutcome> {
    if (this.#running !== null) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.attempt();
    try {
      const outcome = await this.#running;
      return outcome;
    } finally {
      this.#running = null;
      if (this.#again) {
        this.#again = false;
        void this.reload();
      }
    }
  }

  private async attempt(): Promise<ReloadOutcome> {
    const outcome = await this.build();
    if (outcome.result === 'rejected') {
      this.status.rejected++;
      this.status.rejection = outcome;
    } else {
      this.status.rejection = null;
      if (outcome.result === 'applied') this.status.applied++;
    }
    this.onOutcome(outcome);
    return outcome;
  }

  private async build(): Promise<ReloadOutcome> {
    const at = new Date();
    try {
      const folder = await loadPolicyFolder(this.dir);
      const { set, diagnostics } = buildPolicySet(folder.sources, folder.schema);
      if (set === null) return { result: 'rejected', errors: diagnostics.map(formatDiagnostic), at };
      if (set.revision === this.live.current.revision) return { result: 'unchanged', revision: set.revision, at };
      this.live.swap(set);
      this.onApplied(set, folder);
      return { result: 'applied', revision: set.revision, at };
    } catch (err: unknown) {
      return { result: 'rejected', errors: [err instanceof Error ? err.message : String(err)], at };
    }
  }
}

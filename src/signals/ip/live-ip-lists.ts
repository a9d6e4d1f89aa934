import { realpath, stat } from 'node:fs/promises';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { basename, dirname, resolve } from 'node:path';
import { DirWatchers } from './dir-watchers.js';
import { IpReputation, type IpReputationStats, type IpSignals } from './ip-reputation.js';
import { resolveIpListConfigs, type IpListConfig, type ResolvedIpListConfig } from './list-config.js';
import { DEFAULT_IP_LIST_LIMITS, type IpListFormat, type IpListLimits } from './list-format.js';
import { parseListFile, readListFile } from './load-list.js';
import { fromWire, reloadLists, type HeldList, type ListReloadInput, type ListReloadMessage, type ListReloadResult } from './list-reload.js';

export interface LiveIpListsOptions {
  readonly limits?: IpListLimits;
  /** Changes within this many milliseconds are one reload (an editor's save, a `git pull`). */
  readonly debounceMs?: number;
  /** Told after every reload attempt, for logging. */
  readonly onReload?: (report: IpListsReloadReport) => void;
  /**
   * Reloads read, parse and build in a worker thread (list-reload-worker.ts, beside this
   * module as built .js): what a server wants, since a million-prefix list takes a second or two
   * to parse and build and requests would wait for all of it. Off by default (the work is done
   * on the calling thread, as the first load always is).
   */
  readonly offThread?: boolean;
  /**
   * With `offThread`, the reload thread's memory bounds (Node's `resourceLimits`; Node's own
   * by default). A reload that outgrows them fails as a thread that crashed does: every list it
   * was to read is rejected, the versions served stay, and it is tried again later.
   */
  readonly workerLimits?: ResourceLimits;
}

/** What one reload attempt did, per list. */
export interface IpListsReloadReport {
  readonly at: Date;
  /** Lists whose new version is now served. */
  readonly applied: string[];
  /** Lists whose file has the same bytes as the version served. */
  readonly unchanged: string[];
  /** Lists whose file is broken; their previous version is still served. */
  readonly rejected: { name: string; errors: string[] }[];
}

export interface IpListStatus {
  readonly name: string;
  readonly path: string;
  readonly format: IpListFormat;
  /** Prefixes in the version served. */
  readonly prefixes: number;
  /** When the version served was read. */
  readonly loadedAt: Date;
  /** Set while the file on disk is broken: its first problem, and how many more. */
  readonly error?: string;
  /** Reload attempts of this list that were rejected, since start. */
  readonly failures: number;
}

export interface IpListsStatus {
  readonly lists: IpListStatus[];
  /** Tables built since start, the first included. */
  readonly builds: number;
  /** Rejected list reloads since start, over all lists. */
  readonly failures: number;
  readonly builtAt: Date;
  readonly stats: IpReputationStats;
}

export type OpenIpListsResult = { ok: true; lists: LiveIpLists } | { ok: false; errors: string[] };

interface Slot {
  readonly config: ResolvedIpListConfig;
  list: HeldList;
  digest: string;
  loadedAt: Date;
  errors: string[] | null;
  failures: number;
  /** The file's real location, whose folder is watched too (it may be a symlink elsewhere). */
  real: string | null;
}

/**
 * The IP lists a server answers from. Each list is read and parsed apart; after a reload,
 * the lookup tables are rebuilt from every list's current version and swapped in with one
 * assignment, so a lookup sees one whole table, never a table being built. A broken file
 * keeps its list's previous version serving and is reported in `status()`.
 */
export class LiveIpLists {
  #current: IpReputation;
  #builtAt: Date;
  #builds = 1;
  #failures = 0;
  #running: Promise<IpListsReloadReport> | null = null;
  #queued: Promise<IpListsReloadReport> | null = null;
  #timer: NodeJS.Timeout | null = null;
  readonly #dirty = new Set<string>();
  readonly #slots: readonly Slot[];
  readonly #watchers: DirWatchers;
  #watching = false;
  #closed = false;
  /** The worker of the reload under way (`offThread`), stopped by `close`. */
  #worker: Worker | null = null;
  /** A reload after a worker failed, and how long the next one waits. */
  #retry: NodeJS.Timeout | null = null;
  #retryMs = RETRY_FIRST_MS;

  private constructor(
    slots: Slot[],
    private readonly options: LiveIpListsOptions,
  ) {
    this.#slots = slots;
    this.#current = IpReputation.build(slots.map((s) => fromWire(s.list)));
    this.#builtAt = new Date();
    this.#watchers = new DirWatchers((dir, filename) => this.#changed(dir, filename));
  }

  /**
   * Reads every list. Any invalid configuration entry or broken file makes this an error
   * result listing every problem, so that a server refuses to start with the reason.
   */
  static async open(configs: readonly IpListConfig[], options: LiveIpListsOptions = {}): Promise<OpenIpListsResult> {
    const { configs: resolved, errors } = resolveIpListConfigs(configs);
    if (errors.length > 0) return { ok: false, errors };
    const limits = options.limits ?? DEFAULT_IP_LIST_LIMITS;
    const slots: Slot[] = [];
    for (const config of resolved) {
      const file = await readListFile(config.path, limits);
      const loaded = 'error' in file ? { errors: [file.error] } : parseListFile(config, file, limits);
      if ('errors' in loaded) errors.push(...loaded.errors);
      else slots.push({ config, list: loaded.list, digest: loaded.digest, loadedAt: new Date(), errors: null, failures: 0, real: null });
    }
    if (errors.length > 0) return { ok: false, errors };
    return { ok: true, lists: new LiveIpLists(slots, options) };
  }

  /** The table lookups use now; hold on to it for a batch that must see one version. */
  get current(): IpReputation {
    return this.#current;
  }

  lookup(address: string): IpSignals | null {
    return this.#current.lookup(address);
  }

  status(): IpListsStatus {
    return {
      lists: this.#slots.map((s) => ({
        name: s.config.name,
        path: s.config.path,
        format: s.config.format,
        prefixes: s.list.entries,
        loadedAt: s.loadedAt,
        failures: s.failures,
        ...(s.errors === null ? {} : { error: s.errors.length > 1 ? `${s.errors[0]} (and ${s.errors.length - 1} more)` : s.errors[0] }),
      })),
      builds: this.#builds,
      failures: this.#failures,
      builtAt: this.#builtAt,
      stats: this.#current.stats,
    };
  }

  /** Starts watching the lists' folders; resolves once the watches are in place. */
  async watch(): Promise<void> {
    this.#watching = true;
    await this.#syncWatchers();
  }

  close(): void {
    this.#closed = true;
    this.#watching = false;
    this.#watchers.close();
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#retry !== null) clearTimeout(this.#retry);
    this.#retry = null;
    // A reload under way in a worker is stopped: a stopping server does not wait for it.
    void this.#worker?.terminate();
  }

  /**
   * Reads the named lists (all by default) again. Calls during a reload are queued into
   * one more run, which they all get the report of.
   */
  reload(names: Iterable<string> = this.#slots.map((s) => s.config.name)): Promise<IpListsReloadReport> {
    for (const n of names) this.#dirty.add(n);
    if (this.#running === null) return this.#start();
    this.#queued ??= this.#running.then(() => {
      this.#queued = null;
      return this.#start();
    });
    return this.#queued;
  }

  #start(): Promise<IpListsReloadReport> {
    const run = this.#attempt().finally(() => {
      if (this.#running === run) this.#running = null;
    });
    this.#running = run;
    return run;
  }

  async #attempt(): Promise<IpListsReloadReport> {
    const names = new Set(this.#dirty);
    this.#dirty.clear();
    const report: IpListsReloadReport = { at: new Date(), applied: [], unchanged: [], rejected: [] };
    if (this.#closed) return report;
    const input: ListReloadInput = {
      slots: this.#slots.map((s) => ({ config: s.config, list: s.list, digest: s.digest })),
      names: [...names],
      limits: this.options.limits ?? DEFAULT_IP_LIST_LIMITS,
    };
    const { outcomes, reputation, failed } = await (this.options.offThread === true ? reloadInWorker(input, this.options.workerLimits, (w) => (this.#worker = w)) : reloadLists(input));
    this.#worker = null;
    // Closed meanwhile (the server stopping): nothing is applied or reported.
    if (this.#closed) return report;
    // The worker itself failed, not a file: the lists are read again later, each time waiting
    // longer (a good file would otherwise wait for its next change or a SIGHUP).
    if (failed === true) {
      this.#retry ??= setTimeout(() => {
        this.#retry = null;
        void this.reload(names);
      }, this.#retryMs).unref();
      this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
    } else this.#retryMs = RETRY_FIRST_MS;
    for (const outcome of outcomes) {
      const slot = this.#slots.find((s) => s.config.name === outcome.name);
      if (slot === undefined) continue;
      if (outcome.kind === 'unchanged') {
        slot.errors = null;
        report.unchanged.push(outcome.name);
      } else if (outcome.kind === 'rejected') {
        slot.errors = outcome.errors;
        slot.failures++;
        this.#failures++;
        report.rejected.push({ name: outcome.name, errors: outcome.errors });
      } else {
        slot.list = outcome.list;
        slot.digest = outcome.digest;
        slot.loadedAt = report.at;
        slot.errors = null;
        report.applied.push(outcome.name);
      }
    }
    if (reputation !== null) {
      this.#current = reputation;
      this.#builtAt = new Date();
      this.#builds++;
    }
    if (this.#watching) await this.#syncWatchers();
    try {
      this.options.onReload?.(report);
    } catch {
      // A logging callback that throws must not stop the reloads that follow.
    }
    return report;
  }

  /**
   * The folders of every list's configured path and of the file it resolves to, and the folder
   * above the configured one: a lists folder replaced whole (`mv lists.new lists`) is seen there.
   */
  async #syncWatchers(): Promise<void> {
    const dirs = new Set<string>();
    for (const slot of this.#slots) {
      const path = resolve(slot.config.path);
      slot.real = await realpath(path).catch(() => null);
      dirs.add(dirname(path));
      dirs.add(dirname(dirname(path)));
      if (slot.real !== null) dirs.add(dirname(slot.real));
    }
    if (!this.#watching) return;
    const wasWatching = this.#watchers.dirs.length > 0;
    const started = this.#watchers.sync(dirs);
    // A folder watched anew after a reload (its path now names a replaced folder) may have
    // changed between that reload's read and the watch: read its lists once more.
    if (wasWatching) for (const dir of started) this.#changed(dir, null);
  }

  #changed(dir: string, filename: string | null): void {
    const wasClean = this.#dirty.size === 0;
    let marked = false;
    for (const slot of this.#slots) {
      const path = resolve(slot.config.path);
      const folder = dirname(path);
      // The list's folder itself, renamed or replaced, in the folder above.
      const replaced = dir === dirname(folder) && dir !== folder && filename === basename(folder);
      // `..data` and friends: Kubernetes swapping a ConfigMap's files in one rename.
      const here = replaced || (dir === folder && (filename === null || filename === basename(path) || filename.startsWith('..')));
      const there = slot.real !== null && dir === dirname(slot.real) && (filename === null || filename === basename(slot.real));
      if (here || there) {
        this.#dirty.add(slot.config.name);
        marked = true;
      }
    }
    // Events about other files (a log beside the lists, the folder above) put nothing off: a
    // steady stream of them had kept a changed block list from being read at all.
    if (!marked) return;
    if (wasClean) this.#dirtySince = Date.now();
    this.#readWhenSettled();
  }

  /** When the lists waiting to be read first changed: they are read within MAX_WAIT_MS of it, settled or not. */
  #dirtySince = 0;

  /**
   * Reads the changed lists once their files have been left alone for a while: quiet for the
   * debounce, and not written for three times as long (a download writing a list in pieces).
   * A list changed MAX_WAIT_MS ago is read anyway: a file written to without end.
   */
  #readWhenSettled(): void {
    const debounceMs = this.options.debounceMs ?? DEBOUNCE_MS;
    if (this.#timer !== null) {
      // Past the deadline a waiting read is not put off again, however often the file changes.
      if (Date.now() - this.#dirtySince >= MAX_WAIT_MS) return;
      clearTimeout(this.#timer);
    }
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (!this.#watching) return;
      void this.#newestWriteMs().then((newest) => {
        if (!this.#watching || this.#timer !== null) return;
        if (Date.now() - newest < debounceMs * 3 && Date.now() - this.#dirtySince < MAX_WAIT_MS) return this.#readWhenSettled();
        void this.reload([]);
      });
    }, debounceMs);
    this.#timer.unref();
  }

  /** When the changed lists' files were last written (0 when none can be read). */
  async #newestWriteMs(): Promise<number> {
    const times = await Promise.all(this.#slots.filter((s) => this.#dirty.has(s.config.name)).map((s) => stat(resolve(s.config.path)).then((st) => st.mtimeMs, () => 0)));
    return Math.max(0, ...times);
  }
}

/**
 * Quiet time before a changed list is read: as for policy files, long enough for a tool that
 * writes a file in a few steps (truncate, then write) to finish.
 */
const DEBOUNCE_MS = 300;
const MAX_WAIT_MS = 10_000;

/** The first wait before reading lists again after a worker failed, and the longest. */
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 60_000;

/**
 * `reloadLists` in a worker thread of its own, which ends after answering. The lists sent are
 * copied to it (typed arrays: a memory copy); what comes back is moved, not copied. A worker
 * that fails (it could not start, or ran out of memory) rejects every list it was to read:
 * the versions served stay, and the failure is reported as any broken file is.
 */
function reloadInWorker(input: ListReloadInput, resourceLimits: ResourceLimits | undefined, started: (worker: Worker) => void): Promise<ListReloadResult> {
  return new Promise((resolve) => {
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      const reason = err instanceof Error ? err.message : String(err);
      resolve({ outcomes: input.names.map((name) => ({ name, kind: 'rejected' as const, errors: [`${name}: error: the list could not be reloaded (tried again shortly): ${reason}`] })), reputation: null, failed: true });
    };
    let worker: Worker;
    try {
      worker = new Worker(new URL('./list-reload-worker.js', import.meta.url), { workerData: input, ...(resourceLimits === undefined ? {} : { resourceLimits }) });
    } catch (err: unknown) {
      return fail(err);
    }
    started(worker);
    worker.once('message', (m: ListReloadMessage) => {
      if (settled) return;
      settled = true;
      resolve({ outcomes: m.outcomes, reputation: m.tables === null ? null : IpReputation.fromParts(m.tables) });
    });
    worker.once('error', fail);
    worker.once('exit', (code) => fail(new Error(`the reload thread stopped (exit code ${code})`)));
  });
}

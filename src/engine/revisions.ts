/**
 * Policy revisions as the store keeps them: a revision's files (path → text, the schema
 * included) and the policy set built from them again. Rebuilding gives the same revision
 * id, since the id is the hash of the same files.
 */
import type { PolicyRevision, Store } from '../store/store.js';
import { SCHEMA_FILE, type PolicyFolder } from './folder.js';
import { buildPolicySet, buildPolicySetInSlices, type BuildOptions, type BuildResult, type PolicySet, type PolicySource } from './policy-set.js';

/** What the store keeps of a folder that built `revision`: its policy files and schema, not its tests. */
export function revisionFiles(folder: Pick<PolicyFolder, 'sources' | 'schema'>): Record<string, string> {
  const files: Record<string, string> = {};
  for (const s of folder.sources) files[s.file] = s.text;
  if (folder.schema !== null) files[folder.schema.file] = folder.schema.text;
  return files;
}

/**
 * Builds a set from files as sent (`*.gavel` and `schema.json` at the top; others ignored);
 * `stored` for a revision the store kept, which was served once (BuildOptions).
 */
export function buildFromFiles(files: Readonly<Record<string, string>>, options: BuildOptions = {}): BuildResult {
  return buildPolicySet(...sourcesOf(files), options);
}

/** As `buildFromFiles`, in slices between requests (`buildPolicySetInSlices`): for a server. */
export function buildFromFilesInSlices(files: Readonly<Record<string, string>>, options: BuildOptions = {}): Promise<BuildResult> {
  return buildPolicySetInSlices(...sourcesOf(files), undefined, options);
}

function sourcesOf(files: Readonly<Record<string, string>>): [PolicySource[], PolicySource | null] {
  const sources = Object.entries(files)
    .filter(([file]) => file.endsWith('.gavel'))
    .map(([file, text]) => ({ file, text }));
  const schema = files[SCHEMA_FILE];
  return [sources, schema === undefined ? null : { file: SCHEMA_FILE, text: schema }];
}

const STORED: BuildOptions = { stored: true };

export type RevisionLookup = { kind: 'found'; set: PolicySet; savedAt: string } | { kind: 'unknown' } | { kind: 'invalid'; message: string };

/**
 * Stored revisions built into sets, the last few kept: explaining decisions opens the same
 * revisions again and again, and a build costs milliseconds to seconds.
 */
export class RevisionSets {
  /** Revisions built, found or no longer valid (a stored revision does not change), most recently used last. */
  readonly #cache = new Map<string, Exclude<RevisionLookup, { kind: 'unknown' }>>();
  /** Builds under way in slices: concurrent explanations of one revision share one. */
  readonly #loading = new Map<string, Promise<RevisionLookup>>();

  constructor(
    private readonly store: Pick<Store, 'policyRevision'>,
    private readonly size = 4,
  ) {}

  get(id: string): RevisionLookup {
    const hit = this.#hit(id);
    if (hit !== null) return hit;
    const stored: PolicyRevision | null = this.store.policyRevision(id);
    if (stored === null) return { kind: 'unknown' };
    return this.#built(id, stored, buildFromFiles(stored.files, STORED));
  }

  /**
   * As `get`, building a revision not at hand in slices between requests: a server explaining
   * a decision of an older 10,000-policy revision would otherwise stop answering for the build.
   * Afterwards `get` finds it.
   */
  load(id: string): Promise<RevisionLookup> {
    const hit = this.#hit(id);
    if (hit !== null) return Promise.resolve(hit);
    let loading = this.#loading.get(id);
    if (loading === undefined) {
      const stored: PolicyRevision | null = this.store.policyRevision(id);
      if (stored === null) return Promise.resolve({ kind: 'unknown' });
      loading = buildFromFilesInSlices(stored.files, STORED)
        .then((result) => this.#built(id, stored, result))
        .finally(() => this.#loading.delete(id));
      this.#loading.set(id, loading);
    }
    return loading;
  }

  #hit(id: string): RevisionLookup | null {
    const hit = this.#cache.get(id);
    if (hit === undefined) return null;
    this.#cache.delete(id);
    this.#cache.set(id, hit);
    return hit;
  }

  #built(id: string, stored: PolicyRevision, { set, diagnostics }: BuildResult): RevisionLookup {
    // A stored revision was valid when served; a language change since may reject it.
    const lookup: Exclude<RevisionLookup, { kind: 'unknown' }> =
      set === null ? { kind: 'invalid', message: `stored revision ${id} no longer builds: ${diagnostics[0]?.message ?? 'unknown error'}` } : { kind: 'found', set, savedAt: stored.savedAt };
    this.#cache.set(id, lookup);
    if (this.#cache.size > this.size) this.#cache.delete(this.#cache.keys().next().value!);
    return lookup;
  }
}

/** What a revision's policies read of the computed roots: which token claims and `risk` members its records kept. */
export interface RevisionReads {
  token: ReadonlySet<string>;
  risk: ReadonlySet<string>;
}

/**
 * What each revision's policies read (`PolicySet.tokenReads`, `riskReads`) — which claims and
 * signals its decisions' records kept (what-if) — from the sets at hand, else from the store's
 * copy built once; `null` for a revision not stored. A build of an older revision takes the
 * thread for its duration (milliseconds for hundreds of policies), once per revision a replay
 * meets among the decisions whose reads are in question (what-if asks only for those).
 */
export function readsByRevision(store: Pick<Store, 'policyRevision'>, atHand: readonly PolicySet[] = []): (revision: string) => RevisionReads | null {
  const readsOf = (s: PolicySet): RevisionReads => ({ token: s.tokenReads, risk: s.riskReads });
  const known = new Map<string, RevisionReads | null>(atHand.map((s) => [s.revision, readsOf(s)]));
  return (revision) => {
    if (!known.has(revision)) {
      const stored = store.policyRevision(revision);
      const set = stored === null ? null : (buildFromFiles(stored.files, STORED).set ?? null);
      known.set(revision, set === null ? null : readsOf(set));
    }
    return known.get(revision)!;
  };
}

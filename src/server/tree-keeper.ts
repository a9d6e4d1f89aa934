import type { LivePolicySet } from '../engine/live-set.js';
import type { Policy } from '../language/ast.js';

/** Policies parsed per slice: a few milliseconds, so requests in between wait no longer than that. */
const SLICE = 100;

/**
 * Keeps the syntax trees of the serving policy set in memory, for the compliance features.
 *
 * A compiled set keeps no trees (decisions do not need them, and they are about 2.5× the
 * compiled set's memory); partial evaluation (`affects`, the console, search) parses a
 * policy again on demand and holds the tree only weakly. On a server whose admin APIs are
 * on, the first "which policies affect …?" after a reload would then parse every policy —
 * 0.6 s for 10,000. This parses them ahead, in slices between requests, and holds them until
 * the set is replaced.
 */
export class TreeKeeper {
  #trees: Policy[] = [];
  #job = 0;

  constructor(private readonly live: LivePolicySet) {}

  /** Starts holding the trees of the set serving now (call after each swap); the previous set's are let go. */
  refresh(): void {
    const set = this.live.current;
    const job = ++this.#job;
    const trees: Policy[] = [];
    this.#trees = trees;
    let i = 0;
    const slice = (): void => {
      // A newer set was swapped in meanwhile: its own job holds its trees.
      if (job !== this.#job) return;
      for (const end = Math.min(i + SLICE, set.policies.length); i < end; i++) trees.push(set.policies[i].ast);
      if (i < set.policies.length) setImmediate(slice);
    };
    setImmediate(slice);
  }

  /** Trees held now (all of the set's once the slices are done). */
  get held(): number {
    return this.#trees.length;
  }

  close(): void {
    this.#job++;
    this.#trees = [];
  }
}

import type { PolicySet } from './policy-set.js';

/**
 * The policy set a server decides with. A reload builds a whole new set and swaps it in
 * one assignment: a decision reads `current` once and uses that set to the end, so no
 * request ever sees half of one revision and half of another.
 */
export class LivePolicySet {
  #current: PolicySet;

  constructor(initial: PolicySet) {
    this.#current = initial;
  }

  get current(): PolicySet {
    return this.#current;
  }

  swap(next: PolicySet): void {
    this.#current = next;
  }
}

/**
 * What-if replays read the whole decision log in slices between the decisions a server
 * answers: one at a time per server, whether asked through the admin API or the console
 * (docs/api.md, docs/console.md), so both take this one slot.
 */
export class ReplaySlot {
  #busy = false;

  /** Takes the slot: `false` when a replay holds it already. */
  take(): boolean {
    if (this.#busy) return false;
    this.#busy = true;
    return true;
  }

  release(): void {
    this.#busy = false;
  }
}

/**
 * Stop and reload signals that arrive while `gavel serve` is still loading its code. Loading
 * the CLI takes most of a second; a signal then had Node's default action — a SIGHUP from a
 * reloader sidecar, or a SIGTERM from a rollout, killed the process with the signal's status
 * instead of being honoured (a stop) or ignored (a reload) once the server was up. The
 * launcher holds them from its first line (this module imports nothing); the server takes
 * them over when its own handlers are in place.
 */
const HELD = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
const held: NodeJS.Signals[] = [];
const holders = new Map<NodeJS.Signals, () => void>();

/** Starts holding: from now on these signals are recorded, not acted on. */
export function holdSignals(): void {
  for (const signal of HELD) {
    const hold = (): void => void held.push(signal);
    holders.set(signal, hold);
    process.on(signal, hold);
  }
}

/** Stops holding (call once other handlers are installed) and answers what arrived meanwhile, in order. */
export function heldSignals(): NodeJS.Signals[] {
  for (const [signal, hold] of holders) process.off(signal, hold);
  holders.clear();
  return held.splice(0);
}

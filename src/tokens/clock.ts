let latest = 0;

/**
 * The wall clock, never going back: if the system clock is stepped back (NTP, a VM resumed),
 * this stays at the latest time seen until the clock catches up. Freshness checks of proofs
 * and assertions read it, so that a step back cannot make an old, already-used proof fresh
 * again once the replay cache — which counts on the monotonic clock — has let it go.
 */
export function steadyNow(): number {
  const now = Date.now();
  if (now > latest) latest = now;
  return latest;
}

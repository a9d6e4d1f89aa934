/**
 * The counters under `risk.velocity`, which Gavel computes itself (src/signals/velocity.ts):
 * `<dimension>_<event>_<window>`, e.g. `address_denials_1m`. Known to the checker too, so a
 * misspelt counter is an error at `gavel check` — read, it would be missing on every request,
 * and a forbid reading it would deny them all.
 */
export const VELOCITY_DIMENSIONS = ['client', 'subject', 'address'] as const;
export const VELOCITY_EVENTS = ['token_requests', 'auth_failures', 'denials'] as const;
export const VELOCITY_WINDOWS = ['1m', '1h'] as const;

export const VELOCITY_NAMES: readonly string[] = VELOCITY_DIMENSIONS.flatMap((d) => VELOCITY_EVENTS.flatMap((e) => VELOCITY_WINDOWS.map((w) => `${d}_${e}_${w}`)));

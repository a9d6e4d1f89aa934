import { hash } from 'node:crypto';
import { attemptKey } from '../server/attempt-limit.js';
import { VELOCITY_DIMENSIONS, VELOCITY_EVENTS, VELOCITY_WINDOWS } from '../language/risk-velocity.js';
/**
 * Velocity: how often something happened lately, per client id, subject and address (an IPv6
 * address by its /64, which one host can hold whole: counted by full address, a prober
 * rotating addresses within its /64 was never counted twice), over
 * the last minute and the last hour. In memory, bounded: each dimension keeps at most
 * `maxKeys` keys and forgets the least recently active first.
 */

export const EVENTS = VELOCITY_EVENTS;
export type VelocityEvent = (typeof EVENTS)[number];
export const DIMENSIONS = VELOCITY_DIMENSIONS;

/**
 * A subject's velocity key: `type/id`, the type percent-encoded where it holds `/` or `%`, so
 * that `user/x` + `y` and `user` + `x/y` are two subjects, not one counter that either could
 * raise against the other.
 */
export function subjectKey(type: string, id: string): string {
  return `${/[/%]/.test(type) ? type.replace(/[/%]/g, encodeURIComponent) : type}/${id}`;
}
export type Dimension = (typeof DIMENSIONS)[number];

/** Who an event is about; absent parts are not counted. */
export type VelocityKeys = Partial<Record<Dimension, string | null>>;

/**
 * A window of `buckets` steps of `stepMs`: counts are exact per step, so the window slides
 * in steps (5 s for the minute, 5 min for the hour) and covers between `buckets - 1` and
 * `buckets` steps of the past.
 */
interface WindowShape {
  readonly suffix: string;
  readonly buckets: number;
  readonly stepMs: number;
}

export const WINDOWS: readonly WindowShape[] = [
  { suffix: VELOCITY_WINDOWS[0], buckets: 12, stepMs: 5_000 },
  { suffix: VELOCITY_WINDOWS[1], buckets: 12, stepMs: 300_000 },
];

/** The signal names, `risk.velocity.<dimension>_<event>_<window>`, e.g. `address_denials_1m`. */
export { VELOCITY_NAMES } from '../language/risk-velocity.js';

/** One key's counts: for each event and window, a ring of buckets and the step last written. */
class Counts {
  readonly rings = new Uint32Array(EVENTS.length * WINDOWS.length * 12);
  readonly last = new Float64Array(EVENTS.length * WINDOWS.length).fill(-Infinity);

  add(event: number, nowMs: number): void {
    for (let wi = 0; wi < WINDOWS.length; wi++) {
      const w = WINDOWS[wi];
      const slot = event * WINDOWS.length + wi;
      const step = Math.floor(nowMs / w.stepMs);
      const base = slot * 12;
      const last = this.last[slot];
      if (step - last >= w.buckets) this.rings.fill(0, base, base + w.buckets);
      else for (let s = last + 1; s <= step; s++) this.rings[base + (s % w.buckets)] = 0;
      if (step > last) this.last[slot] = step;
      // A clock stepping back counts into the newest bucket rather than into the past.
      this.rings[base + (Math.max(step, last) % w.buckets)]++;
    }
  }

  count(event: number, window: number, nowMs: number): number {
    const w = WINDOWS[window];
    const slot = event * WINDOWS.length + window;
    const step = Math.floor(nowMs / w.stepMs);
    const last = this.last[slot];
    let sum = 0;
    for (let s = Math.max(step - w.buckets + 1, 0); s <= Math.min(last, step); s++) {
      if (last - s < w.buckets) sum += this.rings[slot * 12 + (s % w.buckets)];
    }
    return sum;
  }
}

/** Each dimension's signals: the name policies read, and the event and window it counts. */
const SIGNALS: readonly (readonly [Dimension, readonly { name: string; event: number; window: number }[]])[] = DIMENSIONS.map((d) => [
  d,
  EVENTS.flatMap((e, event) => WINDOWS.map((w, window) => ({ name: `${d}_${e}_${w.suffix}`, event, window }))),
]);

/**
 * A key as the maps hold it. Subjects and client ids are the caller's strings, up to the
 * body limit: a long one is kept as its SHA-256, so a key costs the same memory whatever was
 * sent (a million-character subject would otherwise be held a million characters long).
 */
const LONG_KEY = 64;
function heldKey(key: string): string {
  return key.length <= LONG_KEY && key.charCodeAt(0) !== 0 ? key : `\u0000${hash('sha256', key, 'base64url')}`;
}

/** An address as counted: IPv6 by its /64 (attemptKey); an IPv4 address, already canonical, as it is, without parsing it on every decision. */
const addressKey = (address: string): string => (address.includes(':') ? attemptKey(address) : address);

/**
 * Time for the windows: the monotonic clock, on the wall clock's scale. A wall clock stepped
 * forward and back would leave a key's newest step in the future, and its counts read as 0
 * until real time caught up.
 */
const monotonicNow = () => performance.timeOrigin + performance.now();

export class Velocity {
  private readonly maps = new Map<Dimension, Map<string, Counts>>(DIMENSIONS.map((d) => [d, new Map()]));

  constructor(
    private readonly maxKeys = 100_000,
    private readonly now: () => number = monotonicNow,
  ) {}

  record(event: VelocityEvent, keys: VelocityKeys): void {
    const e = EVENTS.indexOf(event);
    const now = this.now();
    for (const d of DIMENSIONS) {
      const given = keys[d];
      if (given === undefined || given === null || given === '') continue;
      const key = heldKey(d === 'address' ? addressKey(given) : given);
      const map = this.maps.get(d)!;
      let counts = map.get(key);
      // Delete and set again: Map order is insertion order, so the first key is the least recently active.
      if (counts !== undefined) map.delete(key);
      else {
        counts = new Counts();
        if (map.size >= this.maxKeys) map.delete(map.keys().next().value!);
      }
      map.set(key, counts);
      counts.add(e, now);
    }
  }

  /**
   * The velocity signals for these keys — those in `names`, or all of them when `null`; 0 for
   * what never happened or a key not given.
   */
  read(keys: VelocityKeys, names: ReadonlySet<string> | null = null): Record<string, number> {
    const now = this.now();
    const out: Record<string, number> = {};
    for (const [d, signals] of SIGNALS) {
      const key = keys[d];
      let counts: Counts | undefined | null = null;
      for (const { name, event, window } of signals) {
        if (names !== null && !names.has(name)) continue;
        if (counts === null) counts = key === undefined || key === null ? undefined : this.maps.get(d)!.get(heldKey(d === 'address' ? addressKey(key) : key));
        out[name] = counts === undefined ? 0 : counts.count(event, window, now);
      }
    }
    return out;
  }

  /** Keys held per dimension, for /metrics. */
  get size(): Record<Dimension, number> {
    return { client: this.maps.get('client')!.size, subject: this.maps.get('subject')!.size, address: this.maps.get('address')!.size };
  }
}

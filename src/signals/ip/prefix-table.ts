/**
 * Longest-prefix match by flattening: every prefix of every list becomes a range, and the
 * ranges are cut into non-overlapping pieces, each carrying the id of an interned record
 * of what applies there. A lookup is then one binary search for the last piece starting
 * at or before the address. Because CIDR prefixes either nest or are disjoint, one sweep
 * over the prefixes sorted by (start, enclosing first) with a stack of open prefixes
 * finds every piece.
 */

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** Packed sort keys hold the prefix index in 24 bits; more prefixes take the slower sort (tests lower the bar). */
const PACKED_MAX = 1 << 24;

/** Prefixes in order of base address, then depth (the enclosing prefix first). */
export interface SortedPrefixes {
  /** `order[k]`: the index, in the input, of the k-th prefix. */
  readonly order: Uint32Array;
  /** Base words and depth of the k-th prefix: in order, so a sweep reads them sequentially. */
  readonly base: Uint32Array;
  readonly depth: Uint8Array;
}

/**
 * IPv4 prefixes sorted. Up to 16M prefixes this packs (base, depth, index) into one 64-bit
 * key and lets the engine's native numeric sort do the work, several times faster than a
 * sort with a comparator over a million prefixes; the sorted keys then give the sorted
 * bases and depths without a second, random-order pass over the input.
 */
export function sortV4(base: Uint32Array, depth: Uint8Array, packedMax = PACKED_MAX): SortedPrefixes {
  const n = depth.length;
  if (n >= Math.min(packedMax, PACKED_MAX)) {
    const order = new Uint32Array(n).map((_, i) => i).sort((a, b) => base[a] - base[b] || depth[a] - depth[b]);
    return gather(order, base, depth, 1);
  }
  const keys = new BigUint64Array(n);
  const halves = new Uint32Array(keys.buffer);
  const [hi, lo] = LITTLE_ENDIAN ? [1, 0] : [0, 1];
  for (let i = 0; i < n; i++) {
    halves[2 * i + hi] = base[i];
    halves[2 * i + lo] = ((depth[i] << 24) | i) >>> 0;
  }
  keys.sort();
  const sorted = { order: new Uint32Array(n), base: new Uint32Array(n), depth: new Uint8Array(n) };
  for (let k = 0; k < n; k++) {
    const low = halves[2 * k + lo];
    sorted.order[k] = low & (PACKED_MAX - 1);
    sorted.base[k] = halves[2 * k + hi];
    sorted.depth[k] = low >>> 24;
  }
  return sorted;
}

/** IPv6 prefixes (four words each) sorted by base address, then depth. */
export function sortV6(base: Uint32Array, depth: Uint8Array): SortedPrefixes {
  const cmp = (a: number, b: number): number => {
    for (let w = 0; w < 4; w++) {
      const d = base[4 * a + w] - base[4 * b + w];
      if (d !== 0) return d;
    }
    return depth[a] - depth[b];
  };
  return gather(new Uint32Array(depth.length).map((_, i) => i).sort(cmp), base, depth, 4);
}

function gather(order: Uint32Array, base: Uint32Array, depth: Uint8Array, width: number): SortedPrefixes {
  const sorted = { order, base: new Uint32Array(base.length), depth: new Uint8Array(depth.length) };
  for (let k = 0; k < order.length; k++) {
    const i = order[k];
    for (let w = 0; w < width; w++) sorted.base[k * width + w] = base[i * width + w];
    sorted.depth[k] = depth[i];
  }
  return sorted;
}

/**
 * What the sweep needs to know about one family's prefixes, with keys as number (IPv4) or
 * bigint (IPv6), and records of what applies as opaque values.
 */
export interface SweepInput<K extends number | bigint, R> {
  /** How many prefixes; they are numbered in sorted order (`SortedPrefixes`). */
  count: number;
  start: (k: number) => K;
  /** One past the prefix's last address. */
  end: (k: number) => K;
  spaceStart: K;
  spaceEnd: K;
  /** The record where no prefix applies; its answer is 0. */
  root: R;
  /** The record inside prefix `k`, given the record of the prefixes enclosing it. */
  enter: (parent: R, k: number) => R;
  answerOf: (record: R) => number;
  /** Told when a prefix's range ends, with its record. */
  leave: (record: R) => void;
  /** A piece starts at `start` with this answer (answers of neighbouring pieces differ). */
  emit: (start: K, answer: number) => void;
}

export function sweep<K extends number | bigint, R>(input: SweepInput<K, R>): void {
  const ends: K[] = [];
  const records: R[] = [];
  let cursor = input.spaceStart;
  let last = -1;
  const advance = (to: K): void => {
    if (cursor >= to) return;
    const answer = records.length === 0 ? 0 : input.answerOf(records[records.length - 1]);
    if (answer !== last) input.emit(cursor, answer);
    last = answer;
    cursor = to;
  };
  const close = (): void => {
    advance(ends[ends.length - 1]);
    ends.pop();
    const record = records.pop();
    if (record !== undefined) input.leave(record);
  };
  for (let k = 0; k < input.count; k++) {
    const start = input.start(k);
    // INVARIANT: prefixes nest or are disjoint, so an open prefix that ends after `start`
    // encloses prefix `k` (sorted by start, enclosing first) and stays open under it.
    while (ends.length > 0 && ends[ends.length - 1] <= start) close();
    advance(start);
    records.push(input.enter(records.length === 0 ? input.root : records[records.length - 1], k));
    ends.push(input.end(k));
  }
  while (ends.length > 0) close();
  advance(input.spaceEnd);
}

/** IPv4 pieces, plus the piece index range of each /16 so a lookup searches a few pieces, not all. */
export interface V4Table {
  readonly starts: Uint32Array;
  readonly ids: Uint32Array;
  /** `buckets[h]` = how many pieces start below `h << 16`; 65,537 entries. */
  readonly buckets: Uint32Array;
}

export interface V6Table {
  /** Four words per piece, most significant first. */
  readonly starts: Uint32Array;
  readonly ids: Uint32Array;
}

export function v4Table(starts: Uint32Array, ids: Uint32Array): V4Table {
  const buckets = new Uint32Array(65_537);
  let k = 0;
  for (let h = 0; h <= 65_536; h++) {
    const limit = h * 65_536;
    while (k < starts.length && starts[k] < limit) k++;
    buckets[h] = k;
  }
  return { starts, ids, buckets };
}

/** The record id of the piece holding `x` (an unsigned 32-bit address). */
export function findV4(t: V4Table, x: number): number {
  const h = x >>> 16;
  // The piece holding x starts at or after the last piece starting below bucket h, and
  // no later than the last piece starting below bucket h + 1. Piece 0 starts at 0.
  let lo = t.buckets[h];
  if (lo > 0) lo--;
  let hi = t.buckets[h + 1] - 1;
  const starts = t.starts;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (starts[mid] <= x) lo = mid;
    else hi = mid - 1;
  }
  return t.ids[lo];
}

/** The record id of the piece holding the address `w0:w1:w2:w3`. */
export function findV6(t: V6Table, w0: number, w1: number, w2: number, w3: number): number {
  const s = t.starts;
  let lo = 0;
  let hi = t.ids.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    const k = 4 * mid;
    const a = s[k];
    const b = s[k + 1];
    const c = s[k + 2];
    const atOrBefore = a !== w0 ? a < w0 : b !== w1 ? b < w1 : c !== w2 ? c < w2 : s[k + 3] <= w3;
    if (atOrBefore) lo = mid;
    else hi = mid - 1;
  }
  return t.ids[lo];
}

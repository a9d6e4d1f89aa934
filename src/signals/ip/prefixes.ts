import { IpAddress, type Cidr } from '../../language/eval/ip.js';

/**
 * The prefixes of one list, in typed arrays: a million prefixes take about 10 MB here,
 * against well over 100 MB as `Cidr` objects.
 *
 * Addresses live in Gavel's one 128-bit space, where IPv4 is the IPv4-mapped block
 * `::ffff:0:0/96` (as for `cidr()` in policies). A prefix inside that block is held as
 * IPv4; an IPv6 prefix that contains the whole block (`::/0`, `::/64`, `::ffff:0:0/96`)
 * is held in both families, as `0.0.0.0/0` in IPv4, so that an IPv4 address is found
 * with 32-bit keys alone.
 */
export interface PrefixFamily {
  /** How many prefixes. */
  readonly count: number;
  /** Base address, one word per prefix (IPv4) or four, most significant first (IPv6). */
  readonly base: Uint32Array;
  /**
   * Prefix length in the 128-bit space (an IPv4 `/8` is 104). It orders prefixes that
   * cover the same IPv4 range: `::/64` is shorter than `0.0.0.0/0` (96).
   */
  readonly depth: Uint8Array;
  /** Scored lists: score 0–100 per prefix; empty for plain lists. */
  readonly score: Uint8Array;
  /** Scored lists: index into the list's `labels` per prefix; empty for plain lists. */
  readonly label: Uint32Array;
}

export const IPV4_DEPTH = 96;

/**
 * A typed array that grows as the parser appends. Sized up front from the file's line
 * count where that is known, because every doubling leaves garbage behind, and at a
 * million prefixes that garbage is what decides the peak memory of a load.
 */
export class Growable<T extends Uint8Array | Uint32Array> {
  #data: T;
  length = 0;

  constructor(
    private readonly make: (n: number) => T,
    capacity = 1024,
  ) {
    this.#data = make(Math.max(16, capacity));
  }

  push(x: number): void {
    if (this.length === this.#data.length) {
      const next = this.make(this.#data.length * 2);
      next.set(this.#data);
      this.#data = next;
    }
    this.#data[this.length++] = x;
  }

  /** The values: a view when at most a quarter of the array is unused (no copy), else a trimmed copy. */
  finish(): T {
    const used = this.length >= this.#data.length * 0.75;
    return (used ? this.#data.subarray(0, this.length) : this.#data.slice(0, this.length)) as T;
  }
}

export const words = (capacity?: number): Growable<Uint32Array> => new Growable((n) => new Uint32Array(n), capacity);
export const bytes = (capacity?: number): Growable<Uint8Array> => new Growable((n) => new Uint8Array(n), capacity);

export class FamilyBuilder {
  readonly base: Growable<Uint32Array>;
  readonly depth: Growable<Uint8Array>;
  readonly score: Growable<Uint8Array>;
  readonly label: Growable<Uint32Array>;
  /** Scored lists: the source line of each prefix, for messages about duplicates; dropped once parsed. */
  readonly line: Growable<Uint32Array>;
  count = 0;

  /** `capacity`: how many prefixes to make room for at first (the file's line count for IPv4). */
  constructor(
    private readonly scored: boolean,
    width: number,
    capacity?: number,
  ) {
    this.base = words(capacity === undefined ? undefined : capacity * width);
    this.depth = bytes(capacity);
    this.score = bytes(scored ? capacity : 0);
    this.label = words(scored ? capacity : 0);
    this.line = words(scored ? capacity : 0);
  }

  add(words: readonly number[], depth: number, score: number, label: number, line: number): void {
    for (const w of words) this.base.push(w);
    this.rest(depth, score, label, line);
  }

  /** `add` for one word, without the array: the common case, a million times over. */
  addOne(word: number, depth: number, score: number, label: number, line: number): void {
    this.base.push(word);
    this.rest(depth, score, label, line);
  }

  private rest(depth: number, score: number, label: number, line: number): void {
    this.depth.push(depth);
    if (this.scored) {
      this.score.push(score);
      this.label.push(label);
      this.line.push(line);
    }
    this.count++;
  }

  finish(): PrefixFamily {
    return { count: this.count, base: this.base.finish(), depth: this.depth.finish(), score: this.score.finish(), label: this.label.finish() };
  }

  lines(): Uint32Array {
    return this.line.finish();
  }
}

const MAPPED_BLOCK = new IpAddress([0, 0, 0xffff, 0], true);

/** Collects a list's prefixes into the two families. */
export class PrefixesBuilder {
  readonly v4: FamilyBuilder;
  readonly v6: FamilyBuilder;
  /** Prefixes added (a line), whatever family or families hold them. */
  entries = 0;

  /** `lines`: the file's line count, an upper bound on its prefixes, most of them IPv4 in practice. */
  constructor(scored: boolean, lines?: number) {
    this.v4 = new FamilyBuilder(scored, 1, lines);
    this.v6 = new FamilyBuilder(scored, 4);
  }

  /** An IPv4 prefix: `base`, and its length in the 128-bit space (96 + n). */
  addV4(base: number, depth: number, score: number, label: number, line: number): void {
    this.entries++;
    this.v4.addOne(base, depth, score, label, line);
  }

  add(cidr: Cidr, score: number, label: number, line: number): void {
    const [w0, w1, w2, w3] = cidr.base;
    if (cidr.bits >= IPV4_DEPTH && w0 === 0 && w1 === 0 && w2 === 0xffff) {
      this.addV4(w3, cidr.bits, score, label, line);
      return;
    }
    this.entries++;
    this.v6.add(cidr.base, cidr.bits, score, label, line);
    if (cidr.bits <= IPV4_DEPTH && cidr.contains(MAPPED_BLOCK)) this.v4.add([0], cidr.bits, score, label, line);
  }
}


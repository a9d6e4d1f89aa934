import { parseIp, parseV4, type IpAddress } from '../../language/eval/ip.js';
import type { IpListContent } from './list-format.js';
import { findV4, findV6, sortV4, sortV6, sweep, v4Table, type V4Table, type V6Table } from './prefix-table.js';
import { IPV4_DEPTH, words, type PrefixFamily } from './prefixes.js';

/**
 * What Gavel knows about an address from its lists; frozen and shared between lookups.
 * A type alias, not an interface, so that it is assignable to the policy `Value` record.
 */
export type IpSignals = {
  /** The lowest score among the scored lists holding the address, or `DEFAULT_REPUTATION`. */
  readonly reputation: number;
  /** Names of the lists holding the address, sorted. */
  readonly lists: readonly string[];
  /** Distinct non-empty labels of the matching scored entries (each list's longest match), sorted. */
  readonly labels: readonly string[];
};

/** The reputation of an address no scored list holds: 100, clean. */
export const DEFAULT_REPUTATION = 100;

/** A parsed list under its name. */
export interface LoadedList extends IpListContent {
  readonly name: string;
  /** Where it was read from; informational. */
  readonly path: string;
}

export interface IpReputationStats {
  readonly lists: number;
  /** Prefixes over all lists, as written. */
  readonly prefixes: number;
  /** Non-overlapping address ranges the prefixes flatten into. */
  readonly v4Ranges: number;
  readonly v6Ranges: number;
  /** Distinct answers (`IpSignals` objects) over all ranges. */
  readonly answers: number;
  /** Bytes of the lookup tables (typed arrays). */
  readonly tableBytes: number;
  readonly buildMs: number;
}

/** An `IpReputation` as plain data, for moving it between threads: tables, answers, stats. */
export interface IpReputationParts {
  readonly v4: V4Table;
  readonly v6: V6Table;
  readonly answers: PackedAnswers;
  readonly stats: IpReputationStats;
}

/**
 * Answers as typed arrays and two string tables: a scored list with a label per row has about
 * one distinct answer per row, and hundreds of thousands of objects cloned to another thread
 * and frozen again there cost it as long as the build they came from. Answer `i` holds
 * `reputations[i]`, the lists `names[listIds[k]]` for `k` in `listsAt[i] … listsAt[i + 1]`, and
 * the labels likewise.
 */
export interface PackedAnswers {
  readonly reputations: Uint8Array;
  readonly listsAt: Uint32Array;
  readonly listIds: Uint32Array;
  readonly labelsAt: Uint32Array;
  readonly labelIds: Uint32Array;
  readonly names: readonly string[];
  readonly labels: readonly string[];
}

function packAnswers(answers: readonly IpSignals[]): PackedAnswers {
  const names = new Map<string, number>();
  const labels = new Map<string, number>();
  const intern = (table: Map<string, number>, s: string): number => {
    let id = table.get(s);
    if (id === undefined) table.set(s, (id = table.size));
    return id;
  };
  const listsAt = new Uint32Array(answers.length + 1);
  const labelsAt = new Uint32Array(answers.length + 1);
  for (let i = 0; i < answers.length; i++) {
    listsAt[i + 1] = listsAt[i] + answers[i].lists.length;
    labelsAt[i + 1] = labelsAt[i] + answers[i].labels.length;
  }
  const packed = { reputations: new Uint8Array(answers.length), listsAt, listIds: new Uint32Array(listsAt[answers.length]), labelsAt, labelIds: new Uint32Array(labelsAt[answers.length]) };
  answers.forEach((a, i) => {
    packed.reputations[i] = a.reputation;
    a.lists.forEach((l, k) => (packed.listIds[listsAt[i] + k] = intern(names, l)));
    a.labels.forEach((l, k) => (packed.labelIds[labelsAt[i] + k] = intern(labels, l)));
  });
  return { ...packed, names: [...names.keys()], labels: [...labels.keys()] };
}

/** Answer `i` of packed answers, as `build` makes it: frozen, its arrays too. */
function unpackAnswer(p: PackedAnswers, i: number): IpSignals {
  const lists: string[] = [];
  for (let k = p.listsAt[i]; k < p.listsAt[i + 1]; k++) lists.push(p.names[p.listIds[k]]);
  const labels: string[] = [];
  for (let k = p.labelsAt[i]; k < p.labelsAt[i + 1]; k++) labels.push(p.labels[p.labelIds[k]]);
  return Object.freeze({ reputation: p.reputations[i], lists: Object.freeze(lists), labels: Object.freeze(labels) });
}

const NO_SIGNALS: IpSignals = Object.freeze({ reputation: DEFAULT_REPUTATION, lists: Object.freeze([]), labels: Object.freeze([]) });

/**
 * Every prefix of every list, flattened for longest-prefix match: an address is in every
 * list one of whose prefixes contains it, and each scored list contributes the score and
 * label of its longest prefix containing the address. Immutable once built; a change to
 * any list builds a new one (`LiveIpLists` does that and swaps it in).
 */
export class IpReputation {
  private constructor(
    private readonly v4: V4Table,
    private readonly v6: V6Table,
    /** Answers by id; from `fromParts`, made on first use (a hole until then) from `packed`. */
    private readonly answers: IpSignals[],
    readonly stats: IpReputationStats,
    private readonly packed: PackedAnswers | null = null,
  ) {}

  /** Builds the tables; list names must be distinct (a programming error otherwise). */
  static build(lists: readonly LoadedList[]): IpReputation {
    const started = performance.now();
    const sorted = [...lists].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    sorted.forEach((l, i) => {
      if (i > 0 && sorted[i - 1].name === l.name) throw new RangeError(`two IP lists are named \`${l.name}\``);
    });
    const records = new Records(sorted);
    const v4 = buildV4(sortFamily(sorted, 'v4', records), records);
    const v6 = buildV6(sortFamily(sorted, 'v6', records), records);
    const tableBytes = [v4.starts, v4.ids, v4.buckets, v6.starts, v6.ids].reduce((n, a) => n + a.byteLength, 0);
    const stats: IpReputationStats = Object.freeze({
      lists: sorted.length,
      prefixes: sorted.reduce((n, l) => n + l.entries, 0),
      v4Ranges: v4.ids.length,
      v6Ranges: v6.ids.length,
      answers: records.answers.length,
      tableBytes,
      buildMs: performance.now() - started,
    });
    return new IpReputation(v4, v6, records.answers, stats);
  }

  /** The tables as plain data, nearly all typed arrays (`fromParts` makes them a table again, on another thread). */
  parts(): IpReputationParts {
    const answers = this.packed ?? packAnswers(this.answers);
    return { v4: this.v4, v6: this.v6, answers, stats: this.stats };
  }

  /**
   * A table from `parts()` sent by another thread. Its answers are made when first looked up,
   * each once (frozen, as `build` makes them): making them all at once here would stop the
   * receiving thread for as long as there are distinct answers.
   */
  static fromParts(parts: IpReputationParts): IpReputation {
    const answers = new Array<IpSignals>(parts.answers.reputations.length);
    return new IpReputation(parts.v4, parts.v6, answers, Object.freeze({ ...parts.stats }), parts.answers);
  }

  private answer(id: number): IpSignals {
    return this.answers[id] ?? (this.answers[id] = unpackAnswer(this.packed!, id));
  }

  /** What the lists say about `address` (IPv4, IPv6, IPv4-mapped IPv6); `null` when it is not an address. */
  lookup(address: string): IpSignals | null {
    // Dotted IPv4 first, without the address object: the common case, once per request.
    const v4 = parseV4(address);
    if (v4 !== null) return this.answer(findV4(this.v4, v4));
    const ip = parseIp(address);
    return ip === null ? null : this.lookupIp(ip);
  }

  lookupIp(ip: IpAddress): IpSignals {
    const [w0, w1, w2, w3] = ip.words;
    return this.answer(ip.v4 ? findV4(this.v4, w3) : findV6(this.v6, w0, w1, w2, w3));
  }
}

/** All lists' prefixes of one family, sorted, each with the kind of what it says. */
interface Family {
  base: Uint32Array;
  depth: Uint8Array;
  /** Index into `Records` kinds: one (list, score, label) each. */
  kind: Uint32Array;
}

function sortFamily(lists: readonly LoadedList[], family: 'v4' | 'v6', records: Records): Family {
  const width = family === 'v4' ? 1 : 4;
  const n = lists.reduce((k, l) => k + l[family].count, 0);
  const base = new Uint32Array(n * width);
  const depth = new Uint8Array(n);
  const kind = new Uint32Array(n);
  let at = 0;
  lists.forEach((l, id) => {
    const f: PrefixFamily = l[family];
    base.set(f.base, at * width);
    depth.set(f.depth, at);
    if (l.format === 'scored') for (let i = 0; i < f.count; i++) kind[at + i] = records.kindOf(id, f.score[i], f.label[i]);
    else kind.fill(records.kindOf(id, -1, -1), at, at + f.count);
    at += f.count;
  });
  const sorted = family === 'v4' ? sortV4(base, depth) : sortV6(base, depth);
  const sortedKind = new Uint32Array(n);
  for (let k = 0; k < n; k++) sortedKind[k] = kind[sorted.order[k]];
  return { base: sorted.base, depth: sorted.depth, kind: sortedKind };
}

/**
 * A record is what applies inside a prefix: (list, score, label) triples sorted by list,
 * where each list holds its innermost (longest) prefix's score and label.
 */
interface Rec {
  readonly triples: readonly number[];
  readonly answer: number;
  /**
   * Records already made inside this one, by kind: sibling prefixes of one kind share one.
   * Dropped when the prefix closes, so only the open prefixes' caches (and the root's) live.
   */
  steps: Map<number, Rec> | null;
}

/**
 * Makes records and turns them into answers, interned by what a caller sees, so that equal
 * answers are one frozen object. Answers are found by a numeric hash of their content, not
 * a string key: a million prefixes would otherwise build a million key strings.
 */
class Records {
  readonly answers: IpSignals[] = [NO_SIGNALS];
  readonly root: Rec = { triples: [], answer: 0, steps: null };
  /** Per answer: its list ids and label ids (sorted), to tell hash collisions apart. */
  readonly #answerLists: number[][] = [[]];
  readonly #answerLabels: number[][] = [[]];
  readonly #byHash = new Map<number, number[]>();
  /** Kinds of prefix: (list, score, global label) triples, interned. */
  readonly #kinds: number[] = [];
  readonly #kindIds = new Map<number, number>();
  readonly #names: readonly string[];
  readonly #labels: string[] = [];
  readonly #labelMaps: Int32Array[];
  readonly #scratch: number[] = [];

  constructor(lists: readonly LoadedList[]) {
    this.#names = lists.map((l) => l.name);
    const global = new Map<string, number>();
    this.#labelMaps = lists.map((l) =>
      Int32Array.from(l.labels, (label) => {
        if (label === '') return -1;
        let id = global.get(label);
        if (id === undefined) {
          id = this.#labels.push(label) - 1;
          global.set(label, id);
        }
        return id;
      }),
    );
    this.#byHash.set(this.#hash(DEFAULT_REPUTATION, [], []), [0]);
  }

  /** The kind of a prefix of `list` with this score (-1: plain list) and local label. */
  kindOf(list: number, score: number, localLabel: number): number {
    const label = localLabel < 0 ? -1 : this.#labelMaps[list][localLabel];
    // INVARIANT: fewer than 2^20 lists and 2^26 labels, so the key is exact.
    const key = (list * 128 + score + 1) * 67_108_864 + label + 1;
    let id = this.#kindIds.get(key);
    if (id === undefined) {
      id = this.#kinds.length / 3;
      this.#kinds.push(list, score, label);
      this.#kindIds.set(key, id);
    }
    return id;
  }

  /** The record inside a prefix of `kind` whose enclosing prefixes give record `parent`. */
  enter(parent: Rec, kind: number): Rec {
    let rec = parent.steps?.get(kind);
    if (rec === undefined) {
      const triples = this.#inside(parent.triples, kind);
      rec = { triples, answer: this.#answer(triples), steps: null };
      (parent.steps ??= new Map()).set(kind, rec);
    }
    return rec;
  }

  #inside(parent: readonly number[], kind: number): number[] {
    const [list, score, label] = [this.#kinds[3 * kind], this.#kinds[3 * kind + 1], this.#kinds[3 * kind + 2]];
    const out: number[] = [];
    let k = 0;
    while (k < parent.length && parent[k] < list) out.push(parent[k++], parent[k++], parent[k++]);
    out.push(list, score, label);
    if (k < parent.length && parent[k] === list) k += 3;
    while (k < parent.length) out.push(parent[k++]);
    return out;
  }

  #answer(t: readonly number[]): number {
    let reputation = DEFAULT_REPUTATION;
    const labels = this.#scratch;
    labels.length = 0;
    for (let k = 0; k < t.length; k += 3) {
      if (t[k + 1] >= 0 && t[k + 1] < reputation) reputation = t[k + 1];
      if (t[k + 2] >= 0 && !labels.includes(t[k + 2])) labels.push(t[k + 2]);
    }
    if (labels.length > 1) labels.sort((a, b) => a - b);
    const hash = this.#hash(reputation, t, labels);
    const bucket = this.#byHash.get(hash);
    for (const id of bucket ?? []) if (this.#same(id, reputation, t, labels)) return id;
    const id = this.answers.length;
    const lists: number[] = [];
    for (let k = 0; k < t.length; k += 3) lists.push(t[k]);
    this.#answerLists.push(lists);
    this.#answerLabels.push([...labels]);
    if (bucket === undefined) this.#byHash.set(hash, [id]);
    else bucket.push(id);
    const texts = labels.map((l) => this.#labels[l]).sort();
    this.answers.push(Object.freeze({ reputation, lists: Object.freeze(lists.map((l) => this.#names[l])), labels: Object.freeze(texts) }));
    return id;
  }

  /** A hash of (reputation, the triples' lists, labels); `triples` may also be plain list ids (stride 3 either way). */
  #hash(reputation: number, triples: readonly number[], labels: readonly number[]): number {
    let h = Math.imul(reputation + 1, 0x9e3779b1);
    for (let k = 0; k < triples.length; k += 3) h = Math.imul(h ^ (triples[k] + 1), 0x85ebca6b) ^ (h >>> 13);
    h = Math.imul(h ^ 0x2545f491, 0xc2b2ae35);
    for (const l of labels) h = Math.imul(h ^ (l + 1), 0x85ebca6b) ^ (h >>> 13);
    return h >>> 0;
  }

  #same(id: number, reputation: number, t: readonly number[], labels: readonly number[]): boolean {
    const lists = this.#answerLists[id];
    const known = this.#answerLabels[id];
    if (this.answers[id].reputation !== reputation || lists.length * 3 !== t.length || known.length !== labels.length) return false;
    for (let k = 0; k < lists.length; k++) if (lists[k] !== t[3 * k]) return false;
    for (let k = 0; k < known.length; k++) if (known[k] !== labels[k]) return false;
    return true;
  }
}

function buildV4(f: Family, records: Records): V4Table {
  const { base, depth, kind } = f;
  // Ranges: about one per prefix, as adjacent ones with one answer merge; at most two.
  const starts = words(kind.length + (kind.length >> 2) + 1);
  const ids = words(kind.length + (kind.length >> 2) + 1);
  sweep<number, Rec>({
    count: kind.length,
    start: (k) => base[k],
    end: (k) => base[k] + V4_SIZE[depth[k]],
    spaceStart: 0,
    spaceEnd: 2 ** 32,
    root: records.root,
    enter: (parent, k) => records.enter(parent, kind[k]),
    answerOf: (r) => r.answer,
    leave: forget,
    emit: (start, id) => {
      starts.push(start);
      ids.push(id);
    },
  });
  return v4Table(starts.finish(), ids.finish());
}

function buildV6(f: Family, records: Records): V6Table {
  const { base: b, depth, kind } = f;
  const starts = words(4 * (kind.length + 1));
  const ids = words(kind.length + 1);
  const keys = Array.from(kind, (_, k) => (BigInt(b[4 * k]) << 96n) | (BigInt(b[4 * k + 1]) << 64n) | (BigInt(b[4 * k + 2]) << 32n) | BigInt(b[4 * k + 3]));
  sweep<bigint, Rec>({
    count: kind.length,
    start: (k) => keys[k],
    end: (k) => keys[k] + (1n << BigInt(128 - depth[k])),
    spaceStart: 0n,
    spaceEnd: 1n << 128n,
    root: records.root,
    enter: (parent, k) => records.enter(parent, kind[k]),
    answerOf: (r) => r.answer,
    leave: forget,
    emit: (start, id) => {
      for (const shift of [96n, 64n, 32n, 0n]) starts.push(Number((start >> shift) & 0xffffffffn));
      ids.push(id);
    },
  });
  return { starts: starts.finish(), ids: ids.finish() };
}

/** Addresses in an IPv4 prefix by depth; one that encloses all of IPv4 (depth up to 96) covers it whole. */
const V4_SIZE = Float64Array.from({ length: 129 }, (_, depth) => 2 ** (128 - Math.max(depth, IPV4_DEPTH)));

/** A closed prefix's cache of records inside it is no longer useful. */
function forget(r: Rec): void {
  r.steps = null;
}

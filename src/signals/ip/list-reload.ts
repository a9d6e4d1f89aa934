import { IpReputation, type IpReputationParts, type LoadedList } from './ip-reputation.js';
import type { ResolvedIpListConfig } from './list-config.js';
import type { IpListLimits } from './list-format.js';
import { parseListFile, readListFile } from './load-list.js';

/**
 * A list as held between reloads: parsed, or as a worker sends it — its labels as one text —
 * which the next worker splits again. A scored list may have a label per row; the thread
 * answering requests then never clones, splits or holds them one by one (hundreds of
 * thousands of strings took it 100 ms each way).
 */
export type HeldList = LoadedList | WireList;

export interface WireList extends Omit<LoadedList, 'labels'> {
  /** The labels, each ending in a newline (a label is part of one line of its file). */
  readonly labelText: string;
}

export function toWire(list: LoadedList): WireList {
  const { labels, ...rest } = list;
  return { ...rest, labelText: labels.map((l) => `${l}\n`).join('') };
}

export function fromWire(list: HeldList): LoadedList {
  if (!('labelText' in list)) return list;
  const { labelText, ...rest } = list;
  return { ...rest, labels: labelText === '' ? [] : labelText.slice(0, -1).split('\n') };
}

/** What a reload starts from: every list as served now, and which of them to read again. */
export interface ListReloadInput {
  readonly slots: readonly { readonly config: ResolvedIpListConfig; readonly list: HeldList; readonly digest: string }[];
  readonly names: readonly string[];
  readonly limits: IpListLimits;
}

/** What became of one list read again. */
export type ListOutcome =
  | { readonly name: string; readonly kind: 'unchanged' }
  | { readonly name: string; readonly kind: 'rejected'; readonly errors: string[] }
  | { readonly name: string; readonly kind: 'applied'; readonly list: HeldList; readonly digest: string };

export interface ListReloadResult {
  readonly outcomes: ListOutcome[];
  /** The tables built from every list's new version; `null` when no list changed. */
  readonly reputation: IpReputation | null;
  /** Set when the reload itself failed (its worker), not a file: every list it was to read is rejected. */
  readonly failed?: true;
}

/**
 * Reads the named lists again, parses those whose bytes changed, and builds the tables from
 * every list's version after it. The work a reload does between reading the files and the
 * swap: on a server it runs in a worker thread (list-reload-worker.ts), since a
 * million-prefix list takes a second or two to parse and build.
 */
export async function reloadLists(input: ListReloadInput): Promise<ListReloadResult> {
  const outcomes: ListOutcome[] = [];
  const lists = new Map<string, HeldList>(input.slots.map((s) => [s.config.name, s.list]));
  for (const slot of input.slots.filter((s) => input.names.includes(s.config.name))) {
    const name = slot.config.name;
    const file = await readListFile(slot.config.path, input.limits);
    if (!('error' in file) && file.digest === slot.digest) {
      outcomes.push({ name, kind: 'unchanged' });
      continue;
    }
    const loaded = 'error' in file ? { errors: [file.error] } : parseListFile(slot.config, file, input.limits);
    if ('errors' in loaded) {
      outcomes.push({ name, kind: 'rejected', errors: loaded.errors });
      continue;
    }
    if (loaded.list.entries === 0 && slot.list.entries > 0) {
      // A file emptied in place is most often one being written (`> file`, then the rest): an
      // empty block list lets every address it held through. Kept, and said, until it has entries.
      outcomes.push({ name, kind: 'rejected', errors: [`${slot.config.path}: the list is now empty; taken for a file still being written, its previous version (${slot.list.entries} prefixes) keeps serving (to drop a list, remove it from the configuration)`] });
      continue;
    }
    lists.set(name, loaded.list);
    outcomes.push({ name, kind: 'applied', list: loaded.list, digest: loaded.digest });
  }
  const changed = outcomes.some((o) => o.kind === 'applied');
  return { outcomes, reputation: changed ? IpReputation.build(input.slots.map((s) => fromWire(lists.get(s.config.name) ?? s.list))) : null };
}

/** A `ListReloadResult` as a worker sends it: the tables as plain parts. */
export interface ListReloadMessage {
  readonly outcomes: ListOutcome[];
  readonly tables: IpReputationParts | null;
}

/** The buffers of every typed array in a reload's result: moved to the other thread, not copied. */
export function transferables(message: ListReloadMessage): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  const add = (a: ArrayBufferView) => {
    if (a.buffer instanceof ArrayBuffer) buffers.add(a.buffer);
  };
  for (const o of message.outcomes) {
    if (o.kind !== 'applied') continue;
    for (const f of [o.list.v4, o.list.v6]) [f.base, f.depth, f.score, f.label].forEach(add);
  }
  if (message.tables !== null) {
    const { v4, v6, answers } = message.tables;
    [v4.starts, v4.ids, v4.buckets, v6.starts, v6.ids, answers.reputations, answers.listsAt, answers.listIds, answers.labelsAt, answers.labelIds].forEach(add);
  }
  return [...buffers];
}

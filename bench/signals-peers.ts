/**
 * The baselines: the same lists in a well-known npm CIDR library, searched the way one
 * would without an index — a linear scan over every parsed range, keeping each list's
 * longest match — so that they give the same answers as Gavel (checked by the benchmark).
 *
 * - ipaddr.js: `ipaddr.parseCIDR(cidr)` per entry; per lookup `ipaddr.process(address)`
 *   (which turns IPv4-mapped IPv6 into IPv4) and `addr.match(range)` on ranges of its kind.
 * - netmask: `new Netmask(cidr)` per IPv4 entry; per lookup `block.contains(address)`, which
 *   parses the address string on every call, as its API is meant to be used. IPv4 only:
 *   it runs the dotted IPv4 addresses of the mix.
 */
import { readFileSync } from 'node:fs';
import ipaddr from 'ipaddr.js';
import { Netmask } from 'netmask';

/** A list entry as both peers read it. */
export interface PeerEntry {
  cidr: string;
  /** 0: the plain list, 1: the scored one. */
  list: number;
  /** -1 in the plain list. */
  score: number;
  label: string;
}

export const LIST_NAMES = ['drop', 'reputation'] as const;

/** Reads the two files the simple way (comments, header); the generated files are well-formed. */
export function readEntries(plainPath: string, scoredPath: string): PeerEntry[] {
  const out: PeerEntry[] = [];
  for (const line of readFileSync(plainPath, 'utf8').split('\n')) {
    const cidr = line.replace(/[#;].*$/, '').trim();
    if (cidr !== '') out.push({ cidr, list: 0, score: -1, label: '' });
  }
  for (const line of readFileSync(scoredPath, 'utf8').split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#') || t === 'cidr,score,label') continue;
    const [cidr = '', score = '', label = ''] = t.split(',');
    out.push({ cidr, list: 1, score: Number(score), label });
  }
  return out;
}

/** The answer as a string, the same for Gavel and the peers: `reputation|lists|labels`. */
export function answerKey(reputation: number, lists: readonly string[], labels: readonly string[]): string {
  return `${reputation}|${lists.join(',')}|${labels.join(',')}`;
}

/** Each list's longest match, turned into an answer key. */
function answer(best: readonly (PeerEntry | null)[]): string {
  let reputation = 100;
  const lists: string[] = [];
  const labels = new Set<string>();
  best.forEach((e, list) => {
    if (e === null) return;
    lists.push(LIST_NAMES[list] ?? '?');
    if (e.score < 0) return;
    reputation = Math.min(reputation, e.score);
    if (e.label !== '') labels.add(e.label);
  });
  return answerKey(reputation, lists, [...labels].sort());
}

export interface Peer {
  /** Whether it can look this address up (netmask: dotted IPv4 only). */
  accepts(address: string): boolean;
  lookup(address: string): string;
}

type IpaddrRange = [ipaddr.IPv4 | ipaddr.IPv6, number];

export function ipaddrPeer(entries: readonly PeerEntry[]): Peer {
  const ranges: { range: IpaddrRange; kind: 'ipv4' | 'ipv6'; entry: PeerEntry }[] = entries.map((entry) => {
    const range = ipaddr.parseCIDR(entry.cidr);
    return { range, kind: range[0].kind(), entry };
  });
  return {
    accepts: () => true,
    lookup(address) {
      const addr = ipaddr.process(address);
      const kind = addr.kind();
      const best: (PeerEntry | null)[] = [null, null];
      const bits = [-1, -1];
      for (const r of ranges) {
        const list = r.entry.list;
        if (r.kind === kind && r.range[1] > (bits[list] ?? -1) && addr.match(r.range)) {
          best[list] = r.entry;
          bits[list] = r.range[1];
        }
      }
      return answer(best);
    },
  };
}

export function netmaskPeer(entries: readonly PeerEntry[]): Peer {
  const blocks = entries.filter((e) => !e.cidr.includes(':')).map((entry) => ({ block: new Netmask(entry.cidr), entry }));
  return {
    accepts: (address) => !address.includes(':'),
    lookup(address) {
      const best: (PeerEntry | null)[] = [null, null];
      const bits = [-1, -1];
      for (const b of blocks) {
        const list = b.entry.list;
        if (b.block.bitmask > (bits[list] ?? -1) && b.block.contains(address)) {
          best[list] = b.entry;
          bits[list] = b.block.bitmask;
        }
      }
      return answer(best);
    },
  };
}

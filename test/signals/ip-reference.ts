import { parseCidr, parseIp, type Cidr } from '../../src/language/eval/ip.js';
import { DEFAULT_REPUTATION, IpReputation, type IpSignals } from '../../src/signals/ip/ip-reputation.js';
import { formatDiagnostic } from '../../src/language/diagnostic.js';
import { parseIpList, type IpListFormat } from '../../src/signals/ip/list-format.js';

/** A list as tests write it: its file text. */
export interface TestList {
  name: string;
  format: IpListFormat;
  text: string;
}

/** Parses and builds, failing the test on any diagnostic. */
export function buildLists(lists: readonly TestList[]): IpReputation {
  return IpReputation.build(
    lists.map((l) => {
      const parsed = parseIpList(l.text, `${l.name}.txt`, l.format);
      if (parsed.content === null) throw new Error(parsed.diagnostics.map(formatDiagnostic).join('\n'));
      return { ...parsed.content, name: l.name, path: `${l.name}.txt` };
    }),
  );
}

export interface ReferenceEntry {
  cidr: string;
  score?: number;
  label?: string;
}

/**
 * The meaning of the lists, as plainly as it can be written: scan every entry of every list
 * with `Cidr.contains` (the policy language's own test), keep each scored list's longest
 * match. The flattened tables must agree with this on every address.
 */
export function referenceLookup(lists: readonly { name: string; scored: boolean; entries: readonly ReferenceEntry[] }[], address: string): IpSignals | null {
  const ip = parseIp(address);
  if (ip === null) return null;
  let reputation = DEFAULT_REPUTATION;
  const names: string[] = [];
  const labels = new Set<string>();
  for (const list of lists) {
    let best: { cidr: Cidr; entry: ReferenceEntry } | null = null;
    for (const entry of list.entries) {
      const cidr = parseCidr(entry.cidr);
      if ('error' in cidr) throw new Error(cidr.error);
      if (cidr.contains(ip) && (best === null || cidr.bits > best.cidr.bits)) best = { cidr, entry };
    }
    if (best === null) continue;
    names.push(list.name);
    if (!list.scored) continue;
    reputation = Math.min(reputation, best.entry.score ?? DEFAULT_REPUTATION);
    if (best.entry.label !== undefined && best.entry.label !== '') labels.add(best.entry.label);
  }
  return { reputation, lists: names.sort(), labels: [...labels].sort() };
}

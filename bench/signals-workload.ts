/**
 * The IP reputation benchmark's workload: two list files with N prefixes between them, as
 * operators have them, and a seeded mix of addresses to look up.
 *
 * - `drop.netset` (plain, 60% of N): a Spamhaus DROP / FireHOL-style list, `;` comments on
 *   every fifth line;
 * - `reputation.csv` (scored, 40% of N): `cidr,score,label` with a header, labels from a
 *   small set of categories (some empty), scores 0–100.
 *
 * In both, 95% of prefixes are IPv4 (/32 45%, /24 30%, /20–/23 15%, /16–/19 8%, /12–/15 2%)
 * and 5% IPv6 in 2000::/3 (/32, /48, /56, /64, /128). Random bases, so prefixes overlap and
 * nest across and within the lists as they do in real feeds. A scored list never repeats a
 * prefix (that is an error there); the plain list may.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { prng } from './workload.js';

export const SIGNAL_SIZES = [10_000, 100_000, 1_000_000] as const;
export const SIGNAL_SEED = 0x1bad5eed;
export const ADDRESS_COUNT = 10_000;
export const PLAIN_SHARE = 0.6;
export const LABELS = ['scanner', 'botnet', 'tor-exit', 'spam', 'bruteforce', 'proxy', 'hosting', ''] as const;

export interface Prefix {
  v4: boolean;
  /** IPv4: one word; IPv6: four, most significant first. */
  words: number[];
  bits: number;
}

export interface SignalWorkload {
  dir: string;
  plainPath: string;
  scoredPath: string;
  /** Addresses to look up, in order. */
  addresses: string[];
  describe: string;
}

function v4Bits(r: number): number {
  if (r < 0.45) return 32;
  if (r < 0.75) return 24;
  if (r < 0.9) return 20 + Math.floor(((r - 0.75) / 0.15) * 4);
  if (r < 0.98) return 16 + Math.floor(((r - 0.9) / 0.08) * 4);
  return 12 + Math.floor(((r - 0.98) / 0.02) * 4);
}

const V6_BITS = [32, 48, 48, 48, 56, 64, 64, 64, 64, 128];

function maskWord(w: number, left: number): number {
  if (left >= 32) return w >>> 0;
  if (left <= 0) return 0;
  return (w & (0xffffffff << (32 - left))) >>> 0;
}

function drawPrefix(random: () => number): Prefix {
  const word = () => Math.floor(random() * 2 ** 32) >>> 0;
  if (random() < 0.95) {
    const bits = v4Bits(random());
    return { v4: true, words: [maskWord(word(), bits)], bits };
  }
  const bits = V6_BITS[Math.floor(random() * V6_BITS.length)] ?? 64;
  // 2000::/3, global unicast.
  const raw = [(0x20000000 | (word() & 0x1fffffff)) >>> 0, word(), word(), word()];
  return { v4: false, words: raw.map((w, i) => maskWord(w, bits - 32 * i)), bits };
}

export function formatV4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function formatV6(words: readonly number[]): string {
  return words.flatMap((w) => [(w >>> 16).toString(16), (w & 0xffff).toString(16)]).join(':');
}

export function formatPrefix(p: Prefix): string {
  return p.v4 ? `${formatV4(p.words[0] ?? 0)}/${p.bits}` : `${formatV6(p.words)}/${p.bits}`;
}

/** Writes the two list files for N prefixes into `dir` and draws the address mix. */
export function writeWorkload(n: number, dir: string): SignalWorkload {
  const random = prng(SIGNAL_SEED ^ n);
  const plainCount = Math.round(n * PLAIN_SHARE);
  const all: Prefix[] = [];

  const plain: string[] = [`; Spamhaus-DROP-style list, ${plainCount} entries (generated, seed 0x${SIGNAL_SEED.toString(16)})`];
  for (let i = 0; i < plainCount; i++) {
    const p = drawPrefix(random);
    all.push(p);
    plain.push(i % 5 === 0 ? `${formatPrefix(p)} ; SBL${100_000 + i}` : formatPrefix(p));
  }
  const scored: string[] = ['# generated reputation feed', 'cidr,score,label'];
  const seen = new Set<string>();
  while (scored.length - 2 < n - plainCount) {
    const p = drawPrefix(random);
    const text = formatPrefix(p);
    if (seen.has(text)) continue;
    seen.add(text);
    all.push(p);
    const score = Math.floor(random() * 101);
    const label = LABELS[Math.floor(random() * LABELS.length)] ?? '';
    scored.push(`${text},${score},${label}`);
  }
  const plainPath = join(dir, 'drop.netset');
  const scoredPath = join(dir, 'reputation.csv');
  writeFileSync(plainPath, `${plain.join('\n')}\n`);
  writeFileSync(scoredPath, `${scored.join('\n')}\n`);

  const v4s = all.filter((p) => p.v4);
  const v6s = all.filter((p) => !p.v4);
  const pick = <T>(xs: readonly T[]): T => {
    const x = xs[Math.floor(random() * xs.length)];
    if (x === undefined) throw new RangeError('empty');
    return x;
  };
  const word = () => Math.floor(random() * 2 ** 32) >>> 0;
  /** A random address inside `p`: its fixed bits, random host bits. */
  const inside = (p: Prefix): number[] => p.words.map((w, i) => (w | (word() & ~maskWord(0xffffffff, p.bits - 32 * i))) >>> 0);
  const addresses: string[] = [];
  const counts = { insideV4: 0, randomV4: 0, v6: 0, mapped: 0 };
  for (let i = 0; i < ADDRESS_COUNT; i++) {
    const r = random();
    if (r < 0.5) {
      addresses.push(formatV4(inside(pick(v4s))[0] ?? 0));
      counts.insideV4++;
    } else if (r < 0.85) {
      addresses.push(formatV4(word()));
      counts.randomV4++;
    } else if (r < 0.95) {
      const words = random() < 0.5 && v6s.length > 0 ? inside(pick(v6s)) : [(0x20000000 | (word() & 0x1fffffff)) >>> 0, word(), word(), word()];
      addresses.push(formatV6(words));
      counts.v6++;
    } else {
      addresses.push(`::ffff:${formatV4(inside(pick(v4s))[0] ?? 0)}`);
      counts.mapped++;
    }
  }
  const describe =
    `${plainCount.toLocaleString('en-US')} plain + ${(n - plainCount).toLocaleString('en-US')} scored prefixes (${v4s.length.toLocaleString('en-US')} IPv4, ${v6s.length.toLocaleString('en-US')} IPv6); ` +
    `${ADDRESS_COUNT.toLocaleString('en-US')} addresses: ${counts.insideV4} IPv4 inside a listed prefix, ${counts.randomV4} random IPv4, ${counts.v6} IPv6 (half inside), ${counts.mapped} IPv4-mapped IPv6 inside`;
  return { dir, plainPath, scoredPath, addresses, describe };
}

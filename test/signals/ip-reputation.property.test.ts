import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { IpAddress } from '../../src/language/eval/ip.js';
import { buildLists, referenceLookup, type ReferenceEntry } from './ip-reference.js';

/**
 * The flattened tables against a linear scan with the policy language's `Cidr.contains`,
 * on generated lists whose prefixes collide often: bases come from a few areas (and the
 * space's two ends), lengths from the whole range, so prefixes nest, repeat and touch.
 * Addresses are drawn at and around every prefix's first and last address.
 */
type Words = [number, number, number, number];

const v4Base = fc.oneof(
  fc.constantFrom(0, 0xffffffff, 0x0a000000, 0x0a010200, 0x7fffffff, 0x80000000),
  fc.integer({ min: 0x0a000000, max: 0x0a0fffff }),
  fc.integer({ min: 0, max: 0xffffffff }),
);
const v6Word = fc.oneof(fc.constantFrom(0, 0xffff, 0x20010db8, 0xffffffff, 0x80000000), fc.integer({ min: 0, max: 0xffffffff }));
const v6Base = fc.oneof(
  fc.tuple(v6Word, v6Word, v6Word, v6Word),
  fc.tuple(fc.constant(0x20010db8), fc.constantFrom(0, 1), v6Word, v6Word),
  // IPv4-mapped, so that IPv6 syntax meets IPv4 prefixes.
  fc.tuple(fc.constant(0), fc.constant(0), fc.constant(0xffff), v4Base),
);

interface Prefix {
  words: Words;
  /** In the 128-bit space. */
  bits: number;
  v4: boolean;
}

function mask(words: Words, bits: number): Words {
  return words.map((w, i) => {
    const left = bits - 32 * i;
    if (left >= 32) return w;
    if (left <= 0) return 0;
    return (w & (0xffffffff << (32 - left))) >>> 0;
  }) as Words;
}

const prefix: fc.Arbitrary<Prefix> = fc.oneof(
  fc.tuple(v4Base, fc.integer({ min: 0, max: 32 })).map(([b, len]) => ({ words: mask([0, 0, 0xffff, b], 96 + len), bits: 96 + len, v4: true })),
  fc.tuple(v6Base, fc.integer({ min: 0, max: 128 })).map(([w, len]) => ({ words: mask(w, len), bits: len, v4: false })),
  fc.tuple(v6Base, fc.constantFrom(0, 1, 64, 95, 96, 97, 127, 128)).map(([w, len]) => ({ words: mask(w, len), bits: len, v4: false })),
);

function text(p: Prefix): string {
  return p.v4 ? `${new IpAddress(p.words, true).toString()}/${p.bits - 96}` : `${new IpAddress(p.words, false).toString()}/${p.bits}`;
}

/** The prefix's first and last address and their neighbours, as text both ways for mapped ones. */
function probes(p: Prefix): string[] {
  const first = p.words;
  const last = p.words.map((w, i) => {
    const left = p.bits - 32 * i;
    if (left >= 32) return w;
    if (left <= 0) return 0xffffffff;
    return (w | (0xffffffff >>> left)) >>> 0;
  }) as Words;
  const step = (w: Words, d: 1 | -1): Words | null => {
    const out = [...w] as Words;
    for (let i = 3; i >= 0; i--) {
      const x = out[i] + d;
      if (x >= 0 && x <= 0xffffffff) {
        out[i] = x;
        return out;
      }
      out[i] = d === 1 ? 0 : 0xffffffff;
    }
    return null;
  };
  const all = [first, last, step(first, -1), step(last, 1)].filter((w): w is Words => w !== null);
  return all.flatMap((w) => {
    const mapped = w[0] === 0 && w[1] === 0 && w[2] === 0xffff;
    return mapped ? [new IpAddress(w, true).toString(), new IpAddress(w, false).toString()] : [new IpAddress(w, false).toString()];
  });
}

const list = fc.record({
  scored: fc.boolean(),
  entries: fc.array(
    fc.record({ prefix, score: fc.constantFrom(0, 1, 50, 99, 100), label: fc.constantFrom('', 'a', 'b', 'c') }),
    { maxLength: 25 },
  ),
});

const scenario = fc.record({
  lists: fc.array(list, { minLength: 1, maxLength: 4 }),
  extra: fc.array(fc.oneof(v4Base.map((b) => new IpAddress([0, 0, 0xffff, b], true).toString()), v6Base.map((w) => new IpAddress(w, false).toString())), { maxLength: 10 }),
});

describe('flattened tables agree with a linear scan', () => {
  test('on generated lists and addresses (IPv4, IPv6, mixed)', () => {
    fc.assert(
      fc.property(scenario, ({ lists, extra }) => {
        const named = lists.map((l, i) => {
          // A scored list may not give one prefix two scores; keep the first of each.
          const seen = new Set<string>();
          const entries: ReferenceEntry[] = [];
          for (const e of l.entries) {
            const key = `${e.prefix.words.join(':')}/${e.prefix.bits}`;
            if (l.scored && seen.has(key)) continue;
            seen.add(key);
            entries.push({ cidr: text(e.prefix), score: e.score, label: e.label });
          }
          return { name: `list-${i}`, scored: l.scored, entries };
        });
        const rep = buildLists(
          named.map((l) => ({
            name: l.name,
            format: l.scored ? 'scored' : 'plain',
            text: l.entries.map((e) => (l.scored ? `${e.cidr},${e.score},${e.label}` : e.cidr)).join('\n'),
          })),
        );
        const addresses = [...lists.flatMap((l) => l.entries.flatMap((e) => probes(e.prefix))), ...extra, '0.0.0.0', '255.255.255.255', '::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'];
        for (const address of addresses) expect(rep.lookup(address), address).toEqual(referenceLookup(named, address));
      }),
      { numRuns: 300 },
    );
  });
});

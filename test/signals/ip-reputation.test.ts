import { describe, expect, test } from 'vitest';
import { parseIp } from '../../src/language/eval/ip.js';
import { IpReputation } from '../../src/signals/ip/ip-reputation.js';
import { sortV4 } from '../../src/signals/ip/prefix-table.js';
import { buildLists, type TestList } from './ip-reference.js';

const plain = (name: string, ...lines: string[]): TestList => ({ name, format: 'plain', text: lines.join('\n') });
const scored = (name: string, ...rows: string[]): TestList => ({ name, format: 'scored', text: rows.join('\n') });
const clean = { reputation: 100, lists: [], labels: [] };

describe('prefix edges', () => {
  test.each([
    { note: '/0 holds the first and the last IPv4 address', lists: [plain('all', '0.0.0.0/0')], address: '255.255.255.255', want: { reputation: 100, lists: ['all'], labels: [] } },
    { note: '/0 holds 0.0.0.0', lists: [plain('all', '0.0.0.0/0')], address: '0.0.0.0', want: { reputation: 100, lists: ['all'], labels: [] } },
    { note: 'IPv4 /0 is not IPv6', lists: [plain('all', '0.0.0.0/0')], address: '::1', want: clean },
    { note: '/32 at the very end', lists: [plain('end', '255.255.255.255/32')], address: '255.255.255.255', want: { reputation: 100, lists: ['end'], labels: [] } },
    { note: '/32 at the very end, one before', lists: [plain('end', '255.255.255.255')], address: '255.255.255.254', want: clean },
    { note: '/32 at the very start', lists: [plain('start', '0.0.0.0/32')], address: '0.0.0.0', want: { reputation: 100, lists: ['start'], labels: [] } },
    { note: '/32 at the very start, one after', lists: [plain('start', '0.0.0.0')], address: '0.0.0.1', want: clean },
    { note: '/1 upper half', lists: [plain('hi', '128.0.0.0/1')], address: '128.0.0.0', want: { reputation: 100, lists: ['hi'], labels: [] } },
    { note: '/1 upper half, not the lower', lists: [plain('hi', '128.0.0.0/1')], address: '127.255.255.255', want: clean },
    { note: '/1 lower half', lists: [plain('lo', '0.0.0.0/1')], address: '127.255.255.255', want: { reputation: 100, lists: ['lo'], labels: [] } },
    { note: 'IPv6 ::/0 holds IPv6', lists: [plain('all6', '::/0')], address: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', want: { reputation: 100, lists: ['all6'], labels: [] } },
    { note: 'IPv6 ::/0 holds IPv4 too (one 128-bit space, as `cidr()`)', lists: [plain('all6', '::/0')], address: '10.1.2.3', want: { reputation: 100, lists: ['all6'], labels: [] } },
    { note: '::/128 is only ::', lists: [plain('zero', '::/128')], address: '::', want: { reputation: 100, lists: ['zero'], labels: [] } },
    { note: '::/128 is not ::1', lists: [plain('zero', '::/128')], address: '::1', want: clean },
    { note: 'the last IPv6 address as /128', lists: [plain('last', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128')], address: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', want: { reputation: 100, lists: ['last'], labels: [] } },
    { note: 'the last IPv6 address, one before', lists: [plain('last', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')], address: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe', want: clean },
    { note: 'IPv6 /1 upper half', lists: [plain('hi6', '8000::/1')], address: '8000::', want: { reputation: 100, lists: ['hi6'], labels: [] } },
    { note: 'IPv6 /1, not below', lists: [plain('hi6', '8000::/1')], address: '7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', want: clean },
    { note: 'an IPv4-mapped address looks up as IPv4', lists: [plain('ten', '10.0.0.0/8')], address: '::ffff:10.9.8.7', want: { reputation: 100, lists: ['ten'], labels: [] } },
    { note: 'an IPv4-mapped address in hex groups', lists: [plain('ten', '10.0.0.0/8')], address: '::ffff:a09:807', want: { reputation: 100, lists: ['ten'], labels: [] } },
    { note: 'an IPv4-mapped prefix in the list holds IPv4', lists: [plain('ten', '::ffff:10.0.0.0/104')], address: '10.200.0.1', want: { reputation: 100, lists: ['ten'], labels: [] } },
    { note: '::ffff:0:0/96 holds all of IPv4', lists: [plain('v4', '::ffff:0:0/96')], address: '255.255.255.255', want: { reputation: 100, lists: ['v4'], labels: [] } },
    { note: '::ffff:0:0/96 does not hold other IPv6', lists: [plain('v4', '::ffff:0:0/96')], address: '::fffe:0:1', want: clean },
    { note: 'an IPv4-compatible (not mapped) address is IPv6', lists: [plain('ten', '10.0.0.0/8')], address: '::10.1.2.3', want: clean },
    { note: 'adjacent ranges: end of the first', lists: [plain('a', '10.0.0.0/25'), plain('b', '10.0.0.128/25')], address: '10.0.0.127', want: { reputation: 100, lists: ['a'], labels: [] } },
    { note: 'adjacent ranges: start of the second', lists: [plain('a', '10.0.0.0/25'), plain('b', '10.0.0.128/25')], address: '10.0.0.128', want: { reputation: 100, lists: ['b'], labels: [] } },
    { note: 'adjacent ranges: just after both', lists: [plain('a', '10.0.0.0/25'), plain('b', '10.0.0.128/25')], address: '10.0.1.0', want: clean },
    { note: 'adjacent IPv6 ranges', lists: [plain('a', '2001:db8::/33', '2001:db8:8000::/33')], address: '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', want: { reputation: 100, lists: ['a'], labels: [] } },
  ])('$note', ({ lists, address, want }) => {
    expect(buildLists(lists).lookup(address)).toEqual(want);
  });
});

describe('overlaps within and across lists', () => {
  const lists = [
    scored('feed', '10.0.0.0/8,60,corp', '10.1.0.0/16,30,scanner', '10.1.2.0/24,90,', '10.1.2.3,5,tor', '::/0,95,any6', '2001:db8::/32,40,scanner'),
    scored('intel', '10.1.0.0/16,50,scanner', '10.1.2.0/24,70,vpn'),
    plain('drop', '10.0.0.0/8', '10.1.2.0/24', '2001:db8:1::/48'),
    plain('mixed', '10.1.2.0/23'),
  ];
  const rep = buildLists(lists);

  test.each([
    { note: 'only the /8s: feed 60 corp, drop', address: '10.200.0.1', want: { reputation: 60, lists: ['drop', 'feed'], labels: ['corp'] } },
    { note: 'feed /16 scanner 30, intel /16 scanner 50: one label, lowest score', address: '10.1.9.9', want: { reputation: 30, lists: ['drop', 'feed', 'intel'], labels: ['scanner'] } },
    { note: 'feed /24 with an empty label, intel /24 vpn', address: '10.1.2.200', want: { reputation: 70, lists: ['drop', 'feed', 'intel', 'mixed'], labels: ['vpn'] } },
    { note: 'feed /32 tor 5 inside everything', address: '10.1.2.3', want: { reputation: 5, lists: ['drop', 'feed', 'intel', 'mixed'], labels: ['tor', 'vpn'] } },
    { note: 'mixed /23 upper half, outside the /24s', address: '10.1.3.1', want: { reputation: 30, lists: ['drop', 'feed', 'intel', 'mixed'], labels: ['scanner'] } },
    { note: 'outside 10/8: only feed ::/0', address: '11.0.0.0', want: { reputation: 95, lists: ['feed'], labels: ['any6'] } },
    { note: 'IPv6 in the /32 and drop /48', address: '2001:db8:1::1', want: { reputation: 40, lists: ['drop', 'feed'], labels: ['scanner'] } },
    { note: 'IPv6 elsewhere: feed ::/0', address: '2001:db9::1', want: { reputation: 95, lists: ['feed'], labels: ['any6'] } },
  ])('$note', ({ address, want }) => {
    expect(rep.lookup(address)).toEqual(want);
  });

  test('the order lists are given in does not matter', () => {
    const reversed = buildLists([...lists].reverse());
    for (const address of ['10.200.0.1', '10.1.2.3', '10.1.3.1', '2001:db8:1::1']) expect(reversed.lookup(address)).toEqual(rep.lookup(address));
  });
});

describe('lookups', () => {
  const rep = buildLists([plain('drop', '192.0.2.0/24')]);

  test.each(['', 'nope', '192.0.2', '192.0.2.1/32', ' 192.0.2.1', 'fe80::1%eth0', '1:2:3:4:5:6:7:8:9'])('`%s` is not an address: null', (address) => {
    expect(rep.lookup(address)).toBeNull();
  });

  test('answers are frozen and shared: a caller cannot change what the next caller sees', () => {
    const a = rep.lookup('192.0.2.1')!;
    expect(Object.isFrozen(a) && Object.isFrozen(a.lists) && Object.isFrozen(a.labels)).toBe(true);
    expect(() => (a.lists as string[]).push('x')).toThrow(TypeError);
    expect(rep.lookup('192.0.2.2')).toBe(a);
    expect(rep.lookup('192.0.2.2')?.lists).toEqual(['drop']);
  });

  test('lookupIp takes a parsed address', () => {
    expect(rep.lookupIp(parseIp('192.0.2.9')!)).toEqual({ reputation: 100, lists: ['drop'], labels: [] });
  });

  test('no lists: every address is clean', () => {
    const empty = IpReputation.build([]);
    expect(empty.lookup('1.2.3.4')).toEqual(clean);
    expect(empty.lookup('::1')).toEqual(clean);
    expect(empty.stats).toMatchObject({ lists: 0, prefixes: 0, v4Ranges: 1, v6Ranges: 1, answers: 1 });
  });

  test('adjacent prefixes with the same answer are one range', () => {
    const merged = buildLists([plain('a', '10.0.0.0/25', '10.0.0.128/25')]);
    // [0, 10.0.0.0) clean, [10.0.0.0, 10.0.1.0) a, the rest clean.
    expect(merged.stats.v4Ranges).toBe(3);
  });

  test('two lists with one name are a programming error', () => {
    expect(() => IpReputation.build([...[1, 2].map(() => ({ ...buildInput(), name: 'same' }))])).toThrow('two IP lists are named `same`');
  });
});

function buildInput() {
  return { format: 'plain' as const, entries: 0, path: 'x', labels: [], v4: emptyFamily(), v6: emptyFamily() };
}

function emptyFamily() {
  return { count: 0, base: new Uint32Array(0), depth: new Uint8Array(0), score: new Uint8Array(0), label: new Uint32Array(0) };
}

test('the packed sort and the comparator sort (over 16M prefixes) order prefixes alike', () => {
  const n = 5_000;
  const base = Uint32Array.from({ length: n }, (_, i) => ((i * 2_654_435_761) >>> 0) & 0xfff00000);
  const depth = Uint8Array.from({ length: n }, (_, i) => (i * 7) % 129);
  const packed = sortV4(base, depth);
  const compared = sortV4(base, depth, 0);
  const key = (order: Uint32Array) => Array.from(order, (i) => `${base[i]}/${depth[i]}`);
  expect(key(compared.order)).toEqual(key(packed.order));
  expect(new Set(packed.order).size).toBe(n);
  expect(Array.from(packed.order, (i) => base[i])).toEqual(Array.from(packed.base));
  expect(compared.depth).toEqual(packed.depth);
});

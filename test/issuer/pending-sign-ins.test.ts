/**
 * The table of sign-ins waiting for a user: bounded in all and per address, and when full it
 * makes room at the address holding the most — so a flood of login pages from many addresses
 * cannot push out a real user's sign-in in progress.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { PendingSignIns } from '../../src/issuer/pending-sign-ins.js';

const later = { expiresAt: Number.POSITIVE_INFINITY };

describe('pending sign-ins', () => {
  test("a hundred addresses filling the table push out their own sign-ins, never a user's", () => {
    const table = new PendingSignIns<typeof later>(1_000, 100);
    table.add('user-tx', 'user-address', later, 0);
    for (let round = 0; round < 5; round++) for (let a = 0; a < 101; a++) for (let i = 0; i < 100; i++) table.add(`${round}-${a}-${i}`, `attacker-${a}`, later, 0);
    expect(table.get('user-tx')).toBe(later);
    expect(table.size).toBe(1_000);
  });

  test('one address holds at most its share: its own oldest make room', () => {
    const table = new PendingSignIns<typeof later>(1_000, 3);
    for (const tx of ['a', 'b', 'c', 'd']) table.add(tx, 'one', later, 0);
    expect(['a', 'b', 'c', 'd'].map((tx) => table.get(tx) !== undefined)).toEqual([false, true, true, true]);
  });

  test('expired sign-ins leave first', () => {
    const table = new PendingSignIns<{ expiresAt: number }>(2, 2);
    table.add('old', 'x', { expiresAt: 10 }, 0);
    table.add('new', 'y', { expiresAt: 100 }, 50);
    expect(table.get('old')).toBeUndefined();
    expect(table.get('new')).toBeDefined();
  });

  test('property: within both bounds, and an add only ever removes from its own address (at its cap) or from one holding the most', () => {
    const step = fc.oneof(fc.record({ add: fc.integer({ min: 0, max: 5 }) }), fc.record({ drop: fc.nat(200) }));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 6 }), fc.array(step, { maxLength: 200 }), (max, perAddress, steps) => {
        const table = new PendingSignIns<typeof later>(max, perAddress);
        const held = new Map<string, string>(); // tx → address, the model
        let n = 0;
        for (const s of steps) {
          if ('drop' in s) {
            const tx = [...held.keys()][s.drop % Math.max(held.size, 1)];
            if (tx !== undefined) (table.drop(tx), held.delete(tx));
            continue;
          }
          const from = `a${s.add}`;
          const counts = new Map<string, number>();
          for (const a of held.values()) counts.set(a, (counts.get(a) ?? 0) + 1);
          const tx = `t${n++}`;
          table.add(tx, from, later, 0);
          const gone = [...held.keys()].filter((t) => table.get(t) === undefined);
          expect(gone.length).toBeLessThanOrEqual(1);
          for (const t of gone) {
            const a = held.get(t)!;
            const heaviest = counts.get(a) === Math.max(...counts.values());
            expect(a === from ? counts.get(a) === perAddress || heaviest : heaviest).toBe(true);
            held.delete(t);
          }
          held.set(tx, from);
          expect(table.size).toBe(held.size);
          expect(table.size).toBeLessThanOrEqual(max);
          expect([...held.values()].filter((a) => a === from).length).toBeLessThanOrEqual(perAddress);
        }
      }),
    );
  });
});

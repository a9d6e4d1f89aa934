import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { fromWire, toWire } from '../../src/signals/ip/list-reload.js';
import type { LoadedList } from '../../src/signals/ip/ip-reputation.js';

const family = { count: 0, base: new Uint32Array(0), depth: new Uint8Array(0), score: new Uint8Array(0), label: new Uint32Array(0) };
const list = (labels: string[]): LoadedList => ({ name: 'scores', path: '/x.csv', format: 'scored', entries: 0, v4: family, v6: family, labels });

describe('a list as a worker sends it (labels as one text)', () => {
  test('gives back the same labels, in order, empty ones and none at all included', () => {
    for (const labels of [[], [''], ['', ''], ['a', '', 'b'], ['botnet']]) expect(fromWire(toWire(list(labels))).labels).toEqual(labels);
    // A label is part of one line of its file: anything but a line break.
    fc.assert(
      fc.property(fc.array(fc.string().filter((s) => !s.includes('\n'))), (labels) => {
        expect(fromWire(toWire(list(labels))).labels).toEqual(labels);
      }),
    );
  });

  test('a parsed list is held as it is', () => {
    const parsed = list(['x']);
    expect(fromWire(parsed)).toBe(parsed);
  });
});

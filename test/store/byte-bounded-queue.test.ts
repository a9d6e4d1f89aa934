import { describe, expect, test } from 'vitest';
import { ByteBoundedQueue } from '../../src/store/byte-bounded-queue.js';

describe('a queue bounded in bytes', () => {
  test('first in, first out; past the bound the oldest go, never the one just added', () => {
    const q = new ByteBoundedQueue<string>(10, (s) => s.length);
    expect(q.push('aaaa')).toEqual([]);
    expect(q.push('bbbb')).toEqual([]);
    expect(q.push('cccc')).toEqual(['aaaa']);
    expect([...q]).toEqual(['bbbb', 'cccc']);
    // An item larger than the bound on its own is kept, alone.
    expect(q.push('x'.repeat(20))).toEqual(['bbbb', 'cccc']);
    expect(q.length).toBe(1);
  });

  test('what is taken out frees its bytes', () => {
    const q = new ByteBoundedQueue<string>(8, (s) => s.length);
    q.push('aaaa');
    q.push('bbbb');
    expect(q.shift()).toBe('aaaa');
    expect(q.first).toBe('bbbb');
    expect(q.push('cccc')).toEqual([]);
    expect(q.shift()).toBe('bbbb');
    expect(q.shift()).toBe('cccc');
    expect(q.shift()).toBeUndefined();
  });
});

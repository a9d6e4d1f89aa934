import { describe, expect, test } from 'vitest';
import { ReplayCache } from '../../src/tokens/dpop.js';

describe('the DPoP replay cache', () => {
  test('a proof is refused while it is fresh, and forgotten only once it expired', () => {
    const cache = new ReplayCache(2);
    expect(cache.check('a', 1000, 0)).toBe(false);
    expect(cache.check('a', 1000, 10)).toBe(true);
    expect(cache.check('b', 1010, 10)).toBe(false);
    // Full of fresh proofs: a new one is refused rather than an old one forgotten (fails closed).
    expect(cache.check('c', 1020, 20)).toBe(true);
    expect(cache.check('a', 1000, 20)).toBe(true);
    // Once `a` expired, there is room again, and `a` is unknown.
    expect(cache.check('c', 2000, 1001)).toBe(false);
    expect(cache.check('b', 1010, 1001)).toBe(true);
  });
});

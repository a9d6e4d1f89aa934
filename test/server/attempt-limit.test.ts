import { describe, expect, test } from 'vitest';
import { attemptKey, AttemptLimit } from '../../src/server/attempt-limit.js';

describe('wrong admin keys counted per address', () => {
  test('the limit is reached within the window; the wait is what is left of it', () => {
    let now = 1_000_000;
    const attempts = new AttemptLimit(3, 60_000, 100, () => now);
    for (let i = 0; i < 2; i++) attempts.count('a');
    expect(attempts.retryAfter('a')).toBe(0);
    attempts.count('a');
    expect(attempts.retryAfter('a')).toBe(60);
    now += 45_500;
    expect(attempts.retryAfter('a')).toBe(15);
    expect(attempts.retryAfter('b')).toBe(0);
  });

  test('a window that has passed starts the count again', () => {
    let now = 0;
    const attempts = new AttemptLimit(3, 60_000, 100, () => now);
    for (let i = 0; i < 3; i++) attempts.count('a');
    now = 60_000;
    expect(attempts.retryAfter('a')).toBe(0);
    attempts.count('a');
    expect(attempts.retryAfter('a')).toBe(0);
  });

  test('IPv6 addresses count by their /64; IPv4 (mapped or not) by the address', () => {
    expect(attemptKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(attemptKey('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(attemptKey('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(attemptKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(attemptKey('192.0.2.7')).toBe('192.0.2.7');
    expect(attemptKey('unknown')).toBe('unknown');
  });

  test('beyond maxAddresses the stalest address is forgotten', () => {
    const attempts = new AttemptLimit(1, 60_000, 2, () => 0);
    attempts.count('a');
    attempts.count('b');
    attempts.count('c');
    expect([attempts.retryAfter('a'), attempts.retryAfter('b'), attempts.retryAfter('c')]).toEqual([0, 60, 60]);
  });
});

import { describe, expect, test, vi } from 'vitest';
import { Velocity, VELOCITY_NAMES } from '../../src/signals/velocity.js';

function clock(start = Date.UTC(2026, 10, 22, 12, 0, 0)) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe('velocity', () => {
  test('every signal name is there, 0 for a key never seen', () => {
    const v = new Velocity();
    const all = v.read({ address: '192.0.2.1', subject: 'user/alice', client: 'app' });
    expect(Object.keys(all).sort()).toEqual([...VELOCITY_NAMES].sort());
    expect(Object.values(all).every((n) => n === 0)).toBe(true);
    expect(VELOCITY_NAMES).toContain('address_denials_1m');
    expect(VELOCITY_NAMES).toContain('client_token_requests_1h');
  });

  test('counts per dimension and key, in the last minute and the last hour', () => {
    const c = clock();
    const v = new Velocity(100, c.now);
    for (let i = 0; i < 3; i++) v.record('denials', { address: '192.0.2.1', subject: 'user/alice' });
    v.record('denials', { address: '192.0.2.2', subject: 'user/alice' });
    v.record('auth_failures', { client: 'app', address: '192.0.2.1' });
    expect(v.read({ address: '192.0.2.1' })).toMatchObject({ address_denials_1m: 3, address_denials_1h: 3, address_auth_failures_1m: 1 });
    expect(v.read({ subject: 'user/alice', client: 'app' })).toMatchObject({ subject_denials_1m: 4, client_auth_failures_1m: 1, client_denials_1m: 0 });
  });

  test('an IPv6 address counts by its /64: a client rotating addresses within it is one address', () => {
    const c = clock();
    const v = new Velocity(100, c.now);
    for (let i = 1; i <= 5; i++) v.record('denials', { address: `2001:db8:1:2::${i.toString(16)}` });
    v.record('denials', { address: '2001:db8:1:3::1' });
    expect(v.read({ address: '2001:db8:1:2:ffff::9' })).toMatchObject({ address_denials_1m: 5 });
    expect(v.read({ address: '2001:db8:1:3::2' })).toMatchObject({ address_denials_1m: 1 });
    // IPv4 addresses stay whole.
    v.record('denials', { address: '192.0.2.1' });
    expect(v.read({ address: '192.0.2.2' })).toMatchObject({ address_denials_1m: 0 });
  });

  test('a minute later the minute window is empty and the hour still counts; an hour later both are', () => {
    const c = clock();
    const v = new Velocity(100, c.now);
    v.record('denials', { address: 'a' });
    c.advance(30_000);
    v.record('denials', { address: 'a' });
    expect(v.read({ address: 'a' }).address_denials_1m).toBe(2);
    c.advance(40_000);
    expect(v.read({ address: 'a' })).toMatchObject({ address_denials_1m: 1, address_denials_1h: 2 });
    c.advance(60_000);
    expect(v.read({ address: 'a' })).toMatchObject({ address_denials_1m: 0, address_denials_1h: 2 });
    c.advance(3_600_000);
    expect(v.read({ address: 'a' })).toMatchObject({ address_denials_1m: 0, address_denials_1h: 0 });
    v.record('denials', { address: 'a' });
    expect(v.read({ address: 'a' })).toMatchObject({ address_denials_1m: 1, address_denials_1h: 1 });
  });

  test('the window slides: events spread over two minutes count only the last minute’s', () => {
    const c = clock();
    const v = new Velocity(100, c.now);
    for (let s = 0; s < 120; s++) {
      v.record('denials', { address: 'a' });
      c.advance(1000);
    }
    // One event a second: the minute window covers 55 to 60 seconds (5-second steps).
    const n = v.read({ address: 'a' }).address_denials_1m;
    expect(n).toBeGreaterThanOrEqual(55);
    expect(n).toBeLessThanOrEqual(60);
  });

  test('bounded: beyond maxKeys the least recently active key is forgotten', () => {
    const v = new Velocity(2);
    v.record('denials', { address: 'a' });
    v.record('denials', { address: 'b' });
    v.record('denials', { address: 'a' });
    v.record('denials', { address: 'c' });
    expect(v.size.address).toBe(2);
    expect(v.read({ address: 'b' }).address_denials_1m).toBe(0);
    expect(v.read({ address: 'a' }).address_denials_1m).toBe(2);
  });

  test('a clock stepping back neither loses nor misplaces counts', () => {
    const c = clock();
    const v = new Velocity(100, c.now);
    v.record('denials', { address: 'a' });
    c.advance(-20_000);
    v.record('denials', { address: 'a' });
    c.advance(20_000);
    expect(v.read({ address: 'a' }).address_denials_1m).toBe(2);
  });

  test('a subject or client id as long as a request body is held as a fixed-size key, and still counted on its own', () => {
    const v = new Velocity();
    const long = (c: string) => `user/${c.repeat(200_000)}`;
    for (let i = 0; i < 3; i++) v.record('denials', { subject: long('a') });
    v.record('denials', { subject: long('b') });
    expect(v.read({ subject: long('a') }).subject_denials_1m).toBe(3);
    expect(v.read({ subject: long('b') }).subject_denials_1m).toBe(1);
    expect(v.read({ subject: long('c') }).subject_denials_1m).toBe(0);
    expect(v.size.subject).toBe(2);
  });

  test('by default the windows run on the monotonic clock: a wall clock stepped forward and back does not blind them', () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    try {
      const v = new Velocity();
      vi.setSystemTime(Date.now() + 3_600_000);
      v.record('denials', { address: '192.0.2.9' });
      vi.setSystemTime(Date.now() - 3_600_000);
      for (let i = 0; i < 4; i++) v.record('denials', { address: '192.0.2.9' });
      expect(v.read({ address: '192.0.2.9' })).toMatchObject({ address_denials_1m: 5, address_denials_1h: 5 });
    } finally {
      vi.useRealTimers();
    }
  });
});

import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { describe, expect, test, vi } from 'vitest';
import { calculateJwkThumbprint } from 'jose';
import { ReplayCache, verifyProof } from '../../src/tokens/dpop.js';

describe('the DPoP and client assertion replay cache', () => {
  test('a proof is refused while it is fresh, and forgotten only once it expired', () => {
    let t = 0;
    const cache = new ReplayCache(2, () => t);
    expect(cache.check('a', 1000)).toBe(false);
    t = 10;
    expect(cache.check('a', 990)).toBe(true);
    expect(cache.check('b', 1000)).toBe(false);
    // Full of fresh proofs: a new one is refused rather than an old one forgotten (fails closed).
    t = 20;
    expect(cache.check('c', 1000)).toBe(true);
    expect(cache.check('a', 980)).toBe(true);
    // Once `a` expired, there is room again, and `a` is unknown.
    t = 1001;
    expect(cache.check('c', 999)).toBe(false);
    expect(cache.check('b', 9)).toBe(true);
  });

  test('a long-lived entry at the front does not keep expired ones behind it from making room', () => {
    let t = 0;
    const cache = new ReplayCache(3, () => t);
    // A client assertion whose `exp` is far off, then two short-lived DPoP proofs.
    expect(cache.check('assertion', 86_400_000)).toBe(false);
    expect(cache.check('p1', 120_000)).toBe(false);
    expect(cache.check('p2', 120_000)).toBe(false);
    t = 130_000;
    // The front entry is alive, the two behind it expired: a full cache sweeps them rather than refuse.
    expect(cache.check('p3', 120_000)).toBe(false);
    expect(cache.check('p4', 120_000)).toBe(false);
    expect(cache.check('assertion', 1)).toBe(true);
  });

  test('nothing is remembered longer than ten minutes, whatever its exp says (freshness checks refuse it by then)', () => {
    let t = 0;
    const cache = new ReplayCache(1, () => t);
    expect(cache.check('assertion', 86_400_000)).toBe(false);
    t = 10 * 60_000 - 1;
    expect(cache.check('other', 1000)).toBe(true);
    t = 10 * 60_000;
    expect(cache.check('other', 1000)).toBe(false);
  });

  test('only a proof whose request checked out takes room: one by another key than the token\'s is never kept, and a held one let go is forgotten', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = await exportJWK(publicKey);
    const url = 'https://issuer.test/oauth2/token';
    const proof = (jti: string) => new SignJWT({ htm: 'POST', htu: url, jti, iat: Math.floor(Date.now() / 1000) }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk }).sign(privateKey);
    const replay = new ReplayCache(1);
    // Bound to another key: refused before it is kept.
    expect(await verifyProof(await proof('p-1'), { method: 'POST', url, replay, jkt: 'another-key' })).toEqual({ ok: false, reason: 'the DPoP proof is signed by another key than the token is bound to' });
    // Held while its request runs: a second use meanwhile is refused, as is any other proof while the one entry is taken.
    const held = await verifyProof(await proof('p-2'), { method: 'POST', url, replay, releasable: true });
    expect(held).toMatchObject({ ok: true, jkt: await calculateJwkThumbprint(jwk) });
    const again = await proof('p-2');
    expect(await verifyProof(again, { method: 'POST', url, replay, releasable: true })).toMatchObject({ ok: false, reason: expect.stringContaining('already used') });
    expect(await verifyProof(await proof('p-3'), { method: 'POST', url, replay })).toMatchObject({ ok: false });
    // The request failed: let go, the proof takes no room, and may be used.
    if (held.ok) held.release();
    expect(await verifyProof(again, { method: 'POST', url, replay, releasable: true })).toMatchObject({ ok: true });
  });

  test('a used proof stays refused when the wall clock is stepped back after the cache let it go', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = await exportJWK(publicKey);
    const proof = await new SignJWT({ htm: 'POST', htu: 'https://issuer.test/oauth2/token', jti: 'p-1', iat: Math.floor(Date.now() / 1000) }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk }).sign(privateKey);
    let monotonic = 0;
    const replay = new ReplayCache(100, () => monotonic);
    const check = () => verifyProof(proof, { method: 'POST', url: 'https://issuer.test/oauth2/token', replay });
    expect(await check()).toMatchObject({ ok: true });
    expect(await check()).toMatchObject({ ok: false });
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    try {
      // Three minutes on: the cache has forgotten the proof, and the proof is stale...
      monotonic += 181_000;
      vi.setSystemTime(Date.now() + 181_000);
      expect(await check()).toMatchObject({ ok: false });
      // ...and stays stale when the clock is stepped back to when it was made.
      vi.setSystemTime(Date.now() - 181_000);
      expect(await check()).toMatchObject({ ok: false });
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('the replay cache’s capacity', () => {
  test('a proof is remembered while its iat is in the window, not longer: one made 50 s ago leaves after about 10 s', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = await exportJWK(publicKey);
    const url = 'https://gateway.test/orders';
    let t = 0;
    const replay = new ReplayCache(10, () => t);
    const wall = Date.now();
    const proof = await new SignJWT({ htm: 'GET', htu: url, jti: 'old-1', iat: Math.floor(wall / 1000) - 50 }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk }).sign(privateKey);
    expect(await verifyProof(proof, { method: 'GET', url, replay, now: wall })).toMatchObject({ ok: true });
    expect(replay.size).toBe(1);
    t = 9_000;
    expect(await verifyProof(proof, { method: 'GET', url, replay, now: wall + 9_000 })).toMatchObject({ ok: false, reason: expect.stringContaining('already used') });
    t = 12_000;
    // Gone from the cache, and refused all the same: its iat has left the window.
    expect(replay.check('other', 1000)).toBe(false);
    expect(replay.size).toBe(1);
    expect(await verifyProof(proof, { method: 'GET', url, replay, now: wall + 12_000 })).toMatchObject({ ok: false, reason: expect.stringContaining('(iat)') });
  });

  test('entries leave with their second, so a busy cache holds only what is fresh', () => {
    let t = 0;
    const cache = new ReplayCache(100_000, () => t);
    // Half expire in the 60th second, half in the 61st.
    for (let i = 0; i < 50_000; i++) expect(cache.check(`k${i}`, 60_000 + (i % 2000))).toBe(false);
    expect(cache.size).toBe(50_000);
    t = 61_000;
    expect(cache.check('fresh', 60_000)).toBe(false);
    expect(cache.size).toBe(25_001);
    t = 62_000;
    expect(cache.check('fresher', 60_000)).toBe(false);
    expect(cache.size).toBe(2);
    expect(cache.check('k1', 60_000)).toBe(false);
  });

  test('by default it holds far more fresh proofs than a gateway at thousands of DPoP requests a second needs for a minute', () => {
    const cache = new ReplayCache();
    for (let i = 0; i < 300_000; i++) if (cache.check(`jkt:${i}`, 60_000)) throw new Error(`refused proof ${i}`);
    expect(cache.size).toBe(300_000);
    expect(cache.check('jkt:7', 60_000)).toBe(true);
  });
});

describe('the URL a DPoP proof is for (htu)', () => {
  test('is compared after RFC 3986 normalisation: an encoded unreserved character, escape case, host case, default port, dot segments; query and fragment ignored', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = await exportJWK(publicKey);
    const verdict = async (htu: string, url = 'https://issuer.test/oauth2/token') => {
      const proof = await new SignJWT({ htm: 'POST', htu, jti: crypto.randomUUID(), iat: Math.floor(Date.now() / 1000) }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk }).sign(privateKey);
      // The wall clock, not the never-back clock an earlier test in this file moved ahead.
      return (await verifyProof(proof, { method: 'POST', url, replay: new ReplayCache(), now: Date.now() })).ok;
    };
    for (const same of ['https://issuer.test/oauth2/%74oken', 'https://ISSUER.test:443/oauth2/x/../token', 'https://issuer.test/oauth2/token?x=1#f']) expect([same, await verdict(same)]).toEqual([same, true]);
    expect(await verdict('https://issuer.test/a%2fb', 'https://issuer.test/a%2Fb')).toBe(true);
    // A reserved character encoded is not the character: `%2F` is not a path separator.
    expect(await verdict('https://issuer.test/oauth2%2Ftoken')).toBe(false);
    expect(await verdict('https://issuer.test/oauth2/tokens')).toBe(false);
    // User info is part of the URI compared, and no request target carries it.
    expect(await verdict('https://user:pw@issuer.test/oauth2/token')).toBe(false);
    expect(await verdict('https://user@issuer.test/oauth2/token')).toBe(false);
  });
});

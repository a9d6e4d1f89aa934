import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { KeyRing } from '../../src/issuer/keys.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

const SECRET = 'a-test-issuer-secret-of-32-characters-or-more';
const DAY_MS = 86_400_000;
let dir: string;
let store: SqliteStore;
beforeEach(() => {
  dir = mkdtempSync(join(os.tmpdir(), 'gavel-keyring-'));
  store = new SqliteStore(join(dir, 'gavel.db'));
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const algs = (ring: KeyRing, now?: number) => ring.jwks(now).keys.map((k) => k.alg);

describe('the issuer key ring', () => {
  test('signs access tokens with ES256 and ID tokens with RS256 by default, each verifiable with the published JWKS', async () => {
    const ring = await KeyRing.open(store, SECRET);
    expect(algs(ring)).toEqual(['ES256', 'RS256']);
    const access = await ring.sign({ sub: 'a' }, 'at+jwt');
    const id = await ring.sign({ sub: 'a' }, 'JWT', ring.idTokenAlg);
    expect(decodeProtectedHeader(access)).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    expect(decodeProtectedHeader(id)).toMatchObject({ alg: 'RS256', typ: 'JWT' });
    const keys = createLocalJWKSet(ring.jwks());
    await jwtVerify(access, keys, { algorithms: ['ES256'] });
    await jwtVerify(id, keys, { algorithms: ['RS256'] });
  });

  test('rotation adds a key of each algorithm; the previous ones are published for the overlap, then not', async () => {
    const ring = await KeyRing.open(store, SECRET);
    const before = ring.jwks().keys.map((k) => k.kid);
    const kids = await ring.rotate(store, SECRET);
    expect(kids).toHaveLength(2);
    expect(ring.jwks().keys.map((k) => k.kid)).toEqual([...before, ...kids]);
    expect(decodeProtectedHeader(await ring.sign({}, 'at+jwt')).kid).toBe(kids[0]);
    expect(ring.jwks(Date.now() + DAY_MS + 60_000).keys.map((k) => k.kid)).toEqual(kids);
    // Another process's ring over the same store takes the keys up.
    const other = await KeyRing.open(store, SECRET, { alg: 'ES256' });
    expect(other.signingKid).toBe(kids[0]);
  });

  test('an algorithm no longer configured stays published for the overlap from when it was dropped, then goes', async () => {
    await KeyRing.open(store, SECRET);
    // Keys made long ago: their tokens are verified until the overlap after the switch, not after their making.
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(join(dir, 'gavel.db'));
    db.prepare('UPDATE signing_keys SET created_at = ?').run(new Date(Date.now() - 10 * DAY_MS).toISOString());
    db.close();
    const ring = await KeyRing.open(store, SECRET, { alg: 'EdDSA' });
    expect(decodeProtectedHeader(await ring.sign({}, 'at+jwt')).alg).toBe('EdDSA');
    expect(algs(ring)).toEqual(['ES256', 'RS256', 'EdDSA']);
    // A restart does not renew the retirement: it is kept in the store.
    const again = await KeyRing.open(store, SECRET, { alg: 'EdDSA' });
    expect(algs(again, Date.now() + DAY_MS - 60_000)).toEqual(['ES256', 'RS256', 'EdDSA']);
    expect(algs(again, Date.now() + DAY_MS + 60_000)).toEqual(['RS256', 'EdDSA']);
    // Configured again, it gets a new key: a retired one never signs again.
    const back = await KeyRing.open(store, SECRET, { alg: 'ES256' });
    const header = decodeProtectedHeader(await back.sign({}, 'at+jwt'));
    expect(header.alg).toBe('ES256');
    expect(header.kid).not.toBe(ring.jwks().keys[0].kid);
  });

  test('ID tokens moved to the access tokens\' algorithm: ES256 signs them by default, and RS256 stays offered and published (OpenID Connect Discovery §3 requires it)', async () => {
    await KeyRing.open(store, SECRET);
    const ring = await KeyRing.open(store, SECRET, { alg: 'ES256', idTokenAlg: 'ES256' });
    expect(decodeProtectedHeader(await ring.sign({}, 'JWT', ring.idTokenAlg)).alg).toBe('ES256');
    expect(ring.inUse).toEqual(['ES256', 'RS256']);
    expect(algs(ring, Date.now() + DAY_MS + 60_000)).toEqual(['ES256', 'RS256']);
    expect(decodeProtectedHeader(await ring.sign({}, 'JWT', 'RS256')).alg).toBe('RS256');
  });

  test('RS256 may sign the access tokens too, from one RSA key', async () => {
    const ring = await KeyRing.open(store, SECRET, { alg: 'RS256' });
    expect(algs(ring)).toEqual(['RS256']);
    await jwtVerify(await ring.sign({ sub: 'a' }, 'at+jwt'), createLocalJWKSet(ring.jwks()), { algorithms: ['RS256'] });
  });
});

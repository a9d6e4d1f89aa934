import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

let dir = '';
let store: SqliteStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gavel-expired-'));
  store = new SqliteStore(join(dir, 'gavel.db'));
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const NOW = 1_800_000_000;
const refresh = (hash: string, expiresAt: number) => ({ hash, family: `f-${hash}`, clientId: 'app', subject: 'alice', scope: 'read', audience: 'https://api', expiresAt });
const code = (hash: string, expiresAt: number) => ({ hash, clientId: 'app', redirectUri: 'https://app/cb', challenge: 'x', subject: 'alice', scope: 'read', audience: 'https://api', expiresAt });

describe('expired issuer rows', () => {
  test('leave the store once expired (refresh tokens a day later, codes ten minutes later); live ones stay', () => {
    store.saveOpaqueToken('o-old', { sub: 'alice' }, NOW - 1);
    store.saveOpaqueToken('o-live', { sub: 'alice' }, NOW + 60);
    store.recordFamilyAccess('f', 'jti-old', NOW - 1);
    store.recordFamilyAccess('f', 'jti-live', NOW + 60);
    store.saveRefreshToken(refresh('r-old', NOW - 86_401));
    store.saveRefreshToken(refresh('r-recent', NOW - 3_600));
    store.saveCode(code('c-old', NOW - 601));
    store.saveCode(code('c-recent', NOW - 10));

    expect(store.deleteExpiredGrants(NOW, 500)).toBe(1);
    expect(store.opaqueToken('o-old', NOW - 10)).toBeNull();
    expect(store.opaqueToken('o-live', NOW)).not.toBeNull();
    expect(store.refreshToken('r-old')).toBeNull();
    // Expired an hour ago: kept, so that presenting it still revokes its family.
    expect(store.refreshToken('r-recent')).not.toBeNull();
    expect(store.useCode('c-old', NOW - 700)).toEqual({ kind: 'unknown' });
    // A family's link to an access token goes once that token expired: revoking it would change nothing.
    const db = new Database(join(dir, 'gavel.db'), { readonly: true });
    expect(db.prepare('SELECT jti FROM family_access').pluck().all()).toEqual(['jti-live']);
    db.close();
  });

  test('at most `limit` of each kind a call, answering the most deleted so the caller knows more wait', () => {
    for (let i = 0; i < 7; i++) store.saveOpaqueToken(`o${i}`, {}, NOW - 1);
    store.saveCode(code('c', NOW - 601));
    expect(store.deleteExpiredGrants(NOW, 5)).toBe(5);
    expect(store.deleteExpiredGrants(NOW, 5)).toBe(2);
    expect(store.deleteExpiredGrants(NOW, 5)).toBe(0);
  });
});

describe('sealed refresh successors', () => {
  test('are forgotten once the grace window is over: past it nothing answers with them, and kept they would be live tokens in the file', () => {
    store.saveRefreshToken(refresh('r1', NOW + 86_400));
    store.saveRefreshToken(refresh('s1', NOW + 86_400));
    expect(store.rotateRefreshToken('r1', 'r2', 'sealed-r2', NOW, 10, () => null).kind).toBe('rotated');
    expect(store.rotateRefreshToken('s1', 's2', 'sealed-s2', NOW + 30, 10, () => null).kind).toBe('rotated');
    // The sweep at NOW + 35 with a 10 s grace forgets what was rotated before NOW + 25.
    expect(store.forgetSuccessors(NOW + 25)).toBe(1);
    const sealed = () => Object.fromEntries((new Database(join(dir, 'gavel.db'), { readonly: true }).prepare('SELECT hash, successor_sealed FROM refresh_tokens WHERE hash IN (?, ?)').all('r1', 's1') as { hash: string; successor_sealed: string | null }[]).map((r) => [r.hash, r.successor_sealed]));
    expect(sealed()).toEqual({ r1: null, s1: 'sealed-s2' });
    // The one still in its window still answers a lost response with the same successor.
    expect(store.rotateRefreshToken('s1', 's2-other', 'sealed-other', NOW + 35, 10, () => null)).toMatchObject({ kind: 'replayed', successorSealed: 'sealed-s2' });
    // r1 again is reuse: the family is revoked.
    expect(store.rotateRefreshToken('r1', 'r3', 'sealed-r3', NOW + 36, 10, () => null)).toMatchObject({ kind: 'reused' });
    expect(store.forgetSuccessors(NOW + 100)).toBe(1);
    expect(sealed()).toEqual({ r1: null, s1: null });
  });
});

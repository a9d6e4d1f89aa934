import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { RefreshToken } from '../../src/store/store.js';

const token = (hash: string, expiresAt = 10_000): RefreshToken => ({ hash, family: 'f1', clientId: 'web', subject: 'alice', scope: 'invoice:read', audience: 'https://api.example.com', expiresAt });

describe('refresh token families in the store', () => {
  test('rotation is check-and-set: a rotated token replays its successor within the grace window, and revokes its family after it', () => {
    const store = new SqliteStore(':memory:');
    store.saveRefreshToken(token('r1'));
    store.recordFamilyAccess('f1', 'jti-1', 9_000);
    const ok = () => null;
    // A refused request (a wider scope, say) changes nothing.
    expect(store.rotateRefreshToken('r1', 'r2', 'sealed-r2', 99, 10, () => 'no')).toMatchObject({ kind: 'refused', reason: 'no' });
    expect(store.rotateRefreshToken('r1', 'r2', 'sealed-r2', 100, 10, ok)).toMatchObject({ kind: 'rotated', token: { subject: 'alice', family: 'f1' } });
    // A lost response: the same token within 10 s answers the successor it already got.
    expect(store.rotateRefreshToken('r1', 'r2-other', 'sealed-other', 105, 10, ok)).toMatchObject({ kind: 'replayed', successorSealed: 'sealed-r2' });
    // The successor inherited the family and its expiry, and works.
    expect(store.refreshToken('r2')).toMatchObject({ family: 'f1', expiresAt: 10_000 });
    expect(store.rotateRefreshToken('r2', 'r3', 'sealed-r3', 106, 10, ok).kind).toBe('rotated');
    // r1 again, long after: a stolen token. The family is revoked: r3 and the family's access tokens.
    expect(store.rotateRefreshToken('r1', 'r4', 'sealed-r4', 200, 10, ok)).toEqual({ kind: 'reused', family: 'f1' });
    expect(store.rotateRefreshToken('r3', 'r5', 'sealed-r5', 201, 10, ok).kind).toBe('unknown');
    expect(store.revokedTokens(0).has('jti-1')).toBe(true);
    store.close();
  });

  test('within the grace window, a replay after its successor was used is reuse: the family is revoked', () => {
    const store = new SqliteStore(':memory:');
    store.saveRefreshToken(token('r1'));
    store.recordFamilyAccess('f1', 'jti-1', 9_000);
    const ok = () => null;
    expect(store.rotateRefreshToken('r1', 'r2', 'sealed-r2', 100, 10, ok).kind).toBe('rotated');
    expect(store.rotateRefreshToken('r2', 'r3', 'sealed-r3', 101, 10, ok).kind).toBe('rotated');
    // r2 was used, so its holder had it: r1 now is not a lost response but another party.
    expect(store.rotateRefreshToken('r1', 'r4', 'sealed-r4', 102, 10, ok)).toEqual({ kind: 'reused', family: 'f1' });
    expect(store.rotateRefreshToken('r3', 'r5', 'sealed-r5', 103, 10, ok).kind).toBe('unknown');
    expect(store.revokedTokens(0).has('jti-1')).toBe(true);
    store.close();
  });

  test('a rotation recorded before its successor was (migration 18) gives no grace: whether the successor was used cannot be told', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gavel-refresh-'));
    try {
      const path = join(dir, 'g.db');
      const store = new SqliteStore(path);
      store.saveRefreshToken(token('r1'));
      expect(store.rotateRefreshToken('r1', 'r2', 'sealed-r2', 100, 10, () => null).kind).toBe('rotated');
      // As an older Gavel recorded it: the successor sealed, its hash not kept.
      const { default: Database } = await import('better-sqlite3');
      const older = new Database(path);
      older.prepare("UPDATE refresh_tokens SET successor_hash = NULL WHERE hash = 'r1'").run();
      older.close();
      expect(store.rotateRefreshToken('r2', 'r3', 'sealed-r3', 101, 10, () => null).kind).toBe('rotated');
      // Within the window, the replay of r1 is reuse: its successor r2 was used, which this row cannot tell.
      expect(store.rotateRefreshToken('r1', 'r4', 'sealed-r4', 102, 10, () => null)).toEqual({ kind: 'reused', family: 'f1' });
      store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('with no grace window (0), a replay in the same second as the rotation is reuse, not a lost response', () => {
    const store = new SqliteStore(':memory:');
    store.saveRefreshToken(token('r1'));
    expect(store.rotateRefreshToken('r1', 'r2', 'sealed-r2', 100, 0, () => null).kind).toBe('rotated');
    expect(store.rotateRefreshToken('r1', 'r3', 'sealed-r3', 100, 0, () => null)).toEqual({ kind: 'reused', family: 'f1' });
    store.close();
  });

  test('an expired refresh token is refused; an unknown one too', () => {
    const store = new SqliteStore(':memory:');
    store.saveRefreshToken(token('old', 50));
    expect(store.rotateRefreshToken('old', 'n', 's', 100, 10, () => null).kind).toBe('expired');
    expect(store.rotateRefreshToken('never', 'n2', 's', 100, 10, () => null).kind).toBe('unknown');
    store.close();
  });

  test('another client presenting a used code or a rotated refresh token hears "unknown", and revokes nothing', () => {
    const store = new SqliteStore(':memory:');
    store.saveRefreshToken(token('r1'));
    store.recordFamilyAccess('f1', 'jti-1', 9_000);
    expect(store.rotateRefreshToken('r1', 'r2', 'sealed-r2', 100, 10, () => null, 'web').kind).toBe('rotated');
    // r1 long after its rotation, from a client that holds no token of this family: not reuse.
    expect(store.rotateRefreshToken('r1', 'x', 'sealed-x', 200, 10, () => null, 'spa')).toEqual({ kind: 'unknown' });
    expect(store.rotateRefreshToken('r2', 'x', 'sealed-x', 201, 10, () => null, 'spa')).toEqual({ kind: 'unknown' });
    expect(store.revokedTokens(0).has('jti-1')).toBe(false);
    expect(store.rotateRefreshToken('r2', 'r3', 'sealed-r3', 202, 10, () => null, 'web').kind).toBe('rotated');
    store.saveCode({ hash: 'c1', clientId: 'web', redirectUri: 'http://x/cb', challenge: 'ch', subject: 'alice', scope: 'invoice:read', audience: 'https://api.example.com', expiresAt: 160 });
    expect(store.useCode('c1', 100, () => null, 'web', 'f1').kind).toBe('ok');
    expect(store.useCode('c1', 101, () => null, 'spa')).toEqual({ kind: 'unknown' });
    expect(store.useCode('c1', 102, () => null, 'web')).toEqual({ kind: 'reused', family: 'f1' });
    store.close();
  });

  test('what a grant issues into a family revoked while the grant ran is revoked too: its access token, its refresh token, a token exchanged from a revoked one', () => {
    const store = new SqliteStore(':memory:');
    // A code replayed (or a refresh token reused, or revoked) between the grant's use of it and the recording of what it issued.
    store.revokeFamily('f1', 100);
    expect(store.recordFamilyAccess('f1', 'jti-late', 9_000)).toBe(false);
    expect(store.revokedTokens(0).has('jti-late')).toBe(true);
    expect(store.saveRefreshToken(token('r-late'))).toBe(false);
    expect(store.liveRefreshToken('r-late', 100)).toBeNull();
    // Another family is not touched.
    expect(store.recordFamilyAccess('f2', 'jti-other', 9_000)).toBe(true);
    expect(store.saveRefreshToken({ ...token('r-other'), family: 'f2' })).toBe(true);
    expect(store.revokedTokens(0).has('jti-other')).toBe(false);
    // An exchange recorded after its subject token was revoked.
    store.revokeToken('parent', 9_000);
    expect(store.recordExchange('parent', 'child', 9_000)).toBe(false);
    expect(store.revokedTokens(0).has('child')).toBe(true);
    expect(store.recordExchange('live-parent', 'live-child', 9_000)).toBe(true);
    store.close();
  });

  test('a code is exchanged once; its second use reports the family it started', () => {
    const store = new SqliteStore(':memory:');
    store.saveCode({ hash: 'c1', clientId: 'web', redirectUri: 'http://x/cb', challenge: 'ch', subject: 'alice', scope: 'invoice:read', audience: 'https://api.example.com', expiresAt: 160 });
    expect(store.useCode('c1', 100, () => null, undefined, 'f9').kind).toBe('ok');
    expect(store.useCode('c1', 101)).toEqual({ kind: 'reused', family: 'f9' });
    store.saveCode({ hash: 'c2', clientId: 'web', redirectUri: 'http://x/cb', challenge: 'ch', subject: 'alice', scope: 's', audience: 'a', expiresAt: 160 });
    expect(store.useCode('c2', 161).kind).toBe('expired');
    store.close();
  });
});

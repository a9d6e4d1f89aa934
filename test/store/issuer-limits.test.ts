import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { SharedAttemptLimit, SharedOnce, SharedReplay } from '../../src/issuer/shared-limits.js';

let dir = '';
let a: SqliteStore;
let b: SqliteStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gavel-limits-'));
  // Two connections to one file: two processes serving one store.
  a = new SqliteStore(join(dir, 'gavel.db'));
  b = new SqliteStore(join(dir, 'gavel.db'));
});
afterEach(() => {
  a.close();
  b.close();
  rmSync(dir, { recursive: true, force: true });
});

const NOW_S = 1_800_000_000;
const NOW_MS = NOW_S * 1000;

describe('used proofs and assertions in the store', () => {
  test('a key is claimed once by whichever process comes first; again only once it expired, or was released', () => {
    expect(a.claimProof('k', NOW_S + 60, NOW_S)).toBe(true);
    expect(b.claimProof('k', NOW_S + 60, NOW_S)).toBe(false);
    expect(a.claimProof('k', NOW_S + 60, NOW_S + 30)).toBe(false);
    // Expired (not yet swept): claimable again.
    expect(b.claimProof('k', NOW_S + 200, NOW_S + 61)).toBe(true);
    b.releaseProof('k');
    expect(a.claimProof('k', NOW_S + 200, NOW_S + 62)).toBe(true);
  });

  test('SharedReplay refuses at one process what another used, and a failed store write leaves nothing behind', async () => {
    let now = NOW_MS;
    const first = new SharedReplay(a, () => now);
    const second = new SharedReplay(b, () => now);
    expect(await first.check('client:jti-1', 60_000)).toBe(false);
    expect(await second.check('client:jti-1', 60_000)).toBe(true);
    // The store busy past its timeout (another connection holds the write lock): the check
    // throws, and the key is remembered nowhere — the same assertion sent again once the store
    // answers is accepted.
    const holder = new Database(join(dir, 'gavel.db'));
    holder.pragma('busy_timeout = 0');
    const busy = new SqliteStore(join(dir, 'gavel.db'), { busyTimeoutMs: 50 });
    const third = new SharedReplay(busy, () => now);
    try {
      holder.exec('BEGIN IMMEDIATE');
      await expect(third.check('client:jti-2', 60_000)).rejects.toThrow(/database is locked/);
      holder.exec('ROLLBACK');
      now += 1000;
      expect(await third.check('client:jti-2', 60_000)).toBe(false);
      expect(await first.check('client:jti-2', 60_000)).toBe(true);
    } finally {
      busy.close();
      holder.close();
    }
  });

  test('SharedOnce: a sign-in or pushed request is claimed once among processes, in the store; a code is stored with its claim or not at all', async () => {
    const [first, second] = [new SharedOnce(a, () => NOW_MS), new SharedOnce(b, () => NOW_MS)];
    expect(await first.claim('sign-in', 'abc', NOW_MS + 60_000)).toBe(true);
    expect(await second.claim('sign-in', 'abc', NOW_MS + 60_000)).toBe(false);
    expect(await first.claim('sign-in', 'abc', NOW_MS + 60_000)).toBe(false);
    // Another kind with the same id is another thing.
    expect(await second.claim('pushed', 'abc', NOW_MS + 60_000)).toBe(true);
    const code = (hash: string) => ({ hash, clientId: 'web', redirectUri: 'http://x/cb', challenge: 'ch', subject: 'alice', scope: 's', audience: 'a', expiresAt: NOW_S + 60 });
    expect(a.saveCodeOnce(code('c1'), first.claimOf('sign-in', 'def', NOW_MS + 60_000))).toBe(true);
    expect(b.saveCodeOnce(code('c2'), second.claimOf('sign-in', 'def', NOW_MS + 60_000))).toBe(false);
    expect([b.codeWaiting('c1', NOW_S), b.codeWaiting('c2', NOW_S)]).toEqual([true, false]);
    // Used, or expired, a code is no longer waiting.
    expect(b.useCode('c1', NOW_S).kind).toBe('ok');
    expect(a.codeWaiting('c1', NOW_S)).toBe(false);
    expect(a.saveCodeOnce(code('c3'), first.claimOf('sign-in', 'ghi', NOW_MS + 60_000))).toBe(true);
    expect(a.codeWaiting('c3', NOW_S + 61)).toBe(false);
    // A code already stored is not stored again, and takes no claim with it.
    expect(a.saveCodeOnce(code('c3'), first.claimOf('sign-in', 'jkl', NOW_MS + 60_000))).toBe(false);
    expect(await second.claim('sign-in', 'jkl', NOW_MS + 60_000)).toBe(true);
  });

  test('while the store is busy a claim waits for it, and the same key sent meanwhile to the same process is refused', async () => {
    const holder = new Database(join(dir, 'gavel.db'));
    const replay = new SharedReplay(a, () => NOW_MS);
    holder.exec('BEGIN IMMEDIATE');
    const claiming = replay.check('client:jti-3', 60_000);
    expect(await replay.check('client:jti-3', 60_000)).toBe(true);
    holder.exec('COMMIT');
    holder.close();
    expect(await claiming).toBe(false);
    expect(await new SharedReplay(b, () => NOW_MS).check('client:jti-3', 60_000)).toBe(true);
  });

  test('expired rows are swept with the other expired grants', () => {
    a.claimProof('old', NOW_S - 1, NOW_S - 100);
    a.claimProof('live', NOW_S + 60, NOW_S);
    a.countSignInFailure('gone', NOW_MS - 120_000, 60_000);
    a.countSignInFailure('counting', NOW_MS, 60_000);
    a.deleteExpiredGrants(NOW_S, 500);
    const db = new Database(join(dir, 'gavel.db'), { readonly: true });
    try {
      expect(db.prepare('SELECT key FROM used_proofs').pluck().all()).toEqual(['live']);
      expect(db.prepare('SELECT key FROM sign_in_failures').pluck().all()).toEqual(['counting']);
    } finally {
      db.close();
    }
  });
});

describe('failed sign-ins in the store', () => {
  test('are counted in a window from its first failure, across processes; a new window starts after it; forgiving never goes below zero', () => {
    expect(a.countSignInFailure('u', NOW_MS, 60_000)).toEqual({ count: 1, untilMs: NOW_MS + 60_000 });
    expect(b.countSignInFailure('u', NOW_MS + 10_000, 60_000)).toEqual({ count: 2, untilMs: NOW_MS + 60_000 });
    b.forgiveSignInFailure('u');
    expect(a.countSignInFailure('u', NOW_MS + 20_000, 60_000)).toEqual({ count: 2, untilMs: NOW_MS + 60_000 });
    expect(a.countSignInFailure('u', NOW_MS + 60_000, 60_000)).toEqual({ count: 1, untilMs: NOW_MS + 120_000 });
    for (let i = 0; i < 3; i++) b.forgiveSignInFailure('u');
    expect(a.countSignInFailure('u', NOW_MS + 61_000, 60_000)).toEqual({ count: 1, untilMs: NOW_MS + 120_000 });
  });

  test('SharedAttemptLimit: past the limit an attempt is refused with the wait, at whichever process; one taken back makes room again', async () => {
    let now = NOW_MS;
    const first = new SharedAttemptLimit(a, 'address', 3, 60_000, () => now);
    const second = new SharedAttemptLimit(b, 'address', 3, 60_000, () => now);
    expect([await first.count('192.0.2.1'), await second.count('192.0.2.1'), await first.count('192.0.2.1')]).toEqual([0, 0, 0]);
    now += 15_000;
    expect(await second.count('192.0.2.1')).toBe(45);
    second.release('192.0.2.1');
    // Another address, and the same address once the window ended, are not held back.
    expect(await first.count('192.0.2.2')).toBe(0);
    first.release('192.0.2.1');
    expect(await first.count('192.0.2.1')).toBe(0);
    now += 45_000;
    expect(await second.count('192.0.2.1')).toBe(0);
  });
});

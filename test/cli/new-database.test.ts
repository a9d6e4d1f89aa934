import { existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { NewDatabase } from '../../src/cli/new-database.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(os.tmpdir(), 'gavel-newdb-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('a database a failed command takes back', () => {
  test('the database, its journal files and the folders made for it go', () => {
    const made = new NewDatabase(join(dir, 'a', 'b', 'gavel.db'));
    mkdirSync(join(dir, 'a', 'b'), { recursive: true });
    for (const f of ['gavel.db', 'gavel.db-wal', 'gavel.db-shm']) writeFileSync(join(dir, 'a', 'b', f), '');
    made.discard();
    expect(existsSync(join(dir, 'a'))).toBe(false);
  });

  test('what was there before stays: a dangling link where the database goes, journal files, a folder something else filled', () => {
    symlinkSync(join(dir, 'unmounted', 'gavel.db'), join(dir, 'link.db'));
    const linked = new NewDatabase(join(dir, 'link.db'));
    expect(linked.created).toBe(false);
    linked.discard();
    expect(lstatSync(join(dir, 'link.db')).isSymbolicLink()).toBe(true);

    writeFileSync(join(dir, 'old.db-wal'), 'someone else’s');
    const beside = new NewDatabase(join(dir, 'old.db'));
    writeFileSync(join(dir, 'old.db'), '');
    beside.discard();
    expect(existsSync(join(dir, 'old.db'))).toBe(false);
    expect(existsSync(join(dir, 'old.db-wal'))).toBe(true);

    const shared = new NewDatabase(join(dir, 'shared', 'gavel.db'));
    mkdirSync(join(dir, 'shared'));
    writeFileSync(join(dir, 'shared', 'other-process.db'), '');
    shared.discard();
    expect(existsSync(join(dir, 'shared', 'other-process.db'))).toBe(true);
  });

  test('never throws: the command\'s own error is the one reported', () => {
    writeFileSync(join(dir, 'file'), '');
    expect(() => new NewDatabase(join(dir, 'file', 'gavel.db')).discard()).not.toThrow();
  });
});

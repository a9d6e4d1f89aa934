import { chmodSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { FolderError, folderState, loadPolicyFolder, MAX_FOLDER_BYTES } from '../../src/engine/folder.js';

describe('reading a policies folder', () => {
  test('files that together exceed what a policies folder may hold are refused, each within its own bound or not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gavel-folder-'));
    try {
      // Sparse files of 31 MiB each, under the 32 MiB a single file may be: nine of them pass 256 MiB.
      for (let i = 0; i < 9; i++) {
        const file = join(dir, `big-${i}.gavel`);
        writeFileSync(file, '');
        truncateSync(file, 31 << 20);
      }
      const refused = await loadPolicyFolder(dir).then(() => null, (err: unknown) => err);
      expect(refused).toBeInstanceOf(FolderError);
      expect((refused as Error).message).toBe(`the files under \`${dir}\` add up to more than ${MAX_FOLDER_BYTES >> 20} MiB, more than a policies folder may hold (is it one?)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a folder's fingerprint (what a poll compares when the watch misses events)", () => {
  test('a file made readable again by chmod, content and time unchanged, changes the fingerprint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gavel-fingerprint-'));
    try {
      writeFileSync(join(dir, 'a.gavel'), '@id("a") permit (action == "read");\n');
      chmodSync(join(dir, 'a.gavel'), 0o000);
      const before = (await folderState(dir)).fingerprint;
      // ctime moves in whole clock ticks on some file systems.
      await new Promise((resolve) => setTimeout(resolve, 20));
      chmodSync(join(dir, 'a.gavel'), 0o644);
      expect((await folderState(dir)).fingerprint).not.toBe(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('file names', () => {
  test('a policy file whose name is not UTF-8 is said to be so, not to be missing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gavel-names-'));
    try {
      // `café.gavel` in Latin-1: the é is one byte, 0xE9, not UTF-8.
      writeFileSync(Buffer.concat([Buffer.from(`${dir}/caf`), Buffer.from([0xe9]), Buffer.from('.gavel')]), '@id("a") permit (action == "read");\n');
      await expect(loadPolicyFolder(dir)).rejects.toThrow(/is not UTF-8 \(shown as `caf\uFFFD\.gavel`\): rename it/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

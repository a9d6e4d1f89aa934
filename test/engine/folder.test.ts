import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { FolderError, loadPolicyFolder, MAX_FOLDER_BYTES } from '../../src/engine/folder.js';

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

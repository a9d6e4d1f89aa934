import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { buildPolicySet, decide, LiveIpLists } from '../src/index.js';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gavel-library-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('the package entry', () => {
  test('IP lists as docs/signals.md shows them: opened from files, looked up, given to decide() as risk.ip', async () => {
    const path = join(dir, 'drop.txt');
    writeFileSync(path, '192.0.2.0/24 ; SBL1\n');
    const opened = await LiveIpLists.open([{ name: 'spamhaus-drop', path }]);
    if (!opened.ok) throw new Error(opened.errors.join('\n'));
    try {
      const { set } = buildPolicySet([{ file: 'app.gavel', text: 'permit;\nforbid when { risk.ip.lists contains "spamhaus-drop" };\n' }]);
      const from = (address: string) => decide(set!, { subject: { type: 'user', id: 'a' }, risk: { ip: opened.lists.lookup(address) } }).decision;
      expect(opened.lists.lookup('192.0.2.1')).toEqual({ reputation: 100, lists: ['spamhaus-drop'], labels: [] });
      expect([from('192.0.2.1'), from('198.51.100.1')]).toEqual([false, true]);
      // Not an address: nothing to look up, so the forbid reading it fails closed.
      expect(opened.lists.lookup('not-an-ip')).toBeNull();
      expect(from('not-an-ip')).toBe(false);
    } finally {
      opened.lists.close();
    }
  });
});

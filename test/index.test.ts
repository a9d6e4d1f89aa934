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

describe('importing the package by name', () => {
  test("the README's `import … from 'gavel'` works in a file inside the checkout (the built entry, through `exports`)", async () => {
    const { ROOT } = await import('./cli/helpers.js');
    const file = join(ROOT, `.selfref-${process.pid}.mjs`);
    writeFileSync(file, "import { buildPolicySet, decide } from 'gavel';\nconst { set } = buildPolicySet([{ file: 'a.gavel', text: 'permit (action == \"read\");' }]);\nconsole.log(decide(set, { action: { name: 'read' } }).decision);\n");
    try {
      const { spawnSync } = await import('node:child_process');
      const r = spawnSync(process.execPath, [file], { cwd: ROOT, encoding: 'utf8' });
      expect([r.status, r.stdout, r.stderr]).toEqual([0, 'true\n', '']);
    } finally {
      rmSync(file, { force: true });
    }
  });
});

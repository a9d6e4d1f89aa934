import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { LiveIpLists, type IpListsReloadReport, type LiveIpListsOptions } from '../../src/signals/ip/live-ip-lists.js';
import type { IpListConfig } from '../../src/signals/ip/list-config.js';

let dir = '';
const opened: LiveIpLists[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gavel-iplists-'));
});
afterEach(() => {
  for (const l of opened.splice(0)) l.close();
  rmSync(dir, { recursive: true, force: true });
});

async function open(configs: IpListConfig[], options: LiveIpListsOptions = {}): Promise<LiveIpLists> {
  const result = await LiveIpLists.open(configs, { debounceMs: 20, ...options });
  if (!result.ok) throw new Error(result.errors.join('\n'));
  opened.push(result.lists);
  return result.lists;
}

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function until(check: () => boolean, what: string, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('opening', () => {
  test('loads every list', async () => {
    const lists = await open([
      { name: 'drop', path: write('drop.txt', '192.0.2.0/24 ; SBL1\n') },
      { name: 'feed', path: write('feed.csv', 'cidr,score,label\n192.0.2.0/25,20,scanner\n') },
    ]);
    expect(lists.lookup('192.0.2.1')).toEqual({ reputation: 20, lists: ['drop', 'feed'], labels: ['scanner'] });
    expect(lists.status()).toMatchObject({
      lists: [
        { name: 'drop', format: 'plain', prefixes: 1, failures: 0 },
        { name: 'feed', format: 'scored', prefixes: 1, failures: 0 },
      ],
      builds: 1,
      failures: 0,
      stats: { lists: 2, prefixes: 2 },
    });
    expect(lists.status().lists[0]).not.toHaveProperty('error');
  });

  test('an explicit format wins over the extension', async () => {
    const lists = await open([{ name: 'feed', path: write('feed.txt', '192.0.2.0/24,20,x\n'), format: 'scored' }]);
    expect(lists.lookup('192.0.2.1')?.reputation).toBe(20);
  });

  test('configuration problems are all reported, nothing is read', async () => {
    const result = await LiveIpLists.open([
      { name: 'Drop', path: 'a.txt' },
      { name: 'ok', path: '' },
      { name: 'ok', path: 'b.txt' },
      { name: 'x', path: 'c.txt', format: 'json' as 'plain' },
      { name: '', path: 'd.txt' },
    ]);
    expect(result).toEqual({
      ok: false,
      errors: [
        'IP list #1 `Drop`: the name must be 1 to 64 of a-z, 0-9, `.`, `_`, `-`, starting with a letter or digit',
        'IP list #2 `ok`: the path is empty',
        'IP list #3 `ok`: the name is used by another list',
        'IP list #4 `x`: the format `json` is not one of `plain`, `scored`',
        'IP list #5: the name must be 1 to 64 of a-z, 0-9, `.`, `_`, `-`, starting with a letter or digit',
      ],
    });
  });

  test('a broken or missing file is an error result naming file and line, not an exception', async () => {
    const bad = write('bad.txt', '192.0.2.0/24\n192.0.2.1/24\n');
    const missing = join(dir, 'missing.txt');
    const result = await LiveIpLists.open([
      { name: 'bad', path: bad },
      { name: 'missing', path: missing },
      { name: 'folder', path: dir },
    ]);
    expect(result).toEqual({
      ok: false,
      errors: [
        `${bad}:2:1: error: \`192.0.2.1/24\` has host bits set; did you mean \`192.0.2.0/24\`? (help: list entries are never widened, as with \`cidr()\` in policies)`,
        `${missing}: error: cannot read the file: no such file`,
        `${dir}: error: not a file`,
      ],
    });
  });

  test('a file over the size limit is refused before it is read', async () => {
    const big = write('big.txt', '192.0.2.1\n'.repeat(200));
    const result = await LiveIpLists.open([{ name: 'big', path: big }], { limits: { maxBytes: 1_000, maxEntries: 10_000, maxLineLength: 100 } });
    expect(result).toEqual({ ok: false, errors: [`${big}: error: the file is 2,000 bytes, more than the limit of 1,000`] });
  });
});

describe('reloading', () => {
  test('a changed file is served after a reload; an unchanged one is not rebuilt', async () => {
    const path = write('drop.txt', '192.0.2.0/24\n');
    const reports: IpListsReloadReport[] = [];
    const lists = await open([{ name: 'drop', path }], { onReload: (r) => reports.push(r) });
    const before = lists.status().lists[0].loadedAt;
    await sleep(5);
    write('drop.txt', '198.51.100.0/24\n');
    expect(await lists.reload()).toMatchObject({ applied: ['drop'], unchanged: [], rejected: [] });
    expect(lists.lookup('192.0.2.1')?.lists).toEqual([]);
    expect(lists.lookup('198.51.100.1')?.lists).toEqual(['drop']);
    expect(lists.status().lists[0].loadedAt.getTime()).toBeGreaterThan(before.getTime());
    expect(await lists.reload()).toMatchObject({ applied: [], unchanged: ['drop'] });
    expect(lists.status()).toMatchObject({ builds: 2, failures: 0 });
    expect(reports).toHaveLength(2);
  });

  test('a broken file keeps that list serving its previous version, reports why, and a fix clears it', async () => {
    const drop = write('drop.txt', '192.0.2.0/24\n');
    const feed = write('feed.csv', '192.0.2.0/24,10,bad\n');
    const lists = await open([
      { name: 'drop', path: drop },
      { name: 'feed', path: feed },
    ]);
    write('drop.txt', '192.0.2.0/24\nnot-an-address\n192.0.2.1/8\n');
    write('feed.csv', '192.0.2.0/24,30,better\n');
    const report = await lists.reload();
    expect(report).toMatchObject({ applied: ['feed'], rejected: [{ name: 'drop' }] });
    expect(report.rejected[0].errors).toHaveLength(2);
    // drop: the previous version; feed: the new one.
    expect(lists.lookup('192.0.2.1')).toEqual({ reputation: 30, lists: ['drop', 'feed'], labels: ['better'] });
    const status = lists.status().lists[0];
    expect(status).toMatchObject({ name: 'drop', prefixes: 1, failures: 1, error: `${drop}:2:1: error: \`not-an-address\` is not an IP address or CIDR range (and 1 more)` });
    expect(lists.status().failures).toBe(1);

    rmSync(drop);
    await lists.reload(['drop']);
    expect(lists.status().lists[0]).toMatchObject({ failures: 2, error: `${drop}: error: cannot read the file: no such file` });
    expect(lists.lookup('192.0.2.1')?.lists).toEqual(['drop', 'feed']);

    write('drop.txt', '192.0.2.0/24\n');
    expect(await lists.reload(['drop'])).toMatchObject({ unchanged: ['drop'] });
    expect(lists.status().lists[0]).not.toHaveProperty('error');
    expect(lists.status()).toMatchObject({ failures: 2 });
  });

  test('a list emptied in place (a file being written) keeps serving its previous version until it has entries again', async () => {
    const path = write('drop.txt', '192.0.2.0/24\n198.51.100.0/24\n');
    const lists = await open([{ name: 'drop', path }]);
    writeFileSync(path, '');
    const report = await lists.reload(['drop']);
    expect(report.rejected).toEqual([{ name: 'drop', errors: [expect.stringContaining('the list is now empty; taken for a file still being written, its previous version (2 prefixes) keeps serving')] }]);
    expect(lists.lookup('192.0.2.1')?.lists).toEqual(['drop']);
    expect(lists.status().lists[0]).toMatchObject({ prefixes: 2, error: expect.stringContaining('now empty') });
    // A comment-only file is as empty.
    writeFileSync(path, '# nothing yet\n');
    expect((await lists.reload(['drop'])).rejected).toHaveLength(1);
    writeFileSync(path, '203.0.113.0/24\n');
    expect(await lists.reload(['drop'])).toMatchObject({ applied: ['drop'], rejected: [] });
    expect(lists.lookup('192.0.2.1')?.lists).toEqual([]);
    expect(lists.lookup('203.0.113.9')?.lists).toEqual(['drop']);
  });

  test('reloads asked for during a reload are folded into one more', async () => {
    const path = write('drop.txt', '192.0.2.0/24\n');
    const lists = await open([{ name: 'drop', path }]);
    write('drop.txt', '198.51.100.0/24\n');
    const first = lists.reload();
    write('drop.txt', '203.0.113.0/24\n');
    const [second, third] = [lists.reload(), lists.reload()];
    expect(second).toBe(third);
    // The queued run starts after the first ends, so it reads the last write whatever the first read.
    const [one, two] = [await first, await second];
    expect(two).not.toBe(one);
    expect(two.at.getTime()).toBeGreaterThanOrEqual(one.at.getTime());
    expect(lists.lookup('203.0.113.1')?.lists).toEqual(['drop']);
  });

  test('lookups during reloads see one whole version, never a mix', async () => {
    // Both files give 192.0.2.1 the same version label; a lookup that saw one file's new
    // version and the other's old one would see two labels.
    const version = (v: number) => `192.0.2.0/24,${v},v${v}\n${Array.from({ length: 2_000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24,${v},bulk`).join('\n')}\n`;
    const a = write('a.csv', version(0));
    const b = write('b.csv', version(0));
    const lists = await open([
      { name: 'a', path: a },
      { name: 'b', path: b },
    ]);
    let lookups = 0;
    let stop = false;
    const seen = new Set<string>();
    const spin = (async () => {
      while (!stop) {
        const signals = lists.lookup('192.0.2.1');
        if (signals === null || signals.labels.length !== 1 || signals.labels[0] !== `v${signals.reputation}`) throw new Error(`mixed answer ${JSON.stringify(signals)}`);
        seen.add(signals.labels[0]);
        lookups++;
        await new Promise((r) => setImmediate(r));
      }
    })();
    for (let v = 1; v <= 20; v++) {
      write('a.csv', version(v));
      write('b.csv', version(v));
      const report = await lists.reload();
      expect(report.applied).toEqual(['a', 'b']);
    }
    stop = true;
    await spin;
    expect(lists.lookup('192.0.2.1')).toEqual({ reputation: 20, lists: ['a', 'b'], labels: ['v20'] });
    expect(lookups).toBeGreaterThan(20);
    expect(seen.size).toBeGreaterThan(1);
  });
});

describe('watching', () => {
  test('an editor saving by rename-over is picked up by itself', async () => {
    const path = write('drop.txt', '192.0.2.0/24\n');
    const lists = await open([{ name: 'drop', path }]);
    await lists.watch();
    writeFileSync(join(dir, '.drop.txt.swp'), '198.51.100.0/24\n');
    renameSync(join(dir, '.drop.txt.swp'), path);
    await until(() => lists.lookup('198.51.100.1')?.lists.length === 1, 'the renamed file');
    expect(lists.lookup('192.0.2.1')?.lists).toEqual([]);
  });

  test('a lists folder replaced whole (mv lists.new lists) is picked up, and so are edits in the new one', async () => {
    mkdirSync(join(dir, 'lists'));
    const path = join(dir, 'lists', 'drop.txt');
    writeFileSync(path, '192.0.2.0/24\n');
    const lists = await open([{ name: 'drop', path }]);
    await lists.watch();
    mkdirSync(join(dir, 'lists.new'));
    writeFileSync(join(dir, 'lists.new', 'drop.txt'), '198.51.100.0/24\n');
    renameSync(join(dir, 'lists'), join(dir, 'lists.old'));
    renameSync(join(dir, 'lists.new'), join(dir, 'lists'));
    await until(() => lists.lookup('198.51.100.1')?.lists.length === 1, 'the new folder');
    writeFileSync(path, '203.0.113.0/24\n');
    await until(() => lists.lookup('203.0.113.1')?.lists.length === 1, 'an edit in the new folder');
  });

  test('a list written in pieces with pauses longer than the debounce (a download) is read once it is whole, never in part', async () => {
    const path = write('drop.txt', '192.0.2.0/24\n');
    const reports: IpListsReloadReport[] = [];
    // Debounce 200 ms: the file must also be unwritten for 600 ms.
    const lists = await open([{ name: 'drop', path }], { debounceMs: 200, onReload: (r) => reports.push(r) });
    await lists.watch();
    const pieces = ['198.51.100.0/24\n', '203.0.113.0/24\n', '233.252.0.0/24\n'];
    const seen: number[] = [];
    writeFileSync(path, pieces[0]!);
    for (const piece of pieces.slice(1)) {
      // Longer than the debounce, shorter than the settling time.
      await sleep(250);
      seen.push(lists.status().lists[0]!.prefixes);
      appendFileSync(path, piece);
    }
    await until(() => reports.some((r) => r.applied.length > 0), 'the whole list');
    expect(lists.lookup('233.252.0.1')?.lists).toEqual(['drop']);
    // The old version served until the whole one did; no reload applied a part.
    expect(seen).toEqual([1, 1]);
    expect(reports.filter((r) => r.applied.length > 0)).toHaveLength(1);
    expect(lists.status().lists[0]!.prefixes).toBe(3);
  });

  test('changes to other files beside a list (a log written without pause) do not put off reading the list', async () => {
    const path = write('drop.txt', '192.0.2.0/24\n');
    const lists = await open([{ name: 'drop', path }], { debounceMs: 100 });
    await lists.watch();
    writeFileSync(path, '198.51.100.0/24\n');
    const started = Date.now();
    let appliedAfter: number | null = null;
    while (Date.now() - started < 3_000 && appliedAfter === null) {
      appendFileSync(join(dir, 'other.log'), 'a line\n');
      await sleep(50);
      if (lists.lookup('198.51.100.1')?.lists.length === 1) appliedAfter = Date.now() - started;
    }
    // Read as soon as it settled (about 300 ms here), while the log was still being written.
    expect(appliedAfter).not.toBeNull();
    expect(appliedAfter!).toBeLessThan(2_500);
  });

  test('a write in place, a broken write and its fix', async () => {
    const path = write('drop.txt', '192.0.2.0/24\n');
    const lists = await open([{ name: 'drop', path }]);
    await lists.watch();
    write('drop.txt', '198.51.100.0/24\n');
    await until(() => lists.lookup('198.51.100.1')?.lists.length === 1, 'the new version');
    write('drop.txt', '198.51.100.0/24\nbad\n');
    await until(() => lists.status().lists[0].error !== undefined, 'the error');
    expect(lists.lookup('198.51.100.1')?.lists).toEqual(['drop']);
    write('drop.txt', '203.0.113.0/24\n');
    await until(() => lists.lookup('203.0.113.1')?.lists.length === 1, 'the fix');
    expect(lists.status().lists[0]).not.toHaveProperty('error');
  });

  test('a Kubernetes ConfigMap update (a `..data` symlink swap) is picked up', async () => {
    // What kubelet's atomic writer does: files live in a timestamped folder, `..data` links
    // to it, the visible file links through `..data`; an update writes a new folder and
    // renames a new `..data` link over the old one, then removes the old folder.
    mkdirSync(join(dir, '..2026_01'));
    writeFileSync(join(dir, '..2026_01', 'drop.txt'), '192.0.2.0/24\n');
    symlinkSync('..2026_01', join(dir, '..data'));
    symlinkSync(join('..data', 'drop.txt'), join(dir, 'drop.txt'));
    const lists = await open([{ name: 'drop', path: join(dir, 'drop.txt') }]);
    await lists.watch();
    mkdirSync(join(dir, '..2026_02'));
    writeFileSync(join(dir, '..2026_02', 'drop.txt'), '198.51.100.0/24\n');
    symlinkSync('..2026_02', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    rmSync(join(dir, '..2026_01'), { recursive: true });
    await until(() => lists.lookup('198.51.100.1')?.lists.length === 1, 'the swapped ConfigMap');
    expect(lists.lookup('192.0.2.1')?.lists).toEqual([]);
    expect(lists.status().lists[0]).not.toHaveProperty('error');
  });

  test('a list that links to a file in another folder is watched there', async () => {
    mkdirSync(join(dir, 'elsewhere'));
    const real = join(dir, 'elsewhere', 'real.txt');
    writeFileSync(real, '192.0.2.0/24\n');
    mkdirSync(join(dir, 'config'));
    symlinkSync(real, join(dir, 'config', 'drop.txt'));
    const lists = await open([{ name: 'drop', path: join(dir, 'config', 'drop.txt') }]);
    await lists.watch();
    writeFileSync(real, '198.51.100.0/24\n');
    await until(() => lists.lookup('198.51.100.1')?.lists.length === 1, 'the linked file');
  });

  test('after close, changes are not picked up', async () => {
    const path = write('drop.txt', '192.0.2.0/24\n');
    const lists = await open([{ name: 'drop', path }]);
    await lists.watch();
    lists.close();
    write('drop.txt', '198.51.100.0/24\n');
    await sleep(200);
    expect(lists.lookup('192.0.2.1')?.lists).toEqual(['drop']);
    expect(lists.status().builds).toBe(1);
  });
});

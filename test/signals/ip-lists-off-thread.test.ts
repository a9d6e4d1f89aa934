import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
// From dist/: the reload runs in a worker thread started from the built .js file beside it (global-setup builds dist/).
import { LiveIpLists, type IpListsReloadReport } from '../../dist/signals/ip/live-ip-lists.js';

let dir = '';
const opened: LiveIpLists[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gavel-iplists-thread-'));
});
afterEach(() => {
  for (const l of opened.splice(0)) l.close();
  rmSync(dir, { recursive: true, force: true });
});

/** `n` /32s in 10.0.0.0/8, then `extra` lines. */
function bigList(n: number, extra = ''): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`);
  return `${lines.join('\n')}\n${extra}`;
}

async function open(offThread: boolean): Promise<LiveIpLists> {
  writeFileSync(join(dir, 'block.netset'), bigList(200_000));
  writeFileSync(join(dir, 'scores.csv'), '192.0.2.0/24,10,botnet\n');
  const result = await LiveIpLists.open([{ name: 'block', path: join(dir, 'block.netset') }, { name: 'scores', path: join(dir, 'scores.csv') }], { offThread });
  if (!result.ok) throw new Error(result.errors.join('\n'));
  opened.push(result.lists);
  return result.lists;
}

describe('IP lists reloaded in a worker thread (as gavel serve does)', () => {
  test('while a large list is parsed and built, lookups keep being answered from the version before', async () => {
    const lists = await open(true);
    writeFileSync(join(dir, 'block.netset'), bigList(200_000, '203.0.113.0/24\n'));
    const seen: string[][] = [];
    let done = false;
    const ask = () => {
      if (done) return;
      seen.push([...(lists.lookup('203.0.113.9')?.lists ?? [])]);
      setImmediate(ask);
    };
    setImmediate(ask);
    const report = await lists.reload();
    done = true;
    expect(report).toMatchObject({ applied: ['block'], unchanged: ['scores'], rejected: [] });
    expect(lists.lookup('203.0.113.9')).toEqual({ reputation: 100, lists: ['block'], labels: [] });
    // The thread answering requests went on turning through the parse and build (on it, they
    // took all of them at once), and never saw half a table.
    expect(seen.filter((l) => l.length === 0).length).toBeGreaterThan(1_000);
    expect(seen.slice(seen.findIndex((l) => l.length > 0)).every((l) => l.length > 0) || seen.every((l) => l.length === 0)).toBe(true);
  });

  test('answers and status are those of a reload on the calling thread', async () => {
    const here = await open(false);
    const there = await open(true);
    writeFileSync(join(dir, 'scores.csv'), '192.0.2.0/24,10,botnet\n10.1.2.0/24,40,scanner\n');
    const [a, b] = [await here.reload(), await there.reload()];
    expect(b.applied).toEqual(a.applied);
    for (const address of ['10.1.2.3', '10.0.0.1', '192.0.2.7', '8.8.8.8', '::1']) expect(there.lookup(address)).toEqual(here.lookup(address));
    expect(Object.isFrozen(there.lookup('10.1.2.3'))).toBe(true);
    const { builtAt: _a, stats: statsA, lists: listsA, ...restA } = here.status();
    const { builtAt: _b, stats: statsB, lists: listsB, ...restB } = there.status();
    expect(restB).toEqual(restA);
    expect({ ...statsB, buildMs: 0 }).toEqual({ ...statsA, buildMs: 0 });
    expect(listsB.map(({ loadedAt: _, ...l }) => l)).toEqual(listsA.map(({ loadedAt: _, ...l }) => l));
  });

  test('a scored list with a label per row (an answer per row) answers as on the calling thread', async () => {
    const here = await open(false);
    const there = await open(true);
    const rows = Array.from({ length: 2_000 }, (_, i) => `172.16.${i >> 8}.${i & 255}/32,${i % 100},label-${i}`);
    writeFileSync(join(dir, 'scores.csv'), `${rows.join('\n')}\n`);
    await here.reload();
    await there.reload();
    for (let i = 0; i < 2_000; i += 37) {
      const address = `172.16.${i >> 8}.${i & 255}`;
      expect(there.lookup(address)).toEqual({ reputation: i % 100, lists: ['scores'], labels: [`label-${i}`] });
      expect(there.lookup(address)).toEqual(here.lookup(address));
      // One object per answer, frozen, the same each time it is looked up.
      expect(there.lookup(address)).toBe(there.lookup(address));
      expect(Object.isFrozen(there.lookup(address)?.labels)).toBe(true);
    }
  });

  test('a reload under way when the lists are closed (the server stopping) applies and reports nothing', async () => {
    const reports: unknown[] = [];
    writeFileSync(join(dir, 'block.netset'), bigList(200_000));
    const result = await LiveIpLists.open([{ name: 'block', path: join(dir, 'block.netset') }], { offThread: true, onReload: (r) => reports.push(r) });
    if (!result.ok) throw new Error(result.errors.join('\n'));
    const lists = result.lists;
    writeFileSync(join(dir, 'block.netset'), bigList(200_000, '203.0.113.0/24\n'));
    const running = lists.reload();
    const queued = lists.reload();
    lists.close();
    expect(await running).toMatchObject({ applied: [], rejected: [] });
    expect(await queued).toMatchObject({ applied: [], rejected: [] });
    expect(reports).toEqual([]);
    expect(lists.lookup('203.0.113.9')?.lists).toEqual([]);
  });

  test('a broken file is rejected with the same messages, and the version before keeps serving', async () => {
    const here = await open(false);
    const there = await open(true);
    writeFileSync(join(dir, 'scores.csv'), '192.0.2.0/24,10,botnet\n10.1.2.0/33,40,scanner\n');
    const [a, b] = [await here.reload(), await there.reload()];
    expect(b.rejected).toEqual(a.rejected);
    expect(b.rejected[0]?.errors[0]).toMatch(/scores\.csv:2:/);
    expect(there.lookup('192.0.2.7')).toEqual({ reputation: 10, lists: ['scores'], labels: ['botnet'] });
    expect(there.status().lists.find((l) => l.name === 'scores')?.error).toMatch(/scores\.csv:2:/);
  });

  test('a reload thread that fails (out of memory here) rejects its lists, keeps the versions served, and is tried again by itself', async () => {
    writeFileSync(join(dir, 'block.netset'), '192.0.2.0/24\n');
    // Too little memory for the thread to parse a million prefixes: what a loaded machine may give it.
    const limits = { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1 };
    const reports: IpListsReloadReport[] = [];
    const result = await LiveIpLists.open([{ name: 'block', path: join(dir, 'block.netset') }], { offThread: true, workerLimits: limits, debounceMs: 200, onReload: (r) => reports.push(r) });
    if (!result.ok) throw new Error(result.errors.join('\n'));
    const lists = result.lists;
    opened.push(lists);
    writeFileSync(join(dir, 'block.netset'), bigList(1_000_000));
    const failed = await lists.reload();
    expect(failed.rejected).toEqual([{ name: 'block', errors: [expect.stringMatching(/^block: error: the list could not be reloaded \(tried again shortly\): .*memory/)] }]);
    expect(lists.lookup('192.0.2.7')?.lists).toEqual(['block']);
    expect(lists.lookup('10.0.1.2')?.lists).toEqual([]);
    expect(lists.status().lists[0]?.error).toMatch(/could not be reloaded/);
    // The watcher's reload of the same change fails too (or the first retry does).
    await until(() => (reports.filter((r) => r.rejected.length > 0).length >= 2 ? true : undefined), 15_000);
    // Memory again; nothing else happens — no call, no change to the file — and the list is read again.
    limits.maxOldGenerationSizeMb = 512;
    limits.maxYoungGenerationSizeMb = 16;
    const retried = await until(() => reports.find((r) => r.applied.includes('block')), 20_000);
    expect(retried).toMatchObject({ applied: ['block'], rejected: [] });
    expect(lists.status().lists[0]).not.toHaveProperty('error');
    expect(lists.lookup('10.0.1.2')?.lists).toEqual(['block']);
  }, 45_000);
});

/** Polls `found` every 50 ms until it gives something, or fails after `ms`. */
async function until<T>(found: () => T | undefined, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const x = found();
    if (x !== undefined) return x;
    if (Date.now() > end) throw new Error(`nothing after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

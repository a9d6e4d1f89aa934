import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { gavel, ROOT, workspace } from './helpers.js';

const golden = join(ROOT, 'test', 'golden', 'inventory');
const before = 'test/golden/inventory/before';
const after = 'test/golden/inventory/after';

describe('gavel diff (fixture folders)', () => {
  test('the table lists added, removed and changed policies with what changed, then their diffs (golden file)', async () => {
    const r = await gavel(['diff', before, after], { cwd: ROOT });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    await expect(r.stdout).toMatchFileSnapshot(join(golden, 'diff.txt'));
  });

  test('--json: counts, and per change its kind, sides and aspects; layout and comment edits are not changes', async () => {
    const r = await gavel(['diff', before, after, '--json'], { cwd: ROOT });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown> & { changes: Record<string, unknown>[] };
    expect(out).toMatchObject({ before: { dir: before }, after: { dir: after }, added: 1, removed: 1, changed: 2, unchanged: 3 });
    expect(out.changes.map((c) => [c.kind, c.id])).toEqual([
      ['changed', 'orders.cancel'],
      ['changed', 'orders.create'],
      ['removed', 'orders.legacy-export'],
      ['added', 'orders.refund'],
    ]);
    expect(out.changes[0]).toMatchObject({ aspects: ['annotations', 'effect', 'target', 'reason'], before: { effect: 'permit', file: `${before}/orders.gavel`, line: 16 }, after: { effect: 'forbid', line: 19 } });
    expect(out.changes[1]).toMatchObject({
      aspects: ['conditions'],
      diff: ['@@ -2,4 +2,4 @@', ' @tags("orders")', ' @owner("shop-team")', ' permit (action == "POST", resource.path == "/orders")', '-when { token.scope contains "orders:write" };', '+when { token.scope contains_all ["orders:write", "orders:create"] };'],
    });
    // orders.read gained a comment and a new layout, risk.bad-networks lost its layout: same canonical text.
    expect(JSON.stringify(out.changes)).not.toMatch(/orders\.read"|risk\.bad-networks|sub\/risk/);
  });

  test('a folder against itself: nothing differs, exit 0 even with --exit-code', async () => {
    const r = await gavel(['diff', before, before, '--exit-code'], { cwd: ROOT });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^test\/golden\/inventory\/before \(revision [0-9a-f]{16}\) → test\/golden\/inventory\/before \(revision [0-9a-f]{16}\)\n0 added, 0 removed, 0 changed, 6 unchanged\n$/);
  });

  test('--exit-code: exit 1 when anything differs; without it, 0', async () => {
    expect((await gavel(['diff', before, after, '--exit-code'], { cwd: ROOT })).code).toBe(1);
    expect((await gavel(['diff', after, before], { cwd: ROOT })).code).toBe(0);
  });

  test.each([
    { note: 'one folder', args: [before], message: 'give two policies folders' },
    { note: 'three folders', args: [before, after, before], message: 'give two policies folders' },
    { note: 'a missing folder', args: [before, 'nowhere'], message: 'policies folder `' },
    { note: 'an unknown flag', args: [before, after, '--stat'], message: "Unknown option '--stat'" },
  ])('usage errors exit 2: $note', async ({ args, message }) => {
    const r = await gavel(['diff', ...args], { cwd: ROOT });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
  });
});

describe('gavel diff (a proposed change to the example policies)', () => {
  let ws: ReturnType<typeof workspace>;
  beforeEach(() => {
    ws = workspace();
    cpSync(join(ws.dir, 'policies'), join(ws.dir, 'proposed'), { recursive: true });
  });
  afterEach(() => ws.remove());

  test('a proposed folder with invalid policies is an input error (exit 2) with located diagnostics', async () => {
    writeFileSync(join(ws.dir, 'proposed', 'broken.gavel'), 'permit when { token.scpoe contains "x" };\n');
    const r = await gavel(['diff', 'policies', 'proposed', '--exit-code'], { cwd: ws.dir });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('proposed/broken.gavel:1:15: error: unknown attribute `token.scpoe`');
    expect(r.stderr).toContain('gavel diff: `proposed` has invalid policies');
  });

  test('a revision id without --db is not looked for as a folder in silence: the message says to give the database', async () => {
    const r = await gavel(['diff', 'd54ef74a', 'policies'], { cwd: ws.dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('`d54ef74a` is not a folder; to compare a stored policy revision, give the database: --db FILE');
  });

  test('`permit () when` against `permit when` is no change: an empty target is no target', async () => {
    writeFileSync(join(ws.dir, 'policies', 'extra.gavel'), '@id("extra.mfa")\npermit when { context.mfa == true };\n');
    writeFileSync(join(ws.dir, 'proposed', 'extra.gavel'), '@id("extra.mfa")\npermit () when { context.mfa == true };\n');
    const r = await gavel(['diff', 'policies', 'proposed', '--exit-code', '--json'], { cwd: ws.dir });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ added: 0, removed: 0, changed: 0, changes: [] });
  });

  test('a policy file added beside the others shows up as added policies only', async () => {
    writeFileSync(join(ws.dir, 'proposed', 'extra.gavel'), '@id("extra.one")\npermit (action == "GET", resource.path == "/x")\nwhen { token.scope contains "x" };\n');
    const r = await gavel(['diff', 'policies', 'proposed', '--json'], { cwd: ws.dir });
    expect(JSON.parse(r.stdout)).toMatchObject({ added: 1, removed: 0, changed: 0, changes: [{ kind: 'added', id: 'extra.one', after: { file: 'proposed/extra.gavel', line: 1 } }] });
  });
});

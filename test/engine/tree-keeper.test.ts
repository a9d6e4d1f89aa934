import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { buildPolicySet } from '../../src/index.js';
import { LivePolicySet } from '../../src/engine/live-set.js';
import { TreeKeeper } from '../../src/server/tree-keeper.js';

const policies = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => `@id("${prefix}${i}") permit (action == "read") when { subject.level > ${i} };`).join('\n');
const set = (n: number, prefix: string) => buildPolicySet([{ file: 'p.gavel', text: policies(n, prefix) }]).set!;

async function settled(keeper: TreeKeeper, want: number): Promise<void> {
  for (let i = 0; i < 100 && keeper.held < want; i++) await nextTurn();
}

describe('keeping the serving set\'s syntax trees for partial evaluation', () => {
  test('the trees are parsed in slices between turns of the event loop, then all held', async () => {
    const live = new LivePolicySet(set(250, 'a'));
    const keeper = new TreeKeeper(live);
    keeper.refresh();
    // Nothing is parsed on the caller's turn: the first slice runs on a later one.
    expect(keeper.held).toBe(0);
    await nextTurn();
    expect(keeper.held).toBeGreaterThan(0);
    expect(keeper.held).toBeLessThan(250);
    await settled(keeper, 250);
    expect(keeper.held).toBe(250);
    // The held trees are the ones the compiled policies hand out.
    expect(live.current.policies[7].ast.annotations[0].values).toEqual(['a7']);
  });

  test('a swapped-in set replaces the held trees; the old job stops', async () => {
    const live = new LivePolicySet(set(300, 'a'));
    const keeper = new TreeKeeper(live);
    keeper.refresh();
    await nextTurn();
    live.swap(set(20, 'b'));
    keeper.refresh();
    await settled(keeper, 20);
    for (let i = 0; i < 10; i++) await nextTurn();
    expect(keeper.held).toBe(20);
    keeper.close();
    expect(keeper.held).toBe(0);
  });
});

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { diffLines, unifiedHunks } from '../../src/engine/line-diff.js';
import { diffPolicies } from '../../src/engine/policy-diff.js';
import { parse } from '../../src/language/parse/parse.js';

const file = (name: string, text: string) => {
  const { ast, diagnostics } = parse(name, text);
  expect(diagnostics).toEqual([]);
  return ast;
};

describe('line diff', () => {
  test('keeping the unchanged and removed lines gives the old text, the unchanged and added the new', () => {
    const line = fc.constantFrom('a', 'b', 'c', 'd');
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), fc.array(line, { maxLength: 12 }), (a, b) => {
        const d = diffLines(a, b);
        expect(d.filter((l) => l.op !== '+').map((l) => l.text)).toEqual(a);
        expect(d.filter((l) => l.op !== '-').map((l) => l.text)).toEqual(b);
      }),
    );
  });

  test('hunks keep three lines of context and count lines from 1', () => {
    const a = ['1', '2', '3', '4', '5', '6', '7', '8', '9'];
    const b = [...a.slice(0, 8), 'nine'];
    expect(unifiedHunks(diffLines(a, b))).toEqual(['@@ -6,4 +6,4 @@', ' 6', ' 7', ' 8', '-9', '+nine']);
    expect(unifiedHunks(diffLines(a, a))).toEqual([]);
  });
});

describe('policy diff', () => {
  test.each([
    { note: 'whitespace only', after: 'permit(action=="GET",resource)when{token.scope contains "a"};' },
    { note: 'a comment added', after: '// why\npermit (action == "GET", resource) // here\nwhen { token.scope contains "a" };' },
    { note: 'redundant parentheses', after: 'permit (action == "GET", resource)\nwhen { (token.scope contains "a") };' },
  ])('an edit that keeps the canonical text is no change: $note', ({ after }) => {
    const d = diffPolicies([file('a.gavel', 'permit (action == "GET", resource)\nwhen { token.scope contains "a" };\n')], [file('a.gavel', after)]);
    expect(d).toEqual({ changes: [], added: 0, removed: 0, changed: 0, unchanged: 1 });
  });

  test.each([
    { note: 'effect', after: 'forbid (action == "GET", resource) when { token.scope contains "a" };', aspects: ['effect'] },
    { note: 'target', after: 'permit (action == "PUT", resource) when { token.scope contains "a" };', aspects: ['target'] },
    { note: 'an empty target written out', after: 'permit () when { token.scope contains "a" };', aspects: ['target'] },
    { note: 'condition', after: 'permit (action == "GET", resource) when { token.scope contains "b" };', aspects: ['conditions'] },
    { note: 'unless added', after: 'permit (action == "GET", resource) when { token.scope contains "a" } unless { context.x };', aspects: ['conditions'] },
    { note: 'annotation', after: '@owner("x") permit (action == "GET", resource) when { token.scope contains "a" };', aspects: ['annotations'] },
    { note: 'empty reason', after: 'permit (action == "GET", resource) when { token.scope contains "a" } reason "";', aspects: ['reason'] },
  ])('names what changed: $note', ({ after, aspects }) => {
    const d = diffPolicies([file('a.gavel', 'permit (action == "GET", resource) when { token.scope contains "a" };')], [file('a.gavel', after)]);
    expect(d.changes).toMatchObject([{ kind: 'changed', id: 'a.gavel#1', aspects }]);
  });

  test('policies are keyed by id: moving one to another file is no change, an automatic id follows the file', () => {
    const d = diffPolicies(
      [file('a.gavel', '@id("x") permit;\nforbid;')],
      [file('b.gavel', '@id("x") permit;\nforbid;')],
    );
    expect(d.unchanged).toBe(1);
    expect(d.changes.map((c) => [c.kind, c.id])).toEqual([['removed', 'a.gavel#2'], ['added', 'b.gavel#2']]);
  });
});

describe('policies without an @id (known by their place in the file)', () => {
  const read = 'permit (action == "read");';
  const del = 'forbid (action == "delete");';
  const list = 'permit (action == "list");';
  const diff = (before: string[], after: string[]) => diffPolicies([file('a.gavel', before.join('\n'))], [file('a.gavel', after.join('\n'))]);

  test('one inserted above the others is one added, not every later one changed', () => {
    const d = diff([read, del], [list, read, del]);
    expect(d).toMatchObject({ added: 1, removed: 0, changed: 0, unchanged: 2 });
    expect(d.changes).toEqual([expect.objectContaining({ kind: 'added', id: 'a.gavel#1', after: expect.objectContaining({ text: list }) })]);
  });

  test('one removed is one removed; one edited in place, among others, is one changed', () => {
    expect(diff([list, read, del], [read, del])).toMatchObject({ added: 0, removed: 1, changed: 0, unchanged: 2 });
    const edited = diff([list, read, del], [list, 'permit (action == "read") when { subject.active == true };', del]);
    expect(edited).toMatchObject({ added: 0, removed: 0, changed: 1, unchanged: 2 });
    expect(edited.changes[0]).toMatchObject({ kind: 'changed', id: 'a.gavel#2', aspects: ['conditions'] });
  });

  test('counts add up whatever is inserted, removed or edited', () => {
    const policy = fc.constantFrom(read, del, list, 'forbid (action == "purge");', 'permit (action == "read") when { subject.active == true };');
    fc.assert(
      fc.property(fc.array(policy, { maxLength: 8 }), fc.array(policy, { maxLength: 8 }), (a, b) => {
        const d = diff(a, b);
        // Every policy of each side is accounted for once: kept, changed, or added/removed.
        expect(d.unchanged + d.changed + d.removed).toBe(a.length);
        expect(d.unchanged + d.changed + d.added).toBe(b.length);
        if (a.join() === b.join()) expect(d.changes).toEqual([]);
      }),
    );
  });
});

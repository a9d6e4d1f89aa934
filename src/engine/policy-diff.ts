/**
 * What would change between two policy sets ("what would this change if we deploy it?"):
 * policies added, removed and changed, keyed by policy id. Policies are compared by their
 * canonical text (`gavel fmt` without comments), so an edit to layout or comments only is
 * not a change. Results are plain JSON-able data, like the inventory's.
 */
import type { Effect, Policy, PolicyFile } from '../language/ast.js';
import { printFile } from '../language/format/printer.js';
import { encodeString } from '../language/parse/strings.js';
import { inventory } from './inventory.js';
import { diffLines, unifiedHunks } from './line-diff.js';
import { policyId } from './policy-set.js';

/** The parts of a policy a change can touch, in the order a policy is written. */
export const ASPECTS = ['annotations', 'effect', 'target', 'conditions', 'reason'] as const;
export type Aspect = (typeof ASPECTS)[number];

export interface PolicySide {
  effect: Effect;
  /** Path relative to its policies folder, `/`-separated. */
  file: string;
  line: number;
  /** The canonical text, comments left out. */
  text: string;
}

export type PolicyChange =
  | { kind: 'added'; id: string; after: PolicySide }
  | { kind: 'removed'; id: string; before: PolicySide }
  | { kind: 'changed'; id: string; before: PolicySide; after: PolicySide; aspects: Aspect[]; diff: string[] };

export interface PolicyDiff {
  /** Sorted by id. */
  changes: PolicyChange[];
  added: number;
  removed: number;
  changed: number;
  /** Policies whose canonical text is equal on both sides (they may have moved file). */
  unchanged: number;
}

interface Entry {
  policy: Policy;
  side: PolicySide;
}

export function diffPolicies(before: readonly PolicyFile[], after: readonly PolicyFile[]): PolicyDiff {
  const old = entries(before);
  const next = entries(after);
  const changes: PolicyChange[] = [];
  let unchanged = 0;
  const compare = (id: string, a: Entry, b: Entry) => {
    if (a.side.text === b.side.text) return void unchanged++;
    const diff = unifiedHunks(diffLines(a.side.text.split('\n'), b.side.text.split('\n')));
    changes.push({ kind: 'changed', id, before: a.side, after: b.side, aspects: aspectsChanged(a.policy, b.policy), diff });
  };
  for (const id of [...new Set([...old.named.keys(), ...next.named.keys()])]) {
    const a = old.named.get(id);
    const b = next.named.get(id);
    if (a === undefined) changes.push({ kind: 'added', id, after: b!.side });
    else if (b === undefined) changes.push({ kind: 'removed', id, before: a.side });
    else compare(id, a, b);
  }
  // Policies without an @id are known by their place in the file (`a.gavel#2`), which a policy
  // inserted above them changes: they are matched by text, as lines are in a diff, and what
  // is left between two matches is paired in order as changed, the rest added or removed.
  for (const file of [...new Set([...old.unnamed.keys(), ...next.unnamed.keys()])]) {
    const a = old.unnamed.get(file) ?? [];
    const b = next.unnamed.get(file) ?? [];
    let i = 0;
    let j = 0;
    let removed: Keyed[] = [];
    let added: Keyed[] = [];
    const settle = () => {
      const paired = Math.min(removed.length, added.length);
      for (let k = 0; k < paired; k++) compare(added[k]!.id, removed[k]!, added[k]!);
      for (const e of removed.slice(paired)) changes.push({ kind: 'removed', id: e.id, before: e.side });
      for (const e of added.slice(paired)) changes.push({ kind: 'added', id: e.id, after: e.side });
      [removed, added] = [[], []];
    };
    for (const line of diffLines(a.map((e) => e.side.text), b.map((e) => e.side.text))) {
      if (line.op === ' ') {
        settle();
        unchanged++;
        i++;
        j++;
      } else if (line.op === '-') removed.push(a[i++]!);
      else added.push(b[j++]!);
    }
    settle();
  }
  changes.sort((x, y) => byCodeUnits(x.id, y.id));
  const count = (kind: PolicyChange['kind']) => changes.filter((c) => c.kind === kind).length;
  return { changes, added: count('added'), removed: count('removed'), changed: count('changed'), unchanged };
}

interface Keyed extends Entry {
  id: string;
}

/** Policies with an @id by id; those without, by file in file order. */
function entries(files: readonly PolicyFile[]): { named: Map<string, Keyed>; unnamed: Map<string, Keyed[]> } {
  const named = new Map<string, Keyed>();
  const unnamed = new Map<string, Keyed[]>();
  for (const file of files) {
    file.policies.forEach((policy, n) => {
      const text = printFile({ file: file.file, policies: [policy], comments: [] }).trimEnd();
      const entry = { id: policyId(file.file, n + 1, policy.annotations), policy, side: { effect: policy.effect, file: file.file, line: policy.span.start.line, text } };
      if (policy.annotations.some((a) => a.name === 'id')) named.set(entry.id, entry);
      else {
        let list = unnamed.get(file.file);
        if (list === undefined) unnamed.set(file.file, (list = []));
        list.push(entry);
      }
    });
  }
  return { named, unnamed };
}

/**
 * Each aspect printed the way the formatter prints it, so any difference in canonical text
 * shows up in at least one aspect. Annotations compare in order, as the text does.
 */
function aspectsChanged(a: Policy, b: Policy): Aspect[] {
  const [x, y] = [parts(a), parts(b)];
  return ASPECTS.filter((aspect) => x[aspect] !== y[aspect]);
}

function parts(policy: Policy): Record<Aspect, string> {
  const [row] = inventory([{ file: '', policies: [policy], comments: [] }]);
  return {
    annotations: policy.annotations.map((a) => `@${a.name}(${a.values.map(encodeString).join(', ')})`).join('\n'),
    effect: policy.effect,
    // The text is what is compared; `permit ()` parses as `permit` (no target), so the two are one.
    target: policy.target === null ? '' : `(${row.target})`,
    conditions: row.conditions.join('\n'),
    reason: policy.reason === null ? '' : `reason ${encodeString(policy.reason)}`,
  };
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

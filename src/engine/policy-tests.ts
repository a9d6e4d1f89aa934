import { isMap, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import type { Request } from '../language/eval/activation.js';
import { decide } from './decide.js';
import type { PolicySet } from './policy-set.js';
import type { PolicySource } from './policy-set.js';
import { offlineRequest } from '../signals/offline.js';
import { validateRequest } from './validate-request.js';

/** One case of a policy test file (docs/testing.md). */
export interface PolicyTestCase {
  file: string;
  line: number;
  name: string;
  request: Request;
  expect: 'allow' | 'deny';
  determining?: string[];
  reasons?: string[];
}

/** A problem with a test file itself: reported with its location and counted as a failure. */
export interface TestFileProblem {
  /** `file`: the file cannot be read as a test file at all; `case`: one case is malformed. */
  scope: 'file' | 'case';
  file: string;
  line: number;
  col: number;
  message: string;
}

export interface TestOutcome {
  test: PolicyTestCase;
  /** Empty when the case passed. */
  differences: string[];
}

const CASE_KEYS = new Set(['name', 'request', 'expect', 'determining', 'reasons']);
const isObject = (v: unknown): v is { [k: string]: unknown } => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

/**
 * Reads a YAML (or JSON) test file: `tests:` a list of cases, and optionally `fixtures:`
 * holding YAML anchors the cases merge with `<<: *name`.
 */
export function readTestFile(source: PolicySource): { cases: PolicyTestCase[]; problems: TestFileProblem[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source.text, { lineCounter, merge: true, prettyErrors: false, uniqueKeys: true });
  const at = (node: Node | null | undefined, message: string, scope: TestFileProblem['scope'] = 'file'): TestFileProblem => {
    const pos = lineCounter.linePos(node?.range?.[0] ?? 0);
    return { scope, file: source.file, line: pos.line, col: pos.col, message };
  };
  const problems: TestFileProblem[] = doc.errors.map((e) => {
    const pos = lineCounter.linePos(e.pos[0]);
    return { scope: 'file', file: source.file, line: pos.line, col: pos.col, message: e.message.split('\n')[0] };
  });
  if (problems.length > 0) return { cases: [], problems };
  const root = doc.contents;
  const tests = isMap(root) ? root.get('tests', true) : undefined;
  if (!isMap(root) || !isSeq(tests)) return { cases: [], problems: [at(root, 'a test file needs `tests:`, a list of cases')] };
  for (const pair of root.items) {
    const key = String((pair.key as { value?: unknown })?.value ?? pair.key);
    if (key !== 'tests' && key !== 'fixtures') problems.push(at(pair.key as Node, `unknown key \`${key}\`; a test file has \`tests\` and \`fixtures\``));
  }
  // Resolve anchors and merge keys over the whole document, then pair values with nodes for line numbers.
  let values: unknown[];
  try {
    values = (doc.toJS({ maxAliasCount: 10_000 }) as { tests: unknown[] }).tests;
  } catch (err: unknown) {
    // An alias bomb (anchors expanding exponentially) stops here, not the whole run.
    return { cases: [], problems: [at(root, `cannot read the tests: ${err instanceof Error ? err.message : String(err)}`)] };
  }
  // An empty list is more likely a slip (cases indented under another key) than a file meant to test nothing.
  if (tests.items.length === 0) return { cases: [], problems: [...problems, at(tests, '`tests:` is empty: a test file has at least one case')] };
  const cases: PolicyTestCase[] = [];
  for (const [n, item] of tests.items.entries()) {
    const node = item as Node;
    const value = values[n];
    const line = lineCounter.linePos(node.range?.[0] ?? 0).line;
    const checked = readCase(source.file, line, value);
    if (typeof checked === 'string') problems.push(at(node, checked, 'case'));
    else cases.push(checked);
  }
  return { cases, problems };
}

function readCase(file: string, line: number, value: unknown): PolicyTestCase | string {
  if (!isObject(value)) return 'a test case is a map with `name`, `request` and `expect`';
  const unknown = Object.keys(value).filter((k) => !CASE_KEYS.has(k));
  if (unknown.length > 0) return `unknown key \`${unknown[0]}\` in a test case; keys are ${[...CASE_KEYS].join(', ')}`;
  const { name, request, expect, determining, reasons } = value;
  if (name === undefined || name === '' || name === null) return 'a test case needs a `name`';
  // YAML reads `name: 12` or `name: yes` as a number or a boolean.
  if (typeof name !== 'string') return `a test case's \`name\` is text: quote it (\`name: "${String(name)}"\`)`;
  if (expect !== 'allow' && expect !== 'deny') return `\`${name}\`: \`expect\` must be \`allow\` or \`deny\``;
  if (determining !== undefined && !isStrings(determining)) return `\`${name}\`: \`determining\` must be a list of policy ids`;
  if (reasons !== undefined && !isStrings(reasons)) return `\`${name}\`: \`reasons\` must be a list of strings`;
  const checked = validateRequest(request, { trusted: true });
  if ('problems' in checked) return `\`${name}\`: invalid request: ${checked.problems.join('; ')}`;
  return { file, line, name, request: offlineRequest(checked.request), expect, determining, reasons };
}

// Sets, as docs/testing.md says: two forbids giving the same reason are one expected reason.
const sameSet = (a: string[], b: string[]) => {
  const [x, y] = [new Set(a), new Set(b)];
  return x.size === y.size && [...x].every((v) => y.has(v));
};
const show = (list: string[]) => `[${list.join(', ')}]`;

export function runTestCase(set: PolicySet, test: PolicyTestCase): TestOutcome {
  const d = decide(set, test.request);
  const differences: string[] = [];
  const got = d.decision ? 'allow' : 'deny';
  if (got !== test.expect) differences.push(`expected ${test.expect}, got ${got} (determining ${show(d.determining)})`);
  if (test.determining !== undefined && !sameSet(test.determining, d.determining)) {
    const unknown = test.determining.filter((id) => !set.byId.has(id));
    differences.push(`determining: expected ${show(test.determining)}, got ${show(d.determining)}${unknown.length === 0 ? '' : ` (no policy has the id ${unknown.map((id) => `\`${id}\``).join(', ')})`}`);
  }
  if (test.reasons !== undefined && !sameSet(test.reasons, d.reasons)) differences.push(`reasons: expected ${show(test.reasons)}, got ${show(d.reasons)}`);
  for (const e of d.errors) if (differences.length > 0) differences.push(`error in ${e.policy} at ${e.location}: ${e.message}`);
  return { test, differences };
}

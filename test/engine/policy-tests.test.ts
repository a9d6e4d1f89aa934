import { describe, expect, test } from 'vitest';
import { buildPolicySet } from '../../src/index.js';
import { readTestFile, runTestCase } from '../../src/engine/policy-tests.js';

const set = buildPolicySet([
  {
    file: 'p.gavel',
    text: '@id("a") forbid (action == "delete") reason "records are kept";\n@id("b") forbid (action == "delete") reason "records are kept";\n',
  },
]).set!;

function outcome(expectations: string): string[] {
  const { cases, problems } = readTestFile({
    file: 't.test.yaml',
    text: `tests:\n  - name: delete\n    request: { subject: { type: user, id: u }, action: { name: delete }, resource: { type: doc, id: "1" } }\n    expect: deny\n${expectations}`,
  });
  expect(problems).toEqual([]);
  return runTestCase(set, cases[0]!).differences;
}

describe('policy test cases compare determining ids and reasons as sets', () => {
  test('two forbids giving the same reason are one expected reason', () => {
    expect(outcome('    reasons: [records are kept]\n')).toEqual([]);
    expect(outcome('    determining: [b, a]\n')).toEqual([]);
  });

  test('a missing or extra member is a difference', () => {
    expect(outcome('    reasons: [records are kept, other]\n')).toEqual(['reasons: expected [records are kept, other], got [records are kept, records are kept]']);
    expect(outcome('    determining: [a]\n')).toEqual(['determining: expected [a], got [a, b]']);
  });
});

describe('what a test file gets wrong is said as such', () => {
  test('an expected id no policy has is named: a typo is not left to be read out of the lists', () => {
    expect(outcome('    determining: [a, bb]\n')).toEqual(['determining: expected [a, bb], got [a, b] (no policy has the id `bb`)']);
  });

  test('a name YAML read as a number is told to be quoted, not that it is missing', () => {
    const { problems } = readTestFile({ file: 't.test.yaml', text: 'tests:\n  - name: 12\n    request: { subject: { type: user, id: u }, action: { name: x }, resource: { type: doc, id: "1" } }\n    expect: deny\n' });
    expect(problems.map((p) => p.message)).toEqual(["a test case's `name` is text: quote it (`name: \"12\"`)"]);
  });

  test('an empty list of cases is a problem, not a file that passes', () => {
    const { cases, problems } = readTestFile({ file: 't.test.yaml', text: 'tests: []\n' });
    expect(cases).toEqual([]);
    expect(problems.map((p) => p.message)).toEqual(['`tests:` is empty: a test file has at least one case']);
  });
});

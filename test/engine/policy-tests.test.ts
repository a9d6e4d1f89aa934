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

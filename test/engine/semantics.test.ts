import { describe, expect, test } from 'vitest';
import { buildPolicySet, decide, type Request } from '../../src/index.js';

/** A request the policies below read: `context.x` selects what each policy does. */
const request = (context: Record<string, unknown>): Request => ({
  subject: { type: 'user', id: 'alice' },
  action: { name: 'read' },
  resource: { type: 'doc', id: '1' },
  context,
});

// Each policy's condition reads one context flag: true → satisfied, false → not, absent → error.
const P1 = '@id("p1") permit (action, resource) when { context.p1 };';
const P2 = '@id("p2") permit (action, resource) when { context.p2 };';
const F1 = '@id("f1") forbid (action, resource) when { context.f1 } reason "f1 says no";';
const F2 = '@id("f2") forbid (action, resource) when { context.f2 };';
const UNLESS = '@id("u1") forbid (action, resource) unless { context.u1 } reason "u1 not met";';

function run(policies: string[], context: Record<string, unknown>) {
  const { set, diagnostics } = buildPolicySet([{ file: 'semantics.gavel', text: policies.join('\n') }]);
  expect(diagnostics).toEqual([]);
  const d = decide(set!, request(context));
  return { decision: d.decision, determining: d.determining, reasons: d.reasons, errors: d.errors.map((e) => e.policy) };
}

describe('the decision rule: any satisfied forbid denies; else any satisfied permit allows; else deny', () => {
  test.each([
    { note: 'no policy applies: deny, nothing determining', policies: [P1, F1], context: { p1: false, f1: false }, want: { decision: false, determining: [], reasons: [], errors: [] } },
    { note: 'an empty policy set denies', policies: [], context: {}, want: { decision: false, determining: [], reasons: [], errors: [] } },
    { note: 'a satisfied permit allows', policies: [P1], context: { p1: true }, want: { decision: true, determining: ['p1'], reasons: [], errors: [] } },
    { note: 'every satisfied permit is determining', policies: [P1, P2], context: { p1: true, p2: true }, want: { decision: true, determining: ['p1', 'p2'], reasons: [], errors: [] } },
    { note: 'a satisfied forbid denies with its reason', policies: [F1], context: { f1: true }, want: { decision: false, determining: ['f1'], reasons: ['f1 says no'], errors: [] } },
    { note: 'a satisfied forbid beats a satisfied permit', policies: [P1, F1], context: { p1: true, f1: true }, want: { decision: false, determining: ['f1'], reasons: ['f1 says no'], errors: [] } },
    { note: 'every satisfied forbid is determining; one without reason adds none', policies: [F1, F2, P1], context: { f1: true, f2: true, p1: true }, want: { decision: false, determining: ['f1', 'f2'], reasons: ['f1 says no'], errors: [] } },
    { note: 'an unsatisfied forbid does not stop a permit', policies: [P1, F1], context: { p1: true, f1: false }, want: { decision: true, determining: ['p1'], reasons: [], errors: [] } },
    { note: 'a forbid whose condition errors applies (fail closed), saying so rather than its reason, which did not hold', policies: [P1, F1], context: { p1: true }, want: { decision: false, determining: ['f1'], reasons: ['the request could not be checked against every policy, and is denied'], errors: ['f1'] } },
    { note: 'a forbid that held gives its reason first, before the note for one that failed closed (a gateway shows the first)', policies: [F1, UNLESS], context: { f1: true }, want: { decision: false, determining: ['f1', 'u1'], reasons: ['f1 says no', 'the request could not be checked against every policy, and is denied'], errors: ['u1'] } },
    { note: 'two forbids that failed closed give the note once', policies: [F1, UNLESS], context: {}, want: { decision: false, determining: ['f1', 'u1'], reasons: ['the request could not be checked against every policy, and is denied'], errors: ['f1', 'u1'] } },
    { note: 'a permit\'s reason is not a deny reason', policies: ['@id("p") permit (action, resource) reason "why";'], context: {}, want: { decision: true, determining: ['p'], reasons: [], errors: [] } },
    { note: 'a permit whose condition errors does not apply', policies: [P1], context: {}, want: { decision: false, determining: [], reasons: [], errors: ['p1'] } },
    { note: 'an erroring permit is reported beside a satisfied one', policies: [P1, P2], context: { p2: true }, want: { decision: true, determining: ['p2'], reasons: [], errors: ['p1'] } },
    { note: 'a condition of the wrong type is an error, not false', policies: [P1, F1], context: { p1: true, f1: 'yes' }, want: { decision: false, determining: ['f1'], reasons: ['the request could not be checked against every policy, and is denied'], errors: ['f1'] } },
    { note: '`unless` holding keeps a forbid from applying', policies: [UNLESS, P1], context: { u1: true, p1: true }, want: { decision: true, determining: ['p1'], reasons: [], errors: [] } },
    { note: '`unless` failing makes a forbid apply', policies: [UNLESS, P1], context: { u1: false, p1: true }, want: { decision: false, determining: ['u1'], reasons: ['u1 not met'], errors: [] } },
    { note: '`unless` erroring makes a forbid apply (fail closed)', policies: [UNLESS, P1], context: { p1: true }, want: { decision: false, determining: ['u1'], reasons: ['the request could not be checked against every policy, and is denied'], errors: ['u1'] } },
  ])('$note', ({ policies, context, want }) => {
    expect(run(policies, context)).toEqual(want);
  });

  test('the order of policies never changes the answer', () => {
    const policies = [P1, P2, F1, F2, UNLESS];
    const contexts = [{}, { p1: true }, { p1: true, u1: true }, { p2: true, u1: true, f2: false }, { f1: true, u1: true, p1: true }];
    for (const context of contexts) {
      // Not just the same verdict: the same determining ids, reasons and errors, in the same order.
      expect(run([...policies].reverse(), context)).toEqual(run(policies, context));
    }
  });
});

describe('targets', () => {
  test('a target whose attribute is missing does not match, even for a forbid', () => {
    const result = run(['@id("f") forbid (resource.path like "/admin/**");', P1], { p1: true });
    expect(result).toMatchObject({ decision: true, determining: ['p1'] });
  });

  test('a policy whose target does not match is not evaluated, so its errors are not reported', () => {
    const result = run(['@id("f") forbid (action == "write", resource) when { context.missing };', P1], { p1: true });
    expect(result).toEqual({ decision: true, determining: ['p1'], reasons: [], errors: [] });
  });
});

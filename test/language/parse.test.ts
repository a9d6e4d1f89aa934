import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { parse } from '../../src/language/parse/parse.js';
import { formatDiagnostic } from '../../src/language/diagnostic.js';
import { stripSpans } from '../arbitraries.js';

const DESIGN_EXAMPLES = `
@id("invoices.read")
@tags("finance", "sox")
@description("Finance staff read invoices with a strong login")
permit (
  action in ["GET", "HEAD"],
  resource.path like "/invoices/**"
)
when {
  token.scope contains "invoice:read"
  && subject.department == "finance"
  && (token.acr == "mfa" || token.scope contains_any ["fido", "otp"])
};

@id("risk.block-bad-networks")
forbid (action, resource)
when { risk.ip.reputation < 20 || context.fraud_score > 0.8 }
reason "request from a high-risk network";

@id("mint.payments-write")
permit (action == "mint", resource == scope::"payments:write")
when { subject.id in ["billing-service"] && risk.ip.reputation >= 50 };
`;

describe('long comma lists', () => {
  test('lists, call arguments, target constraints and annotation strings of thousands of items keep every item in order', () => {
    // Within the 20,000 tokens a policy may have.
    const numbers = Array.from({ length: 2_500 }, (_, i) => i);
    const text = `@tags(${numbers.map((i) => `"t${i}"`).join(', ')})\npermit (${numbers.slice(0, 800).map((i) => `subject.a${i} == ${i}`).join(', ')}) when { context.a in [${numbers.join(',')}] && f(${numbers.slice(0, 1_000).join(', ')}) };`;
    const { ast, diagnostics } = parse('long.gavel', text);
    expect(diagnostics).toEqual([]);
    const policy = ast.policies[0]!;
    expect(policy.annotations[0]!.values).toEqual(numbers.map((i) => `t${i}`));
    expect(policy.target).toHaveLength(800);
    const body = JSON.stringify(stripSpans(policy.conditions[0]!.body));
    expect(body).toContain(JSON.stringify(numbers.map((i) => ({ kind: 'literal', value: i }))).slice(1, -1));
  });
});

describe('parsing', () => {
  test('every policy of the design sketch parses into the expected tree', () => {
    const { ast, diagnostics } = parse('design.gavel', DESIGN_EXAMPLES);
    expect(diagnostics).toEqual([]);
    expect(ast.policies.map((p) => [p.effect, p.annotations.map((a) => `${a.name}=${a.values.join('|')}`), p.target?.map((c) => c.kind), p.conditions.map((c) => c.kind), p.reason])).toEqual([
      ['permit', ['id=invoices.read', 'tags=finance|sox', 'description=Finance staff read invoices with a strong login'], ['in', 'like'], ['when'], null],
      ['forbid', ['id=risk.block-bad-networks'], ['any', 'any'], ['when'], 'request from a high-risk network'],
      ['permit', ['id=mint.payments-write'], ['eq', 'eq'], ['when'], null],
    ]);
    expect(stripSpans(ast.policies[2].target)).toEqual([
      { kind: 'eq', root: 'action', path: [], value: { kind: 'literal', value: 'mint' } },
      { kind: 'eq', root: 'resource', path: [], value: { kind: 'entity', type: 'scope', id: 'payments:write' } },
    ]);
  });

  test('a policy needs neither a target nor conditions', () => {
    expect(parse('x.gavel', 'permit (action == "read", resource);\nforbid;').diagnostics).toEqual([]);
  });

  test('spans point at the text: line and column of each node', () => {
    const { ast } = parse('x.gavel', '\n  permit (action == "read")\n  when { subject.a == 1 };');
    const p = ast.policies[0];
    expect(p.span.start).toEqual({ line: 2, col: 3, offset: 3 });
    expect(p.conditions[0].body.span.start).toMatchObject({ line: 3, col: 10 });
  });

  test.each([
    { note: 'symbolic operators are not attribute names', text: 'permit when { context.< == 1 };', error: 'x.gavel:1:23: error: unexpected `<`' },
    { note: 'a missing `;` is reported where the next policy starts', text: 'permit\npermit;', error: 'x.gavel:2:1: error: unexpected `permit`, expected `;`' },
    { note: 'end of input inside a policy', text: 'permit (action', error: 'x.gavel:1:15: error: unexpected end of input' },
    { note: 'relations do not chain', text: 'permit when { subject.a == 1 == 2 };', error: 'x.gavel:1:30: error: unexpected `==`' },
  ])('$note', ({ text, error }) => {
    const lines = parse('x.gavel', text).diagnostics.map(formatDiagnostic);
    expect(lines).toHaveLength(1);
    expect(lines[0].startsWith(error)).toBe(true);
  });

  test('parse never throws, on any text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.array(fc.constantFrom('permit', 'forbid', '(', ')', '{', '}', 'when', 'unless', ';', '"a"', 'subject', '.', '==', '&&', '[', ']', ',', '@id', '1', '::', 'like', '\n', '//'), { maxLength: 40 }).map((t) => t.join(' '))), (text) => {
        const { diagnostics } = parse('x.gavel', text);
        for (const d of diagnostics) expect(d.span.start.line).toBeGreaterThanOrEqual(1);
      }),
      { numRuns: 2000 },
    );
  });
});

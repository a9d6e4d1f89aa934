import { describe, expect, test } from 'vitest';
import { affects, type AffectsRow } from '../../../src/engine/affects.js';
import { buildPolicySet } from '../../../src/engine/policy-set.js';
import { formatDiagnostic } from '../../../src/language/diagnostic.js';
import { renderAffectsTable } from '../../../src/formats/render-affects.js';
import { parseFacts } from '../../../src/language/partial/partial.js';
import { parseSchema } from '../../../src/language/check/schema.js';

function classify(policy: string, facts: string[]): Pick<AffectsRow, 'status' | 'condition' | 'because' | 'may_error'> {
  const { set, diagnostics } = buildPolicySet([{ file: 'p.gavel', text: `@id("p") ${policy}` }]);
  expect(diagnostics.map(formatDiagnostic)).toEqual([]);
  const parsed = parseFacts(facts.map((text, i) => ({ file: `--where#${i + 1}`, text })));
  if ('diagnostics' in parsed) throw new Error(parsed.diagnostics.map(formatDiagnostic).join('\n'));
  const [row] = affects(set!, parsed.knowledge, { all: true });
  return { status: row.status, condition: row.condition, because: row.because, may_error: row.may_error };
}

const PATIENT_FACTS = ['resource.type == "patient_record"', 'subject.country != "US"', 'action == "GET"'];

describe('classification', () => {
  test.each([
    {
      note: 'the compliance question: foreign employees reading patient records — the residency forbid is left with its unknown part',
      policy: 'forbid (action, resource.type == "patient_record") when { subject.country != "US" && !(subject.roles contains "transfer-agreement") };',
      facts: PATIENT_FACTS,
      want: { status: 'may-apply', condition: '!(subject.roles contains "transfer-agreement")', because: null, may_error: true },
    },
    {
      note: 'the known conjuncts drop out of a permit, the unknown scope stays',
      policy: 'permit (action in ["GET", "read"], resource.type == "patient_record") when { subject.country != "US" && token.scope contains "phi:read" };',
      facts: PATIENT_FACTS,
      want: { status: 'may-apply', condition: 'token.scope contains "phi:read"', because: null, may_error: true },
    },
    {
      note: 'a target on another resource type does not apply, and says which constraint fails',
      policy: 'permit (action == "GET", resource.type == "invoice") when { token.scope contains "invoice:read" };',
      facts: PATIENT_FACTS,
      want: { status: 'does-not-apply', condition: null, because: 'resource.type == "invoice"', may_error: false },
    },
    {
      note: 'a forbid whose target and conditions the facts decide applies',
      policy: 'forbid (action, resource.type == "patient_record") when { subject.country != "US" } reason "no";',
      facts: PATIENT_FACTS,
      want: { status: 'applies', condition: null, because: null, may_error: false },
    },
    {
      note: 'a fact `==` makes every other comparison on that path known: `in` without the value is false',
      policy: 'permit when { resource.type in ["invoice", "customer"] };',
      facts: PATIENT_FACTS,
      want: { status: 'does-not-apply', condition: null, because: 'resource.type in ["invoice", "customer"]', may_error: false },
    },
    {
      note: '`!=` facts exclude values',
      policy: 'permit when { subject.country == "US" && token.acr == "mfa" };',
      facts: PATIENT_FACTS,
      want: { status: 'does-not-apply', condition: null, because: 'subject.country == "US"', may_error: false },
    },
    {
      note: 'a forbid that is false save for an error it may raise fails closed: it may apply',
      policy: 'forbid when { context.fraud_score > 0.8 && subject.country == "US" };',
      facts: PATIENT_FACTS,
      want: { status: 'may-apply', condition: null, because: null, may_error: true },
    },
    {
      note: 'a permit in the same position does not apply (an error only loses an allow)',
      policy: 'permit when { context.fraud_score > 0.8 && subject.country == "US" };',
      facts: PATIENT_FACTS,
      want: { status: 'does-not-apply', condition: null, because: 'subject.country == "US"', may_error: true },
    },
    {
      note: '`like` facts decide patterns with a disjoint prefix',
      policy: 'permit (action, resource.path like "/customers/**");',
      facts: ['resource.path like "/invoices/**"'],
      want: { status: 'does-not-apply', condition: null, because: 'resource.path like "/customers/**"', may_error: false },
    },
    {
      note: 'number bounds decide orderings, the inclusive edge included',
      policy: 'permit when { context.score < 5 };',
      facts: ['context.score <= 5'],
      want: { status: 'may-apply', condition: 'context.score < 5', because: null, may_error: false },
    },
    {
      note: 'number bounds decide orderings',
      policy: 'permit when { context.score < 5 };',
      facts: ['context.score < 3'],
      want: { status: 'applies', condition: null, because: null, may_error: false },
    },
    {
      note: '`has` facts answer `has` and remove its error; `unless` is negated in the residual',
      policy: 'forbid unless { context has mfa && context.mfa == true };',
      facts: ['context has mfa'],
      want: { status: 'may-apply', condition: 'context.mfa != true', because: null, may_error: false },
    },
    {
      note: 'an absent attribute makes `has` false',
      policy: 'permit when { context has emergency && context.emergency == true };',
      facts: ['!(context has emergency)'],
      want: { status: 'does-not-apply', condition: null, because: 'context has emergency', may_error: false },
    },
    {
      note: 'a known value substitutes into a comparison between two paths',
      policy: 'permit when { resource.owner == subject.id };',
      facts: ['subject.id == "alice"'],
      want: { status: 'may-apply', condition: 'resource.owner == "alice"', because: null, may_error: true },
    },
    {
      note: '`contains` facts decide `contains` on the same list; `||` with a true side folds to true',
      policy: 'permit when { token.scope contains "phi:read" || subject.roles contains "admin" };',
      facts: ['token.scope contains "phi:read"'],
      want: { status: 'applies', condition: null, because: null, may_error: false },
    },
    {
      note: 'entity facts decide an entity target',
      policy: 'permit (action == "mint", resource == scope::"payments:write");',
      facts: ['resource == scope::"payments:read"', 'action == "mint"'],
      want: { status: 'does-not-apply', condition: null, because: 'resource == scope::"payments:write"', may_error: false },
    },
  ])('$note', ({ policy, facts, want }) => {
    expect(classify(policy, facts)).toEqual(want);
  });
});

describe('facts', () => {
  const errors = (texts: string[]) => {
    const r = parseFacts(texts.map((text, i) => ({ file: `--where#${i + 1}`, text })));
    return 'diagnostics' in r ? r.diagnostics.map(formatDiagnostic) : [];
  };

  test('an `unless` the facts make hold is told as holding, not as failing; a `when` that fails, as failing', () => {
    const rows = (policy: string, fact: string) => {
      const { set } = buildPolicySet([{ file: 'p.gavel', text: policy }]);
      const parsed = parseFacts([{ file: '--where#1', text: fact }]);
      if ('diagnostics' in parsed) throw new Error('bad fact');
      return affects(set!, parsed.knowledge, { all: true });
    };
    const unless = rows('@id("mfa") forbid (action, resource) unless { context.mfa == true } reason "mfa";', 'context.mfa == true');
    expect(unless[0]).toMatchObject({ status: 'does-not-apply', because: 'context.mfa == true', because_part: 'unless' });
    expect(renderAffectsTable(unless)[1]).toMatch(/  unless held: context\.mfa == true$/);
    const when = rows('@id("mfa") forbid (action, resource) when { context.mfa == false } reason "mfa";', 'context.mfa == true');
    expect(when[0]).toMatchObject({ status: 'does-not-apply', because: 'context.mfa == false', because_part: 'when' });
    expect(renderAffectsTable(when)[1]).toMatch(/  fails: context\.mfa == false$/);
  });

  test('a fact about an attribute the schema marks optional needs no `has` guard: it is assumed, not evaluated', () => {
    const schema = parseSchema('schema.json', '{"context": {"mfa?": "boolean"}}').schema;
    const parsed = parseFacts([{ file: '--where#1', text: 'context.mfa == true' }], schema);
    expect('knowledge' in parsed).toBe(true);
  });

  test('bad facts are located diagnostics, every one of them', () => {
    expect(errors(['resource.type = "x"', 'subjet.country == "US"', 'a.b == 1 || true', 'subject.country == "US" || subject.country == "DE"'])).toEqual([
      '--where#1:1:15: error: unexpected character "=" (help: did you mean `==`? Comparison is `==`; there is no assignment)',
      '--where#2:1:1: error: unknown name `subjet` (help: names are subject, action, resource, context, token, risk)',
      '--where#3:1:1: error: unknown name `a` (help: names are subject, action, resource, context, token, risk)',
      expect.stringMatching(/^--where#4:1:1: error: `subject\.country == "US" \|\| subject\.country == "DE"` cannot be used as a fact \(help: a fact is/),
    ]);
  });

  test('facts that contradict each other are an error, not an empty answer', () => {
    expect(errors(['resource.type == "a"', 'resource.type == "b"'])).toEqual([
      '--where#2:1:1: error: the facts about `resource.type` contradict each other: no request satisfies them',
    ]);
  });

  test('a `like` fact makes the value a string: of a list it is in, only the strings are left', () => {
    expect(classify('permit (action, resource) when { context.a like "x**" };', ['context.a like "x*"', 'context.a in ["xa", 5]'])).toMatchObject({ status: 'applies' });
    expect(classify('permit (action, resource) when { context.a like "z*" };', ['context.a like "x*"', 'context.a in ["xa", 5]'])).toMatchObject({ status: 'does-not-apply' });
  });

  test('facts joined with && are several facts', () => {
    expect(errors(['resource.type == "a" && subject.country in ["DE", "FR"]'])).toEqual([]);
  });
});

import { describe, expect, test } from 'vitest';
import { buildPolicySet, decide, validateRequest } from '../../src/index.js';
import { loadCorpus } from './corpus.js';

describe('conformance corpus, through the library', () => {
  test.each(loadCorpus())('$name', (c) => {
    const checked = validateRequest(c.request, { trusted: true });
    expect(checked).not.toHaveProperty('problems');
    const { set, diagnostics } = buildPolicySet([{ file: 'case.gavel', text: c.policies }]);
    expect(diagnostics).toEqual([]);
    const d = decide(set!, c.request);
    const got = { decision: d.decision, determining: d.determining, reasons: d.reasons, errors: d.errors.map((e) => e.policy) };
    const wanted = Object.fromEntries(Object.entries(got).filter(([k]) => k in c.expect));
    expect(wanted).toEqual(c.expect);
  });
});

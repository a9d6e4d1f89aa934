import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { format } from '../../src/language/format/format.js';
import { printFile } from '../../src/language/format/printer.js';
import { parse } from '../../src/language/parse/parse.js';
import { policyFile, stripSpans } from '../arbitraries.js';

describe('formatting, on generated syntax trees', () => {
  test('parse(print(ast)) is the same tree', () => {
    fc.assert(
      fc.property(policyFile, (ast) => {
        const text = printFile(ast);
        const back = parse('gen.gavel', text);
        expect(back.diagnostics.filter((d) => d.code === 'syntax' || d.code === 'invalid-literal')).toEqual([]);
        expect(stripSpans(back.ast.policies)).toEqual(stripSpans(ast.policies));
      }),
      { numRuns: 1000 },
    );
  });

  test('formatting is a fixpoint: formatting formatted text changes nothing', () => {
    fc.assert(
      fc.property(policyFile, (ast) => {
        const once = printFile(ast);
        expect(format('gen.gavel', once).text).toBe(once);
      }),
      { numRuns: 300 },
    );
  });
});

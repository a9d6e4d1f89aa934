/**
 * Stage 1 of the pipeline: text → syntax tree.
 *
 * ```ts
 * const { ast, diagnostics } = parse('policies/invoices.gavel', text);
 * ```
 *
 * Never throws on any input: lexical and syntax errors come back as located diagnostics,
 * one per broken policy, and the policies that did parse are still returned.
 */
import type { PolicyFile } from '../ast.js';
import type { Diagnostic } from '../diagnostic.js';
import { parsePolicyFile } from './parser.js';

export { PARSE_LIMITS, parseExpression, parsePolicies, policiesOf, type Strings } from './parser.js';

export function parse(file: string, text: string): { ast: PolicyFile; diagnostics: Diagnostic[] } {
  return parsePolicyFile(file, text);
}

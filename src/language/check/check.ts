/**
 * Stage 2 of the pipeline: syntax tree → checked policies.
 *
 * Reports unknown names and functions, wrong builtin arity, operand type mismatches,
 * malformed annotations and patterns, and — with a schema — unknown attributes such as
 * `token.scpoe`, each with its location. A policy that passes here compiles.
 */
import type { PolicyFile } from '../ast.js';
import type { Diagnostic } from '../diagnostic.js';
import { Checker } from './checker.js';
import type { Schema } from './schema.js';

export { parseSchema, type Schema } from './schema.js';

export function check(file: PolicyFile, schema: Schema | null): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const checker = new Checker(file.file, schema, diagnostics);
  for (const policy of file.policies) checker.checkPolicy(policy);
  return diagnostics;
}

/**
 * Canonical formatting (`gavel fmt`): text → text, comments kept, idempotent.
 *
 * A file with syntax errors is not formatted: its diagnostics come back instead and the
 * text is left as it was.
 */
import type { Diagnostic } from '../diagnostic.js';
import { parse } from '../parse/parse.js';
import { printFile } from './printer.js';

export { printExpr, printConstraint } from './print-expr.js';
export { printFile } from './printer.js';

export function format(file: string, text: string): { text: string; diagnostics: Diagnostic[] } {
  const { ast, diagnostics } = parse(file, text);
  if (diagnostics.length > 0) return { text, diagnostics };
  return { text: printFile(ast), diagnostics };
}

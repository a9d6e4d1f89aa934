/**
 * Canonical formatting (`gavel fmt`): text → text, comments kept, idempotent.
 *
 * A file with syntax errors is not formatted: its diagnostics come back instead and the
 * text is left as it was.
 */
import { diagnostic, type Diagnostic } from '../diagnostic.js';
import { parse } from '../parse/parse.js';
import { printFile } from './printer.js';

export { printExpr, printConstraint } from './print-expr.js';
export { printFile } from './printer.js';

export function format(file: string, text: string): { text: string; diagnostics: Diagnostic[] } {
  const { ast, diagnostics } = parse(file, text);
  if (diagnostics.length > 0) return { text, diagnostics };
  const printed = printFile(ast);
  // The canonical form adds text (parentheses where `&&` and `||` mix, spaces, line breaks):
  // near the parser's limits it could cross one, and a file that loaded would no longer load.
  // Such a file is left as it is, and said so.
  const reread = parse(file, printed).diagnostics;
  if (reread.length > 0) {
    const why = reread[0]!.message;
    return { text, diagnostics: [diagnostic('limit', file, { start: START, end: START }, `left unformatted: its formatted text would break a limit (${why})`, 'split the long condition or the file; the formatter adds parentheses where && and || mix')] };
  }
  return { text: printed, diagnostics };
}

const START = { line: 1, col: 1, offset: 0 };

import type { Span } from './ast.js';

/**
 * A language diagnostic: data, never thrown. Messages follow one style — lower-case, no
 * final period, one line, user input in backticks — so tests can assert them.
 */
export interface Diagnostic {
  code: DiagnosticCode;
  message: string;
  file: string;
  span: Span;
  help?: string;
  /** Another place the message is about (where a duplicate was first defined), shown after `help`. */
  related?: { file: string; span: Span };
}

export type DiagnosticCode =
  | 'syntax'
  | 'invalid-literal'
  | 'invalid-target'
  | 'unknown-variable'
  | 'unknown-function'
  | 'unknown-attribute'
  | 'unguarded-optional'
  | 'type-mismatch'
  | 'arity'
  | 'duplicate-id'
  | 'invalid-annotation'
  | 'invalid-schema'
  | 'limit'
  /** Not an error of its own: the note that a file's errors past the cap were not listed. */
  | 'truncated';

export function diagnostic(
  code: DiagnosticCode,
  file: string,
  span: Span,
  message: string,
  help?: string,
): Diagnostic {
  return help === undefined ? { code, message, file, span } : { code, message, file, span, help };
}

/** `FILE:LINE:COL: error: MESSAGE (help: …)`, the line editors and CI annotators understand. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = `${d.file}:${d.span.start.line}:${d.span.start.col}`;
  const related = d.related === undefined ? '' : ` ${d.related.file}:${d.related.span.start.line}:${d.related.span.start.col}`;
  const help = d.help === undefined ? '' : ` (help: ${d.help}${related})`;
  return `${where}: error: ${d.message}${help}`;
}

/** Sorted by file, then position, so output is stable whatever order stages ran in. */
export function sortDiagnostics(list: readonly Diagnostic[]): Diagnostic[] {
  return [...list].sort(
    (a, b) =>
      (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
      a.span.start.offset - b.span.start.offset ||
      // The note that more went unlisted, at the last listed error's place, comes after it.
      Number(a.code === 'truncated') - Number(b.code === 'truncated') ||
      (a.message < b.message ? -1 : a.message > b.message ? 1 : 0),
  );
}

/** A file's diagnostics, at most `limit` of them (the first, by place), and a note when more were dropped. */
export function capDiagnostics(file: string, found: readonly Diagnostic[], limit: number): Diagnostic[] {
  const errors = found.filter((d) => d.code !== 'truncated');
  if (errors.length <= limit) return [...found];
  const kept = sortDiagnostics(errors).slice(0, limit);
  return [...kept, diagnostic('truncated', file, kept[kept.length - 1]!.span, `too many errors; stopped after ${limit}`)];
}

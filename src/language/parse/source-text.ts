import type { Policy, Position, Span } from '../ast.js';
import { reparsePolicy } from './parser.js';
import { unifyLineBreaks } from './lexer.js';

/**
 * A policy file's text, which a policy set keeps in place of syntax trees and positions:
 * a policy is parsed again from it on demand, and a position is computed from an offset
 * exactly as the lexer counts (lines end at `\n`; columns are UTF-16 code units).
 */
export class SourceText {
  #lineStarts: number[] | undefined;
  /** The file's text with every line break a `\n`, as the first parse read it (same length: offsets hold). */
  readonly text: string;

  constructor(
    readonly file: string,
    text: string,
  ) {
    // A lone `\r` ends a line for the parser; re-parses and positions must count it too.
    this.text = unifyLineBreaks(text);
  }

  /** The policy at `span`, which parsed without errors from this text before. */
  policy(span: Span): Policy {
    const policy = reparsePolicy(this.file, this.text, span.start, span.end.offset);
    // INVARIANT: the span is that of a policy parsed from this very text.
    if (policy === null) throw new Error(`${this.file}:${span.start.line}:${span.start.col}: policy no longer parses`);
    return policy;
  }

  span(start: number, end: number): Span {
    return { start: this.position(start), end: this.position(end) };
  }

  position(offset: number): Position {
    const starts = (this.#lineStarts ??= lineStarts(this.text));
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    // A byte order mark takes no column (as the lexer counts: withoutBom).
    const bom = lo === 0 && this.text.charCodeAt(0) === 0xfeff ? 1 : 0;
    return { line: lo + 1, col: offset - starts[lo] + 1 - bom, offset };
  }
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) starts.push(at + 1);
  return starts;
}

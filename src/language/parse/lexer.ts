import moo from 'moo';
import type { Position } from '../ast.js';

/**
 * Words with a meaning of their own. Roots (`subject`, `token`…) and builtin names are plain
 * identifiers, so a typo in one is reported as "unknown variable" with a suggestion rather
 * than as a syntax error.
 */
export const KEYWORDS = [
  'permit',
  'forbid',
  'when',
  'unless',
  'reason',
  'in',
  'like',
  'has',
  'contains',
  'contains_any',
  'contains_all',
  'true',
  'false',
  'null',
] as const;

/** Relations spelled as words; with `==`, `<`… they share the token type `relop`. */
const SET_OPERATORS = ['in', 'contains', 'contains_any', 'contains_all'] as const;
const CONSTANTS = ['true', 'false', 'null'] as const;

/**
 * The moo lexer. Order matters: moo tries rules top to bottom, so `unterminated` only
 * matches what `string` could not, and `invalid` catches any other character so that
 * lexing never throws.
 *
 * The first three rules are single characters: punctuation that begins no longer token, a
 * space and a line feed. Rules made only of single characters, ahead of every other rule,
 * are matched by a table lookup instead of moo's combined RegExp: half the lexing time.
 * Their tokens have the types `punct`, `ws` and `nl` as before; a run of spaces is now
 * several `ws` tokens, which the parser never sees.
 */
export const lexer = moo.compile({
  single: { match: ['(', ')', '[', ']', '{', '}', ',', ';', '.', '@', '-'], type: () => 'punct' },
  space: { match: ' ', type: () => 'ws' },
  newline: { match: '\n', lineBreaks: true, type: () => 'nl' },
  ws: /[ \t\f\v\u00a0\ufeff]+/,
  nl: { match: /\r?\n|\r/, lineBreaks: true },
  comment: /\/\/[^\r\n]*/,
  string: /"(?:\\[^\r\n]|[^"\\\r\n])*"/,
  unterminated: /"(?:\\[^\r\n]|[^"\\\r\n])*/,
  number: /(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/,
  ident: {
    match: /[A-Za-z_][A-Za-z0-9_]*/,
    type: moo.keywords({ relop: [...SET_OPERATORS], constant: [...CONSTANTS], kw: KEYWORDS.filter((k) => !SET_OPERATORS.includes(k as never) && !CONSTANTS.includes(k as never)) }),
  },
  relop: ['==', '!=', '<=', '>=', '<', '>'],
  punct: ['::', '&&', '||', '!'],
  invalid: { match: /[^]/, lineBreaks: true },
});

/**
 * A moo token. `start` and `end` are filled on first use (src/language/parse/build.ts) so
 * that every node beginning or ending at this token shares one Position object.
 */
export interface Token extends moo.Token {
  start?: Position;
  end?: Position;
}

/** Token types the parser never sees. */
export const TRIVIA = new Set(['ws', 'nl', 'comment']);

/**
 * A lexer of its own (moo's `clone`, which its type declarations leave out), so a lexing
 * pass started while another is under way — a lazy re-parse — cannot disturb it.
 */
export function newLexer(): moo.Lexer {
  return (lexer as moo.Lexer & { clone(): moo.Lexer }).clone();
}

/** Every token of `text`, trivia included; `invalid` and `unterminated` tokens mark lexical errors. */
export function tokenize(text: string): Token[] {
  return Array.from(withoutBom(newLexer(), unifyLineBreaks(text)));
}

/**
 * The lexer set to read `text`. A byte order mark some Windows editors write is read as
 * white space, and counted in no column: editors show none, so the first line's columns
 * start after it.
 */
export function withoutBom(lx: moo.Lexer, text: string): moo.Lexer {
  return text.charCodeAt(0) === 0xfeff ? lx.reset(text, { ...lx.save(), col: 0 }) : lx.reset(text);
}

/**
 * A lone `\r` (old Mac line ends) as `\n`: it ends a line for the grammar, and moo counts
 * lines by `\n` only, so locations after one were on the wrong line. Same length: offsets hold.
 */
export function unifyLineBreaks(text: string): string {
  return text.includes('\r') ? text.replace(/\r(?!\n)/g, '\n') : text;
}

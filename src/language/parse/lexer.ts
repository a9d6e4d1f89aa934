import moo from 'moo';

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
 */
export const lexer = moo.compile({
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
  punct: ['::', '&&', '||', '!', '-', '(', ')', '[', ']', '{', '}', ',', ';', '.', '@'],
  invalid: { match: /[^]/, lineBreaks: true },
});

export type Token = moo.Token;

/** Token types the parser never sees. */
export const TRIVIA = new Set(['ws', 'nl', 'comment']);

/** Every token of `text`, trivia included; `invalid` and `unterminated` tokens mark lexical errors. */
export function tokenize(text: string): Token[] {
  lexer.reset(text);
  return Array.from(lexer);
}

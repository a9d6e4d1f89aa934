/**
 * Token classes that grammar/policy.ne matches as one symbol, written like moo token types
 * (`%word`). Nearley tries every alternative of a rule for every token, so one symbol that
 * tests "a name or a keyword" costs one parser state where four alternatives cost four.
 * Each class says which token types and literals it stands for, so that a syntax error
 * lists what was expected exactly as if they were spelled out.
 */
import type { Token } from './lexer.js';

export interface TokenClass {
  /** Nearley calls this with each token the symbol could match. */
  test: (token: Token) => boolean;
  /** The moo token types it matches. */
  types: readonly string[];
  /** The literal tokens it matches. */
  literals: readonly string[];
}

/** `in`, `contains`… share the type `relop` with `==` and `<`; only they are words. */
function isWordOperator(t: Token): boolean {
  const c = t.text.charCodeAt(0);
  return c >= 97 && c <= 122;
}

/** `word`: a name after `.` or `@`, which may be a keyword (`resource.in`). */
export const word: TokenClass = {
  test: (t) => t.type === 'ident' || t.type === 'kw' || (t.type === 'relop' && isWordOperator(t)) || t.type === 'constant',
  types: ['ident', 'kw', 'relop', 'constant'],
  literals: [],
};

/** `word | STRING`: the attribute a `has` tests. */
export const wordOrString: TokenClass = {
  test: (t) => word.test(t) || t.type === 'string',
  types: ['ident', 'kw', 'relop', 'constant', 'string'],
  literals: [],
};

/** `literal`: a string, a number, `true`, `false` or `null`. */
export const literal: TokenClass = {
  test: (t) => t.type === 'string' || t.type === 'number' || t.type === 'constant',
  types: ['string', 'number', 'constant'],
  literals: [],
};

/** `!` or `-` before an operand. */
export const prefix: TokenClass = {
  test: (t) => t.text === '!' || t.text === '-',
  types: [],
  literals: ['!', '-'],
};

const CLASSES: Record<string, TokenClass> = { word, wordOrString, literal, prefix };

/**
 * What the grammar is told about the lexer: nearley compiles `%name` to a type test when the
 * lexer `has` that type, and to the variable `name` otherwise — here, a class above.
 */
export const grammarLexer = {
  has: (type: string): boolean => !Object.hasOwn(CLASSES, type),
};

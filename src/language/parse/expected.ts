/** The "expected …" part of a syntax error, read from the states nearley was left in. */
import { visible } from '../../formats/visible.js';
import type nearley from 'nearley';
import type { Token } from './lexer.js';

/** Nearley's chart, which its type declarations leave out: one column of states per token. */
export function tableOf(parser: nearley.Parser): { states: State[] }[] {
  return (parser as unknown as { table: { states: State[] }[] }).table;
}

/** A rule's symbol: a rule name, a literal, a moo token type, or a TokenClass (symbols.ts). */
type Symbol = string | { literal?: string; type?: string; types?: readonly string[]; literals?: readonly string[] };
interface State {
  rule: { symbols: Symbol[] };
  dot: number;
}

const TYPE_NAMES: Record<string, string> = { string: 'a string', number: 'a number', ident: 'a name', relop: 'an operator', constant: '`true`, `false` or `null`' };
/** Tokens that can start an expression; when all are expected, the message says "an expression". */
const EXPRESSION_START = ['`!`', '`-`', '`(`', '`[`', '`true`, `false` or `null`', 'a name', 'a number', 'a string'];

/** ", expected `a`, `b` or a name", from the parser states that were waiting for a terminal. */
export function expectedAfter(parser: nearley.Parser, columnIndex: number): string {
  const column = tableOf(parser)[columnIndex];
  if (column === undefined) return '';
  const names = new Set<string>();
  for (const state of column.states) {
    const next = state.rule.symbols[state.dot];
    if (next === undefined || typeof next === 'string') continue;
    for (const literal of next.literal !== undefined ? [next.literal] : (next.literals ?? [])) names.add(`\`${literal}\``);
    const types = next.type !== undefined ? [next.type] : (next.types ?? []);
    // A word (after `.`, `@`, `has`): a name, which may be spelled like a keyword or a word operator (`resource.in`).
    if (types.length > 1 && types.includes('ident')) names.add(TYPE_NAMES.ident!);
    else for (const type of types) if (type in TYPE_NAMES) names.add(TYPE_NAMES[type]);
  }
  if (names.size === 0) return '';
  if (EXPRESSION_START.every((name) => names.has(name))) {
    for (const name of EXPRESSION_START) names.delete(name);
    names.add('an expression');
  }
  const sorted = [...names].sort((a, b) => Number(!a.startsWith('`')) - Number(!b.startsWith('`')) || a.localeCompare(b));
  const last = sorted.pop()!;
  return `, expected ${sorted.length > 0 ? `${sorted.join(', ')} or ${last}` : last}`;
}

export function describeToken(token: Token): string {
  // A token may be most of a megabyte (a string): its start is enough, and hidden characters are shown.
  const text = visible(token.text.length > 40 ? `${token.text.slice(0, 40)}… (${token.text.length} characters)` : token.text);
  switch (token.type) {
    case 'string':
      return `string ${text}`;
    case 'number':
      return `number \`${text}\``;
    default:
      return `\`${text}\``;
  }
}


/**
 * Typed builders called by the grammar's actions (grammar/policy.ne). Nearley runs actions
 * for derivations it may later discard, so these are pure: they build nodes and never
 * report. Whatever needs a diagnostic (target shapes) is checked after the parse, on the
 * one derivation that won.
 */
import type { Annotation, Condition, Effect, Expr, Policy, Position, Span } from '../ast.js';
import { ROOTS, type BinaryOp, type Root } from '../ast.js';
import type { Token } from './lexer.js';

/** A policy as the grammar sees it: the target is still a list of expressions. */
export interface RawPolicy extends Omit<Policy, 'target'> {
  target: { exprs: Expr[]; span: Span } | null;
}

type Spanned = { span: Span };
type Part = Token | Spanned;

function isToken(p: Part): p is Token {
  return (p as Token).offset !== undefined;
}

/** Where a token starts; made once per token and shared by every node that starts there. */
function tokenStart(t: Token): Position {
  return (t.start ??= { line: t.line, col: t.col, offset: t.offset });
}

/** Where a token ends; made once per token and shared by every node that ends there. */
export function tokenEnd(t: Token): Position {
  // INVARIANT: the parser never sees tokens that span lines (strings cannot hold a raw line break).
  return (t.end ??= { line: t.line, col: t.col + t.text.length, offset: t.offset + t.text.length });
}

function startOf(p: Part): Position {
  return isToken(p) ? tokenStart(p) : p.span.start;
}

function endOf(p: Part): Position {
  return isToken(p) ? tokenEnd(p) : p.span.end;
}

export function spanOf(first: Part, last: Part): Span {
  return { start: startOf(first), end: endOf(last) };
}

/** The decoded text of a string token: the lexing stage (parser.ts) put it in `value`. */
function text(token: Token): string {
  return token.value;
}

const rootSet: ReadonlySet<string> = new Set(ROOTS);

export const first = (d: unknown[]): unknown => d[0];
/**
 * A comma-separated list as the grammar builds it, a link at a time: copying the list on
 * every comma made a list of 10,000 items cost 1.7 s to parse (and 40 such policies a
 * minute). Links are never changed (nearley may build several parses on one prefix);
 * `listOf` reads the whole list once it is complete.
 */
interface Link {
  readonly before: Link | null;
  readonly item: unknown;
}

export const one = (d: unknown[]): Link => ({ before: null, item: d[0] });
export const append = (d: unknown[]): Link => ({ before: d[0] as Link, item: d[2] });
/** The same without a separator (annotations, conditions). */
export const next = (d: unknown[]): Link => ({ before: d[0] as Link, item: d[1] });

function listOf<T>(last: Link): T[] {
  const out: T[] = [];
  for (let at: Link | null = last; at !== null; at = at.before) out.push(at.item as T);
  return out.reverse();
}

export function policy(d: unknown[]): RawPolicy {
  const annotations = d[0] === null ? [] : listOf<Annotation>(d[0] as Link);
  const effectToken = d[1] as Token;
  const semicolon = d[5] as Token;
  const reason = d[4] as { value: string; span: Span } | null;
  return {
    annotations,
    effect: effectToken.value as Effect,
    effectSpan: spanOf(effectToken, effectToken),
    target: d[2] as RawPolicy['target'],
    conditions: d[3] === null ? [] : listOf<Condition>(d[3] as Link),
    reason: reason === null ? null : reason.value,
    ...(reason === null ? {} : { reasonSpan: reason.span }),
    span: spanOf(annotations[0] ?? effectToken, semicolon),
  };
}

export function annotation(d: unknown[]): Annotation {
  const at = d[0] as Token;
  const name = d[1] as Token;
  const values = d.length === 2 || d.length === 4 ? [] : listOf<Token>(d[3] as Link).map(text);
  return { name: name.value, values, span: spanOf(at, d[d.length - 1] as Token) };
}

/** What follows `[` or `(`: the items and the closing bracket, for the list or call to span. */
interface Rest {
  items: Expr[];
  close: Token;
}

export const noItems = (d: Token[]): Rest => ({ items: [], close: d[0] });

export const items = (d: unknown[]): Rest => ({ items: listOf<Expr>(d[0] as Link), close: d[d.length - 1] as Token });

export function target(d: unknown[]): RawPolicy['target'] {
  const rest = d[1] as Rest;
  return { exprs: rest.items, span: spanOf(d[0] as Token, rest.close) };
}

export function condition(d: unknown[]): Condition {
  const keyword = d[0] as Token;
  return { kind: keyword.value as Condition['kind'], body: d[2] as Expr, span: spanOf(keyword, d[3] as Token) };
}

export const reason = (d: Token[]): { value: string; span: Span } => ({ value: text(d[1]), span: spanOf(d[0], d[1]) });

export function logical(d: unknown[]): Expr {
  const left = d[0] as Expr;
  const right = d[2] as Expr;
  const kind = (d[1] as Token).value === '&&' ? 'and' : 'or';
  return { kind, left, right, span: spanOf(left, right) };
}

export function binary(d: unknown[]): Expr {
  const left = d[0] as Expr;
  const right = d[2] as Expr;
  return { kind: 'binary', op: (d[1] as Token).value as BinaryOp, left, right, span: spanOf(left, right) };
}

export function like(d: unknown[]): Expr {
  const subject = d[0] as Expr;
  const pattern = d[2] as Token;
  return { kind: 'like', subject, pattern: text(pattern), span: spanOf(subject, pattern) };
}

export function has(d: unknown[]): Expr {
  const object = d[0] as Expr;
  const name = d[2] as Token;
  // A string's `value` is its decoded text, a word's its spelling.
  return { kind: 'has', object, name: name.value, span: spanOf(object, name) };
}

export function unary(d: unknown[]): Expr {
  const op = d[0] as Token;
  const operand = d[1] as Expr;
  const span = spanOf(op, operand);
  if (op.value === '!') return { kind: 'not', operand, span };
  // Fold `-5` into a literal so numbers print and compare as users wrote them.
  if (operand.kind === 'literal' && typeof operand.value === 'number') return { kind: 'literal', value: operand.value === 0 ? 0 : -operand.value, span };
  return { kind: 'negate', operand, span };
}

export function attr(d: unknown[]): Expr {
  const object = d[0] as Expr;
  const name = d[2] as Token;
  return { kind: 'attr', object, name: name.value, span: spanOf(object, name) };
}

export function index(d: unknown[]): Expr {
  const object = d[0] as Expr;
  return { kind: 'attr', object, name: text(d[2] as Token), span: spanOf(object, d[3] as Token) };
}

/** `%literal`: a string, a number, `true`, `false` or `null`. */
export function literal(d: Token[]): Expr {
  const token = d[0];
  const span = spanOf(token, token);
  switch (token.type) {
    case 'string':
      return { kind: 'literal', value: text(token), span };
    case 'number':
      return { kind: 'literal', value: Number(token.value), span };
    default:
      return { kind: 'literal', value: token.value === 'null' ? null : token.value === 'true', span };
  }
}

export function list(d: unknown[]): Expr {
  const rest = d[1] as Rest;
  return { kind: 'list', items: rest.items, span: spanOf(d[0] as Token, rest.close) };
}

export function entity(d: Token[]): Expr {
  return { kind: 'entity', type: d[0].value, id: text(d[2]), span: spanOf(d[0], d[2]) };
}

export function call(d: unknown[]): Expr {
  const name = d[0] as Token;
  const rest = d[2] as Rest;
  return { kind: 'call', name: name.value, args: rest.items, span: spanOf(name, rest.close) };
}

export function variable(d: Token[]): Expr {
  const token = d[0];
  const span = spanOf(token, token);
  return rootSet.has(token.value) ? { kind: 'root', root: token.value as Root, span } : { kind: 'variable', name: token.value, span };
}

/** Parentheses leave no node, but the span grows to include them so locations stay exact. */
export function paren(d: unknown[]): Expr {
  const inner = d[1] as Expr;
  return { ...inner, span: spanOf(d[0] as Token, d[2] as Token) };
}

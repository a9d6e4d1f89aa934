import type { Constraint, Expr, LiteralValue } from '../ast.js';
import { encodeString } from '../parse/strings.js';

/**
 * Binding strength of each level of grammar/policy.ne, loosest first. A child printed where
 * a tighter level is required gets parentheses, so `print(parse(text))` parses back to the
 * same tree.
 */
const Level = { or: 1, and: 2, relation: 3, unary: 4, member: 5, primary: 6 } as const;

function level(expr: Expr): number {
  switch (expr.kind) {
    case 'or':
      return Level.or;
    case 'and':
      return Level.and;
    case 'binary':
    case 'like':
    case 'has':
      return Level.relation;
    case 'not':
    case 'negate':
      return Level.unary;
    case 'attr':
      return Level.member;
    case 'literal':
      // `-5.x` would lex as `-` applied to `5.x`: a negative number binds like a unary.
      return typeof expr.value === 'number' && (expr.value < 0 || Object.is(expr.value, -0)) ? Level.unary : Level.primary;
    default:
      return Level.primary;
  }
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Attribute names after `.` or `has` may be any identifier or keyword (grammar rule `word`); anything else is quoted. */
function isWord(name: string): boolean {
  return IDENT.test(name);
}

export function printLiteral(value: LiteralValue): string {
  if (typeof value === 'string') return encodeString(value);
  return String(value);
}

function wrap(expr: Expr, min: number): string {
  const text = printExpr(expr);
  return level(expr) < min ? `(${text})` : text;
}

/** Prints an expression on one line with the fewest parentheses that keep its tree. */
export function printExpr(expr: Expr): string {
  switch (expr.kind) {
    case 'literal':
      return printLiteral(expr.value);
    case 'list':
      return `[${expr.items.map(printExpr).join(', ')}]`;
    case 'entity':
      return `${expr.type}::${encodeString(expr.id)}`;
    case 'root':
      return expr.root;
    case 'variable':
      return expr.name;
    case 'attr':
      return isWord(expr.name)
        ? `${wrap(expr.object, Level.member)}.${expr.name}`
        : `${wrap(expr.object, Level.member)}[${encodeString(expr.name)}]`;
    case 'has':
      return `${wrap(expr.object, Level.unary)} has ${isWord(expr.name) ? expr.name : encodeString(expr.name)}`;
    case 'like':
      return `${wrap(expr.subject, Level.unary)} like ${encodeString(expr.pattern)}`;
    case 'not':
      return `!${wrap(expr.operand, Level.unary)}`;
    case 'negate':
      return `-${wrap(expr.operand, Level.unary)}`;
    case 'binary':
      return `${wrap(expr.left, Level.unary)} ${expr.op} ${wrap(expr.right, Level.unary)}`;
    case 'and':
      return `${wrap(expr.left, Level.and)} && ${wrap(expr.right, Level.relation)}`;
    case 'or':
      return `${orOperand(expr.left, Level.or)} || ${orOperand(expr.right, Level.and)}`;
    case 'call':
      return `${expr.name}(${expr.args.map(printExpr).join(', ')})`;
  }
}

/** The operands of a top-level `&&` (or `||`) chain, left to right: the lines of a multi-line condition. */
export function chain(expr: Expr): { op: '&&' | '||' | null; parts: Expr[] } {
  if (expr.kind !== 'and' && expr.kind !== 'or') return { op: null, parts: [expr] };
  const kind = expr.kind;
  const parts: Expr[] = [];
  let node: Expr = expr;
  while (node.kind === kind) {
    parts.unshift(node.right);
    node = node.left;
  }
  parts.unshift(node);
  return { op: kind === 'and' ? '&&' : '||', parts };
}

/** Prints one operand of a chain so that rejoining with the chain's operator gives the same tree. */
export function printChainPart(part: Expr, op: '&&' | '||' | null): string {
  if (op === null) return printExpr(part);
  return op === '&&' ? wrap(part, Level.relation) : orOperand(part, Level.and);
}

/** `a || (b && c)`: parentheses the grammar does not need but readers do, as most style guides ask. */
function orOperand(expr: Expr, min: number): string {
  return expr.kind === 'and' ? `(${printExpr(expr)})` : wrap(expr, min);
}

/** `root.a["b c"]`: how `printExpr` prints an attribute path under a root. */
export function printPath(root: string, path: readonly string[]): string {
  return path.reduce((text, name) => (isWord(name) ? `${text}.${name}` : `${text}[${encodeString(name)}]`), root);
}

export function printConstraint(c: Constraint): string {
  const subject = printPath(c.root, c.kind === 'any' ? [] : c.path);
  switch (c.kind) {
    case 'any':
      return subject;
    case 'eq':
      return `${subject} == ${printExpr(c.value)}`;
    case 'in':
      return `${subject} in [${c.values.map(printExpr).join(', ')}]`;
    case 'like':
      return `${subject} like ${encodeString(c.pattern)}`;
  }
}

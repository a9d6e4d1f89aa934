import nearley from 'nearley';
import grammar from '../../gen/policy-grammar.js';
import type { Comment, Constraint, Expr, Policy, PolicyFile, Span, TargetRoot } from '../ast.js';
import { TARGET_ROOTS } from '../ast.js';
import { diagnostic, type Diagnostic } from '../diagnostic.js';
import type { RawPolicy } from './build.js';
import { spanOf } from './build.js';
import { TRIVIA, tokenize, type Token } from './lexer.js';
import { decodeString } from './strings.js';

/** Limits that keep a hostile or broken file from costing more than linear time and memory. */
export const PARSE_LIMITS = {
  /** Bytes in one policy file. */
  fileBytes: 8 << 20,
  /** Tokens in one policy (its text up to `;`). */
  policyTokens: 20_000,
  /** Nesting of brackets and parentheses within one policy. */
  nesting: 64,
} as const;

const compiled = nearley.Grammar.fromCompiled(grammar);

/**
 * Parses one file. Policies are parsed one at a time — the text up to each `;` — so one
 * broken policy yields one diagnostic and the rest of the file is still read.
 */
export function parsePolicyFile(file: string, text: string): { ast: PolicyFile; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const ast: PolicyFile = { file, policies: [], comments: [] };
  if (text.length > PARSE_LIMITS.fileBytes) {
    const at = { line: 1, col: 1, offset: 0 };
    diagnostics.push(diagnostic('limit', file, { start: at, end: at }, `file is larger than ${PARSE_LIMITS.fileBytes} bytes`));
    return { ast, diagnostics };
  }
  const { chunks, comments, trailing } = splitPolicies(file, text, diagnostics);
  ast.comments = comments;
  for (const chunk of chunks) {
    const raw = parseChunk(file, chunk, diagnostics);
    if (raw !== null) {
      const policy = toPolicy(file, raw, diagnostics);
      if (policy !== null) ast.policies.push(policy);
    }
  }
  if (trailing.length > 0) {
    // Tokens after the last `;`: a policy that never ended. Parse it to say what was missing.
    parseChunk(file, trailing, diagnostics, true);
  }
  return { ast, diagnostics };
}

interface Split {
  chunks: Token[][];
  comments: Comment[];
  trailing: Token[];
}

function splitPolicies(file: string, text: string, diagnostics: Diagnostic[]): Split {
  const chunks: Token[][] = [];
  const comments: Comment[] = [];
  let current: Token[] = [];
  let broken = false;
  for (const token of tokenize(text)) {
    if (token.type === 'comment') comments.push({ text: token.text.slice(2), span: spanOf(token, token) });
    if (TRIVIA.has(token.type!)) continue;
    if (lexicalError(file, token, diagnostics)) broken = true;
    current.push(token);
    if (token.type === 'punct' && token.value === ';') {
      if (!broken) chunks.push(current);
      current = [];
      broken = false;
    }
  }
  return { chunks, comments, trailing: broken ? [] : current };
}

function lexicalError(file: string, token: Token, diagnostics: Diagnostic[]): boolean {
  const span = spanOf(token, token);
  if (token.type === 'invalid') {
    diagnostics.push(diagnostic('syntax', file, span, `unexpected character ${JSON.stringify(token.text)}`));
    return true;
  }
  if (token.type === 'unterminated') {
    diagnostics.push(diagnostic('syntax', file, span, 'unterminated string', 'close the string with `"` on the same line'));
    return true;
  }
  if (token.type === 'string') {
    const decoded = decodeString(token.text);
    if ('error' in decoded) {
      const at = { line: token.line, col: token.col + decoded.at, offset: token.offset + decoded.at };
      diagnostics.push(
        diagnostic('invalid-literal', file, { start: at, end: at }, `invalid escape \`${decoded.error}\` in string`, 'valid escapes are \\" \\\\ \\/ \\n \\r \\t \\0 \\u{HEX}'),
      );
      return true;
    }
  }
  if (token.type === 'number' && !Number.isFinite(Number(token.value))) {
    diagnostics.push(diagnostic('invalid-literal', file, span, `number \`${token.text}\` is out of range`));
    return true;
  }
  return false;
}

/** A nearley lexer that replays tokens already produced (and checked) by the moo lexer. */
class ReplayLexer {
  private index = 0;
  constructor(private readonly tokens: Token[]) {}
  reset(): void {}
  next(): Token | undefined {
    return this.tokens[this.index++];
  }
  save(): undefined {
    return undefined;
  }
  formatError(): string {
    return '';
  }
  has(): boolean {
    return true;
  }
}

function parseChunk(file: string, tokens: Token[], diagnostics: Diagnostic[], unterminated = false): RawPolicy | null {
  const limit = checkLimits(file, tokens, diagnostics);
  if (limit) return null;
  const parser = new nearley.Parser(compiled);
  (parser as unknown as { lexer: ReplayLexer }).lexer = new ReplayLexer(tokens);
  try {
    parser.feed('');
  } catch (err: unknown) {
    const token = (err as { token?: Token }).token;
    if (token === undefined) throw err;
    const expected = expectedAfter(parser, tableOf(parser).length - 2);
    diagnostics.push(diagnostic('syntax', file, spanOf(token, token), `unexpected ${describeToken(token)}${expected}`));
    return null;
  }
  const results = parser.results as RawPolicy[];
  const last = tokens[tokens.length - 1];
  if (results.length === 0 || unterminated) {
    const expected = expectedAfter(parser, tableOf(parser).length - 1);
    const end = spanOf(last, last).end;
    diagnostics.push(diagnostic('syntax', file, { start: end, end }, `unexpected end of input${expected}`, unterminated ? 'end each policy with `;`' : undefined));
    return null;
  }
  if (results.length > 1) {
    // INVARIANT: the grammar is unambiguous; more than one parse is a bug in grammar/policy.ne.
    diagnostics.push(diagnostic('syntax', file, spanOf(tokens[0], last), `internal error: ambiguous parse (${results.length} derivations)`));
    return null;
  }
  return results[0];
}

function checkLimits(file: string, tokens: Token[], diagnostics: Diagnostic[]): boolean {
  if (tokens.length > PARSE_LIMITS.policyTokens) {
    diagnostics.push(diagnostic('limit', file, spanOf(tokens[0], tokens[0]), `policy has more than ${PARSE_LIMITS.policyTokens} tokens`));
    return true;
  }
  let depth = 0;
  for (const token of tokens) {
    if (token.type !== 'punct') continue;
    if (token.value === '(' || token.value === '[' || token.value === '{') depth++;
    else if (token.value === ')' || token.value === ']' || token.value === '}') depth--;
    if (depth > PARSE_LIMITS.nesting) {
      diagnostics.push(diagnostic('limit', file, spanOf(token, token), `nesting is deeper than ${PARSE_LIMITS.nesting} levels`));
      return true;
    }
  }
  return false;
}

/** Nearley's chart, which its type declarations leave out: one column of states per token. */
function tableOf(parser: nearley.Parser): { states: State[] }[] {
  return (parser as unknown as { table: { states: State[] }[] }).table;
}

type Symbol = string | { literal?: string; type?: string; test?: unknown };
interface State {
  rule: { symbols: Symbol[] };
  dot: number;
}

const TYPE_NAMES: Record<string, string> = { string: 'a string', number: 'a number', ident: 'a name', relop: 'an operator', constant: '`true`, `false` or `null`' };
/** Tokens that can start an expression; when all are expected, the message says "an expression". */
const EXPRESSION_START = ['`!`', '`-`', '`(`', '`[`', '`true`, `false` or `null`', 'a name', 'a number', 'a string'];

/** ", expected `a`, `b` or a name", from the parser states that were waiting for a terminal. */
function expectedAfter(parser: nearley.Parser, columnIndex: number): string {
  const column = tableOf(parser)[columnIndex];
  if (column === undefined) return '';
  const names = new Set<string>();
  for (const state of column.states) {
    const next = state.rule.symbols[state.dot];
    if (next === undefined || typeof next === 'string') continue;
    if (next.literal !== undefined) names.add(`\`${next.literal}\``);
    else if (next.type !== undefined && next.type in TYPE_NAMES) names.add(TYPE_NAMES[next.type]);
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

function describeToken(token: Token): string {
  switch (token.type) {
    case 'string':
      return `string ${token.text}`;
    case 'number':
      return `number \`${token.text}\``;
    default:
      return `\`${token.text}\``;
  }
}

const targetRoots: ReadonlySet<string> = new Set(TARGET_ROOTS);
const TARGET_HELP = 'a target constraint is `ROOT`, `ROOT == value`, `ROOT in [values]`, `ROOT.attr == value`, `ROOT.attr in [values]` or `ROOT.attr like "glob"` with ROOT one of subject, action, resource; put other tests in `when { }`';

function toPolicy(file: string, raw: RawPolicy, diagnostics: Diagnostic[]): Policy | null {
  if (raw.target === null) return { ...raw, target: null };
  const target: Constraint[] = [];
  let ok = true;
  for (const expr of raw.target.exprs) {
    const constraint = toConstraint(expr);
    if (constraint === null) {
      diagnostics.push(diagnostic('invalid-target', file, expr.span, 'this is not a target constraint', TARGET_HELP));
      ok = false;
    } else target.push(constraint);
  }
  return ok ? { ...raw, target } : null;
}

/** The path under a target root, or null when `expr` is not `ROOT(.attr)*`. */
function targetPath(expr: Expr): { root: TargetRoot; path: string[] } | null {
  if (expr.kind === 'root') return targetRoots.has(expr.root) ? { root: expr.root as TargetRoot, path: [] } : null;
  if (expr.kind !== 'attr') return null;
  const inner = targetPath(expr.object);
  return inner === null ? null : { root: inner.root, path: [...inner.path, expr.name] };
}

function isValue(expr: Expr): boolean {
  return expr.kind === 'literal' || expr.kind === 'entity';
}

function toConstraint(expr: Expr): Constraint | null {
  const span: Span = expr.span;
  if (expr.kind === 'root') return targetRoots.has(expr.root) ? { kind: 'any', root: expr.root as TargetRoot, span } : null;
  if (expr.kind === 'like') {
    const at = targetPath(expr.subject);
    return at === null ? null : { kind: 'like', ...at, pattern: expr.pattern, span };
  }
  if (expr.kind !== 'binary') return null;
  const at = targetPath(expr.left);
  if (at === null) return null;
  if (expr.op === '==' && isValue(expr.right)) return { kind: 'eq', ...at, value: expr.right, span };
  if (expr.op === 'in' && expr.right.kind === 'list' && expr.right.items.every(isValue)) {
    return { kind: 'in', ...at, values: expr.right.items, span };
  }
  return null;
}

import { visibleJson } from '../../formats/visible.js';
import nearley from 'nearley';
import grammar from '../../gen/policy-grammar.js';
import type { Comment, Expr, Policy, PolicyFile, Position } from '../ast.js';
import { capDiagnostics, diagnostic, type Diagnostic } from '../diagnostic.js';
import type { RawPolicy } from './build.js';
import { spanOf, tokenEnd } from './build.js';
import { describeToken, expectedAfter, tableOf } from './expected.js';
import { newLexer, TRIVIA, unifyLineBreaks, withoutBom, type Token } from './lexer.js';
import { BIDI_CONTROL, decodeString } from './strings.js';
import { toPolicy } from './target.js';

/** Limits that keep a hostile or broken file from costing more than linear time and memory. */
export const PARSE_LIMITS = {
  /** Bytes in one policy file. */
  fileBytes: 8 << 20,
  /** Tokens in one policy (its text up to `;`). */
  policyTokens: 20_000,
  /** Diagnostics reported for one file before the rest are dropped. */
  diagnostics: 50,
  /** Nesting of brackets and parentheses within one policy. */
  nesting: 64,
  /**
   * Depth of one policy's syntax tree: a chain of 4,000 `&&` (or `!`, or `.a`) is 4,000
   * levels without a bracket, and every pass over the tree — checks, compilation, evaluation,
   * formatting — recurses through them.
   */
  treeDepth: 500,
} as const;

const compiled = nearley.Grammar.fromCompiled(grammar);
/** The same grammar started at its `expr` rule: for expressions written outside a policy (`gavel affects --where`). */
const expressionGrammar = nearley.Grammar.fromCompiled(grammar);
expressionGrammar.start = 'expr';

/**
 * Parses one file. Policies are parsed one at a time — the text up to each `;` — so one
 * broken policy yields one diagnostic and the rest of the file is still read.
 */
export function parsePolicyFile(file: string, text: string): { ast: PolicyFile; diagnostics: Diagnostic[] } {
  const ast: PolicyFile = { file, policies: [], comments: [] };
  const diagnostics = parsePolicies(file, text, (policy) => ast.policies.push(policy), ast.comments);
  return { ast, diagnostics };
}

/**
 * Parses one file, handing each policy to `each` as soon as its `;` is read, so a caller
 * that does not keep them holds one policy's tokens and tree at a time. Comments go to
 * `comments` when given. Answers the diagnostics, in the order `parse` reports them.
 */
export function parsePolicies(file: string, source: string, each: (policy: Policy) => void, comments?: Comment[], strings: Strings = new Map()): Diagnostic[] {
  const parsing = policiesOf(file, source, comments, strings);
  for (;;) {
    const step = parsing.next();
    if (step.done === true) return step.value;
    if (step.value !== null) each(step.value);
  }
}

/**
 * As `parsePolicies`, a policy at a time: each is yielded when its `;` is read — `null` for
 * one that did not parse, so that a broken file, too, is read in steps — and the diagnostics
 * are the generator's result. A caller may stop between policies and resume later (a server
 * building a large set in slices between requests).
 */
export function* policiesOf(file: string, source: string, comments?: Comment[], strings: Strings = new Map(), checks: { bidi: boolean } = { bidi: true }): Generator<Policy | null, Diagnostic[], void> {
  const text = unifyLineBreaks(source);
  if (text.length > PARSE_LIMITS.fileBytes) {
    const at = { line: 1, col: 1, offset: 0 };
    return [diagnostic('limit', file, { start: at, end: at }, `file is longer than ${PARSE_LIMITS.fileBytes} characters`)];
  }
  const nul = text.indexOf('\0');
  if (nul >= 0) {
    // A binary file (an image, an archive) named *.gavel: one error, not one per byte.
    const at = { line: text.slice(0, nul).split('\n').length, col: nul - text.lastIndexOf('\n', nul), offset: nul };
    return [diagnostic('syntax', file, { start: at, end: at }, 'this is not a text file (it contains a NUL byte)')];
  }
  // Lexical errors come first, in file order, then each policy's parse errors: two lists, joined at the end.
  const lexical: Diagnostic[] = [];
  const parsing: Diagnostic[] = [];
  const lx = withoutBom(newLexer(), text);
  let current: Token[] = [];
  let broken = false;
  for (let token = lx.next() as Token | undefined; token !== undefined; token = lx.next() as Token | undefined) {
    const type = token.type!;
    if (TRIVIA.has(type)) {
      if (type === 'comment' && comments !== undefined) comments.push({ text: token.text.slice(2), span: spanOf(token, token) });
      if (type === 'comment' && checks.bidi && bidiControl(file, token, lexical, 'take it out of the comment')) broken = true;
      continue;
    }
    if (lexicalError(file, token, lexical, checks.bidi)) broken = true;
    else prepare(token, strings);
    // Past the diagnostics kept, the text is not policies: reading on (8 MiB of garbage) held a
    // diagnostic and a token for each character, and a server with a small heap ran out of it.
    if (lexical.length + parsing.length > PARSE_LIMITS.diagnostics) break;
    // One more token than a policy may have is enough to say it has too many; the rest up to
    // its `;` is read but not kept (text without a `;` would otherwise be held whole).
    if (current.length <= PARSE_LIMITS.policyTokens) current.push(token);
    if (type === 'punct' && token.value === ';') {
      const policy = broken ? null : parsePolicy(file, current, parsing);
      current = [];
      broken = false;
      yield policy;
    }
  }
  if (!broken && current.length > 0) {
    // Tokens after the last `;`: a policy that never ended. Parse it to say what was missing.
    parseChunk(file, current, parsing, true);
  }
  // Past this many, more errors help nobody: the file is likely not policy text at all.
  return capDiagnostics(file, lexical.length === 0 ? parsing : lexical.concat(parsing), PARSE_LIMITS.diagnostics);
}

/**
 * Parses the one policy whose text runs from `start` to `endOffset` in `text` again, with
 * the same positions as when the whole file was parsed. For syntax trees that are not
 * kept in memory: the policy must have parsed without errors before.
 */
export function reparsePolicy(file: string, text: string, start: Position, endOffset: number): Policy | null {
  const lx = newLexer();
  lx.reset(text.slice(start.offset, endOffset), { ...lx.save(), line: start.line, col: start.col });
  const tokens: Token[] = [];
  const strings: Strings = new Map();
  for (let token = lx.next() as Token | undefined; token !== undefined; token = lx.next() as Token | undefined) {
    if (TRIVIA.has(token.type!)) continue;
    token.offset += start.offset;
    prepare(token, strings);
    tokens.push(token);
  }
  return parsePolicy(file, tokens, []);
}

/**
 * Parses one expression on its own (a `--where` fact), with the lexical checks and limits
 * of a policy. `file` names the text in diagnostics; positions are within `text`.
 */
export function parseExpression(file: string, text: string): { expr: Expr | null; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const tokens: Token[] = [];
  const strings: Strings = new Map();
  let broken = false;
  for (const token of newLexer().reset(unifyLineBreaks(text))) {
    if (TRIVIA.has(token.type!)) continue;
    if (lexicalError(file, token, diagnostics)) broken = true;
    else prepare(token, strings);
    tokens.push(token);
  }
  if (broken) return { expr: null, diagnostics };
  if (tokens.length === 0) {
    const at = { line: 1, col: 1, offset: 0 };
    return { expr: null, diagnostics: [diagnostic('syntax', file, { start: at, end: at }, 'expected an expression')] };
  }
  const expr = parseChunk(file, tokens, diagnostics, false, expressionGrammar) as Expr | null;
  return { expr, diagnostics };
}

function parsePolicy(file: string, tokens: Token[], diagnostics: Diagnostic[]): Policy | null {
  const raw = parseChunk(file, tokens, diagnostics);
  return raw === null ? null : toPolicy(file, raw, diagnostics);
}

/**
 * Strings shared within a parse (or a whole policy set): the thousand `resource` or
 * `"editor"` tokens of a folder become one string in the syntax trees and compiled code.
 */
export type Strings = Map<string, string>;

function share(strings: Strings, s: string): string {
  const shared = strings.get(s);
  if (shared !== undefined) return shared;
  strings.set(s, s);
  return s;
}

/** Readies a checked token for the grammar's builders: names shared, a string's `value` decoded. */
function prepare(token: Token, strings: Strings): void {
  switch (token.type) {
    case 'ident':
    case 'kw':
    case 'relop':
    case 'constant':
      token.value = share(strings, token.value);
      return;
    case 'string': {
      const decoded = decodeString(token.text);
      // INVARIANT: lexicalError rejected strings that do not decode.
      if ('value' in decoded) token.value = share(strings, decoded.value);
      return;
    }
  }
}

/** What a character the language does not have was likely meant to be, in other languages' habits. */
const INVALID_HELP: Readonly<Record<string, string>> = {
  '=': 'did you mean `==`? Comparison is `==`; there is no assignment',
  '&': 'did you mean `&&`?',
  '|': 'did you mean `||`?',
  "'": 'strings are in double quotes: "…"',
  '/': 'comments start with `//` and run to the end of the line; there are no `/* … */` comments',
  // Typographic quotes, as an editor or a word processor writes them.
  '\u201c': 'strings are in straight double quotes: "…"',
  '\u201d': 'strings are in straight double quotes: "…"',
  '\u2018': 'strings are in straight double quotes: "…"',
  '\u2019': 'strings are in straight double quotes: "…"',
  '\u2260': 'did you mean `!=`?',
  '\u2264': 'did you mean `<=`?',
  '\u2265': 'did you mean `>=`?',
};

/**
 * What a syntax error most likely means, from the unexpected token and the ones before it:
 * habits from other languages the grammar's "expected …" list does not explain.
 */
function syntaxHelp(tokens: readonly Token[], at: number): string | undefined {
  const token = tokens[at];
  if (token === undefined) return undefined;
  // The tokens before it that the parser saw (not spaces, line breaks or comments).
  const before: Token[] = [];
  for (let i = at - 1; i >= 0 && before.length < 64; i--) if (tokens[i].type !== 'ws' && tokens[i].type !== 'nl' && tokens[i].type !== 'comment') before.push(tokens[i]);
  const [previous, second] = before;
  if (token.type === 'relop' && !SET_WORDS.has(token.text) && token.text !== 'in') {
    // A comparison right after another in the same operand: `1 < x < 5`, `a == b == c`.
    for (const t of before) {
      if (t.text === '{' || t.text === '(' || t.text === '[' || t.text === ',' || t.text === '&&' || t.text === '||') break;
      if (t.type === 'relop') return 'comparisons do not chain: write `a < b && b < c`';
    }
  }
  // A policy that begins where another should have ended: the one before lacks its `;`.
  if ((token.text === '@' || token.text === 'permit' || token.text === 'forbid') && previous !== undefined && previous.text !== ';' && previous.line < token.line) {
    return `the policy before ends without \`;\`: end each policy with \`;\` (line ${previous.line}, after \`${previous.text.length > 20 ? `${previous.text.slice(0, 20)}…` : previous.text}\`)`;
  }
  // Cedar's and Rego's habits: a method call, `is`, a number with a leading zero.
  if (token.text === '(' && second?.text === '.' && previous !== undefined && SET_WORDS.has(previous.text)) {
    return `\`${previous.text}\` is written between its operands, not called: \`subject.roles ${previous.text} "viewer"\``;
  }
  if (token.text === 'is' && token.type === 'ident') return 'there is no `is`: compare the type, `resource.type == "document"`';
  if (token.type === 'number' && previous?.type === 'number' && previous.text === '0' && previous.offset + 1 === token.offset) return 'a number has no leading zeros: `1`, not `01`';
  // `context.headers.x-tenant`, `context.1a`: a name that is not an identifier.
  if ((token.text === '-' && previous?.type === 'ident' && second?.text === '.') || (token.type === 'number' && previous?.text === '.')) {
    return 'an attribute name that is not an identifier (with `-`, or starting with a digit) is written in brackets: `context.headers["x-tenant"]`';
  }
  return undefined;
}

const SET_WORDS: ReadonlySet<string> = new Set(['contains', 'contains_any', 'contains_all', 'like']);

function lexicalError(file: string, token: Token, diagnostics: Diagnostic[], bidi = true): boolean {
  switch (token.type) {
    case 'invalid': {
      const help = INVALID_HELP[token.text];
      diagnostics.push(diagnostic('syntax', file, spanOf(token, token), `unexpected character ${visibleJson(JSON.stringify(token.text))}`, ...(help === undefined ? [] : [help])));
      return true;
    }
    case 'unterminated':
      diagnostics.push(diagnostic('syntax', file, spanOf(token, token), 'unterminated string', 'close the string with `"` on the same line'));
      return true;
    case 'string': {
      if (bidi && bidiControl(file, token, diagnostics, 'write it as an escape')) return true;
      // Only a string with a backslash can hold a bad escape: skip decoding the rest.
      if (!token.text.includes('\\')) return false;
      const decoded = decodeString(token.text);
      if (!('error' in decoded)) return false;
      const at = { line: token.line, col: token.col + decoded.at, offset: token.offset + decoded.at };
      diagnostics.push(
        diagnostic('invalid-literal', file, { start: at, end: at }, `invalid escape \`${decoded.error}\` in string`, 'valid escapes are \\" \\\\ \\/ \\n \\r \\t \\0 \\uHHHH \\u{HEX}'),
      );
      return true;
    }
    case 'number':
      if (Number.isFinite(Number(token.value))) return false;
      diagnostics.push(diagnostic('invalid-literal', file, spanOf(token, token), `number \`${token.text}\` is out of range`));
      return true;
    default:
      return false;
  }
}

/**
 * A bidirectional control written raw in a string or comment (both are one line long): the
 * policy would display as other text than it is ("Trojan Source", CVE-2021-42574) — a
 * reviewer reading `"user" // ‮ }⁦ && admin` sees neither what the parser reads nor where.
 */
function bidiControl(file: string, token: Token, diagnostics: Diagnostic[], fix: string): boolean {
  const found = BIDI_CONTROL.exec(token.text);
  if (found === null) return false;
  const code = found[0].codePointAt(0)!.toString(16);
  const at = { line: token.line, col: token.col + found.index, offset: token.offset + found.index };
  diagnostics.push(diagnostic('syntax', file, { start: at, end: at }, `a bidirectional control character (U+${code.toUpperCase().padStart(4, '0')}) changes how the text around it is displayed`, `${fix}: \\u{${code}}`));
  return true;
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

function parseChunk(file: string, tokens: Token[], diagnostics: Diagnostic[], unterminated = false, rules = compiled): RawPolicy | null {
  const limit = checkLimits(file, tokens, diagnostics);
  if (limit) return null;
  const parser = new nearley.Parser(rules);
  (parser as unknown as { lexer: ReplayLexer }).lexer = new ReplayLexer(tokens);
  try {
    parser.feed('');
  } catch (err: unknown) {
    const token = (err as { token?: Token }).token;
    if (token === undefined) throw err;
    const expected = expectedAfter(parser, tableOf(parser).length - 2);
    const help = syntaxHelp(tokens, tokens.indexOf(token));
    diagnostics.push(diagnostic('syntax', file, spanOf(token, token), `unexpected ${describeToken(token)}${expected}`, ...(help === undefined ? [] : [help])));
    return null;
  }
  const results = parser.results as RawPolicy[];
  const last = tokens[tokens.length - 1];
  if (results.length === 0 || unterminated) {
    const expected = expectedAfter(parser, tableOf(parser).length - 1);
    const end = tokenEnd(last);
    diagnostics.push(diagnostic('syntax', file, { start: end, end }, `unexpected end of input${expected}`, unterminated ? 'end each policy with `;`' : undefined));
    return null;
  }
  // A node and its span take a few levels of objects above its operands'.
  if (results.length === 1 && deeperThan(results[0], PARSE_LIMITS.treeDepth + 8)) {
    diagnostics.push(diagnostic('limit', file, spanOf(tokens[0], last), `an expression is nested deeper than ${PARSE_LIMITS.treeDepth} levels (each \`&&\`, \`||\`, \`!\` and \`.\` of a chain is one)`, 'split the condition into several policies, or use `in [list]` for many alternatives'));
    return null;
  }
  if (results.length > 1) {
    // INVARIANT: the grammar is unambiguous; more than one parse is a bug in grammar/policy.ne.
    diagnostics.push(diagnostic('syntax', file, spanOf(tokens[0], last), `internal error: ambiguous parse (${results.length} derivations)`));
    return null;
  }
  return results[0];
}

/** Whether a tree of objects is deeper than `limit`, found without recursion (the tree may be what is too deep). */
function deeperThan(root: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[root, 1]];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [value, depth] = next;
    if (depth > limit) return true;
    for (const child of Object.values(value as object)) if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
  }
  return false;
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

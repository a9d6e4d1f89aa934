import type { Span } from '../../language/ast.js';
import { diagnostic, sortDiagnostics, type Diagnostic } from '../../language/diagnostic.js';
import { parseCidr, parseV4CidrFast, type Cidr } from '../../language/eval/ip.js';
import { sortV4, sortV6, type SortedPrefixes } from './prefix-table.js';
import { IPV4_DEPTH, PrefixesBuilder, type PrefixFamily } from './prefixes.js';

/**
 * `plain`: one address or CIDR range a line, with `#` and `;` comments (FireHOL `.netset`
 * and `.ipset`, Spamhaus DROP). `scored`: CSV rows `cidr,score,label`.
 */
export type IpListFormat = 'plain' | 'scored';
export const IP_LIST_FORMATS: readonly IpListFormat[] = ['plain', 'scored'];

export interface IpListLimits {
  /** Largest file read, in bytes. */
  readonly maxBytes: number;
  /** Most prefixes one file may hold. */
  readonly maxEntries: number;
  /** Longest line, in characters. */
  readonly maxLineLength: number;
}

export const DEFAULT_IP_LIST_LIMITS: IpListLimits = Object.freeze({
  maxBytes: 64 * 1024 * 1024,
  maxEntries: 2_000_000,
  maxLineLength: 1_024,
});

/** A file's problems are collected up to this many, so a wrong file is not a million messages. */
const MAX_DIAGNOSTICS = 100;

/** What a list file holds, ready for `IpReputation.build`. */
export interface IpListContent {
  readonly format: IpListFormat;
  /** Prefixes (lines) in the file. */
  readonly entries: number;
  readonly v4: PrefixFamily;
  readonly v6: PrefixFamily;
  /** Scored lists: the distinct labels, indexed by `PrefixFamily.label`. */
  readonly labels: readonly string[];
}

export type ParseIpListResult = { content: IpListContent; diagnostics: [] } | { content: null; diagnostics: Diagnostic[] };

/** `.csv` is scored; anything else is a plain list. */
export function formatForPath(path: string): IpListFormat {
  return path.toLowerCase().endsWith('.csv') ? 'scored' : 'plain';
}

/**
 * Parses a list file. Every malformed line is reported with its line and column, and any
 * one rejects the whole file: a block list half applied is worse than the previous version.
 * A range with host bits set is rejected, not widened, as `cidr()` in policies does.
 */
export function parseIpList(text: string, file: string, format: IpListFormat, limits: IpListLimits = DEFAULT_IP_LIST_LIMITS): ParseIpListResult {
  const parser = new ListParser(text, file, format === 'scored', limits);
  parser.run();
  return parser.result(format);
}

class ListParser {
  readonly diagnostics: Diagnostic[] = [];
  readonly builder: PrefixesBuilder;
  readonly labels: string[] = [];
  readonly labelIds = new Map<string, number>();
  line = 0;
  lineStart = 0;
  headerAllowed = true;
  stopped = false;

  constructor(
    readonly text: string,
    readonly file: string,
    readonly scored: boolean,
    readonly limits: IpListLimits,
  ) {
    this.builder = new PrefixesBuilder(scored, Math.min(lineCount(text), limits.maxEntries));
  }

  run(): void {
    const { text } = this;
    let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;
    while (pos < text.length && !this.stopped) {
      let next = text.indexOf('\n', pos);
      if (next < 0) next = text.length;
      const end = next > pos && text.charCodeAt(next - 1) === 13 ? next - 1 : next;
      this.line++;
      this.lineStart = pos;
      if (end - pos > this.limits.maxLineLength) {
        this.report('limit', pos, end, `line is longer than ${this.limits.maxLineLength} characters`);
      } else if (this.scored) this.scoredLine(pos, end);
      else this.plainLine(pos, end);
      pos = next + 1;
    }
  }

  /** `1.2.3.0/24`, `1.2.3.4 # note`, `1.2.3.0/24 ; SBL123`. */
  plainLine(from: number, to: number): void {
    const { text } = this;
    let end = from;
    while (end < to) {
      const c = text.charCodeAt(end);
      if (c === 35 /* # */ || c === 59 /* ; */) break;
      end++;
    }
    const [start, stop] = trim(text, from, end);
    if (start === stop) return;
    const space = firstSpace(text, start, stop);
    if (space < stop) {
      const [rest] = trim(text, space, stop);
      this.report('syntax', rest, stop, `unexpected \`${text.slice(rest, stop)}\` after \`${text.slice(start, space)}\``, 'one address or CIDR range a line; comments start with `#` or `;`');
      return;
    }
    this.add(this.prefix(start, stop), 0, 0);
  }

  /** `cidr,score,label`; whole-line `#` comments; an optional header row. */
  scoredLine(from: number, to: number): void {
    const { text } = this;
    const [start, stop] = trim(text, from, to);
    if (start === stop || text.charCodeAt(start) === 35) return;
    if (!this.headerAllowed && indexIn(text, 34 /* " */, start, stop) === stop) {
      // The common row: no quotes, so fields are what lies between two commas.
      const c1 = indexIn(text, 44 /* , */, start, stop);
      const c2 = c1 < stop ? indexIn(text, 44, c1 + 1, stop) : stop;
      if (c2 < stop && indexIn(text, 44, c2 + 1, stop) === stop) {
        const [ls, le] = trim(text, c2 + 1, stop);
        const prefix = this.prefix(...trim(text, start, c1));
        const score = this.score(...trim(text, c1 + 1, c2));
        if (score !== null) this.add(prefix, score, this.label(text.slice(ls, le)));
        return;
      }
    }
    const fields = splitCsv(text, start, stop);
    if (typeof fields === 'string') {
      this.report('syntax', start, stop, fields);
      return;
    }
    const header = this.headerAllowed;
    this.headerAllowed = false;
    if (fields.length !== 3) {
      this.report('syntax', start, stop, `expected 3 columns \`cidr,score,label\`, found ${fields.length}`, 'a label may hold commas when it is in double quotes');
      return;
    }
    const [cidr, score, label] = fields;
    if (header && fields.every((f, i) => f.value.toLowerCase() === ['cidr', 'score', 'label'][i])) return;
    const prefix = this.prefix(cidr.start, cidr.end, cidr.value);
    const value = this.score(score.start, score.end, score.value);
    if (value !== null) this.add(prefix, value, this.label(label.value));
  }

  /**
   * The prefix in `text[start, end)` (or `value`, unquoted from there): an IPv4 prefix as
   * `base * 64 + length` from the allocation-free fast path, a `Cidr` for anything else,
   * or null when it is invalid (reported).
   */
  prefix(start: number, end: number, value?: string): number | Cidr | null {
    if (value === undefined) {
      const fast = parseV4CidrFast(this.text, start, end);
      if (fast >= 0) return fast;
    }
    const cidr = parseCidr(value ?? this.text.slice(start, end));
    if (!('error' in cidr)) return cidr;
    const hostBits = cidr.error.includes('host bits');
    this.report('invalid-literal', start, end, cidr.error, hostBits ? 'list entries are never widened, as with `cidr()` in policies' : undefined);
    return null;
  }

  /** An integer 0–100 in `text[start, end)` (or `value`); null when it is not (reported). */
  score(start: number, end: number, value?: string): number | null {
    const digits = value ?? this.text.slice(start, end);
    let n = 0;
    for (let i = 0; i < digits.length && i < 4; i++) {
      const d = digits.charCodeAt(i) - 48;
      n = d >= 0 && d <= 9 ? n * 10 + d : 1_000;
    }
    if (digits.length > 0 && digits.length <= 3 && n <= 100) return n;
    this.report('invalid-literal', start, end, `score \`${digits}\` is not an integer from 0 to 100`, '100 is clean, 0 is the worst');
    return null;
  }

  label(value: string): number {
    let id = this.labelIds.get(value);
    if (id === undefined) {
      id = this.labels.length;
      // A copy, not a slice: a slice of a long label would keep the whole file's text alive.
      this.labels.push(value.length >= 13 ? Buffer.from(value, 'utf8').toString('utf8') : value);
      this.labelIds.set(value, id);
    }
    return id;
  }

  add(prefix: number | Cidr | null, score: number, label: number): void {
    if (prefix === null) return;
    if (this.builder.entries === this.limits.maxEntries) {
      this.report('limit', this.lineStart, this.lineStart, `more than ${this.limits.maxEntries.toLocaleString('en-US')} entries`, 'split the list into several, each given its own name');
      this.stopped = true;
      return;
    }
    if (typeof prefix === 'number') this.builder.addV4(Math.floor(prefix / 64), IPV4_DEPTH + (prefix % 64), score, label, this.line);
    else this.builder.add(prefix, score, label, this.line);
  }

  report(code: Diagnostic['code'], start: number, end: number, message: string, help?: string): void {
    if (this.diagnostics.length === MAX_DIAGNOSTICS) {
      this.diagnostics.push(diagnostic('limit', this.file, this.span(start, end), `more than ${MAX_DIAGNOSTICS} errors; stopped reading`));
      this.stopped = true;
      return;
    }
    this.diagnostics.push(diagnostic(code, this.file, this.span(start, end), message, help));
  }

  span(start: number, end: number): Span {
    const col = (offset: number): number => offset - this.lineStart + 1;
    return { start: { line: this.line, col: col(start), offset: start }, end: { line: this.line, col: col(end), offset: end } };
  }

  private saidDuplicates: Set<string> | null = null;

  result(format: IpListFormat): ParseIpListResult {
    if (this.stopped) return { content: null, diagnostics: this.diagnostics };
    const b = this.builder;
    const [v4, v6] = [b.v4.finish(), b.v6.finish()];
    // Among the lines that did parse, ambiguous repeats are reported with the other errors:
    // not one round of fixes, then a second round of news.
    if (this.scored) {
      this.duplicates(v4, b.v4.lines(), sortV4(v4.base, v4.depth), 1);
      this.duplicates(v6, b.v6.lines(), sortV6(v6.base, v6.depth), 4);
    }
    if (this.diagnostics.length > 0) return { content: null, diagnostics: sortDiagnostics(this.diagnostics) };
    return { content: { format, entries: b.entries, v4, v6, labels: this.labels }, diagnostics: [] };
  }

  /**
   * The same prefix twice in a scored list with different scores or labels has no single
   * longest match, so it is an error; an exact repeat is harmless and accepted.
   */
  duplicates(f: PrefixFamily, lines: Uint32Array, sorted: SortedPrefixes, width: number): void {
    const { order, base, depth } = sorted;
    // A prefix covering IPv4 addresses as well (`::/0`, `::ffff:0:0/96`) is in both families' tables: said once.
    const said = (this.saidDuplicates ??= new Set<string>());
    const same = (k: number): boolean => {
      for (let w = 0; w < width; w++) if (base[k * width + w] !== base[(k - 1) * width + w]) return false;
      return depth[k] === depth[k - 1];
    };
    for (let k = 1; k < order.length && this.diagnostics.length < MAX_DIAGNOSTICS; k++) {
      const [a, b] = [order[k - 1], order[k]];
      if (!same(k) || (f.score[a] === f.score[b] && f.label[a] === f.label[b])) continue;
      const [first, again] = lines[a] < lines[b] ? [lines[a], lines[b]] : [lines[b], lines[a]];
      if (said.has(`${first}/${again}`)) continue;
      said.add(`${first}/${again}`);
      const d = diagnostic('duplicate-id', this.file, lineSpan(this.text, again), `this prefix is also on line ${first}, with another score or label`, 'a prefix may be listed once in a scored list; the first is at');
      d.related = { file: this.file, span: lineSpan(this.text, first) };
      this.diagnostics.push(d);
    }
  }
}

interface CsvField {
  value: string;
  start: number;
  end: number;
}

/**
 * Fields of one CSV row, trimmed; a field in double quotes may hold commas and `""` for a
 * quote (RFC 4180, without line breaks inside quotes). An error is a message.
 */
function splitCsv(text: string, from: number, to: number): CsvField[] | string {
  const fields: CsvField[] = [];
  let pos = from;
  for (;;) {
    const [start] = trim(text, pos, to);
    let end: number;
    if (start < to && text.charCodeAt(start) === 34 /* " */) {
      let value = '';
      let i = start + 1;
      for (;;) {
        const q = indexIn(text, 34, i, to);
        if (q === to) return 'a quoted field is not closed';
        value += text.slice(i, q);
        if (q + 1 < to && text.charCodeAt(q + 1) === 34) {
          value += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      const [after] = trim(text, i, to);
      if (after < to && text.charCodeAt(after) !== 44) return 'unexpected text after a quoted field';
      end = after;
      fields.push({ value, start, end: i });
    } else {
      end = indexIn(text, 44 /* , */, start, to);
      const [s, e] = trim(text, start, end);
      fields.push({ value: text.slice(s, e), start: s, end: e });
    }
    if (end >= to) return fields;
    pos = end + 1;
  }
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 13 || c === 11 || c === 12;
}

function trim(text: string, from: number, to: number): [number, number] {
  while (from < to && isSpace(text.charCodeAt(from))) from++;
  while (to > from && isSpace(text.charCodeAt(to - 1))) to--;
  return [from, to];
}

function firstSpace(text: string, from: number, to: number): number {
  while (from < to && !isSpace(text.charCodeAt(from))) from++;
  return from;
}

/** The start of 1-based `line`; only for the rare duplicate message, so a plain scan. */
function lineSpan(text: string, line: number): Span {
  let offset = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (let l = 1; l < line; l++) offset = text.indexOf('\n', offset) + 1;
  const at = { line, col: 1, offset };
  return { start: at, end: at };
}

function lineCount(text: string): number {
  let lines = 1;
  for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) lines++;
  return lines;
}

/** The first `code` in `text[from, to)`, or `to`; bounded, so a line never scans the rest of the file. */
function indexIn(text: string, code: number, from: number, to: number): number {
  while (from < to && text.charCodeAt(from) !== code) from++;
  return from;
}

import type { Comment, Expr, Policy, PolicyFile, Span } from '../ast.js';
import { encodeString } from '../parse/strings.js';
import { chain, printChainPart, printConstraint } from './print-expr.js';

const WIDTH = 100;
const INDENT = '  ';

/**
 * A line-level piece of a policy that comments attach to: an annotation, the effect, a
 * target constraint, one operand of a condition's top-level `&&`/`||` chain, the reason.
 */
interface Item {
  span: Span;
  leading: Comment[];
  trailing: Comment | null;
}

function item(span: Span): Item {
  return { span, leading: [], trailing: null };
}

interface PolicyItems {
  annotations: Item[];
  effect: Item;
  target: Item[];
  conditions: { op: '&&' | '||' | null; parts: Expr[]; items: Item[] }[];
  reason: Item | null;
  all: Item[];
}

function itemsOf(policy: Policy): PolicyItems {
  const annotations = policy.annotations.map((a) => item(a.span));
  const effect = item(policy.effectSpan);
  const target = (policy.target ?? []).map((c) => item(c.span));
  const conditions = policy.conditions.map((c) => {
    const { op, parts } = chain(c.body);
    return { op, parts, items: parts.map((p) => item(p.span)) };
  });
  const reason = policy.reason === null ? null : item(policy.reasonSpan ?? { start: policy.span.end, end: policy.span.end });
  const all = [...annotations, effect, ...target, ...conditions.flatMap((c) => c.items), ...(reason ? [reason] : [])];
  return { annotations, effect, target, conditions, reason, all };
}

/**
 * Comments attach to the item they follow on the same line (trailing) or else to the next
 * item (leading); a comment after the last item of a policy trails that item. Comments
 * inside an expression move to the line of their operand: their text is never lost.
 */
function attach(items: Item[], comments: Comment[]): void {
  for (const comment of comments) {
    const at = comment.span.start.offset;
    const before = items.filter((i) => i.span.end.offset <= at && i.span.end.line === comment.span.start.line);
    const owner = before[before.length - 1];
    if (owner !== undefined && owner.trailing === null) {
      owner.trailing = comment;
      continue;
    }
    const next = items.find((i) => i.span.start.offset > at) ?? items[items.length - 1];
    next.leading.push(comment);
  }
}

function commentLines(comments: Comment[], indent: string): string[] {
  return comments.map((c) => `${indent}//${c.text.trimEnd()}`);
}

function withTrailing(line: string, i: Item): string {
  return i.trailing === null ? line : `${line} //${i.trailing.text.trimEnd()}`;
}

function hasComments(items: Item[]): boolean {
  return items.some((i) => i.leading.length > 0 || i.trailing !== null);
}

function printPolicy(policy: Policy, items: PolicyItems): string[] {
  const out: string[] = [];
  policy.annotations.forEach((a, n) => {
    const i = items.annotations[n];
    out.push(...commentLines(i.leading, ''));
    const args = a.values.length === 0 ? '' : `(${a.values.map(encodeString).join(', ')})`;
    out.push(withTrailing(`@${a.name}${args}`, i));
  });
  out.push(...commentLines(items.effect.leading, ''));
  out.push(...printHead(policy, items));
  policy.conditions.forEach((c, n) => out.push(...printCondition(c.kind, items.conditions[n])));
  if (items.reason !== null) {
    out.push(...commentLines(items.reason.leading, ''));
    out.push(withTrailing(`reason ${encodeString(policy.reason!)}`, items.reason));
  }
  out[out.length - 1] = appendBeforeComment(out[out.length - 1], ';');
  return out;
}

/** Adds `suffix` to a printed line, before its trailing comment if it has one. */
function appendBeforeComment(line: string, suffix: string): string {
  const at = findComment(line);
  return at < 0 ? line + suffix : `${line.slice(0, at).trimEnd()}${suffix} ${line.slice(at)}`;
}

/** Index of a `//` comment outside string literals, or -1. */
function findComment(line: string): number {
  let inString = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '/' && line[i + 1] === '/') return i;
  }
  return -1;
}

function printHead(policy: Policy, items: PolicyItems): string[] {
  const effect = items.effect;
  // An empty target is no target (the parser makes `()` null; a tree built by hand may not).
  if (policy.target === null || policy.target.length === 0) return [withTrailing(policy.effect, effect)];
  const constraints = policy.target.map(printConstraint);
  const inline = `${policy.effect} (${constraints.join(', ')})`;
  // A comment trailing the keyword stays on the keyword's line, before the target: after an
  // inline target it would trail the last constraint when read again, and the next format move it.
  if (inline.length <= WIDTH && !hasComments(items.target) && effect.trailing === null) return [inline];
  const lines = [withTrailing(`${policy.effect} (`, effect)];
  constraints.forEach((text, n) => {
    const i = items.target[n];
    lines.push(...commentLines(i.leading, INDENT));
    lines.push(withTrailing(`${INDENT}${text}${n < constraints.length - 1 ? ',' : ''}`, i));
  });
  lines.push(')');
  return lines;
}

function printCondition(kind: 'when' | 'unless', c: PolicyItems['conditions'][number]): string[] {
  const parts = c.parts.map((p) => printChainPart(p, c.op));
  const inline = `${kind} { ${parts.join(` ${c.op} `)} }`;
  if (inline.length <= WIDTH && !hasComments(c.items)) return [inline];
  const lines = [`${kind} {`];
  parts.forEach((text, n) => {
    const i = c.items[n];
    lines.push(...commentLines(i.leading, INDENT));
    lines.push(withTrailing(`${INDENT}${n === 0 ? '' : `${c.op} `}${text}`, i));
  });
  lines.push('}');
  return lines;
}

/**
 * The canonical text of a file: one blank line between policies, comments kept, each
 * policy laid out by the same rules. Formatting is idempotent: `format(parse(format(x)))`
 * is `format(x)`.
 */
export function printFile(file: PolicyFile): string {
  const blocks: string[] = [];
  let rest = [...file.comments];
  file.policies.forEach((policy, n) => {
    const items = itemsOf(policy);
    const own = rest.filter((c) => c.span.start.offset < policy.span.end.offset);
    rest = rest.filter((c) => c.span.start.offset >= policy.span.end.offset);
    const inside = own.filter((c) => c.span.start.offset >= policy.span.start.offset);
    const before = own.filter((c) => c.span.start.offset < policy.span.start.offset);
    attach(items.all, inside);
    const body = printPolicy(policy, items);
    // A comment after the `;` on its line stays there — unless another policy follows on that line first: it is that one's.
    const nextStart = file.policies[n + 1]?.span.start.offset ?? Number.POSITIVE_INFINITY;
    const after = rest.find((c) => c.span.start.line === policy.span.end.line && c.span.start.offset < nextStart);
    // A last line that already ends in a comment (`permit; // c1`) cannot take another: the two
    // would read back as one. This one then stands on its own line, as a comment between policies.
    if (after !== undefined && findComment(body[body.length - 1]!) < 0) {
      rest = rest.filter((c) => c !== after);
      body[body.length - 1] += ` //${after.text.trimEnd()}`;
    }
    blocks.push([...printLeading(before, policy.span), ...body].join('\n'));
  });
  if (rest.length > 0) blocks.push(printLeading(rest, null).join('\n'));
  return blocks.length === 0 ? '' : blocks.join('\n\n') + '\n';
}

/** Comment lines before a policy; a blank line in the source after a comment is kept as one. */
function printLeading(comments: Comment[], next: Span | null): string[] {
  const lines: string[] = [];
  comments.forEach((c, n) => {
    lines.push(`//${c.text.trimEnd()}`);
    const following = comments[n + 1]?.span.start.line ?? next?.start.line;
    // Only blank lines can lie between a comment and what follows it here.
    if (following !== undefined && following - c.span.end.line > 1) lines.push('');
  });
  return lines;
}

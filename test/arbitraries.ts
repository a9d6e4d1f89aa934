import fc from 'fast-check';
import type { Annotation, Condition, Constraint, Expr, Policy, PolicyFile, Root, Span, TargetRoot } from '../src/language/ast.js';
import { KEYWORDS } from '../src/language/parse/lexer.js';

/** Generated trees carry one dummy span; comparisons strip spans anyway. */
export const SPAN: Span = { start: { line: 1, col: 1, offset: 0 }, end: { line: 1, col: 1, offset: 0 } };

const keywordSet = new Set<string>(KEYWORDS);
const ident = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,7}$/);
/** Names the lexer reads as identifiers: not keywords. */
const plainIdent = ident.filter((s) => !keywordSet.has(s));
/** Attribute names: identifiers, keywords, and names that must be quoted. */
const attrName = fc.oneof(ident, fc.constantFrom(...KEYWORDS), fc.string({ maxLength: 6 }));

export const string = fc.string({ maxLength: 8, unit: 'binary' });
const number = fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.double({ min: -1e6, max: 1e6, noNaN: true }).filter((n) => !Object.is(n, -0)));
const literal: fc.Arbitrary<Expr> = fc
  .oneof(string, number, fc.boolean(), fc.constant(null))
  .map((value) => ({ kind: 'literal', value: Object.is(value, -0) ? 0 : value, span: SPAN }));
const entity: fc.Arbitrary<Expr> = fc.record({ type: plainIdent, id: string }).map(({ type, id }) => ({ kind: 'entity', type, id, span: SPAN }));
const rootNames: Root[] = ['subject', 'action', 'resource', 'context', 'token', 'risk'];
const root: fc.Arbitrary<Expr> = fc.constantFrom(...rootNames).map((r) => ({ kind: 'root', root: r, span: SPAN }));

/** Any expression the parser can produce, up to a small depth. */
export const expr: fc.Arbitrary<Expr> = fc.letrec<{ e: Expr }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    literal,
    root,
    entity,
    plainIdent.filter((n) => !rootNames.includes(n as Root)).map((name): Expr => ({ kind: 'variable', name, span: SPAN })),
    fc.array(tie('e'), { maxLength: 3 }).map((items): Expr => ({ kind: 'list', items, span: SPAN })),
    fc.record({ object: tie('e'), name: attrName }).map(({ object, name }): Expr => ({ kind: 'attr', object, name, span: SPAN })),
    fc.record({ object: tie('e'), name: attrName }).map(({ object, name }): Expr => ({ kind: 'has', object, name, span: SPAN })),
    fc.record({ subject: tie('e'), pattern: string }).map(({ subject, pattern }): Expr => ({ kind: 'like', subject, pattern, span: SPAN })),
    tie('e').map((operand): Expr => ({ kind: 'not', operand, span: SPAN })),
    // The parser folds `-` on a number literal into the literal, so such a node never exists.
    tie('e')
      .filter((e) => !(e.kind === 'literal' && typeof e.value === 'number'))
      .map((operand): Expr => ({ kind: 'negate', operand, span: SPAN })),
    fc
      .record({ op: fc.constantFrom('==', '!=', '<', '<=', '>', '>=', 'in', 'contains', 'contains_any', 'contains_all'), left: tie('e'), right: tie('e') })
      .map(({ op, left, right }): Expr => ({ kind: 'binary', op, left, right, span: SPAN })),
    // Weighted up: precedence bugs hide in nested `&&`/`||` and relations inside them.
    { arbitrary: fc.record({ kind: fc.constantFrom('and', 'or'), left: tie('e'), right: tie('e') }).map(({ kind, left, right }): Expr => ({ kind, left, right, span: SPAN })), weight: 4 },
    fc.record({ name: plainIdent, args: fc.array(tie('e'), { maxLength: 3 }) }).map(({ name, args }): Expr => ({ kind: 'call', name, args, span: SPAN })),
  ),
})).e;

const targetRoot = fc.constantFrom<TargetRoot>('subject', 'action', 'resource');
const path = fc.array(attrName, { maxLength: 2 });
const value = fc.oneof(literal, entity);
const constraint: fc.Arbitrary<Constraint> = fc.oneof(
  targetRoot.map((r): Constraint => ({ kind: 'any', root: r, span: SPAN })),
  fc.record({ root: targetRoot, path, value }).map((c): Constraint => ({ kind: 'eq', ...c, span: SPAN })),
  fc.record({ root: targetRoot, path, values: fc.array(value, { maxLength: 3 }) }).map((c): Constraint => ({ kind: 'in', ...c, span: SPAN })),
  fc.record({ root: targetRoot, path, pattern: string }).map((c): Constraint => ({ kind: 'like', ...c, span: SPAN })),
);

const annotation: fc.Arbitrary<Annotation> = fc
  .record({ name: fc.oneof(ident, fc.constantFrom(...KEYWORDS)), values: fc.array(string, { maxLength: 3 }) })
  .map((a) => ({ ...a, span: SPAN }));
const condition: fc.Arbitrary<Condition> = fc.record({ kind: fc.constantFrom<'when' | 'unless'>('when', 'unless'), body: expr }).map((c) => ({ ...c, span: SPAN }));

export const policy: fc.Arbitrary<Policy> = fc.record({
  annotations: fc.array(annotation, { maxLength: 3 }),
  effect: fc.constantFrom<'permit' | 'forbid'>('permit', 'forbid'),
  effectSpan: fc.constant(SPAN),
  // Never `[]`: the parser reads `()` as no target, and these trees must survive a round trip.
  target: fc.option(fc.array(constraint, { minLength: 1, maxLength: 3 }), { nil: null }),
  conditions: fc.array(condition, { maxLength: 2 }),
  reason: fc.option(string, { nil: null }),
  span: fc.constant(SPAN),
});

export const policyFile: fc.Arbitrary<PolicyFile> = fc.array(policy, { maxLength: 4 }).map((policies) => ({ file: 'gen.gavel', policies, comments: [] }));

/** A deep copy without spans, for comparing trees that came from different texts. */
export function stripSpans<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (k, v: unknown) => (k === 'span' || k === 'effectSpan' || k === 'reasonSpan' ? undefined : v))) as T;
}

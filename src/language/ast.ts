/**
 * The policy language's syntax tree. Every node carries a `span` into its source file so
 * diagnostics, explanations and compliance reports can point at the text a human wrote.
 */

export interface Position {
  /** 1-based line. */
  line: number;
  /** 1-based column, counted in UTF-16 code units as editors do. */
  col: number;
  /** 0-based offset into the file. */
  offset: number;
}

export interface Span {
  start: Position;
  end: Position;
}

/** The request roots a policy may read. `token` and `risk` are trusted: set by Gavel, never by the caller. */
export const ROOTS = ['subject', 'action', 'resource', 'context', 'token', 'risk'] as const;
export type Root = (typeof ROOTS)[number];

/** Roots a target constraint may name: the ones an index can decide by lookup. */
export const TARGET_ROOTS = ['subject', 'action', 'resource'] as const;
export type TargetRoot = (typeof TARGET_ROOTS)[number];

export type Effect = 'permit' | 'forbid';

export type ComparisonOp = '==' | '!=' | '<' | '<=' | '>' | '>=';
export type SetOp = 'in' | 'contains' | 'contains_any' | 'contains_all';
export type BinaryOp = ComparisonOp | SetOp;

export type LiteralValue = string | number | boolean | null;

export type Expr =
  | { kind: 'literal'; value: LiteralValue; span: Span }
  | { kind: 'list'; items: Expr[]; span: Span }
  | { kind: 'entity'; type: string; id: string; span: Span }
  | { kind: 'root'; root: Root; span: Span }
  | { kind: 'variable'; name: string; span: Span }
  | { kind: 'attr'; object: Expr; name: string; span: Span }
  | { kind: 'has'; object: Expr; name: string; span: Span }
  | { kind: 'like'; subject: Expr; pattern: string; span: Span }
  | { kind: 'not'; operand: Expr; span: Span }
  | { kind: 'negate'; operand: Expr; span: Span }
  | { kind: 'binary'; op: BinaryOp; left: Expr; right: Expr; span: Span }
  | { kind: 'and'; left: Expr; right: Expr; span: Span }
  | { kind: 'or'; left: Expr; right: Expr; span: Span }
  | { kind: 'call'; name: string; args: Expr[]; span: Span };

export type ExprKind = Expr['kind'];
export type ExprOf<K extends ExprKind> = Extract<Expr, { kind: K }>;

/**
 * A target constraint: something an index can decide by lookup. `path` is empty for the
 * root itself (`action == "GET"`, `resource == scope::"x"`) and names an attribute
 * otherwise (`resource.type == "invoice"`, `resource.path like "/invoices/**"`).
 */
export type Constraint =
  | { kind: 'any'; root: TargetRoot; span: Span }
  | { kind: 'eq'; root: TargetRoot; path: string[]; value: Expr; span: Span }
  | { kind: 'in'; root: TargetRoot; path: string[]; values: Expr[]; span: Span }
  | { kind: 'like'; root: TargetRoot; path: string[]; pattern: string; span: Span };

export interface Condition {
  kind: 'when' | 'unless';
  body: Expr;
  span: Span;
}

export interface Annotation {
  name: string;
  values: string[];
  span: Span;
}

export interface Policy {
  annotations: Annotation[];
  effect: Effect;
  /** Where the `permit` or `forbid` keyword is: a comment on its line trails it (the formatter). */
  effectSpan: Span;
  /** `null` when the policy has no target, written `()` or left out; never empty. */
  target: Constraint[] | null;
  conditions: Condition[];
  reason: string | null;
  /** Where `reason "…"` is, when the policy has one: a comment on its line trails it (the formatter). */
  reasonSpan?: Span;
  span: Span;
}

export interface Comment {
  /** The text after `//`, without the line break. */
  text: string;
  span: Span;
}

export interface PolicyFile {
  file: string;
  policies: Policy[];
  comments: Comment[];
}

/** The expressions directly inside `e`, for walks over a tree. */
export function subexpressions(e: Expr): readonly Expr[] {
  switch (e.kind) {
    case 'list':
      return e.items;
    case 'call':
      return e.args;
    case 'attr':
    case 'has':
      return [e.object];
    case 'like':
      return [e.subject];
    case 'not':
    case 'negate':
      return [e.operand];
    case 'binary':
    case 'and':
    case 'or':
      return [e.left, e.right];
    default:
      return [];
  }
}

import type { Expr, Root } from '../ast.js';
import { diagnostic, type Diagnostic } from '../diagnostic.js';
import { EntityRef, valueEquals, type Value } from '../eval/value.js';
import { compileGlob, literalPrefix, parseGlob } from '../eval/glob.js';
import { rootPath } from '../compile/compile-path.js';
import { printExpr, printPath } from '../format/print-expr.js';

/*
 * What a set of facts (`resource.type == "patient_record"`, `subject.country != "US"`)
 * says about the attributes of every request they describe. A request "consistent with the
 * facts" is one on which every fact evaluates to `true` — so each attribute a fact reads is
 * present (a missing attribute would make the fact an error, not `true`).
 */

/** A primitive or entity a fact compares with: what `==`, `!=`, `in` and `contains` facts hold. */
export type Scalar = string | number | boolean | null | EntityRef;

export type Kind = 'string' | 'number' | 'boolean' | 'null' | 'list' | 'record' | 'entity';

/** Bounds from `<`, `<=`, `>`, `>=` facts. */
export interface Bound {
  value: number;
  inclusive: boolean;
}

/** Everything the facts say about one attribute path. */
export interface PathFacts {
  /** Some fact reads it, or a path under it: it is there. */
  present: boolean;
  /** `!(x has name)`: it is not there. */
  absent: boolean;
  /** `==` / `in`: the values it may have (one value: it is known; a request's list or record too). `null`: any. */
  oneOf: Value[] | null;
  /** `!=`: values it does not have. */
  excluded: Scalar[];
  /** `like`: patterns it matches. */
  patterns: string[];
  /** `contains`: items the list holds. */
  contains: Scalar[];
  lower: Bound | null;
  upper: Bound | null;
  /** Its type, when a fact implies one. */
  kind: Kind | null;
}

/** Facts by path (`pathKey`). Paths no fact reads are unknown. */
export type Knowledge = ReadonlyMap<string, PathFacts>;

export function pathKey(root: Root, names: readonly string[]): string {
  return names.length === 0 ? root : `${root}\0${names.join('\0')}`;
}

export function emptyFacts(): PathFacts {
  return { present: false, absent: false, oneOf: null, excluded: [], patterns: [], contains: [], lower: null, upper: null, kind: null };
}

export function isScalar(v: Value): v is Scalar {
  return v === null || typeof v !== 'object' || v instanceof EntityRef;
}

export function kindOf(v: Value): Kind {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (v instanceof EntityRef) return 'entity';
  if (typeof v === 'object') return 'record';
  return typeof v as Kind;
}

const FACT_HELP =
  'a fact is `PATH == value`, `PATH != value`, `PATH in [values]`, `PATH like "glob"`, `PATH contains value`, `PATH < number` (and `<=`, `>`, `>=`), `PATH has name`, `!(PATH has name)`, or facts joined with `&&`';

/** Builds knowledge from parsed facts; a fact of another shape, or facts that contradict, are diagnostics. */
export function knowledgeOf(facts: readonly { file: string; expr: Expr }[]): { knowledge: Knowledge; diagnostics: Diagnostic[] } {
  const builder = new KnowledgeBuilder();
  for (const { file, expr } of facts) builder.add(file, expr);
  return { knowledge: builder.paths, diagnostics: builder.diagnostics };
}

class KnowledgeBuilder {
  readonly paths = new Map<string, PathFacts>();
  readonly diagnostics: Diagnostic[] = [];

  add(file: string, e: Expr): void {
    if (e.kind === 'and') return this.add(file, e.left), this.add(file, e.right);
    if (!this.fact(file, e)) this.diagnostics.push(diagnostic('syntax', file, e.span, `\`${shown(e)}\` cannot be used as a fact`, FACT_HELP));
  }

  /** Records one atomic fact; answers whether it had a shape facts may have. */
  private fact(file: string, e: Expr): boolean {
    if (e.kind === 'has' || (e.kind === 'not' && e.operand.kind === 'has')) {
      const has = e.kind === 'has' ? e : (e.operand as Extract<Expr, { kind: 'has' }>);
      const at = rootPath(has.object);
      if (at === null) return false;
      if (at.names.length > 0) this.at(at.root, at.names).kind = 'record';
      const member = this.at(at.root, at.names.concat(has.name), e.kind === 'has');
      if (e.kind === 'has') member.present = true;
      else member.absent = true;
      return this.consistent(file, e, at.root, at.names.concat(has.name));
    }
    if (e.kind === 'like') {
      const at = rootPath(e.subject);
      if (at === null || 'error' in parseGlob(e.pattern)) return false;
      const f = this.at(at.root, at.names);
      f.patterns.push(e.pattern);
      return this.typed(file, e, at.root, at.names, 'string');
    }
    if (e.kind !== 'binary') return false;
    const flipped = (e.op === '==' || e.op === '!=') && rootPath(e.left) === null;
    const at = rootPath(flipped ? e.right : e.left);
    const value = constantOf(flipped ? e.left : e.right);
    if (at === null || value === undefined) return false;
    const f = this.at(at.root, at.names);
    switch (e.op) {
      case '==':
        if (!isScalar(value)) return false;
        f.oneOf = narrow(f.oneOf, [value]);
        return this.typed(file, e, at.root, at.names, kindOf(value));
      case '!=':
        if (!isScalar(value)) return false;
        f.excluded.push(value);
        return this.consistent(file, e, at.root, at.names);
      case 'in':
        if (!Array.isArray(value) || !value.every(isScalar)) return false;
        f.oneOf = narrow(f.oneOf, value as Scalar[]);
        return this.consistent(file, e, at.root, at.names);
      case 'contains':
        if (!isScalar(value)) return false;
        f.contains.push(value);
        return this.typed(file, e, at.root, at.names, 'list');
      case '<':
      case '<=':
      case '>':
      case '>=': {
        if (typeof value !== 'number') return false;
        const bound = { value, inclusive: e.op.length === 2 };
        if (e.op[0] === '<') f.upper = tighter(f.upper, bound, -1);
        else f.lower = tighter(f.lower, bound, 1);
        return this.typed(file, e, at.root, at.names, 'number');
      }
      default:
        return false;
    }
  }

  /** The facts of a path, marking it and every path above it present (unless `absent` is being recorded). */
  private at(root: Root, names: readonly string[], present = true): PathFacts {
    for (let n = 1; n < names.length; n++) {
      const above = this.get(root, names.slice(0, n));
      above.present = true;
      above.kind = 'record';
    }
    const f = this.get(root, names);
    if (present) f.present = true;
    return f;
  }

  private get(root: Root, names: readonly string[]): PathFacts {
    const key = pathKey(root, names);
    let f = this.paths.get(key);
    if (f === undefined) this.paths.set(key, (f = emptyFacts()));
    return f;
  }

  private typed(file: string, e: Expr, root: Root, names: readonly string[], kind: Kind): boolean {
    const f = this.get(root, names);
    if (f.kind !== null && f.kind !== kind) return this.contradiction(file, e, root, names);
    f.kind = kind;
    return this.consistent(file, e, root, names);
  }

  /** Facts that no request can satisfy make every answer vacuous: say so instead. */
  private consistent(file: string, e: Expr, root: Root, names: readonly string[]): boolean {
    const f = this.get(root, names);
    const contradicts =
      (f.present && f.absent) ||
      (f.oneOf !== null && f.oneOf.every((v) => !admits(f, v)));
    return contradicts ? this.contradiction(file, e, root, names) : true;
  }

  private contradiction(file: string, e: Expr, root: Root, names: readonly string[]): true {
    this.diagnostics.push(diagnostic('type-mismatch', file, e.span, `the facts about \`${printPath(root, names)}\` contradict each other: no request satisfies them`));
    return true;
  }
}

function shown(e: Expr): string {
  return printExpr(e);
}

/** The value of a constant expression a fact compares with: literals, entities, lists of them. */
function constantOf(e: Expr): Value | undefined {
  if (e.kind === 'literal') return e.value;
  if (e.kind === 'entity') return new EntityRef(e.type, e.id);
  if (e.kind !== 'list') return undefined;
  const items = e.items.map(constantOf);
  return items.every((v) => v !== undefined) ? (items as Value[]) : undefined;
}

function narrow(current: Value[] | null, values: Value[]): Value[] {
  return current === null ? [...values] : current.filter((v) => values.some((w) => valueEquals(v, w)));
}

function tighter(current: Bound | null, next: Bound, direction: 1 | -1): Bound {
  if (current === null) return next;
  if (current.value === next.value) return current.inclusive ? next : current;
  return (next.value - current.value) * direction > 0 ? next : current;
}

/** Whether the facts of a path allow it to hold `v`. */
export function admits(f: PathFacts, v: Value): boolean {
  if (f.absent) return false;
  if (f.oneOf !== null && !f.oneOf.some((w) => valueEquals(v, w))) return false;
  if (f.excluded.some((w) => valueEquals(v, w))) return false;
  const kind = kindOf(v);
  if (f.kind !== null && f.kind !== kind) return false;
  if (f.patterns.length > 0 && (typeof v !== 'string' || !f.patterns.every((p) => matches(p, v)))) return false;
  if (f.contains.length > 0 && !(Array.isArray(v) && f.contains.every((c) => (v as readonly Value[]).some((x) => valueEquals(x, c))))) return false;
  if (f.lower !== null || f.upper !== null) return typeof v === 'number' && inBounds(f, v);
  return true;
}

export function inBounds(f: PathFacts, v: number): boolean {
  const { lower, upper } = f;
  if (lower !== null && (v < lower.value || (v === lower.value && !lower.inclusive))) return false;
  if (upper !== null && (v > upper.value || (v === upper.value && !upper.inclusive))) return false;
  return true;
}

export function matches(pattern: string, s: string): boolean {
  const pieces = parseGlob(pattern);
  return !('error' in pieces) && compileGlob(pieces)(s);
}

/**
 * Whether no string matches both patterns, judged by their literal prefixes (`/invoices/**`
 * and `/customers/*`) or, for a pattern without wildcards, by matching its text.
 */
export function patternsDisjoint(a: string, b: string): boolean {
  const pa = parseGlob(a);
  const pb = parseGlob(b);
  if ('error' in pa || 'error' in pb) return false;
  if (pa.length === 1 && pa[0].kind === 'text') return !compileGlob(pb)(pa[0].text);
  if (pb.length === 1 && pb[0].kind === 'text') return !compileGlob(pa)(pb[0].text);
  const x = literalPrefix(pa);
  const y = literalPrefix(pb);
  return !x.startsWith(y) && !y.startsWith(x);
}

import type { Annotation, Constraint, Expr, Policy, Root, Span } from '../ast.js';
import { ROOTS } from '../ast.js';
import { BUILTINS } from '../builtins/registry.js';
import { diagnostic, type Diagnostic, type DiagnosticCode } from '../diagnostic.js';
import { parseGlob } from '../eval/glob.js';
import type { Value } from '../eval/value.js';
import { isFailure } from '../builtins/builtin.js';
import { printExpr, printPath } from '../format/print-expr.js';
import { fits, join, showType, T, type Type } from '../types.js';
import type { Schema } from './schema.js';
import { suggest } from './suggest.js';
import { tagProblem } from './tags.js';
import { VELOCITY_NAMES } from '../risk-velocity.js';

function ipLike(t: Type): boolean {
  return t.kind === 'ip' || t.kind === 'string';
}

const ANNOTATION_ARITY: Record<string, 'one' | 'some'> = { id: 'one', description: 'one', owner: 'one', tags: 'some', token_ttl: 'one' };
/** Longest `like` pattern: paths and hosts are far shorter; the bound keeps matching cheap. */
const MAX_PATTERN = 256;
const ENTITY_ROOTS: ReadonlySet<Root> = new Set(['subject', 'resource']);
/** Names from Cedar, Rego and other languages an author may bring, and what they are here. */
const OTHER_LANGUAGES: Readonly<Record<string, string>> = { principal: 'subject', True: 'true', False: 'false', TRUE: 'true', FALSE: 'false', nil: 'null', None: 'null', NULL: 'null', undefined: 'null', Null: 'null' };

/**
 * Checks one policy: names, builtin arity, operand types, and — when a schema is given —
 * every attribute path against it. Collects every problem rather than stopping at the
 * first; each diagnostic points at the smallest expression that is wrong.
 */
export class Checker {
  constructor(
    private readonly file: string,
    private readonly schema: Schema | null,
    private readonly diagnostics: Diagnostic[],
    /**
     * `strict: false` leaves out the checks that only keep authors from mistakes — how tags and
     * owners are written, velocity counter names, entity comparisons that never hold, optional
     * attributes read unguarded — for a stored revision, which was served once and must build
     * again to explain its decisions, whatever checks were added since.
     */
    private readonly options: { strict: boolean; facts?: boolean } = { strict: true },
  ) {}

  /** Attribute paths a `has` tested on the way to the expression being typed (`subject.manager`): read there, an optional one is safe. */
  private readonly guarded: string[] = [];
  private inTarget = false;

  checkPolicy(policy: Policy): void {
    this.checkAnnotations(policy.annotations);
    // A target never errors (a missing attribute does not match), and what it matched is there.
    this.inTarget = true;
    for (const c of policy.target ?? []) this.checkConstraint(c);
    this.inTarget = false;
    const depth = this.guarded.length;
    for (const c of policy.target ?? []) if (c.kind === 'eq' || c.kind === 'in' || c.kind === 'like') this.guarded.push(printPath(c.root, c.path));
    // Conditions are evaluated in order, each only when the ones before let the policy apply.
    for (const c of policy.conditions) {
      const t = this.typeOf(c.body);
      if (!fits(t, T.boolean)) this.report('type-mismatch', c.body.span, `\`${c.kind}\` needs a boolean condition, not ${showType(t)}`);
      this.guarded.push(...guardsOf(c.body, c.kind === 'when'));
    }
    this.guarded.length = depth;
  }

  /** Types `expr` with the paths in `guards` tested. */
  private typeGuarded(expr: Expr, guards: string[], want: Type, what: string): void {
    const depth = this.guarded.length;
    this.guarded.push(...guards);
    this.expect(expr, want, what);
    this.guarded.length = depth;
  }

  private report(code: DiagnosticCode, span: Span, message: string, help?: string): void {
    this.diagnostics.push(diagnostic(code, this.file, span, message, help));
  }

  private checkAnnotations(annotations: Annotation[]): void {
    const seen = new Set<string>();
    for (const a of annotations) {
      if (seen.has(a.name)) this.report('invalid-annotation', a.span, `annotation \`@${a.name}\` appears twice`);
      seen.add(a.name);
      const arity = ANNOTATION_ARITY[a.name];
      if (arity === 'one' && a.values.length !== 1) this.report('invalid-annotation', a.span, `\`@${a.name}\` takes exactly one string`);
      if (arity === 'some' && a.values.length === 0) this.report('invalid-annotation', a.span, `\`@${a.name}\` takes one or more strings`);
      if (a.name === 'token_ttl' && a.values.length === 1 && !/^[1-9][0-9]{1,4}$/.test(a.values[0])) {
        this.report('invalid-annotation', a.span, `\`@token_ttl\` is a whole number of seconds, from 10 to 99999`);
      }
      if (a.name === 'tags' && this.options.strict) {
        for (const tag of a.values) {
          const problem = tagProblem(tag);
          if (problem !== null) this.report('invalid-annotation', a.span, problem);
        }
      }
      if (a.name === 'owner' && this.options.strict && a.values.length === 1 && a.values[0].trim() === '') this.report('invalid-annotation', a.span, '`@owner` names a team: it is not empty');
      if (a.name === 'id' && a.values.length === 1 && !/^[A-Za-z0-9_.:\/-]{1,200}$/.test(a.values[0])) {
        const id = a.values[0];
        this.report('invalid-annotation', a.span, id.length === 0 || id.length > 200 ? `a policy id is 1 to 200 characters; this one has ${id.length}` : `policy id \`${id}\` may use only letters, digits and \`_ . : / -\``);
      }
    }
  }

  private checkConstraint(c: Constraint): void {
    if (c.kind === 'any') return;
    const path: Expr = c.path.reduce<Expr>((object, name) => ({ kind: 'attr', object, name, span: c.span }), { kind: 'root', root: c.root, span: c.span });
    const t = this.typeOf(path);
    const values = c.kind === 'eq' ? [c.value] : c.kind === 'in' ? c.values : [];
    for (const v of values) this.checkComparable(t, this.typeOf(v), v.span, '==');
    if (c.kind === 'like') {
      if (!fits(t, T.string)) this.report('type-mismatch', c.span, `\`like\` matches strings, and this is ${showType(t)}`);
      this.checkPattern(c.pattern, c.span);
    }
  }

  private checkPattern(pattern: string, span: Span): void {
    const glob = parseGlob(pattern);
    if ('error' in glob) this.report('invalid-literal', span, `invalid pattern: ${glob.error}`);
    // Matching costs input length × pattern length; a bound on the pattern bounds a decision.
    else if (pattern.length > MAX_PATTERN) this.report('limit', span, `pattern is longer than ${MAX_PATTERN} characters`);
  }

  private checkComparable(left: Type, right: Type, span: Span, op: string): void {
    if (left.kind === 'any' || right.kind === 'any') return;
    if (left.kind === right.kind || (ipLike(left) && ipLike(right)) || left.kind === 'null' || right.kind === 'null') return;
    // A schema's `entity` attribute against an entity was accepted before it meant a record.
    if (!this.options.strict && ((left.kind === 'entity' && right.kind === 'record') || (left.kind === 'record' && right.kind === 'entity'))) return;
    // Cedar's `action == Action::"read"`: here an action is its name.
    const entityWith = (kind: Type['kind']) => (left.kind === 'entity' && right.kind === kind) || (left.kind === kind && right.kind === 'entity');
    const help = entityWith('string')
      ? 'an action is a string (`action == "read"`); an entity is compared by its `.type` and `.id` (`subject.id == "alice"`)'
      : entityWith('record')
        ? 'a `{"type", "id"}` in the request is a record, not an entity: compare ids, `resource.owner.id == subject.id`'
        : undefined;
    this.report('type-mismatch', span, `\`${op}\` compares ${showType(left)} with ${showType(right)}, which is always ${op === '!=' ? 'true' : 'false'}`, help);
  }

  /** The static type of `expr`; reports what is wrong and answers `any` so checking goes on. */
  typeOf(expr: Expr): Type {
    switch (expr.kind) {
      case 'literal':
        return expr.value === null ? T.null : (T[typeof expr.value as 'string' | 'number' | 'boolean'] as Type);
      case 'list':
        return T.list(join(expr.items.map((i) => this.typeOf(i))));
      case 'entity':
        return T.entity;
      case 'root':
        return ENTITY_ROOTS.has(expr.root) ? T.entity : expr.root === 'action' ? T.string : this.rootType(expr.root);
      case 'variable': {
        const near = (Object.hasOwn(OTHER_LANGUAGES, expr.name) ? OTHER_LANGUAGES[expr.name] : null) ?? suggest(expr.name, [...ROOTS, ...BUILTINS.keys()]);
        this.report('unknown-variable', expr.span, `unknown name \`${expr.name}\``, near ? `did you mean \`${near}\`?` : `names are ${ROOTS.join(', ')}`);
        return T.any;
      }
      case 'attr':
        return this.attrType(expr);
      case 'has':
        this.checkHas(expr);
        return T.boolean;
      case 'like':
        this.expect(expr.subject, T.string, '`like` matches strings');
        this.checkPattern(expr.pattern, expr.span);
        return T.boolean;
      case 'not':
        this.expect(expr.operand, T.boolean, '`!` needs a boolean');
        return T.boolean;
      case 'negate':
        this.expect(expr.operand, T.number, '`-` needs a number');
        return T.number;
      case 'and':
      case 'or':
        this.expect(expr.left, T.boolean, `\`${expr.kind === 'and' ? '&&' : '||'}\` needs booleans`);
        // The right operand is evaluated only when the left is true (`&&`) or false (`||`).
        this.typeGuarded(expr.right, guardsOf(expr.left, expr.kind === 'and'), T.boolean, `\`${expr.kind === 'and' ? '&&' : '||'}\` needs booleans`);
        return T.boolean;
      case 'binary':
        this.checkBinary(expr);
        return T.boolean;
      case 'call':
        return this.callType(expr);
    }
  }

  private expect(expr: Expr, want: Type, what: string): void {
    const t = this.typeOf(expr);
    if (!fits(t, want)) this.report('type-mismatch', expr.span, `${what}, and \`${printExpr(expr)}\` is ${showType(t)}`);
  }

  /** `context has fraud_scroe` against a schema that declares no such attribute: a typo, always false. */
  private checkHas(expr: Extract<Expr, { kind: 'has' }>): void {
    if (this.unknownCounter(expr.object, expr.name, expr.span)) return;
    // The object is typed once: typing it reports its own problems (an unknown attribute), which would show twice.
    const object = expr.object.kind === 'root' ? this.rootType(expr.object.root) : this.typeOf(expr.object);
    if (expr.object.kind !== 'root') this.expectRecord(expr.object, object);
    if (object.kind !== 'record' || object.attrs === null || object.rest !== null || object.attrs.has(expr.name)) return;
    const near = suggest(expr.name, [...object.attrs.keys()]);
    this.report('unknown-attribute', expr.span, `\`${printExpr(expr.object)}\` has no attribute \`${expr.name}\` in the schema, so this is always false`, near ? `did you mean \`${near}\`?` : 'declare it in the schema');
  }

  private expectRecord(expr: Expr, t: Type): void {
    if (t.kind !== 'record' && t.kind !== 'any') this.report('type-mismatch', expr.span, `\`has\` tests a record's attributes, and \`${printExpr(expr)}\` is ${showType(t)}`);
  }

  private rootType(root: Root): Type {
    return this.schema?.get(root) ?? T.openRecord;
  }

  /**
   * `risk.velocity.NAME` with a NAME Gavel does not compute: whatever the schema says (`"*"`
   * is the usual declaration), it would be missing on every request.
   */
  private unknownCounter(object: Expr, name: string, span: Span): boolean {
    const velocity = object.kind === 'attr' && object.name === 'velocity' && object.object.kind === 'root' && object.object.root === 'risk';
    if (!velocity || !this.options.strict || VELOCITY_NAMES.includes(name)) return false;
    const near = suggest(name, VELOCITY_NAMES);
    this.report('unknown-attribute', span, `\`risk.velocity\` has no counter \`${name}\`: it would be missing on every request`, near ? `did you mean \`${near}\`?` : `counters are named <client|subject|address>_<token_requests|auth_failures|denials>_<1m|1h>`);
    return true;
  }

  private attrType(expr: Extract<Expr, { kind: 'attr' }>): Type {
    if (this.unknownCounter(expr.object, expr.name, expr.span)) return T.any;
    const object = expr.object.kind === 'root' ? this.rootType(expr.object.root) : this.typeOf(expr.object);
    if (object.kind === 'any') return T.any;
    if (object.kind !== 'record') {
      this.report('type-mismatch', expr.span, `\`${printExpr(expr.object)}\` is ${showType(object)} and has no attribute \`${expr.name}\``);
      return T.any;
    }
    const known = object.attrs?.get(expr.name);
    // A fact (`--where`) is assumed, not evaluated: it needs no guard.
    const unguarded = this.options.strict && this.options.facts !== true && !this.inTarget && object.optional?.has(expr.name) === true;
    const path = unguarded ? printExpr(expr) : '';
    if (known !== undefined && unguarded && !this.guarded.includes(path)) {
      this.report('unguarded-optional', expr.span, `\`${path}\` is optional in the schema: on a request without it this is an error (a forbid denies, a permit does not apply)`, `test it first: \`${printExpr({ kind: 'has', object: expr.object, name: expr.name, span: expr.span })} && …\``);
    }
    if (known !== undefined) return known;
    if (object.rest !== null) return object.rest;
    const near = suggest(expr.name, [...(object.attrs?.keys() ?? [])]);
    this.report('unknown-attribute', expr.span, `unknown attribute \`${printExpr(expr)}\``, near ? `did you mean \`${near}\`?` : 'declare it in the schema');
    return T.any;
  }

  private checkBinary(expr: Extract<Expr, { kind: 'binary' }>): void {
    const left = this.typeOf(expr.left);
    const right = this.typeOf(expr.right);
    const where = expr.span;
    switch (expr.op) {
      case '==':
      case '!=':
        return this.checkComparable(left, right, where, expr.op);
      case '<':
      case '<=':
      case '>':
      case '>=':
        if (!fits(left, T.number) || !fits(right, T.number)) {
          this.report('type-mismatch', where, `\`${expr.op}\` compares numbers, not ${showType(left)} with ${showType(right)}`);
        }
        return;
      case 'in':
        if (right.kind === 'cidr') {
          if (!fits(left, T.ip)) this.report('type-mismatch', where, `only an IP address can be \`in\` a CIDR range, not ${showType(left)}`);
        } else if (right.kind === 'list') {
          this.checkComparable(left, asMember(right.of), where, 'in');
        } else if (right.kind !== 'any') {
          this.report('type-mismatch', expr.right.span, `\`in\` needs a list or a CIDR range on its right, not ${showType(right)}`);
        }
        return;
      // `list contains x` is `x in list`, and `contains_any`/`contains_all` ask it of each item on
      // the right: a range in the list holds addresses, as for `in`.
      case 'contains':
        if (left.kind === 'list') this.checkComparable(asMember(left.of), right, where, 'contains');
        else if (left.kind !== 'any') this.report('type-mismatch', expr.left.span, `\`contains\` needs a list on its left, not ${showType(left)}`, negatedHelp(expr.left, 'contains') ?? (left.kind === 'string' ? 'for text in a string, use `includes(…)`' : undefined));
        return;
      case 'contains_any':
      case 'contains_all':
        for (const [side, t] of [[expr.left, left], [expr.right, right]] as const) {
          if (t.kind !== 'list' && t.kind !== 'any') this.report('type-mismatch', side.span, `\`${expr.op}\` needs lists on both sides, not ${showType(t)}`, side === expr.left ? negatedHelp(expr.left, expr.op) : undefined);
        }
        if (left.kind === 'list' && right.kind === 'list') this.checkComparable(asMember(left.of), right.of, where, expr.op);
        return;
    }
  }

  private callType(expr: Extract<Expr, { kind: 'call' }>): Type {
    const builtin = BUILTINS.get(expr.name);
    const args = expr.args.map((a) => this.typeOf(a));
    if (builtin === undefined) {
      const near = suggest(expr.name, [...BUILTINS.keys()]);
      this.report('unknown-function', expr.span, `unknown function \`${expr.name}\``, near ? `did you mean \`${near}\`?` : `functions are ${[...BUILTINS.keys()].join(', ')}`);
      return T.any;
    }
    if (args.length !== builtin.params.length) {
      const n = builtin.params.length;
      this.report('arity', expr.span, `\`${expr.name}\` takes ${n} argument${n === 1 ? '' : 's'}, not ${args.length}`);
      return builtin.returns;
    }
    const wrong = args.filter((t, i) => {
      if (fits(t, builtin.params[i])) return false;
      // An ip parameter takes a string holding an address too (`fits`): said so, not "must be ip".
      const wanted = builtin.params[i].kind === 'ip' ? 'an ip or a string holding one' : showType(builtin.params[i]);
      this.report('type-mismatch', expr.args[i].span, `argument ${i + 1} of \`${expr.name}\` must be ${wanted}, not ${showType(t)}`);
      return true;
    });
    if (wrong.length === 0) this.checkConstantCall(expr);
    return builtin.returns;
  }

  /** A call on literals (`cidr("10.0.0.0/33")`) is evaluated now, so a bad literal is a check error, not a runtime one. */
  private checkConstantCall(expr: Extract<Expr, { kind: 'call' }>): void {
    const builtin = BUILTINS.get(expr.name)!;
    if (!expr.args.every((a) => a.kind === 'literal')) {
      // Some arguments come from the request: the literal ones can be checked alone (`hour(context.time, "Europe/Berln")`).
      // An author's check, newer than some stored revisions: not applied to them.
      if (!this.options.strict) return;
      expr.args.forEach((a, i) => {
        const problem = a.kind === 'literal' ? (builtin.literal?.(i, a.value) ?? null) : null;
        if (problem !== null) this.report('invalid-literal', a.span, `\`${expr.name}\`: ${problem}`);
      });
      return;
    }
    const result = builtin.impl(expr.args.map((a) => (a as { value: Value }).value));
    if (isFailure(result)) this.report('invalid-literal', expr.span, `\`${expr.name}\`: ${result.error}`);
  }
}

/**
 * The attribute paths `e` tests with `has` when it evaluates to `holds`: `a has b && …` when
 * true, `!(a has b) || …` when false — what its right operand, or a later condition, may read.
 */
function guardsOf(e: Expr, holds: boolean): string[] {
  switch (e.kind) {
    case 'has':
      return holds ? [printExpr({ kind: 'attr', object: e.object, name: e.name, span: e.span })] : [];
    case 'not':
      return guardsOf(e.operand, !holds);
    case 'and':
      return holds ? [...guardsOf(e.left, true), ...guardsOf(e.right, true)] : [];
    case 'or':
      return holds ? [] : [...guardsOf(e.left, false), ...guardsOf(e.right, false)];
    default:
      return [];
  }
}

/** What a list item of this type holds as a member: a CIDR range holds addresses. */
function asMember(item: Type): Type {
  return item.kind === 'cidr' ? T.ip : item;
}

/** `!subject.roles contains "dpo"` reads as `(!subject.roles) contains "dpo"`: say how to negate the relation. */
function negatedHelp(left: Expr, op: string): string | undefined {
  return left.kind === 'not' ? `\`!\` applies to what follows it alone: write \`!(… ${op} …)\`` : undefined;
}

import { createHash } from 'node:crypto';
import type { PolicyFile, Span } from '../language/ast.js';
import { parseSchema, type Schema } from '../language/check/check.js';
import { Checker } from '../language/check/checker.js';
import { compilePolicy, type CompiledPolicy } from '../language/compile/compile-policy.js';
import { capDiagnostics, diagnostic, sortDiagnostics, type Diagnostic } from '../language/diagnostic.js';
import { parse, PARSE_LIMITS, policiesOf, type Strings } from '../language/parse/parse.js';
import { SourceText } from '../language/parse/source-text.js';
import { PolicyIndex } from './index.js';

export interface PolicySource {
  /** Path as users see it, relative to the policies folder: it names auto-generated ids. */
  file: string;
  text: string;
}

/** A compiled, indexed, immutable set of policies. Swap whole sets; never mutate one. */
export interface PolicySet {
  /** Content hash of the sources and schema: equal text, equal revision. */
  readonly revision: string;
  readonly policies: readonly CompiledPolicy[];
  readonly byId: ReadonlyMap<string, CompiledPolicy>;
  readonly index: PolicyIndex;
  /** The `risk` members any policy reads (`*`: all); empty when none does, and signals cost nothing. */
  readonly riskReads: ReadonlySet<string>;
  /** The `token` claims any policy reads (`*`: all): what the decision log keeps of a token beside its identity. */
  readonly tokenReads: ReadonlySet<string>;
  /**
   * The syntax trees of the sources, in file order. Decisions do not need them, so they
   * are not kept in memory: reading `files` parses the sources again (the result is reused
   * while it is still referenced somewhere), as `parse` does for one file.
   */
  readonly files: readonly PolicyFile[];
  readonly schema: Schema | null;
}

export interface BuildResult {
  /** `null` when any diagnostic was reported: a broken set is never half-loaded. */
  set: PolicySet | null;
  diagnostics: Diagnostic[];
}

/**
 * How a set is checked. `stored`: it was served once, from the store's revisions — the checks
 * that only keep authors from mistakes, which later versions added (tag spelling, velocity
 * counter names, raw bidirectional controls, …), are not applied again, so a decision is
 * still explained by the revision that made it. Its meaning is checked as ever.
 */
export interface BuildOptions {
  stored?: boolean;
}

/**
 * Parse → check → compile → index, over every file, collecting every diagnostic. The set
 * is built only when all files are valid. Each policy is checked and compiled as soon as it
 * is parsed, so only one policy's syntax tree is alive at a time.
 */
export function buildPolicySet(sources: readonly PolicySource[], schemaSource: PolicySource | null = null, options: BuildOptions = {}): BuildResult {
  const steps = building(sources, schemaSource, options);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/**
 * As `buildPolicySet`, giving the event loop back every `sliceMs` of work: a server that
 * reloads 10,000 policies (about 400 ms of parsing, checking and compiling here) keeps
 * answering requests meanwhile instead of stalling them all for the whole build. One
 * policy is the smallest unit of work, and the parser bounds one policy's size.
 */
export async function buildPolicySetInSlices(sources: readonly PolicySource[], schemaSource: PolicySource | null = null, sliceMs = 4, options: BuildOptions = {}): Promise<BuildResult> {
  const steps = building(sources, schemaSource, options);
  let until = performance.now() + sliceMs;
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
    if (performance.now() >= until) {
      // setImmediate, not a resolved promise: the poll phase (sockets) runs before it comes back.
      await new Promise<void>((resolve) => setImmediate(resolve));
      until = performance.now() + sliceMs;
    }
  }
}

/** The build, yielding before each policy (a point where it may be put off). */
function* building(sources: readonly PolicySource[], schemaSource: PolicySource | null, options: BuildOptions): Generator<void, BuildResult, void> {
  const diagnostics: Diagnostic[] = [];
  let schema: Schema | null = null;
  if (schemaSource !== null) {
    const parsed = parseSchema(schemaSource.file, schemaSource.text);
    diagnostics.push(...parsed.diagnostics);
    schema = parsed.schema;
  }
  const ordered = sortedSources(sources);
  const seen = new Map<string, { file: string; span: Span }>();
  const policies: CompiledPolicy[] = [];
  const strings: Strings = new Map();
  for (const { file, text } of ordered) {
    const checked: Diagnostic[] = [];
    const strict = options.stored !== true;
    const checker = new Checker(file, schema, checked, { strict });
    const source = new SourceText(file, text);
    let ordinal = 0;
    const parsing = policiesOf(file, text, undefined, strings, { bidi: strict });
    let step = parsing.next();
    const duplicates: Diagnostic[] = [];
    for (; step.done !== true; step = parsing.next()) {
      const policy = step.value;
      // Every policy read is a step, parsed or not: a broken folder is read in slices too.
      yield;
      if (policy === null) continue;
      // A file past its share of errors is reported as such: checking on would only cost time and memory.
      if (checked.length + duplicates.length > PARSE_LIMITS.diagnostics) continue;
      checker.checkPolicy(policy);
      const id = policyId(file, ++ordinal, policy.annotations);
      const first = seen.get(id);
      if (first !== undefined) {
        duplicates.push({ ...diagnostic('duplicate-id', file, policy.span, `duplicate policy id \`${id}\``, 'first defined at'), related: first });
        continue;
      }
      seen.set(id, { file, span: policy.span });
      // Compiling stops at the first problem found: checking finds problems the compiler
      // assumes away. Parse errors in this file are known only at its end; they do not
      // make a policy that parsed and checked unsafe to compile, and the set is dropped then.
      if (diagnostics.length + checked.length + duplicates.length === 0) policies.push(compilePolicy(policy, id, file, source));
    }
    // Pushed one by one: spreading a hundred thousand arguments overflows the stack.
    for (const d of capDiagnostics(file, step.value.concat(checked, duplicates), PARSE_LIMITS.diagnostics)) diagnostics.push(d);
  }
  if (diagnostics.length > 0) return { set: null, diagnostics: sortDiagnostics(diagnostics) };
  // The whole set's parts take a few milliseconds each at 10,000 policies: a slice each.
  const index = new PolicyIndex(policies);
  yield;
  const revision = revisionOf(ordered, schemaSource);
  yield;
  return { set: policySet(ordered, schema, policies, index, revision), diagnostics: [] };
}

/** Sources in the order a build reads them (by file name), whatever order they were listed in. */
function sortedSources(sources: readonly PolicySource[]): PolicySource[] {
  return [...sources].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

/**
 * The revision a build of these sources would have, without building: equal to a set's
 * revision exactly when its sources and schema are the same text.
 */
export function revisionOfSources(sources: readonly PolicySource[], schemaSource: PolicySource | null = null): string {
  return revisionOf(sortedSources(sources), schemaSource);
}

/**
 * Made in a function of its own: the `files` getter keeps the variables of the function it
 * is written in alive, and here those are only the sources — not the build's working state.
 */
function policySet(sources: readonly PolicySource[], schema: Schema | null, policies: CompiledPolicy[], index: PolicyIndex, revision: string): PolicySet {
  let files: WeakRef<readonly PolicyFile[]> | undefined;
  return {
    revision,
    policies,
    byId: new Map(policies.map((p) => [p.id, p])),
    index,
    riskReads: new Set(policies.flatMap((p) => p.riskReads)),
    tokenReads: new Set(policies.flatMap((p) => p.tokenReads)),
    get files() {
      let parsed = files?.deref();
      if (parsed === undefined) files = new WeakRef((parsed = sources.map((s) => parse(s.file, s.text).ast)));
      return parsed;
    },
    schema,
  };
}

/** `@id`, or `FILE#N` for the Nth policy of a file: stable while the file's policy order is. */
export function policyId(file: string, ordinal: number, annotations: PolicyFile['policies'][number]['annotations']): string {
  const id = annotations.find((a) => a.name === 'id')?.values[0];
  // join makes one flat string; a template makes a rope (a V8 cons string) of three, which the set would keep.
  return id ?? [file, ordinal].join('#');
}

function revisionOf(sources: readonly PolicySource[], schema: PolicySource | null): string {
  const hash = createHash('sha256');
  for (const s of [...sources, ...(schema ? [{ file: `schema:${schema.file}`, text: schema.text }] : [])]) {
    hash.update(s.file).update('\0').update(s.text).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

import { createHash } from 'node:crypto';
import type { PolicyFile } from '../language/ast.js';
import { check, parseSchema, type Schema } from '../language/check/check.js';
import { compilePolicy, type CompiledPolicy } from '../language/compile/compile-policy.js';
import { diagnostic, sortDiagnostics, type Diagnostic } from '../language/diagnostic.js';
import { parse } from '../language/parse/parse.js';
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
  readonly files: readonly PolicyFile[];
  readonly schema: Schema | null;
}

export interface BuildResult {
  /** `null` when any diagnostic was reported: a broken set is never half-loaded. */
  set: PolicySet | null;
  diagnostics: Diagnostic[];
}

/**
 * Parse → check → compile → index, over every file, collecting every diagnostic. The set
 * is built only when all files are valid.
 */
export function buildPolicySet(sources: readonly PolicySource[], schemaSource: PolicySource | null = null): BuildResult {
  const diagnostics: Diagnostic[] = [];
  let schema: Schema | null = null;
  if (schemaSource !== null) {
    const parsed = parseSchema(schemaSource.file, schemaSource.text);
    diagnostics.push(...parsed.diagnostics);
    schema = parsed.schema;
  }
  const ordered = [...sources].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  const files: PolicyFile[] = [];
  for (const source of ordered) {
    const parsed = parse(source.file, source.text);
    diagnostics.push(...parsed.diagnostics, ...check(parsed.ast, schema));
    files.push(parsed.ast);
  }
  const policies = compileAll(files, diagnostics);
  if (diagnostics.length > 0) return { set: null, diagnostics: sortDiagnostics(diagnostics) };
  return {
    set: {
      revision: revisionOf(ordered, schemaSource),
      policies,
      byId: new Map(policies.map((p) => [p.id, p])),
      index: new PolicyIndex(policies),
      files,
      schema,
    },
    diagnostics: [],
  };
}

/** `@id`, or `FILE#N` for the Nth policy of a file: stable while the file's policy order is. */
export function policyId(file: string, ordinal: number, annotations: PolicyFile['policies'][number]['annotations']): string {
  const id = annotations.find((a) => a.name === 'id')?.values[0];
  return id ?? `${file}#${ordinal}`;
}

function compileAll(files: PolicyFile[], diagnostics: Diagnostic[]): CompiledPolicy[] {
  const seen = new Map<string, string>();
  const pending: { id: string; file: string; policy: PolicyFile['policies'][number] }[] = [];
  for (const f of files) {
    f.policies.forEach((policy, n) => {
      const id = policyId(f.file, n + 1, policy.annotations);
      const first = seen.get(id);
      if (first !== undefined) {
        diagnostics.push(diagnostic('duplicate-id', f.file, policy.span, `duplicate policy id \`${id}\``, `first defined at ${first}`));
        return;
      }
      seen.set(id, `${f.file}:${policy.span.start.line}:${policy.span.start.col}`);
      pending.push({ id, file: f.file, policy });
    });
  }
  // A broken set is never compiled: checking found problems the compiler assumes away.
  if (diagnostics.length > 0) return [];
  return pending.map(({ id, file, policy }) => compilePolicy(policy, id, file));
}

function revisionOf(sources: readonly PolicySource[], schema: PolicySource | null): string {
  const hash = createHash('sha256');
  for (const s of [...sources, ...(schema ? [{ file: `schema:${schema.file}`, text: schema.text }] : [])]) {
    hash.update(s.file).update('\0').update(s.text).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

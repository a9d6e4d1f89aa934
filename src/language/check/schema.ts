import type { Root, Span } from '../ast.js';
import { ROOTS } from '../ast.js';
import { diagnostic, type Diagnostic } from '../diagnostic.js';
import { T, type Type } from '../types.js';

/**
 * A schema declares the attributes each root may have and their types. It is a JSON file
 * (`schema.json` in the policies folder); see docs/schema.md. Roots it leaves out are open.
 */
export type Schema = ReadonlyMap<Root, Type>;

const ENTITY_KEYS: Partial<Record<Root, string[]>> = { subject: ['type', 'id'], resource: ['type', 'id'], action: ['name'] };
const rootSet: ReadonlySet<string> = new Set(ROOTS);
const SCALARS: Record<string, Type> = {
  string: T.string,
  number: T.number,
  boolean: T.boolean,
  ip: T.ip,
  any: T.any,
  record: T.openRecord,
  // What a request can hold where an entity is meant: AuthZEN's `{"type", "id"}`, a record.
  // (Typed as an entity reference, `resource.owner == subject` checked and never held.)
  entity: { kind: 'record', attrs: new Map<string, Type>([['type', T.string], ['id', T.string]]), rest: T.any },
};

export function parseSchema(file: string, text: string): { schema: Schema | null; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  let json: unknown;
  // A byte order mark (editors on Windows write one) is taken, as in policy files.
  const bom = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  try {
    json = JSON.parse(bom === 0 ? text : text.slice(bom));
  } catch (err: unknown) {
    const message = err instanceof Error ? err.message : String(err);
    const position = /position (\d+)/.exec(message);
    diagnostics.push(diagnostic('invalid-schema', file, spanAt(text, position ? Number(position[1]) + bom : 0), `schema is not valid JSON: ${message.replace(/ in JSON at.*$/, '')}`));
    return { schema: null, diagnostics };
  }
  if (!isObject(json)) {
    diagnostics.push(diagnostic('invalid-schema', file, spanAt(text, 0), 'a schema is a JSON object with one entry per root'));
    return { schema: null, diagnostics };
  }
  const schema = new Map<Root, Type>();
  for (const [key, value] of Object.entries(json)) {
    if (key.startsWith('$')) continue; // "$comment" and friends
    if (!rootSet.has(key)) {
      diagnostics.push(diagnostic('invalid-schema', file, locate(text, key), `unknown root \`${key}\``, `roots are ${ROOTS.join(', ')}`));
      continue;
    }
    const type = parseType(file, text, key, value, diagnostics);
    if (type === null) continue;
    if (type.kind !== 'record') {
      diagnostics.push(diagnostic('invalid-schema', file, locate(text, key), `root \`${key}\` must be declared as an object of attributes, or as "record" (any attributes)`));
      continue;
    }
    // `type` and `id` (action: `name`) are the request's own strings: another type would let the checker pass comparisons that never hold.
    for (const k of ENTITY_KEYS[key as Root] ?? []) {
      const declared = type.attrs?.get(k);
      if (declared !== undefined && declared.kind !== 'string') diagnostics.push(diagnostic('invalid-schema', file, locate(text, k), `\`${key}.${k}\` is always a string (every request has it); declare it as "string" or leave it out`));
      if (type.optional?.has(k) === true) diagnostics.push(diagnostic('invalid-schema', file, locate(text, `${k}?`), `\`${key}.${k}\` is never optional: every request has it; write "${k}" or leave it out`));
    }
    schema.set(key as Root, withEntityKeys(key as Root, type));
  }
  return { schema: diagnostics.length === 0 ? schema : null, diagnostics };
}

/** `type` and `id` (and `name` for `action`) exist on every request; schemas need not repeat them. */
function withEntityKeys(root: Root, type: Extract<Type, { kind: 'record' }>): Type {
  const keys = ENTITY_KEYS[root];
  if (keys === undefined || type.attrs === null) return type;
  const attrs = new Map(type.attrs);
  for (const k of keys) if (!attrs.has(k)) attrs.set(k, T.string);
  return { ...type, attrs };
}

/** `written` is the whole type name as the file has it (`list<strin>` for its element `strin`): where an error points. */
function parseType(file: string, text: string, path: string, value: unknown, diagnostics: Diagnostic[], written: unknown = value): Type | null {
  if (typeof value === 'string') {
    const list = /^(?:list|set)<(.+)>$/.exec(value);
    if (list !== null) {
      const of = parseType(file, text, path, list[1], diagnostics, written);
      return of === null ? null : T.list(of);
    }
    const scalar = SCALARS[value];
    if (scalar !== undefined) return scalar;
    diagnostics.push(
      diagnostic('invalid-schema', file, locate(text, String(written)), `unknown type \`${value}\` for \`${path}\``, 'types are string, number, boolean, ip, any, record, entity, list<T>, set<T> or an object of attributes'),
    );
    return null;
  }
  if (!isObject(value)) {
    diagnostics.push(diagnostic('invalid-schema', file, locate(text, path.split('.').pop()!), `\`${path}\` must be a type name or an object of attributes`));
    return null;
  }
  const attrs = new Map<string, Type>();
  const optional = new Set<string>();
  let rest: Type | null = null;
  for (const [written, inner] of Object.entries(value)) {
    if (written.startsWith('$')) continue;
    // `"manager?"`: an attribute some requests lack; policies must test it with `has` first.
    const name = written.length > 1 && written.endsWith('?') && written !== '*?' ? written.slice(0, -1) : written;
    if (name !== written) optional.add(name);
    const type = parseType(file, text, `${path}.${name}`, inner, diagnostics);
    if (type === null) continue;
    if (name === '*') rest = type;
    else attrs.set(name, type);
  }
  return optional.size === 0 ? { kind: 'record', attrs, rest } : { kind: 'record', attrs, rest, optional };
}

function isObject(v: unknown): v is { [k: string]: unknown } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Where `"needle"` first appears: good enough to point an editor at a schema mistake. */
function locate(text: string, needle: string): Span {
  const at = text.indexOf(JSON.stringify(needle));
  return spanAt(text, at < 0 ? 0 : at);
}

function spanAt(text: string, offset: number): Span {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const col = offset - before.lastIndexOf('\n');
  const pos = { line, col, offset };
  return { start: pos, end: pos };
}

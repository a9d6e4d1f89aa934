/**
 * AuthZEN 1.0 carries an entity's attributes in `properties`, and receivers MUST ignore
 * members they do not know (§ Transport). Gavel's language also reads an attribute beside
 * `properties` (flat requests, docs/language.md) — so on the AuthZEN routes an entity is cut
 * to its spec members first: `{"type", "id", "properties"}`, an action `{"name", "properties"}`.
 * An entity that has no other member is passed as it is (the hot path builds nothing).
 */
type Json = { [k: string]: unknown };
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const ENTITY = ['type', 'id', 'properties'] as const;
const ACTION = ['name', 'properties'] as const;

export function authzenEntity(value: unknown, kind: 'entity' | 'action'): unknown {
  if (!isObject(value)) return value;
  const members: readonly string[] = kind === 'action' ? ACTION : ENTITY;
  for (const key in value) {
    if (members.includes(key)) continue;
    const cut: Json = {};
    for (const m of members) if (Object.hasOwn(value, m)) cut[m] = value[m];
    return cut;
  }
  return value;
}

/**
 * A batch item's entities with the top-level defaults: a member the item gives replaces the
 * default as a whole, except that a required sub-field it leaves out (`type`, `id`; an
 * action's `name`) is the default's (AuthZEN 1.0 certification c-3-2-7).
 */
export function withDefaults(defaults: Json, item: Json): Json {
  const merged: Json = { ...defaults, ...item };
  for (const [member, required] of [['subject', ['type', 'id']], ['resource', ['type', 'id']], ['action', ['name']]] as const) {
    const own = item[member];
    const fallback = defaults[member];
    if (!isObject(own) || !isObject(fallback)) continue;
    const missing = required.filter((k) => own[k] === undefined && fallback[k] !== undefined);
    if (missing.length === 0) continue;
    const filled: Json = { ...own };
    for (const k of missing) filled[k] = fallback[k];
    merged[member] = filled;
  }
  return merged;
}

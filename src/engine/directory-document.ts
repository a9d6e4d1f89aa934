import type { Entity } from '../store/store.js';
import { describeJsonProblem, jsonProblem, MAX_JSON_DEPTH } from '../formats/json-depth.js';
import { NOT_WELL_FORMED, wellFormed } from '../formats/well-formed.js';

type Json = { [k: string]: unknown };
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The document's sections: the directory's entities and the token issuer's registry. */
export const DOCUMENT_SECTIONS: readonly string[] = ['entities', 'apis', 'clients', 'roles', 'groups', 'users'];

/**
 * Reads the declarative document `gavel apply` takes: `{"entities": [{"type", "id",
 * "attributes"}]}` (later issues add sections). Reports every problem with its path;
 * a document with any problem applies nothing.
 */
export function readDirectoryDocument(value: unknown): { entities: Entity[] | undefined } | { problems: string[] } {
  if (!isObject(value)) return { problems: ['the document is a JSON object with sections: entities, apis, clients, roles, groups, users'] };
  const problems: string[] = [];
  // Attributes reach requests (the directory enriches them), which may nest MAX_JSON_DEPTH
  // levels: the document, a section, an item and its attributes object come before them.
  const shape = jsonProblem(value, MAX_JSON_DEPTH + 3);
  if (shape !== null) return { problems: [shape.kind === 'deep' ? `the document is nested deeper than ${MAX_JSON_DEPTH + 3} levels; attributes may nest ${MAX_JSON_DEPTH} levels` : describeJsonProblem('', shape, '')] };
  for (const key of Object.keys(value)) if (!DOCUMENT_SECTIONS.includes(key) && key !== '$comment') problems.push(`${key}: unknown section; sections are ${DOCUMENT_SECTIONS.join(', ')}`);
  if (value.entities === undefined) return problems.length > 0 ? { problems } : { entities: undefined };
  if (!Array.isArray(value.entities)) return { problems: [...problems, 'entities: expected a list'] };
  const entities: Entity[] = [];
  const seen = new Set<string>();
  value.entities.forEach((item: unknown, i: number) => {
    const at = `entities[${i}]`;
    if (!isObject(item)) return void problems.push(`${at}: expected an object with type, id and attributes`);
    const { type, id, attributes } = item;
    if (typeof type !== 'string' || type === '') problems.push(`${at}.type: ${type === undefined ? 'missing; it is required (a non-empty string)' : 'expected a non-empty string'}`);
    if (typeof id !== 'string' || id === '') problems.push(`${at}.id: ${id === undefined ? 'missing; it is required (a non-empty string)' : 'expected a non-empty string'}`);
    if (attributes !== undefined && !isObject(attributes)) problems.push(`${at}.attributes: expected an object`);
    for (const key of Object.keys(item)) if (!['type', 'id', 'attributes'].includes(key)) problems.push(`${at}.${key}: unknown member`);
    if (typeof type !== 'string' || typeof id !== 'string') return;
    if (!wellFormed(type)) problems.push(`${at}.type: ${NOT_WELL_FORMED}`);
    if (!wellFormed(id)) problems.push(`${at}.id: ${NOT_WELL_FORMED}`);
    const key = `${type}::${JSON.stringify(id)}`;
    if (seen.has(key)) problems.push(`${at}: ${key} is listed twice`);
    seen.add(key);
    entities.push({ type, id, attributes: isObject(attributes) ? attributes : {} });
  });
  return problems.length > 0 ? { problems } : { entities };
}

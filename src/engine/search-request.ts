import { describeJsonProblem, jsonProblem, MAX_JSON_DEPTH } from '../formats/json-depth.js';
import type { Request } from '../language/eval/activation.js';
import type { SearchKind, SearchQuery } from './search.js';

type Json = { [k: string]: unknown };
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface SearchRequestOptions {
  /** Take `token` and `risk` from the input: offline tools only, as for `validateRequest`. */
  trusted: boolean;
}

/** Which entities a search needs with an id; the searched one needs only its type. */
const NEEDS: Record<SearchKind, { subject: 'type' | 'type-id'; resource: 'type' | 'type-id'; action: boolean }> = {
  subject: { subject: 'type', resource: 'type-id', action: true },
  resource: { subject: 'type-id', resource: 'type', action: true },
  action: { subject: 'type-id', resource: 'type-id', action: false },
};

function entity(value: unknown, root: 'subject' | 'resource', need: 'type' | 'type-id', problems: string[]): Json | null {
  if (!isObject(value)) {
    const [type, id] = root === 'resource' ? ['document', '42'] : ['user', 'alice'];
    problems.push(`${root}: expected an object like ${need === 'type' ? `{"type": "${type}"}` : `{"type": "${type}", "id": "${id}"}`}`);
    return null;
  }
  const keys = need === 'type' ? ['type'] : ['type', 'id'];
  for (const key of keys) if (typeof value[key] !== 'string') problems.push(`${root}.${key}: expected a string${value[key] === undefined ? ', and it is missing' : ''}`);
  if (value.properties !== undefined && !isObject(value.properties)) problems.push(`${root}.properties: expected an object`);
  // The searched entity is `{type}`: its `id` MUST be ignored (AuthZEN), and so are its properties, which no candidate has.
  return need === 'type' ? { type: value.type } : value;
}

/**
 * Checks an AuthZEN search request of `kind` and returns its query. Unknown members are
 * ignored, as AuthZEN requires of receivers; `token` and `risk` are read only when trusted.
 */
export function validateSearchRequest(kind: SearchKind, value: unknown, options: SearchRequestOptions): { query: SearchQuery } | { problems: string[] } {
  if (!isObject(value)) return { problems: ['request: expected a JSON object with subject, action and resource'] };
  const problems: string[] = [];
  const need = NEEDS[kind];
  const request: Request = {};
  const subject = entity(value.subject, 'subject', need.subject, problems);
  if (subject !== null) request.subject = subject;
  if (need.action) {
    if (!isObject(value.action)) problems.push('action: expected an object like {"name": "read"}');
    else if (typeof value.action.name !== 'string') problems.push(`action.name: expected a string${value.action.name === undefined ? ', and it is missing' : ''}`);
    else if (value.action.properties !== undefined && !isObject(value.action.properties)) problems.push('action.properties: expected an object');
    else request.action = value.action;
  }
  const resource = entity(value.resource, 'resource', need.resource, problems);
  if (resource !== null) request.resource = resource;
  const optional = options.trusted ? (['context', 'token', 'risk'] as const) : (['context'] as const);
  for (const key of optional) {
    if (value[key] === undefined) continue;
    if (!isObject(value[key])) problems.push(`${key}: expected an object`);
    else request[key] = value[key];
  }
  // As for decisions (validate-request.ts): the request is level 1, its members level 2.
  for (const key of ['subject', 'action', 'resource', ...optional] as const) {
    const problem = jsonProblem(value[key], MAX_JSON_DEPTH - 1);
    if (problem !== null) problems.push(describeJsonProblem(key, problem, `${MAX_JSON_DEPTH} levels (objects and lists, counted from the request)`));
  }
  const page = readPage(value.page, problems);
  return problems.length > 0 ? { problems } : { query: { kind, request, page } };
}

function readPage(value: unknown, problems: string[]): SearchQuery['page'] {
  if (value === undefined) return { token: null, limit: null };
  if (!isObject(value)) return problems.push('page: expected an object like {"limit": 50}'), { token: null, limit: null };
  const { token, limit } = value;
  // Draft 04 had clients send `page.next_token` back; 1.0 names it `token`. Ignored, a client paging so would get page one for ever.
  if (value.next_token !== undefined && token === undefined) problems.push('page.next_token: send a previous response\'s page.next_token back as page.token');
  if (token !== undefined && typeof token !== 'string') problems.push('page.token: expected a string (a previous response\'s page.next_token)');
  if (limit !== undefined && !(typeof limit === 'number' && Number.isInteger(limit) && limit >= 0)) problems.push('page.limit: expected a non-negative integer');
  return { token: typeof token === 'string' ? token : null, limit: typeof limit === 'number' ? limit : null };
}

import type { Request } from '../language/eval/activation.js';
import { describeJsonProblem, jsonProblem, MAX_JSON_DEPTH } from '../formats/json-depth.js';

/** Where a request is wrong, as `path: problem`; shown to the caller as is. */
export type RequestProblem = string;

export interface ValidateOptions {
  /**
   * Accept `token` and `risk` from the input. Only offline tools (`gavel eval`, `gavel test`)
   * do: on a server those roots are computed by Gavel and never taken from the caller.
   */
  trusted: boolean;
}

const isObject = (v: unknown): v is { [k: string]: unknown } => typeof v === 'object' && v !== null && !Array.isArray(v);

function entity(value: unknown, root: string, keys: readonly string[], problems: RequestProblem[], trusted: boolean): void {
  if (!isObject(value)) {
    const like = root === 'action' ? '{"name": "GET"}' : root === 'resource' ? '{"type": "document", "id": "42"}' : '{"type": "user", "id": "alice"}';
    problems.push(`${root}: expected an object like ${like}`);
    return;
  }
  for (const key of keys) {
    // Not empty either from a caller: gRPC cannot tell "" from absent, and every interface
    // answers alike. Offline tools take "" — a gateway's caller without a token is
    // `anonymous` with id "", and policy tests write such requests.
    if (value[key] === '' && !trusted) problems.push(`${root}.${key}: expected a non-empty string`);
    else if (typeof value[key] !== 'string') problems.push(`${root}.${key}: expected a string${value[key] === undefined ? ', and it is missing' : ''}`);
  }
  if (value.properties !== undefined && !isObject(value.properties)) problems.push(`${root}.properties: expected an object`);
}

const OPTIONAL = ['context'] as const;
const TRUSTED_OPTIONAL = ['context', 'token', 'risk'] as const;
const MEMBERS: ReadonlySet<string> = new Set(['subject', 'action', 'resource', ...OPTIONAL]);
const TRUSTED_MEMBERS: ReadonlySet<string> = new Set(['subject', 'action', 'resource', ...TRUSTED_OPTIONAL]);

/**
 * Checks an AuthZEN-shaped request: `subject {type, id, properties?}`, `action {name,
 * properties?}`, `resource {type, id, properties?}`, `context?` — and, when trusted,
 * `token?` and `risk?`. Reports every problem with its path. Unknown top-level members
 * are reported too, so a typo such as `contxt` is not silently ignored.
 */
export function validateRequest(value: unknown, options: ValidateOptions): { request: Request } | { problems: RequestProblem[] } {
  if (!isObject(value)) return { problems: ['request: expected a JSON object with subject, action and resource'] };
  const problems: RequestProblem[] = [];
  entity(value.subject, 'subject', ['type', 'id'], problems, options.trusted);
  entity(value.action, 'action', ['name'], problems, options.trusted);
  entity(value.resource, 'resource', ['type', 'id'], problems, options.trusted);
  const optional = options.trusted ? TRUSTED_OPTIONAL : OPTIONAL;
  for (const key of optional) {
    if (value[key] !== undefined && !isObject(value[key])) problems.push(`${key}: expected an object`);
  }
  const known = options.trusted ? TRUSTED_MEMBERS : MEMBERS;
  for (const key of Object.keys(value)) {
    if (known.has(key)) {
      // The request is level 1, its members level 2.
      const problem = jsonProblem(value[key], MAX_JSON_DEPTH - 1);
      if (problem !== null) problems.push(describeJsonProblem(key, problem, `${MAX_JSON_DEPTH} levels (objects and lists, counted from the request)`));
      continue;
    }
    const trustedOnly = key === 'token' || key === 'risk';
    problems.push(trustedOnly ? `${key}: set by Gavel, not by the caller` : `${key}: unknown member; a request has ${[...known].join(', ')}`);
  }
  return problems.length > 0 ? { problems } : { request: value as Request };
}

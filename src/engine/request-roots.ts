import type { Request } from '../language/eval/activation.js';

const ROOTS = ['subject', 'action', 'resource', 'context', 'token', 'risk'] as const;

export type Root = (typeof ROOTS)[number];

/**
 * The request with one root set, its other roots as they were — a new object; the request
 * is not changed. Built member by member in one order, so that every request the server
 * makes has one of a few shapes: `{ ...request, token }` took V8's slow path for the added
 * member on every call (`Runtime_DefineNamedOwnIC_Slow`, ~3% of the server's CPU under
 * `npm run bench:http` and `bench:issuer`), and requests of varying shapes made the compiled
 * policies' property loads miss their inline caches. A root that is undefined is absent:
 * validateRequest admits no member but these.
 */
export function withRoot(request: Request, root: Root, value: unknown): Request {
  const out: Request = {};
  for (const name of ROOTS) {
    const v = name === root ? value : request[name];
    if (v !== undefined) out[name] = v;
  }
  return out;
}

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { jsonProblem } from '../formats/json-error.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** A 400 the error handler answers as `invalid_request` with this message. */
const badRequest = (message: string): Error => Object.assign(new Error(message), { statusCode: 400 });
const unsupported = (message: string): Error => Object.assign(new Error(message), { statusCode: 415 });

/**
 * Why a body cannot be read as sent, or null. JSON between systems is UTF-8 (RFC 8259 §8.1):
 * a body declared in another charset, or compressed (no Content-Encoding is decoded here),
 * would otherwise be read as UTF-8 regardless — and decided about, and logged, as a request
 * nobody sent (`b\xe9b` became `b\ufffdb`).
 */
function unreadable(request: FastifyRequest): Error | null {
  const encoding = request.headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') return unsupported(`Content-Encoding \`${encoding}\` is not accepted: send the body uncompressed`);
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(request.headers['content-type'] ?? '')?.[1];
  if (charset !== undefined && !/^utf-?8$/i.test(charset)) return unsupported(`charset=${charset} is not accepted: JSON is sent as UTF-8 (RFC 8259)`);
  return null;
}

/**
 * Refuses what fastify's own parser refuses (secure-json-parse): a `__proto__` member, and a
 * `constructor` member holding a `prototype` — harmless to `JSON.parse`, dangerous to code
 * that later merges such an object with assignment.
 */
function guarded(key: string, value: unknown): unknown {
  if (key === '__proto__') throw badRequest('the body has a member named `__proto__`, which is not accepted');
  if (key === 'constructor' && isObject(value) && Object.hasOwn(value, 'prototype')) throw badRequest('the body has a `constructor` member holding `prototype`, which is not accepted');
  return value;
}

/**
 * JSON request bodies: parsed by `JSON.parse`, refusing prototype keys as fastify's parser
 * does, and when the text is not JSON a 400 that says where it broke (line and column) —
 * fastify's says only that it is not JSON. The reviver that checks keys runs only when the
 * text could hold one (spelled out, or hidden in a `\u` escape): it would slow every parse.
 * `text/plain` loses fastify's default parser, so a JSON body sent with it gets the
 * "Content-Type must be application/json" answer rather than a schema error about a string.
 */
export function jsonBodies(app: FastifyInstance): void {
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const refused = unreadable(request);
    if (refused !== null) return done(refused, undefined);
    const decoded = body as string;
    // Bytes that are not UTF-8 were decoded as U+FFFD: taken as bytes and checked instead, every
    // body cost ~6 µs more (npm run bench:http's workload). A body that holds U+FFFD as it is,
    // not escaped, is refused with them: what it says was lost before it was sent.
    if (decoded.includes('\uFFFD')) return done(badRequest('the body is not UTF-8, or holds U+FFFD (a character lost in an earlier decoding): JSON is sent as UTF-8 (RFC 8259)'), undefined);
    // A byte order mark is not JSON, but says nothing wrong (fastify's parser drops it too).
    const text = decoded.charCodeAt(0) === 0xfeff ? decoded.slice(1) : decoded;
    if (text.length === 0) return done(badRequest('the body is empty; send a JSON object'), undefined);
    const suspect = text.includes('__proto__') || text.includes('constructor') || text.includes('\\u');
    try {
      done(null, suspect ? JSON.parse(text, guarded) : JSON.parse(text));
    } catch (err: unknown) {
      if (err instanceof Error && 'statusCode' in err) return done(err, undefined);
      // The reviver recursed past the stack on a deeply nested body: say so, not "not JSON".
      if (err instanceof RangeError) return done(badRequest('the body is nested too deeply'), undefined);
      const { line, col, message } = jsonProblem(text, err);
      done(badRequest(`the body is not valid JSON: ${message} at line ${line}, column ${col}`), undefined);
    }
  });
}

import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerLog } from '../server/server-log.js';

/** Fastify's codes for a body it cannot hand to a parser; AuthZEN wants 400 for them (json-body.ts answers the rest). */
const NOT_JSON = new Set(['FST_ERR_CTP_INVALID_MEDIA_TYPE', 'FST_ERR_CTP_INVALID_CONTENT_LENGTH']);

/**
 * A failure inside the server, for the server log: the route, the request id, the stack —
 * what the caller is not told. Fastify's own logger is off (its per-request logging costs
 * on the hot path).
 */
export function logServerError(log: ServerLog, request: FastifyRequest, err: Error): void {
  log.error(`${request.method} ${request.url.split('?')[0]} (request ${request.id}) failed: ${String(err)}`, { requestId: request.id, ...(err.stack === undefined ? {} : { stack: err.stack }) });
}

/**
 * A store that cannot take a write now — a lock another process holds past the busy timeout,
 * a full disk — is a condition that passes: 503 with Retry-After, so that clients try again
 * (an OAuth client's retry gets its token once it clears), not a 500 that reads as a bug.
 */
export function storeUnavailable(err: { code?: unknown }): boolean {
  return typeof err.code === 'string' && (err.code.startsWith('SQLITE_BUSY') || err.code.startsWith('SQLITE_LOCKED') || err.code === 'SQLITE_FULL');
}

export const STORE_RETRY_AFTER_S = '5';

/**
 * The one place errors become responses: `{error, message}` with the right 4xx, public
 * fields only. A 5xx never carries the internal message or a stack.
 */
export const errorHandler = (log: ServerLog) => {
  const storeWarning = storeWarnings(log);
  return (err: FastifyError, request: FastifyRequest, reply: FastifyReply): void => handle(err, request, reply, log, storeWarning);
};

/**
 * What a request answered 503 for a busy or full store tells the server log: a warning, at
 * most every 10 s with the count since — an error with a stack per request paged operators
 * for a condition that passes.
 */
export function storeWarnings(log: ServerLog): (request: FastifyRequest, err: Error) => void {
  let warnedAt = -Infinity;
  let unsaid = 0;
  return (request, err) => {
    const now = Date.now();
    if (now - warnedAt < 10_000) return void unsaid++;
    const more = unsaid > 0 ? ` (and ${unsaid} more since the last such warning)` : '';
    [warnedAt, unsaid] = [now, 0];
    log.warn(`${request.method} ${request.url.split('?')[0]} (request ${request.id}) answered 503: the store cannot be written now: ${err.message}${more}`, { requestId: request.id });
  };
}

function handle(err: FastifyError, request: FastifyRequest, reply: FastifyReply, log: ServerLog, storeWarning: (request: FastifyRequest, err: Error) => void): void {
  if (err.validation !== undefined) {
    void reply.status(400).send({ error: 'invalid_request', message: validationMessage(err) });
    return;
  }
  if (err.code !== undefined && NOT_JSON.has(err.code)) {
    // The console's forms are the one place a body is a form, not JSON.
    const expected = request.url.startsWith('/console/') ? 'application/x-www-form-urlencoded' : 'application/json';
    const message = err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? `Content-Type must be ${expected}` : err.message;
    void reply.status(400).send({ error: 'invalid_request', message });
    return;
  }
  const status = err.statusCode ?? 500;
  if (storeUnavailable(err)) {
    storeWarning(request, err);
    void reply.status(503).header('retry-after', STORE_RETRY_AFTER_S).send({ error: 'unavailable', message: 'the store cannot be written now (busy or full); try again shortly' });
    return;
  }
  if (status >= 500) {
    logServerError(log, request, err);
    void reply.status(500).send({ error: 'internal_error', message: 'internal error; see the server log' });
    return;
  }
  const error = status === 413 ? 'payload_too_large' : status === 404 ? 'not_found' : status === 415 ? 'unsupported_media_type' : 'invalid_request';
  // fastify says only "Request body is too large": the caller needs the limit to fit under it.
  const message = err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? `the request body is larger than this route takes (${sizeOf(request.routeOptions.bodyLimit)})` : err.message;
  void reply.status(status).send({ error, message });
}

/** 1048576 → "1 MiB"; a limit that is no whole number of KiB or MiB in bytes. */
function sizeOf(bytes: number | undefined): string {
  if (bytes === undefined) return 'its limit';
  if (bytes % 1_048_576 === 0) return `${bytes / 1_048_576} MiB`;
  return bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} bytes`;
}

const TYPE_NAMES: Record<string, string> = { object: 'a JSON object', array: 'a JSON array', string: 'a string', integer: 'an integer', number: 'a number', boolean: 'true or false' };

/**
 * Ajv's messages in the caller's terms. An unknown member ("must NOT have additional
 * properties") is named — a typo in an admin query (`decison=deny`) should be named, not just
 * refused; a value not among the allowed ones lists them; a query parameter is called one,
 * not `querystring/limit`.
 */
function validationMessage(err: FastifyError): string {
  const first = err.validation?.[0];
  if (first === undefined) return err.message;
  const inQuery = err.validationContext === 'querystring';
  const path = first.instancePath;
  const extra = first.keyword === 'additionalProperties' ? first.params.additionalProperty : undefined;
  if (typeof extra === 'string') {
    if (inQuery && path === '') return `unknown query parameter "${extra}"`;
    return `${err.validationContext ?? 'request'}${path} has an unknown member "${extra}"`;
  }
  const where = inQuery && path !== '' ? `query parameter "${path.slice(1)}"` : err.validationContext === 'body' && path === '' ? 'the body' : `${err.validationContext ?? 'request'}${path}`;
  // `?limit=1&limit=2` arrives as a list: say so, not that a list is not a string (RFC 6749 §3.1 style).
  const verbose = first as typeof first & { data?: unknown; parentSchema?: { description?: unknown } };
  if (inQuery && first.keyword === 'type' && Array.isArray(verbose.data)) return `${where} is given more than once`;
  // A pattern is the schema's; its `description` says it in words (app.ts turns on ajv's `verbose` for this).
  const described = verbose.parentSchema?.description;
  if (first.keyword === 'pattern' && typeof described === 'string') return `${where} must be ${described}`;
  const allowed = first.keyword === 'enum' ? first.params.allowedValues : undefined;
  if (Array.isArray(allowed)) return `${where} must be one of: ${allowed.map((v) => String(v)).join(', ')}`;
  if (first.keyword === 'type' && typeof first.params.type === 'string') return `${where} must be ${TYPE_NAMES[first.params.type] ?? `of type ${first.params.type}`}`;
  return `${where} ${first.message ?? 'is invalid'}`;
}

/**
 * The AuthZEN evaluation's fast lane: `POST /access/v1/evaluation` answered straight from
 * Node's HTTP server, beside fastify rather than through it.
 *
 * The single evaluation is what a PEP calls on every request it guards, and fastify's
 * request and reply objects, hooks and content-type dispatch cost it about a quarter of its
 * CPU time (`npm run bench:http`; bench/RESULTS.md). The lane takes only the plain case —
 * a JSON body of a declared length within the limit, no client keys to check — and only
 * when the body is a well-formed request. Everything else, and every answer that is not a
 * decision (a 400 for a body the schema refuses, say), is fastify's: the lane hands the
 * request, body included, to fastify's handler through light-my-request, and copies its answer back. So the messages,
 * statuses and headers of refusals come from one place, and the lane decides only what the
 * route would have decided, through the same `evaluate`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { inject } from 'light-my-request';
import { requestIdFrom } from '../server/request-id.js';
import type { ServerLog } from '../server/server-log.js';

export const EVALUATION_PATH = '/access/v1/evaluation';

type Json = { [k: string]: unknown };

/** A decided evaluation's answer, or `null` when the request is not one the lane should answer (the route then says why). */
export type Evaluate = (body: Json, id: string, request: IncomingMessage) => Json | null | Promise<Json | null>;

/** Fastify's handler of the server's requests, which `serverFactory` is given. */
export type Handler = (request: IncomingMessage, response: ServerResponse) => void;

export interface LaneOptions {
  /** Where what the lane does not decide goes: fastify's handler. */
  route: Handler;
  bodyLimit: number;
  /** Whether decision routes are open to every caller (no client keys configured): the lane never checks a key. */
  open: boolean;
  evaluate: Evaluate;
  serverLog: ServerLog;
}

/** Handles the request and answers true, or leaves it untouched for fastify and answers false. */
export type Lane = (request: IncomingMessage, response: ServerResponse) => boolean;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const optionalObject = (v: unknown): boolean => v === undefined || isObject(v);
const named = (v: unknown, members: readonly string[]): boolean => isObject(v) && members.every((m) => typeof v[m] === 'string') && optionalObject(v.properties);

/** What the route's schema (schemas/authzen.ts `evaluationBody`) accepts; anything else goes to the route for its 400. */
function wellFormed(body: unknown): body is Json {
  return isObject(body) && named(body.subject, ['type', 'id']) && named(body.action, ['name']) && named(body.resource, ['type', 'id']) && optionalObject(body.context);
}

/** Only `application/json`, as fastify's parser matches it, with or without a UTF-8 charset. */
function jsonType(type: string | undefined): boolean {
  if (type === undefined) return false;
  const t = type.toLowerCase();
  return t === 'application/json' || t === 'application/json; charset=utf-8' || t === 'application/json;charset=utf-8';
}

/** Text that `JSON.parse` could turn into a prototype key: json-body.ts's guarded parse is the route's. */
const suspect = (text: string): boolean => text.includes('__proto__') || text.includes('constructor') || text.includes('\\u');

export function evaluationLane(options: LaneOptions): Lane {
  const { route, bodyLimit, evaluate, serverLog } = options;
  if (!options.open) return () => false;

  /**
   * The route's answer to what the lane would not decide: fastify's handler, given the request
   * again with the body already read (light-my-request, as `app.inject` does — but straight to
   * the handler, which also answers while the server stops).
   */
  const toRoute = (request: IncomingMessage, response: ServerResponse, body: Buffer): void => {
    inject(route, { method: 'POST', url: request.url ?? EVALUATION_PATH, headers: request.headers, payload: body, remoteAddress: request.socket.remoteAddress ?? '127.0.0.1' })
      .then((answer) => {
        const headers: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(answer.headers)) {
          if (value === undefined || HOP_BY_HOP.has(name)) continue;
          headers[name] = typeof value === 'number' ? String(value) : value;
        }
        response.writeHead(answer.statusCode, headers).end(answer.rawPayload);
      })
      .catch((err: unknown) => failed(response, err));
  };

  const failed = (response: ServerResponse, err: unknown, id = ''): void => {
    const stack = err instanceof Error ? err.stack : undefined;
    serverLog.error(`POST ${EVALUATION_PATH} (request ${id}) failed: ${String(err)}`, { requestId: id, ...(stack === undefined ? {} : { stack }) });
    if (response.headersSent) return void response.destroy();
    send(response, 500, '{"error":"internal_error","message":"internal error; see the server log"}', null);
  };

  return (request, response) => {
    if (request.method !== 'POST' || request.url !== EVALUATION_PATH) return false;
    const length = request.headers['content-length'];
    if (length === undefined || request.headers['transfer-encoding'] !== undefined || request.headers.expect !== undefined || !jsonType(request.headers['content-type'])) return false;
    const declared = Number(length);
    if (!(declared > 0 && declared <= bodyLimit)) return false;

    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      let parsed: unknown;
      try {
        const text = body.toString('utf8');
        parsed = suspect(text) || text.charCodeAt(0) === 0xfeff ? undefined : JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      if (!wellFormed(parsed)) return toRoute(request, response, body);
      const given = request.headers['x-request-id'];
      const id = requestIdFrom(given);
      const echoed = typeof given === 'string' && given !== '' ? given : id;
      try {
        const answer = evaluate(parsed, id, request);
        if (answer instanceof Promise) {
          answer.then((a) => (a === null ? toRoute(request, response, body) : send(response, 200, JSON.stringify(a), echoed))).catch((err: unknown) => failed(response, err, id));
        } else if (answer === null) toRoute(request, response, body);
        else send(response, 200, JSON.stringify(answer), echoed);
      } catch (err: unknown) {
        failed(response, err, id);
      }
    });
    return true;
  };
}

/** Headers of inject's answer that belong to its own (absent) connection, not to this one. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date']);

function send(response: ServerResponse, status: number, json: string, requestId: string | null): void {
  const headers: Record<string, string | number> = { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) };
  if (requestId !== null) headers['x-request-id'] = requestId;
  response.writeHead(status, headers).end(json);
}

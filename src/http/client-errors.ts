import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { secureHeaders } from '../console/layout.js';
import { echoable } from '../server/request-id.js';

/**
 * The largest header block a request may carry. Node's default, 16 KiB, is below what a
 * browser's cookies reach, and gateways pass every header of the original request to
 * forward-auth (nginx's `auth_request` does): such calls failed with a 431 the gateway turned
 * into a 500. Envoy's own default is 60 KiB.
 */
export const MAX_HEADER_BYTES = 64 * 1024;

/**
 * How long a client may take to send a whole request (Node's `requestTimeout`, which fastify
 * turns off): a body trickled a byte at a time otherwise held its connection for ever.
 * Checked every CONNECTIONS_CHECK_MS, so a request is cut between the two and their sum.
 */
export const REQUEST_TIMEOUT_MS = 60_000;
export const CONNECTIONS_CHECK_MS = 10_000;

type ParseError = Error & { code?: string; reason?: string };

/**
 * Answers what Node's HTTP parser refused before any route ran — oversize headers, a
 * malformed Content-Length, a request not received within `timeoutMs` — as every other error
 * is answered: `{error, message}` with its status, not fastify's default body.
 */
export const clientError = (timeoutMs: number) => (err: ParseError, socket: Socket): void => {
  if (err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  // `id`: the caller's X-Request-ID, when its headers were read (a request timed out mid-body).
  const answer = (id?: string): void => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const [status, phrase, message] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', `the request headers are larger than ${MAX_HEADER_BYTES / 1024} KiB`]
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'Request Timeout', `the request was not received within ${timeoutMs / 1000} s`]
          : [400, 'Bad Request', `the request is not valid HTTP/1.1: ${err.reason ?? err.code ?? 'it could not be parsed'}`];
    const body = JSON.stringify({ error: 'invalid_request', message });
    const echoed = id === undefined ? '' : `X-Request-ID: ${id}\r\n`;
    socket.end(`HTTP/1.1 ${status} ${phrase}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${echoed}Connection: close\r\n\r\n${body}`);
  };
  const current = inProgress(socket);
  if (current !== null && current.req?.complete !== true) {
    // The error is about the request being answered, whose body never came: the client closed
    // its side mid-body, or took longer than `timeoutMs`. Its answer will not come, so
    // nothing is waited for (the connection would stay open for ever); a timeout is told as
    // such while nothing of that answer was written.
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' && current.headersSent !== true) {
      const given = current.req?.headers?.['x-request-id'];
      answer(echoable(given) ? given : undefined);
    }
    else socket.destroy();
    return;
  }
  // Answers to requests before this one on the connection (pipelined, or still being
  // written) go first: written now, the error would take their place, and the caller would
  // read it as the answer to an earlier request.
  afterEarlierAnswers(socket, answer);
};

type Answer = { once(event: 'finish' | 'close', listener: () => void): unknown; req?: { complete?: boolean; headers?: Record<string, string | string[] | undefined> }; headersSent?: boolean };

/** The answer being written on the socket (Node's), if any. */
const inProgress = (socket: Socket): Answer | null => (socket as Socket & { _httpMessage?: Answer | null })._httpMessage ?? null;

/**
 * Runs `then` once no answer is being written on the socket. Node writes pipelined answers in
 * order, handing the socket to the next queued one as each finishes, so this waits answer by
 * answer; a socket closed meanwhile ends the wait (`then` finds it unwritable). Every request
 * waited for was parsed whole before the one in error (an incomplete one is `clientError`'s).
 */
function afterEarlierAnswers(socket: Socket, then: () => void): void {
  const current = inProgress(socket);
  if (current === null || socket.destroyed) {
    then();
    return;
  }
  let done = false;
  const next = (): void => {
    if (done) return;
    done = true;
    // Node's own 'finish' listener hands the socket to the next answer; look after it has.
    setImmediate(() => afterEarlierAnswers(socket, then));
  };
  current.once('finish', next);
  current.once('close', next);
}

/**
 * The headers every answer carries, set by the app's onSend hook and, for answers made before
 * routing (which pass no hook), by frameworkError: the PEP's X-Request-ID as it was sent
 * (AuthZEN 1.0, "Request Identification": errors too; one too long to log comes back while the
 * log keeps request.id), and on a refusal under /console (a 404, a 405, a 413, an undecodable
 * path) the console pages' own headers.
 */
export function answerHeaders(request: FastifyRequest, reply: FastifyReply): void {
  const given = request.headers['x-request-id'];
  void reply.header('x-request-id', echoable(given) ? given : request.id);
  if (reply.statusCode >= 400 && request.url.startsWith('/console') && !reply.hasHeader('content-security-policy')) secureHeaders(reply);
}

/** Errors fastify meets before routing — a URL whose percent-encoding is broken — answered as the others are. */
export function frameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  void reply.status(400);
  answerHeaders(request, reply);
  const message = error.code === 'FST_ERR_BAD_URL' ? `the URL is not valid: ${request.url.split('?')[0]} has a broken percent-encoding` : error.message;
  void reply.send({ error: 'invalid_request', message });
}

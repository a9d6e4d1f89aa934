import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/**
 * The largest header block a request may carry. Node's default, 16 KiB, is below what a
 * browser's cookies reach, and gateways pass every header of the original request to
 * forward-auth (nginx's `auth_request` does): such calls failed with a 431 the gateway turned
 * into a 500. Envoy's own default is 60 KiB.
 */
export const MAX_HEADER_BYTES = 64 * 1024;

type ParseError = Error & { code?: string; reason?: string };

/**
 * Answers what Node's HTTP parser refused before any route ran — oversize headers, a
 * malformed Content-Length — as every other error is answered: `{error, message}` with its
 * status, not fastify's default body.
 */
export function clientError(err: ParseError, socket: Socket): void {
  // An answer to an earlier request on this connection (pipelined, or still being written)
  // would take this one's bytes as its own, and the caller would read the error as the answer
  // to the request before. Then, and when nothing can be written, the connection just ends.
  const inProgress = (socket as Socket & { _httpMessage?: unknown })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || (inProgress !== undefined && inProgress !== null)) {
    socket.destroy();
    return;
  }
  const [status, phrase, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', `the request headers are larger than ${MAX_HEADER_BYTES / 1024} KiB`]
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'the request was not received in time']
        : [400, 'Bad Request', `the request is not valid HTTP/1.1: ${err.reason ?? err.code ?? 'it could not be parsed'}`];
  const body = JSON.stringify({ error: 'invalid_request', message });
  socket.end(`HTTP/1.1 ${status} ${phrase}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** Errors fastify meets before routing — a URL whose percent-encoding is broken — answered as the others are. */
export function frameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  if (error.code === 'FST_ERR_BAD_URL') {
    void reply.status(400).send({ error: 'invalid_request', message: `the URL is not valid: ${request.url.split('?')[0]} has a broken percent-encoding` });
    return;
  }
  void reply.status(400).send({ error: 'invalid_request', message: error.message });
}

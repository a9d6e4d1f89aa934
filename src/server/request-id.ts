import { randomUUID } from 'node:crypto';

/**
 * The longest request id taken from a caller (X-Request-ID; Heroku's router allows up to
 * 200 characters, UUIDs and trace ids are far shorter). Every decision of a request is
 * logged with its id: a 60 KB id on a batch of 1,000 evaluations wrote 60 MB to the log.
 */
export const MAX_REQUEST_ID_LENGTH = 200;

/**
 * Whether a caller's request id can be echoed and logged as it was sent: printable ASCII. An
 * HTTP header's other bytes reach Node as Latin-1 characters and went back out as their UTF-8
 * (`ab\xff` echoed as `abÃ¿`); an Envoy CheckRequest's header map may hold a newline.
 */
export function echoable(given: unknown): given is string {
  return typeof given === 'string' && given.length > 0 && /^[\x20-\x7e]+$/.test(given);
}

/** The caller's request id when it is echoable and of at most MAX_REQUEST_ID_LENGTH characters; else a fresh UUID. */
export function requestIdFrom(given: unknown): string {
  return echoable(given) && given.length <= MAX_REQUEST_ID_LENGTH ? given : randomUUID();
}

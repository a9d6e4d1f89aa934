import { randomUUID } from 'node:crypto';

/**
 * The longest request id taken from a caller (X-Request-ID; Heroku's router allows up to
 * 200 characters, UUIDs and trace ids are far shorter). Every decision of a request is
 * logged with its id: a 60 KB id on a batch of 1,000 evaluations wrote 60 MB to the log.
 */
export const MAX_REQUEST_ID_LENGTH = 200;

/** The caller's request id when it has one of 1 to MAX_REQUEST_ID_LENGTH characters; else a fresh UUID. */
export function requestIdFrom(given: unknown): string {
  return typeof given === 'string' && given.length > 0 && given.length <= MAX_REQUEST_ID_LENGTH ? given : randomUUID();
}

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { sortedJson } from '../formats/sorted-json.js';

/*
 * Page tokens of the search APIs. A token says where the next page starts — after the last
 * result given, by id (or name), so results added or removed between pages neither repeat
 * nor hide the others — which search it continues, a fingerprint of the request's fixed
 * parts (AuthZEN: follow-up requests repeat them unchanged), and the page size, which a
 * follow-up may repeat or leave out (the certification's c-4-5-2 sends the token alone). It is MACed
 * with the server's key, so a token that was edited, truncated, or made for another search
 * is refused rather than silently restarting somewhere else.
 */

// 2: the page size is in the token (a follow-up may leave `page.limit` out), not in the fingerprint.
const VERSION = 2;

/** Where a page starts — after the key of the last result of the previous page — and the page size the search pages by. */
export interface PageCursor {
  after: string;
  limit: number;
}

export type PageTokenError = { code: 'ERR_SEARCH_PAGE_TOKEN'; message: string };

function mac(key: string | Buffer, payload: string): string {
  // 128 bits are plenty to make a forged token unguessable; shorter tokens read better in URLs and logs.
  return createHmac('sha256', key).update(payload).digest('base64url').slice(0, 22);
}

/** A stable fingerprint of a JSON value: object members in sorted order, so member order never matters. */
export function fingerprint(value: unknown): string {
  return createHash('sha256').update(sortedJson(value)).digest('base64url').slice(0, 16);
}

export function encodePageToken(key: string | Buffer, search: string, cursor: PageCursor): string {
  const payload = Buffer.from(JSON.stringify([VERSION, search, cursor.after, cursor.limit])).toString('base64url');
  return `${payload}.${mac(key, payload)}`;
}

/** The cursor a token holds, when it is one this key made for this search. */
export function decodePageToken(key: string | Buffer, search: string, token: string): PageCursor | PageTokenError {
  const bad = (why: string): PageTokenError => ({ code: 'ERR_SEARCH_PAGE_TOKEN', message: `page.token is not valid: ${why}` });
  const [payload, tag, ...rest] = token.split('.');
  if (payload === undefined || tag === undefined || rest.length > 0) return bad('not a page token; pass page.next_token from the previous response as is');
  const expected = Buffer.from(mac(key, payload));
  const given = Buffer.from(tag);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return bad('it was altered, or made by another server');
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return bad('it was altered');
  }
  if (!Array.isArray(decoded) || decoded[0] !== VERSION || typeof decoded[1] !== 'string' || typeof decoded[2] !== 'string' || !Number.isInteger(decoded[3])) return bad('unknown token version');
  if (decoded[1] !== search) return bad('it continues another search; repeat the first request\'s subject, action, resource and context unchanged');
  return { after: decoded[2], limit: decoded[3] as number };
}

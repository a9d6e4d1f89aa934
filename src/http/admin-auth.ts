import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Checks an `Authorization: Bearer KEY` header against the configured admin key in
 * constant time: both sides are hashed first, so neither the key's content nor its
 * length leaks through timing.
 */
export function adminKeyMatches(header: string | undefined, key: string): boolean {
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? '');
  const given = createHash('sha256').update(m === null ? '' : m[1]).digest();
  const wanted = createHash('sha256').update(key).digest();
  return timingSafeEqual(given, wanted) && m !== null;
}

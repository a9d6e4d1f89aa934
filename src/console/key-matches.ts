import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * Whether the key typed into the sign-in form is the admin key, in constant time: both are
 * hashed first, so neither the key's content nor its length leaks through timing.
 */
export function keyMatches(given: string, key: string): boolean {
  return timingSafeEqual(digest(given), digest(key));
}

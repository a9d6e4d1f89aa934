import { hash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Client secrets must be long random strings (at least 32 characters), so a fast hash is
 * enough: nobody brute-forces 190 bits, and the token endpoint pays microseconds, not the
 * tens of milliseconds a password KDF costs on every client_credentials grant. Stored as
 * `sha256$BASE64URL`.
 */
export const MIN_CLIENT_SECRET = 32;

export function hashClientSecret(secret: string): string {
  return `sha256$${hash('sha256', secret, 'base64url')}`;
}

export function clientSecretMatches(secret: string, stored: string): boolean {
  const given = Buffer.from(hashClientSecret(secret));
  const wanted = Buffer.from(stored);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/** User passwords are chosen by people: scrypt (N = 2^15, r = 8, p = 1), salted. */
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

function derive(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password.normalize('NFKC'), salt, 32, options, (err, key) => (err ? reject(err) : resolve(key))));
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function passwordMatches(password: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, salt, key] = stored.split('$');
  if (kind !== 'scrypt' || key === undefined) return false;
  const wanted = Buffer.from(key, 'base64url');
  const given = await derive(password, Buffer.from(salt, 'base64url'), { N: Number(n), r: Number(r), p: Number(p), maxmem: SCRYPT.maxmem });
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/** A random token of `bytes` bytes, base64url: codes, refresh tokens, opaque access tokens. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

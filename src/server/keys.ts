import { hash, timingSafeEqual } from 'node:crypto';

const digest = (text: string): Buffer => hash('sha256', text, 'buffer');

/** The key of an `Authorization: Bearer KEY` header; `null` without one. */
export function bearerKey(header: string | undefined): string | null {
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? '');
  return m === null ? null : m[1];
}

/**
 * Whether a presented key is the configured one, in constant time: both sides are hashed
 * first, so neither the key's content nor its length leaks through timing.
 */
export function keyMatches(given: string, key: string): boolean {
  return timingSafeEqual(digest(given), digest(key));
}

/** The header a client key travels in on every interface (gRPC: the same metadata key). */
export const CLIENT_KEY_HEADER = 'x-gavel-client-key';

/**
 * The keys callers of the decision interfaces must present when any are configured: a
 * name for each (it names the caller in errors and the log), compared in constant time
 * like the admin key. Every configured key is compared, so timing does not tell which
 * one came close.
 */
export class ClientKeys {
  private readonly keys: { name: string; digest: Buffer }[];

  constructor(keys: Record<string, string>) {
    this.keys = Object.entries(keys).map(([name, key]) => ({ name, digest: digest(key) }));
  }

  /** Whether callers must authenticate at all. */
  get required(): boolean {
    return this.keys.length > 0;
  }

  /** The name of the client whose key this is; `null` for no key or a wrong one. */
  identify(key: string | null): string | null {
    const given = digest(key ?? '');
    let found: string | null = null;
    for (const k of this.keys) if (timingSafeEqual(given, k.digest) && key !== null) found = k.name;
    return found;
  }
}

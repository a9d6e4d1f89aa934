import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/*
 * Console sessions are stateless signed cookies: `v1.EXPIRES.NONCE.MAC`, the MAC an
 * HMAC-SHA256 under a key derived from the admin key. Deriving it (rather than a random
 * per-process key) lets a session survive a restart and work on every replica behind a
 * load balancer, and changing the admin key ends every session at once. The CSRF token of
 * a session is another MAC over its nonce, so forms need no server-side state either.
 * Sign-out forgets the nonce in this process (until the session would have expired).
 */

export const SESSION_SECONDS = 8 * 3600;

export interface Session {
  nonce: string;
  /** Seconds since the epoch. */
  expires: number;
}

export interface Sessions {
  /** A new session's cookie value and CSRF token. */
  issue(nowSeconds: number): { value: string; session: Session };
  /** The session a cookie value proves; `null` when forged, expired or signed out. */
  verify(value: string | undefined, nowSeconds: number): Session | null;
  csrf(session: Session): string;
  csrfMatches(session: Session, given: string | undefined): boolean;
  end(session: Session): void;
}

const b64 = (b: Buffer): string => b.toString('base64url');

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function createSessions(adminKey: string): Sessions {
  const key = createHmac('sha256', adminKey).update('gavel console session v1').digest();
  const mac = (text: string) => b64(createHmac('sha256', key).update(text).digest());
  const ended = new Map<string, number>();
  const forget = (now: number) => {
    for (const [nonce, expires] of ended) if (expires <= now) ended.delete(nonce);
  };
  return {
    issue(now) {
      const session = { nonce: b64(randomBytes(18)), expires: now + SESSION_SECONDS };
      const body = `v1.${session.expires}.${session.nonce}`;
      return { value: `${body}.${mac(`session.${body}`)}`, session };
    },
    verify(value, now) {
      const m = /^v1\.(\d{1,12})\.([A-Za-z0-9_-]{24})\.([A-Za-z0-9_-]{43})$/.exec(value ?? '');
      if (m === null) return null;
      const body = `v1.${m[1]}.${m[2]}`;
      if (!same(m[3]!, mac(`session.${body}`))) return null;
      const session = { nonce: m[2]!, expires: Number(m[1]) };
      if (session.expires <= now || ended.has(session.nonce)) return null;
      return session;
    },
    csrf: (session) => mac(`csrf.${session.nonce}`),
    csrfMatches: (session, given) => given !== undefined && same(given, mac(`csrf.${session.nonce}`)),
    end(session) {
      forget(Math.floor(Date.now() / 1000));
      ended.set(session.nonce, session.expires);
    },
  };
}

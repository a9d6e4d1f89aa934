import type { FastifyInstance, FastifyRequest } from 'fastify';
import { attemptKey, type AttemptLimit } from '../server/attempt-limit.js';
import { bearerKey, keyMatches } from '../server/keys.js';
import type { OriginOf } from './origin.js';

/** The wrong admin keys counted per client address, and where a request comes from. */
export interface KeyAttempts {
  attempts: AttemptLimit;
  origin: OriginOf;
}

/** What guards the admin endpoints: the admin key (`null`: none configured, nothing admin is served) and its attempts. */
export interface AdminGate extends KeyAttempts {
  key: string | null;
}

export type KeyCheck = { kind: 'ok' } | { kind: 'wrong' } | { kind: 'wait'; seconds: number };

/**
 * A presented admin key against the configured one (constant time, keyMatches). An address
 * that gave too many wrong keys is told to wait, its key not even compared. Only a wrong key
 * counts: a request without one (a health probe, a browser) guesses nothing, and counting it
 * would let anyone sharing the address (a NAT, an untrusted proxy) lock administrators out.
 * Nor does a right key clear the count: a client sharing the address would shield a guesser.
 */
export function checkAdminKey(limits: KeyAttempts, key: string, request: FastifyRequest, given: string | null): KeyCheck {
  const address = attemptKey(limits.origin(request).address ?? 'unknown');
  const seconds = limits.attempts.retryAfter(address);
  if (seconds > 0) return { kind: 'wait', seconds };
  if (given === null || given === '') return { kind: 'wrong' };
  if (keyMatches(given, key)) return { kind: 'ok' };
  limits.attempts.count(address);
  return { kind: 'wrong' };
}

/**
 * The admin key check of every admin endpoint, as an `onRequest` hook on an encapsulated
 * plugin (whose answers are all `Cache-Control: no-store`): 403 `admin_disabled` without a configured key, 401 with a Bearer challenge for a
 * missing or wrong one, 429 with Retry-After for an address that gave too many wrong ones.
 */
export function requireAdminKey(scope: FastifyInstance, gate: AdminGate): void {
  // Admin answers hold decision records and policies: no cache on the way may keep them.
  scope.addHook('onSend', (_request, reply, payload, done) => {
    reply.header('cache-control', 'no-store');
    done(null, payload);
  });
  scope.addHook('onRequest', async (request, reply) => {
    const { key } = gate;
    if (key === null) {
      return reply.status(403).send({ error: 'admin_disabled', message: 'admin endpoints are disabled; configure admin_key (or GAVEL_ADMIN_KEY)' });
    }
    const check = checkAdminKey(gate, key, request, bearerKey(request.headers.authorization));
    if (check.kind === 'wait') {
      return reply
        .status(429)
        .header('retry-after', String(check.seconds))
        .send({ error: 'too_many_attempts', message: `too many wrong admin keys from this address; try again in ${check.seconds} s` });
    }
    if (check.kind === 'wrong') {
      const sent = request.headers.authorization;
      // The usual slip: the key alone, without its scheme.
      const hint = sent === undefined ? ': send `Authorization: Bearer KEY`' : bearerKey(sent) === null ? ': the Authorization header must be `Bearer KEY`' : '';
      return reply.status(401).header('www-authenticate', 'Bearer realm="gavel-admin"').send({ error: 'unauthorized', message: `a valid admin key is required${hint}` });
    }
    return undefined;
  });
}

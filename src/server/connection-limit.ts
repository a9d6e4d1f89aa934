import { readFileSync } from 'node:fs';

/**
 * How many connections each listener (HTTP, gRPC) holds by default: the two together leave
 * a reserve of the process's open files for its own work — the database and its WAL, policy
 * and IP-list files read on a reload, a JWKS fetch. Past the limit a new connection is closed
 * as it arrives; without one, a flood of idle connections took every descriptor, and the
 * server could neither read a changed policy nor fetch an issuer's keys until they closed.
 */
export function defaultMaxConnections(openFiles = openFileLimit()): number {
  if (openFiles === null) return DEFAULT_WITHOUT_LIMIT;
  return Math.max(MIN_CONNECTIONS, Math.floor((openFiles - RESERVED_FILES) / 2));
}

/** The soft limit on open files (RLIMIT_NOFILE), from /proc; `null` where it cannot be read or is unlimited. */
export function openFileLimit(limits = readLimits()): number | null {
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(limits ?? '');
  return m === null || m[1] === 'unlimited' ? null : Number(m[1]);
}

function readLimits(): string | null {
  try {
    return readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return null;
  }
}

const RESERVED_FILES = 256;
const MIN_CONNECTIONS = 32;
/** Where the limit cannot be read (not Linux): generous, but not unbounded. */
const DEFAULT_WITHOUT_LIMIT = 10_000;

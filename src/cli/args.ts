import { resolve } from 'node:path';
import { UsageError } from './io.js';

/**
 * Runs a strict `parseArgs` call: an unknown flag or a missing value becomes a usage error
 * (exit 2) instead of being ignored.
 */
export function flags<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err: unknown) {
    throw new UsageError(err instanceof Error ? err.message.replace(/\. To specify.*$/s, '') : String(err));
  }
}

/** Flags every policy command takes. */
export const COMMON = { policies: { type: 'string', short: 'p' }, help: { type: 'boolean', short: 'h' } } as const;

export function policiesDir(cwd: string, flag: string | undefined): string {
  return resolve(cwd, flag ?? 'policies');
}

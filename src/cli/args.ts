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

const AGE_UNITS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A time flag (`--since`, `--until`) as ISO 8601: either a time (`2026-11-22T10:00:00Z`) or
 * an age back from now (`30s`, `15m`, `2h`, `7d`), which is what one types at a terminal.
 */
export function timeFlag(flag: string, value: string | undefined, now: number = Date.now()): string | undefined {
  if (value === undefined) return undefined;
  const age = /^(\d+)([smhd])$/.exec(value);
  if (age !== null) {
    const at = new Date(now - Number(age[1]) * AGE_UNITS[age[2]]!);
    if (Number.isNaN(at.getTime())) throw new UsageError(`--${flag}: \`${value}\` reaches further back than a date can`);
    return at.toISOString();
  }
  if (Number.isNaN(Date.parse(value))) throw new UsageError(`--${flag}: \`${value}\` is neither an ISO 8601 time nor an age like 15m, 2h or 7d`);
  return new Date(value).toISOString();
}

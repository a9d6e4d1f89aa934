import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { suggest } from '../language/check/suggest.js';
import { timeInput } from '../formats/time-input.js';
import { UsageError } from './io.js';
import { ConfigError, configuredPaths } from '../config.js';

/**
 * Runs a strict `parseArgs` call: an unknown flag or a missing value becomes a usage error
 * (exit 2) instead of being ignored, and a mistyped flag names the one meant.
 */
export function flags<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    const parsed = parseArgs(config);
    // node:util keeps the last of a repeated single-value flag: `--tag sox --tag hipaa` filtered
    // by hipaa alone, silently. Flags that take several values say so (`multiple`).
    const { tokens } = parseArgs({ ...config, tokens: true });
    const seen = new Set<string>();
    for (const token of tokens ?? []) {
      const option = token.kind === 'option' ? config.options?.[token.name] : undefined;
      if (token.kind !== 'option' || option?.type !== 'string' || option.multiple === true) continue;
      if (seen.has(token.name)) throw new UsageError(`--${token.name} is given more than once; it takes one value`);
      seen.add(token.name);
    }
    return parsed;
  } catch (err: unknown) {
    if (err instanceof UsageError) throw err;
    // node:util's messages run over several lines ("… ambiguous.\nDid you forget …\nTo specify …"): a usage error is one line.
    const message = err instanceof Error ? oneLine(err.message) : String(err);
    throw new UsageError(`${message}${didYouMean(message, Object.keys(config.options ?? {}))}`);
  }
}

/** For `Unknown option '--htp'`: ` (did you mean --http?)` when one option is that close. */
function didYouMean(message: string, options: readonly string[]): string {
  const unknown = /^Unknown option '(-[\w-]+)'/.exec(message)?.[1];
  if (unknown === undefined) return '';
  const meant = unknown.startsWith('--') ? suggest(unknown.slice(2), options) : null;
  return meant === null ? ' (--help lists the options)' : ` (did you mean --${meant}?)`;
}

function oneLine(message: string): string {
  const flag = /^Option '(--?[\w-]+)[^']*' argument is ambiguous/.exec(message);
  if (flag === null) return message.replace(/\. To specify.*$/s, '').split('\n')[0]!;
  const long = /use '(--[\w-]+)=-XYZ'/.exec(message)?.[1];
  return `${flag[1]} needs a value${long === undefined ? '' : ` (one starting with a dash is given as ${long}=-VALUE)`}`;
}

/** Flags every policy command takes. */
export const COMMON = { policies: { type: 'string', short: 'p' }, help: { type: 'boolean', short: 'h' } } as const;

/**
 * The database a command reads or writes, found as `gavel serve` finds it: `--db`, else
 * `GAVEL_DB`, else the `db` of the config file (`--config`, else `GAVEL_CONFIG`), else
 * `data/gavel.db` — so a command run beside a server configured by file works on the server's
 * database, not a new one. A variable set but empty is an error, not the current folder
 * taken for a database; so is a config file that `gavel serve` would refuse.
 */
export function databasePath(cwd: string, flag: string | undefined, configFlag?: string): string {
  const named = optionalDatabasePath(cwd, flag);
  if (named !== undefined) return named;
  const file = configFlag ?? variable('GAVEL_CONFIG');
  const db = file === undefined ? undefined : fromConfig(cwd, file).db;
  // A server may keep its state in memory; a command's changes there would be lost when it exits.
  if (db === ':memory:') throw new UsageError(`\`${file}\` keeps the database in memory (\`db: ":memory:"\`): nothing a command did there would be kept; name a database file with --db`);
  return db ?? resolve(cwd, 'data/gavel.db');
}

function fromConfig(cwd: string, file: string): { db: string; policies: string } {
  try {
    return configuredPaths(cwd, file);
  } catch (err: unknown) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
}

/**
 * The policies folder of a command that answers as the server would (`search`, `explain`):
 * `--policies`, else `GAVEL_POLICIES`, else the config file's `policies` (found as the
 * database is), else `./policies`.
 */
export function serverPoliciesDir(cwd: string, flag: string | undefined, configFlag: string | undefined): string {
  if (flag !== undefined) return resolve(cwd, flag);
  const fromEnv = variable('GAVEL_POLICIES');
  if (fromEnv !== undefined) return resolve(cwd, fromEnv);
  const file = configFlag ?? variable('GAVEL_CONFIG');
  return (file === undefined ? undefined : fromConfig(cwd, file).policies) ?? resolve(cwd, 'policies');
}

/** A variable `gavel serve` reads, as it reads it: set but empty is a mistake (a secret store that handed over nothing), never unset. */
function variable(name: 'GAVEL_CONFIG' | 'GAVEL_POLICIES' | 'GAVEL_DB'): string | undefined {
  const value = process.env[name];
  if (value !== undefined && value.trim() === '') throw new UsageError(`${name} is set but empty: unset it, or give it a value`);
  return value;
}

/** The `--config` option of a command that works on the server's database. */
export const CONFIG = { config: { type: 'string', short: 'c' } } as const;

/** As `databasePath`, for a command that works without a database: `undefined` when neither `--db` nor `GAVEL_DB` names one. */
export function optionalDatabasePath(cwd: string, flag: string | undefined): string | undefined {
  const path = flag ?? variable('GAVEL_DB');
  return path === undefined ? undefined : resolve(cwd, path);
}

export function policiesDir(cwd: string, flag: string | undefined): string {
  return resolve(cwd, flag ?? 'policies');
}

/** A time flag (`--since`, `--until`) as ISO 8601, from a time or an age (formats/time-input.ts). */
export function timeFlag(flag: string, value: string | undefined, now: number = Date.now()): string | undefined {
  if (value === undefined) return undefined;
  const at = timeInput(value, now);
  if ('problem' in at) throw new UsageError(`--${flag}: ${at.problem}`);
  return at.iso;
}

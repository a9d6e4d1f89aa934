import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { KeyRing } from '../../issuer/keys.js';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { flags, optionalDatabasePath } from '../args.js';
import { Exit, UsageError, writeLine, type CliIo } from '../io.js';
import { missingSecret } from '../issuer-secret.js';
import { ConfigError, loadConfig, type Config } from '../../config.js';

export const keysHelp = `Usage: gavel keys rotate [--db FILE] [--config FILE]

Adds a new signing key to the token issuer for each algorithm it signs with — the access
tokens' (issuer.signing_alg, default ES256) and the ID tokens' (issuer.id_token_signing_alg,
default RS256), read from the config file as gavel serve reads it. The new keys sign every
token from now on, and a running gavel serve takes them up within about a second. Earlier keys stay
in the JWKS for a day, so tokens they signed keep verifying until they expire. Keys are
sealed with the issuer secret: issuer.secret in the config, GAVEL_ISSUER_SECRET, or the
issuer.secret file beside the database (docs/issuer.md).

Options:
      --db FILE       SQLite database (default ./data/gavel.db; also GAVEL_DB)
  -c, --config FILE   config file, as for gavel serve (also GAVEL_CONFIG)
  -h, --help          show this help

Exit codes: 0 rotated, 2 usage error (no database, or a secret that does not open its keys).`;

export async function keys(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = flags({ args: argv, strict: true, allowPositionals: true, options: { db: { type: 'string' }, config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) return writeLine(io.stdout, keysHelp), Exit.ok;
  if (positionals.length !== 1 || positionals[0] !== 'rotate') throw new UsageError('say what to do: gavel keys rotate');
  // An empty GAVEL_DB is named as every command with a database names it.
  optionalDatabasePath(io.cwd, values.db);
  // The database, algorithms and secret as the server has them (--db, GAVEL_DB, the config file).
  let config: Config;
  try {
    config = loadConfig({ cwd: io.cwd, env: process.env, flags: { db: values.db, config: values.config } });
  } catch (err: unknown) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
  const { db, issuer } = config;
  // Rotating in a database no server has made would only make a key ring no one serves.
  if (!existsSync(db)) throw new UsageError(`no database at \`${db}\`; \`gavel serve\` creates it (or pass --db)`);
  const store = new SqliteStore(db);
  try {
    let secret = issuer.secret ?? undefined;
    if (secret === undefined) {
      const file = join(dirname(db), 'issuer.secret');
      try {
        secret = readFileSync(file, 'utf8').trim();
      } catch {
        throw new UsageError(store.signingKeys().length > 0 ? missingSecret(file, db) : `no issuer secret: set GAVEL_ISSUER_SECRET, or start gavel serve on ${db} once to make one`);
      }
    }
    const ring = await KeyRing.open(store, secret, { alg: issuer.signingAlg, idTokenAlg: issuer.idTokenSigningAlg }).catch((err: unknown) => {
      throw new UsageError(err instanceof Error ? err.message : String(err));
    });
    const kids = await ring.rotate(store, secret);
    writeLine(io.stdout, `rotated: ${ring.inUse.map((alg, i) => `key ${kids[i]} (${alg})`).join(', ')} sign${kids.length === 1 ? 's' : ''} from now on`);
  } finally {
    store.close();
  }
  return Exit.ok;
}

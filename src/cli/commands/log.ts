import { entityLabel } from '../../formats/entity-label.js';
import { visible } from '../../formats/visible.js';
import { existsSync } from 'node:fs';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import type { DecisionFilter, DecisionRecord } from '../../store/store.js';
import { flags, timeFlag, databasePath, CONFIG } from '../args.js';
import { Exit, UsageError, writeLine, type CliIo } from '../io.js';
import { INTERFACE_WIDTH, INTERFACES } from '../../server/interfaces.js';

export const logHelp = `Usage: gavel log [--db FILE] [--config FILE] [--since TIME] [--until TIME] [--decision allow|deny]
                 [--subject ID] [--policy ID] [--via INTERFACE] [--request-id ID] [--limit N] [--json]
       gavel log --follow [the same filters but --until and --limit] [--json]

Shows the decision log that \`gavel serve\` writes, newest first: time, interface, verdict,
subject, action, resource, determining policies and reasons, then [DECISION-ID] and the
caller's request id. With --follow, shows decisions as they are logged, oldest first, until
interrupted (SIGINT, SIGTERM): from now, or from --since.

Options:
      --db FILE          SQLite database (default ./data/gavel.db; also GAVEL_DB)
  -c, --config FILE      the config file gavel serve reads: its \`db\` is the database
                         when neither --db nor GAVEL_DB names one (also GAVEL_CONFIG)
      --since TIME       only decisions at or after TIME: ISO 8601 (2026-11-22T10:00:00Z) or
                         an age back from now (30s, 15m, 2h, 7d)
      --until TIME       only decisions at or before TIME (the same forms)
      --decision D       only allow or only deny
      --subject ID       only decisions about this subject id
      --policy ID        only decisions this policy determined
      --via INTERFACE    only decisions asked through it: authzen, native, forward_auth, envoy,
                         grpc, mint, … (the batch interfaces end in _batch)
      --request-id ID    only decisions logged under this request id (the caller's X-Request-ID;
                         callers choose it, so several may share one)
      --limit N          at most N decisions (default 50; stderr says when more match)
      --json             an array of records; with --follow, one record a line (JSON Lines)
  -f, --follow           keep reading: each decision once, within a second of being logged
  -h, --help             show this help

Exit codes: 0 shown, 2 usage error (bad flag, no database).`;

export async function log(argv: string[], io: CliIo): Promise<number> {
  const { values } = flags({
    args: argv,
    strict: true,
    options: {
      db: { type: 'string' }, ...CONFIG,
      since: { type: 'string' },
      until: { type: 'string' },
      via: { type: 'string' },
      'request-id': { type: 'string' },
      decision: { type: 'string' },
      subject: { type: 'string' },
      policy: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
      follow: { type: 'boolean', short: 'f' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return writeLine(io.stdout, logHelp), Exit.ok;
  const path = databasePath(io.cwd, values.db, values.config);
  if (!existsSync(path)) throw new UsageError(`no database at \`${path}\`; \`gavel serve\` creates it (or pass --db)`);
  if (values.decision !== undefined && values.decision !== 'allow' && values.decision !== 'deny') throw new UsageError('--decision is `allow` or `deny`');
  if (values.via !== undefined && !(INTERFACES as readonly string[]).includes(values.via)) throw new UsageError(`--via is one of ${INTERFACES.join(', ')}`);
  const limit = values.limit === undefined ? 50 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new UsageError('--limit is a whole number from 1 to 100000');
  const since = timeFlag('since', values.since);
  const until = timeFlag('until', values.until);
  const filter: DecisionFilter = {
    ...(values.via === undefined ? {} : { via: values.via }),
    ...(values['request-id'] === undefined ? {} : { requestId: values['request-id'] }),
    ...(values.decision === undefined ? {} : { decision: values.decision === 'allow' }),
    ...(values.subject === undefined ? {} : { subjectId: values.subject }),
    ...(values.policy === undefined ? {} : { policy: values.policy }),
  };
  if (values.follow) {
    if (values.until !== undefined || values.limit !== undefined) throw new UsageError('--follow shows decisions as they are logged, with no end: it takes no --until or --limit');
    return follow(path, { ...filter, since: since ?? new Date().toISOString() }, values.json === true, io);
  }
  const store = new SqliteStore(path, { readOnly: true });
  try {
    // One more than shown: whether the log holds more is said, so that `| wc -l` is not taken for a count.
    const records = store.queryDecisions({ limit: limit + 1, ...filter, ...(since === undefined ? {} : { since }), ...(until === undefined ? {} : { until }) });
    const more = records.length > limit;
    const shown = more ? records.slice(0, limit) : records;
    if (values.json) writeLine(io.stdout, JSON.stringify(shown, null, 2));
    else for (const r of shown) writeLine(io.stdout, line(r));
    if (more) writeLine(io.stderr, `gavel log: the newest ${limit} shown; more match (raise --limit, up to 100000, or narrow --since/--until)`);
    // Said, so that an empty answer is not taken for a command that did nothing.
    if (records.length === 0) writeLine(io.stderr, `gavel log: no decisions match${subjectHint(values.subject)}`);
  } finally {
    store.close();
  }
  return Exit.ok;
}

/** How often --follow looks for new batches: the server writes one at least every 100 ms while deciding. */
const FOLLOW_POLL_MS = 500;

/**
 * `gavel log --follow`: the batches stored after the last one read, oldest first, every half
 * second, until SIGINT or SIGTERM (exit 0) — or until the reader of stdout goes away. Each
 * decision is shown once: batches are read by their number, which only grows.
 */
async function follow(path: string, filter: DecisionFilter, json: boolean, io: CliIo): Promise<number> {
  const store = new SqliteStore(path, { readOnly: true });
  let stopped = false;
  let wake: () => void = () => {};
  const stop = () => {
    stopped = true;
    wake();
  };
  process.once('SIGINT', stop).once('SIGTERM', stop);
  try {
    for (let after = { seq: 0, firstAt: '' }; !stopped; ) {
      const read = store.decisionsAfter(after, filter);
      for (const r of read.decisions) writeLine(io.stdout, json ? JSON.stringify(r) : line(r));
      after = read.after;
      if (read.more) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, FOLLOW_POLL_MS);
        wake = () => (clearTimeout(timer), resolve());
      });
    }
  } finally {
    process.off('SIGINT', stop).off('SIGTERM', stop);
    store.close();
  }
  return Exit.ok;
}

/** The log shows subjects as `type:id`; --subject takes the id, which a copied label is not. */
function subjectHint(subject: string | undefined): string {
  const at = subject?.indexOf(':') ?? -1;
  if (subject === undefined || at <= 0 || at === subject.length - 1) return '';
  return ` (--subject takes the subject's id: for \`${subject}\` as the log shows it, that is \`${subject.slice(at + 1)}\`)`;
}

/** A record as one line: caller-chosen ids cannot print a line of their own, or read as another id (formats/visible.ts). */
function line(r: DecisionRecord): string {
  return visible(rawLine(r));
}

function rawLine(r: DecisionRecord): string {
  const why = r.determining.length > 0 ? ` by ${r.determining.join(', ')}` : '';
  const reasons = r.reasons.length > 0 ? ` (${r.reasons.join('; ')})` : '';
  return `${r.at}  ${r.via.padEnd(INTERFACE_WIDTH)} ${r.decision ? 'ALLOW' : 'DENY '}  ${entityLabel(r.subject)} ${r.action} ${entityLabel(r.resource)}${why}${reasons}  [${r.id}]${r.request_id === undefined ? '' : ` request ${r.request_id}`}`;
}

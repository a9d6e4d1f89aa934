import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { decide } from '../../engine/decide.js';
import type { PolicySet } from '../../engine/policy-set.js';
import { offlineRequest } from '../../signals/offline.js';
import { validateRequest } from '../../engine/validate-request.js';
import type { Request } from '../../language/eval/activation.js';
import { Exit, readAll, UsageError, writeLine, type CliIo } from '../io.js';
import { COMMON, flags, policiesDir } from '../args.js';
import { loadSet, printDiagnostics } from '../load.js';
import { readJson } from '../../formats/json-error.js';
import { renderDecision, renderWhyNot, whyJson } from '../render.js';
import { whyNot } from '../../engine/why-not.js';

export const evalHelp = `Usage: gavel eval [--policies DIR] [--request FILE|-] [--explain | --why] [--json]
       gavel eval [--policies DIR] --ndjson [--explain] < requests.ndjson

Evaluates one AuthZEN-shaped request against the policies in DIR (default ./policies):
  {"subject": {"type": "user", "id": "alice", "properties": {...}},
   "action": {"name": "GET"},
   "resource": {"type": "invoice", "id": "42", "properties": {...}},
   "context": {...}}
For offline evaluation the request may also carry "token" (JWT claims) and "risk"
(signal values); a server never takes those from a caller.

With --ndjson, reads one request a line from stdin and writes one decision a line
(a line that is not a valid request gets {"error": ..., "line": N}).

Exit codes: 0 evaluated (allow or deny), 1 the policies are invalid, 2 bad input or usage.

Options:
  -p, --policies DIR   policies folder (default ./policies)
  -r, --request FILE   the request as JSON; - or omitted reads stdin
      --explain        show every candidate policy and the condition that failed
      --why            on a deny: the forbids that fired, and the permits whose target
                       matched with what they would need to allow
      --json           print the decision as JSON
      --ndjson         many requests, one JSON object a line, decisions as JSON lines
  -h, --help           show this help`;

export async function evaluate(argv: string[], io: CliIo): Promise<number> {
  const { values } = flags({ args: argv, strict: true, options: { ...COMMON,
    request: { type: 'string', short: 'r' },
    explain: { type: 'boolean' },
    why: { type: 'boolean' },
    json: { type: 'boolean' },
    ndjson: { type: 'boolean' },
  } });
  if (values.help) return writeLine(io.stdout, evalHelp), Exit.ok;
  if (values.why && (values.explain || values.ndjson)) throw new UsageError('--why cannot be combined with --explain or --ndjson');
  if (values.ndjson && values.request !== undefined && values.request !== '-') throw new UsageError('--ndjson reads requests from stdin; drop --request');
  const result = await loadSet(policiesDir(io.cwd, values.policies));
  if (result.set === null) {
    printDiagnostics(io, result, values.policies ?? 'policies');
    return Exit.failed;
  }
  if (values.ndjson) return evalLines(result.set, io, values.explain ?? false);
  const source = values.request ?? '-';
  const text = source === '-' ? await readAll(io.stdin) : await readRequestFile(resolve(io.cwd, source), source);
  const request = parseRequest(text, source === '-' ? 'stdin' : source);
  if (values.why) {
    const why = whyNot(result.set, request);
    if (values.json) writeLine(io.stdout, JSON.stringify(whyJson(why), null, 2));
    else for (const line of renderWhyNot(why)) writeLine(io.stdout, line);
    return Exit.ok;
  }
  const decision = decide(result.set, request, { explain: values.explain ?? false });
  if (values.json) writeLine(io.stdout, JSON.stringify(decision, null, 2));
  else for (const line of renderDecision(decision)) writeLine(io.stdout, line);
  return Exit.ok;
}

async function readRequestFile(path: string, shown: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' ? `request file \`${shown}\` does not exist` : `cannot read \`${shown}\`: ${String(err)}`);
  }
}

/** JSON text → a valid request, or a usage error naming where the input is wrong. */
export function parseRequest(text: string, where: string, oneLine = false): Request {
  const parsed = parseJson(text, where, oneLine);
  const checked = validateRequest(parsed, { trusted: true });
  if ('problems' in checked) throw new UsageError(`${where}: invalid request:\n  ${checked.problems.join('\n  ')}`);
  return offlineRequest(checked.request);
}

function parseJson(text: string, where: string, oneLine: boolean): unknown {
  if (text.trim() === '') throw new UsageError(`${where}: empty input; expected a JSON request`);
  const read = readJson(text);
  if ('value' in read) return read.value;
  const { line, col, message } = read.problem;
  throw new UsageError(`${where}${oneLine ? `, column ${col}` : `:${line}:${col}`}: invalid JSON: ${message}`);
}

async function evalLines(set: PolicySet, io: CliIo, explain: boolean): Promise<number> {
  let bad = false;
  let n = 0;
  for await (const line of createInterface({ input: io.stdin, crlfDelay: Infinity })) {
    n++;
    if (line.trim() === '') continue;
    try {
      writeLine(io.stdout, JSON.stringify(decide(set, parseRequest(line, `line ${n}`, true), { explain })));
    } catch (err: unknown) {
      if (!(err instanceof UsageError)) throw err;
      bad = true;
      writeLine(io.stdout, JSON.stringify({ error: err.message, line: n }));
    }
  }
  return bad ? Exit.usage : Exit.ok;
}

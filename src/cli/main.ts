import { affects, affectsHelp } from './commands/affects.js';
import { suggest } from '../language/check/suggest.js';
import { check, checkHelp } from './commands/check.js';
import { evaluate, evalHelp } from './commands/eval.js';
import { fmt, fmtHelp } from './commands/fmt.js';
import { apply, applyHelp } from './commands/apply.js';
import { log, logHelp } from './commands/log.js';
import { serve, serveHelp } from './commands/serve.js';
import { signals, signalsHelp } from './commands/signals.js';
import { keys, keysHelp } from './commands/keys.js';
import { test, testHelp } from './commands/test.js';
import { policies, policiesHelp } from './commands/policies.js';
import { diff, diffHelp } from './commands/diff.js';
import { searchCommand, searchHelp } from './commands/search.js';
import { whatif, whatifHelp } from './commands/whatif.js';
import { explain, explainHelp } from './commands/explain.js';
import { importSpec, importHelp } from './commands/import.js';
import { scopes, scopesHelp } from './commands/scopes.js';
import { Exit, writeLine, type CliIo } from './io.js';
import { failure } from './failure.js';

const COMMANDS: Record<string, { run: (argv: string[], io: CliIo) => Promise<number>; help: string; summary: string }> = {
  check: { run: check, help: checkHelp, summary: 'parse and type-check the policies' },
  fmt: { run: fmt, help: fmtHelp, summary: 'format policy files canonically' },
  eval: { run: evaluate, help: evalHelp, summary: 'decide one request (or many, --ndjson) offline' },
  test: { run: test, help: testHelp, summary: 'run the policy tests beside the policies' },
  affects: { run: affects, help: affectsHelp, summary: 'which policies affect the requests some facts describe' },
  search: { run: searchCommand, help: searchHelp, summary: 'AuthZEN search offline: which subjects, resources or actions are allowed' },
  policies: { run: policies, help: policiesHelp, summary: 'list the policies with their annotations, targets and locations' },
  diff: { run: diff, help: diffHelp, summary: 'compare two policies folders: policies added, removed and changed' },
  scopes: { run: scopes, help: scopesHelp, summary: "do the policies and the issuer's registry agree on scopes: minted, checked" },
  import: { run: importSpec, help: importHelp, summary: 'generate route policies from an OpenAPI document (import openapi)' },
  serve: { run: serve, help: serveHelp, summary: 'serve decisions over HTTP and gRPC, and issue OAuth tokens' },
  log: { run: log, help: logHelp, summary: 'show the decision log' },
  whatif: { run: whatif, help: whatifHelp, summary: 'replay logged decisions against candidate policies: what would change' },
  explain: { run: explain, help: explainHelp, summary: 'explain a logged decision with the policy revision that made it' },
  signals: { run: signals, help: signalsHelp, summary: 'show the risk signals a policy would see (IP lists)' },
  keys: { run: keys, help: keysHelp, summary: "rotate the token issuer's signing key" },
  apply: { run: apply, help: applyHelp, summary: "make the directory and the issuer's registry what a document says" },
};

export const mainHelp = `Usage: gavel <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`)
  .join('\n')}

Run \`gavel <command> --help\` for a command's options.
Exit codes: 0 success, 1 check/test failure, 2 usage or input error.`;

/** The `gavel` entry point; returns the exit code. Errors never reach the user as stack traces. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === 'help' && rest[0] !== undefined && COMMANDS[rest[0]] !== undefined) {
    writeLine(io.stdout, COMMANDS[rest[0]].help);
    return Exit.ok;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    writeLine(name === undefined ? io.stderr : io.stdout, mainHelp);
    return name === undefined ? Exit.usage : Exit.ok;
  }
  if (name === '--version') {
    writeLine(io.stdout, '0.1.0');
    return Exit.ok;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    const meant = suggest(name, Object.keys(COMMANDS));
    writeLine(io.stderr, `gavel: unknown command \`${name}\`${meant === null ? '' : ` (did you mean \`${meant}\`?)`}\n\n${mainHelp}`);
    return Exit.usage;
  }
  try {
    return await command.run(rest, io);
  } catch (err: unknown) {
    const { message, exit } = failure(err);
    writeLine(io.stderr, `gavel ${name}: ${message}`);
    return exit;
  }
}

import { parseArgs } from 'node:util';
import { LivePolicySet } from '../../engine/live-set.js';
import { buildApp } from '../../http/app.js';
import { COMMON, flags, policiesDir } from '../args.js';
import { Exit, UsageError, writeLine, type CliIo } from '../io.js';
import { loadSet, printDiagnostics } from '../load.js';

export const serveHelp = `Usage: gavel serve [--policies DIR] [--http HOST:PORT]

Serves decisions over HTTP for the policies in DIR (default ./policies):
  POST /access/v1/evaluation, /access/v1/evaluations   OpenID AuthZEN 1.0
  GET  /.well-known/authzen-configuration
  POST /v1/decide[?explain=true], /v1/decide/batch    Gavel's native API
  GET  /healthz, /readyz
Prints the address it listens on (port 0 picks a free one). SIGTERM or SIGINT stops
accepting, finishes requests in flight and exits 0. See docs/api.md.

Exit codes: 0 stopped by a signal, 1 the policies are invalid, 2 usage error.

Options:
  -p, --policies DIR     policies folder (default ./policies)
      --http HOST:PORT   where to listen (default 127.0.0.1:8181)
  -h, --help             show this help`;

export function parseAddress(text: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (m === null || port > 65535) throw new UsageError(`--http: \`${text}\` is not HOST:PORT (for example 127.0.0.1:8181)`);
  return { host: m[1].replace(/^\[|\]$/g, ''), port };
}

export async function serve(argv: string[], io: CliIo): Promise<number> {
  const { values } = flags(() => parseArgs({ args: argv, strict: true, options: { ...COMMON, http: { type: 'string' } } }));
  if (values.help) return writeLine(io.stdout, serveHelp), Exit.ok;
  const address = parseAddress(values.http ?? '127.0.0.1:8181');
  const result = await loadSet(policiesDir(io.cwd, values.policies));
  if (result.set === null) {
    printDiagnostics(io, result, values.policies ?? 'policies');
    return Exit.failed;
  }
  const app = buildApp({ policies: new LivePolicySet(result.set) });
  try {
    await app.listen({ host: address.host, port: address.port });
  } catch (err: unknown) {
    throw new UsageError(`cannot listen on ${values.http ?? '127.0.0.1:8181'}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const bound = app.server.address();
  const where = typeof bound === 'object' && bound !== null ? `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}` : String(bound);
  writeLine(io.stdout, `gavel: serving ${result.set.policies.length} policies (revision ${result.set.revision}) on http://${where}`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  // close() stops accepting and waits for requests in flight.
  await app.close();
  writeLine(io.stdout, 'gavel: stopped');
  return Exit.ok;
}

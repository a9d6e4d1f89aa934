import { ConfigError, loadConfig } from '../../config.js';
import { canonical } from '../../signals/client-address.js';
import { LiveIpLists } from '../../signals/ip/live-ip-lists.js';
import { flags } from '../args.js';
import { Exit, UsageError, writeLine, type CliIo } from '../io.js';

export const signalsHelp = `Usage: gavel signals lookup IP [--ip-list NAME=FILE]... [--config FILE] [--json]

Shows what a policy would see as risk.ip for a request from IP: its reputation (0-100,
100 clean; the lowest score of the scored lists holding it, 100 when none does), the
names of the lists holding it, and the labels of the matching scored entries. The lists
are those of the config file's ip_lists plus every --ip-list. See docs/signals.md.

Exit codes: 0 shown, 1 an IP list is invalid, 2 usage error (IP is not an address).

Options:
  -c, --config FILE        JSON config file (also GAVEL_CONFIG), as for gavel serve
      --ip-list NAME=FILE  an IP list (repeatable; .csv: scored "cidr,score,label",
                           else one IP or CIDR a line)
      --json               print {"address", "risk": {"ip": {...}}}
  -h, --help               show this help`;

export async function signals(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = flags({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: { help: { type: 'boolean', short: 'h' }, config: { type: 'string', short: 'c' }, 'ip-list': { type: 'string', multiple: true }, json: { type: 'boolean' } },
  });
  if (values.help) return writeLine(io.stdout, signalsHelp), Exit.ok;
  const [verb, address, ...extra] = positionals;
  if (verb !== 'lookup') throw new UsageError(verb === undefined ? 'say what to do: gavel signals lookup IP' : `unknown subcommand \`${verb}\`; try \`gavel signals lookup IP\``);
  if (address === undefined || extra.length > 0) throw new UsageError('give exactly one IP address: gavel signals lookup IP');
  const shown = canonical(address);
  if (shown === null) throw new UsageError(`\`${address}\` is not an IPv4 or IPv6 address`);
  let lists;
  try {
    // Of the environment only GAVEL_CONFIG, as `log` and `apply` read only what they need: a
    // server's GAVEL_HTTP or GAVEL_ISSUER_SECRET, wrong here, is not this command's to refuse.
    const env = process.env.GAVEL_CONFIG === undefined ? {} : { GAVEL_CONFIG: process.env.GAVEL_CONFIG };
    lists = loadConfig({ cwd: io.cwd, env, flags: { config: values.config, ipLists: values['ip-list'] } }).ipLists;
  } catch (err: unknown) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
  const opened = await LiveIpLists.open(lists);
  if (!opened.ok) {
    for (const e of opened.errors) writeLine(io.stderr, `gavel: ${e}`);
    return Exit.failed;
  }
  const ip = opened.lists.lookup(shown)!;
  opened.lists.close();
  if (values.json) {
    writeLine(io.stdout, JSON.stringify({ address: shown, risk: { ip } }));
    return Exit.ok;
  }
  writeLine(io.stdout, `${shown}${lists.length === 0 ? ' (no IP lists configured)' : ''}`);
  writeLine(io.stdout, `  risk.ip.reputation  ${ip.reputation}`);
  writeLine(io.stdout, `  risk.ip.lists       ${JSON.stringify(ip.lists)}`);
  writeLine(io.stdout, `  risk.ip.labels      ${JSON.stringify(ip.labels)}`);
  return Exit.ok;
}

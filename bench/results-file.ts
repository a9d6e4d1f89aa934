/**
 * bench/RESULTS.md holds every benchmark's last full run, one section each between HTML
 * comment markers, so that `npm run bench:engine`, `bench:http`, `bench:grpc`, `bench:signals` and `bench:issuer` each
 * rewrite their own section and leave the others as they were.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export const RESULTS_MD = new URL('./RESULTS.md', import.meta.url);

export const SECTIONS = ['engine', 'http', 'grpc', 'signals', 'signals-decision', 'issuer', 'reload', 'affects', 'whatif', 'console', 'apply', 'like'] as const;
export type Section = (typeof SECTIONS)[number];

const HEADER = `# Benchmark results

Each benchmark rewrites its own section below on a full run; partial runs leave the file alone.

| benchmark | command | what it measures |
| --- | --- | --- |
| [Engine](#engine) | \`npm run bench:engine\` | decisions in process: Gavel vs Cedar (wasm) and casbin, N = 10 … 10,000 policies |
| [HTTP](#http) | \`npm run bench:http\` | \`gavel serve\` under autocannon: AuthZEN evaluation vs a fastify hello-world and the Cerbos server |
| [gRPC](#grpc) | \`npm run bench:grpc\` | \`gavel serve\` over gRPC: \`gavel.v1\` Decide and Envoy \`Check\` vs Cerbos \`CheckResources\` |
| [Signals](#signals) | \`npm run bench:signals\` | IP reputation lists: load and longest-prefix lookups with 10k … 1M prefixes vs ipaddr.js and netmask linear scans |
| [Signals in a decision](#signals-in-a-decision) | \`node --import tsx bench/signals-decision.ts\` | what risk signals cost a decision through the server's Decider: none configured, configured but unread, one policy reading \`risk.ip\` |
| [Issuer](#issuer) | \`npm run bench:issuer\` | the token endpoint: client_credentials grants (ES256 JWTs, scopes minted by policy) vs node-oidc-provider |
| [Reload](#reload) | \`npm run bench:reload\` | policy reloads of 10,000 policies under load: latency while the set is rebuilt, and how soon a change serves, vs Cerbos' watcher |
| [Whatif](#whatif) | \`npm run bench:whatif\` | what-if replay of 200,000 logged decisions; lookups by id and filtered pages over 1,000,000; the log writer's cost per decision |
| [Affects](#affects) | \`npm run bench:affects\` | \`affects()\` (partial evaluation of every policy) over 10,000 policies, with facts the index keys decide and with facts they do not |
| [Console](#console) | \`npm run bench:console\` | server-side render time of each console page with 10,000 policies and 1,000,000 logged decisions |
| [Apply](#apply) | \`npm run bench:apply\` | \`gavel apply\` of 100,000 entities beside another writer: how long that writer waits for the lock |
| [Like](#like) | \`npm run bench:like\` | one \`like\` on a string of up to a megabyte: Gavel's bit-parallel matcher vs the automaton it ran before and a JavaScript RegExp |

The machine is a small shared VM (2 logical CPUs); each section says when it ran, on which
commit, and the load average around it.
`;

const start = (s: Section): string => `<!-- bench:${s}:start -->`;
const end = (s: Section): string => `<!-- bench:${s}:end -->`;

/** The section's markdown, from its own heading (\`## …\`) on; without the markers. */
export function writeSection(section: Section, markdown: string): void {
  const text = existsSync(RESULTS_MD) ? readFileSync(RESULTS_MD, 'utf8') : '';
  const blocks = new Map<Section, string>();
  for (const s of SECTIONS) {
    const a = text.indexOf(start(s));
    const b = text.indexOf(end(s));
    if (a >= 0 && b > a) blocks.set(s, text.slice(a + start(s).length, b).trim());
  }
  blocks.set(section, markdown.trim());
  const body = SECTIONS.filter((s) => blocks.has(s)).map((s) => `${start(s)}\n${blocks.get(s) ?? ''}\n${end(s)}`);
  writeFileSync(RESULTS_MD, `${HEADER}\n${body.join('\n\n')}\n`);
}

/**
 * The issuer benchmark: `npm run bench:issuer`.
 *
 * Gavel's token endpoint answers OAuth 2.0 client_credentials grants — Basic client
 * authentication, two scopes each decided by the policies as a `mint` decision, an ES256
 * RFC 9068 JWT signed per grant — under autocannon, beside node-oidc-provider configured
 * the same way (one client_secret_basic client, a resource indicator whose access tokens are
 * ES256 JWTs). Gavel runs as shipped (examples/registry.json applied, the repository's
 * policies, decision log on) and with its decision log off, so the mint decisions' logging
 * shows apart; a CPU profile of one more run says where the rest of its time goes. Before
 * anything is measured, and again after, every server must issue a token that verifies
 * against its own JWKS and carries exactly the requested scopes.
 *
 * Each server runs in its own process pinned to CPU 0; each load run is a fresh autocannon
 * process pinned to CPU 1. Rounds interleave the targets, so a burst of other work on this
 * shared machine hits all of them alike; each target's median run is reported.
 *
 * Options (for development; a run with any of them leaves bench/RESULTS.md alone):
 *   --duration=10  --rounds=3  --warmup=5  --connections=50
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair } from 'jose';
import { writeSection } from './results-file.js';
import { summarizeProfile, type Frame, type ProfileSummary } from './server-bench/cpu-profile.js';
import { basicAuthorization, checkGrant, discover, FORM, grantBody, type Discovered, type GrantChecked, type GrantRequest } from './server-bench/grant-check.js';
import { runLoad, type HttpJob, type LoadResult } from './server-bench/load.js';
import { canPin, LOAD_CPU, SERVER_CPU, stopAll, stopOnSignals, threadCpuSeconds, type ThreadCpu } from './server-bench/processes.js';
import { int, loadAverage, mark, ms, packageVersion, pct, table, times, loadLine, sectionHead, benchOptions, startRun } from './server-bench/report.js';
import { startGavel, startOidcProvider, type Server } from './server-bench/servers.js';

const COMMAND = 'npm run bench:issuer';
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DEFAULTS = { duration: 10, rounds: 3, warmup: 5, connections: 50 } as const;
const TARGET_RATIO = 2;

/** examples/registry.json's client_secret_basic client, asking for two of its three scopes. */
const GRANT: GrantRequest = {
  clientId: 'reporting-app',
  clientSecret: 'reporting-app-example-secret-0123456789',
  scope: 'invoice:read customers:read',
  resource: 'https://api.example.com',
};
const CLIENT_SCOPES = ['invoice:read', 'payments:read', 'customers:read'];

/** Functions whose inclusive main-thread time the profile reports. */
const FRAMES: Frame[] = [
  { label: 'Issuer.token: the grant, from the parsed form to the signed token', file: 'dist/issuer/issuer.js', fn: 'token' },
  { label: 'authenticateClient: Basic credentials, SHA-256 and constant-time comparison', file: 'dist/issuer/client-auth.js', fn: 'authenticateClient' },
  { label: 'Issuer.mint: the mint decisions (both scopes)', file: 'dist/issuer/issuer.js', fn: 'mint' },
  { label: '… of which Velocity.read: the `risk.velocity` counters a decision reads', file: 'dist/signals/velocity.js', fn: 'read' },
  { label: '… of which decide: policy evaluation', file: 'dist/engine/decide.js', fn: 'decide' },
  { label: '… of which Decider.decided: metrics and the decision log append', file: 'dist/server/decider.js', fn: 'decided' },
  { label: 'Velocity.record: counting token requests (and denials) per client and address', file: 'dist/signals/velocity.js', fn: 'record' },
  { label: 'KeyRing.sign: the compact JWS, ECDSA P-256 included (node:crypto `sign`, synchronous)', file: 'dist/issuer/keys.js', fn: 'sign' },
  { label: '… of which signOneShot: the ECDSA signature itself (OpenSSL)', file: 'node:internal/crypto/sig', fn: 'signOneShot' },
];

/** How to read the signing frames: Gavel signs on the request thread, oidc-provider on libuv's pool. */
const DISPATCH_NOTE =
  "Gavel signs synchronously with node:crypto (`signOneShot`, ECDSA P-256, IEEE P1363 r‖s): the signature is on the main thread and in its samples. oidc-provider signs through WebCrypto, whose ECDSA job runs on a libuv pool thread: its signatures are among its \"other threads\" CPU time.";

interface LoadTarget {
  name: string;
  what: string;
  server: Server;
  at: Discovered;
  runs: LoadResult[];
  /** Per run, the server's main thread and its other threads, in % of one core. */
  threads: ThreadCpu[];
}

const grants = (r: LoadResult): number => (r.requests - r.non2xx) / r.elapsedS;
const failures = (r: LoadResult): number => r.non2xx + r.errors;

/** The run with the median grants/s, and its index (latencies and CPU come from the same run). */
function median(t: LoadTarget): { run: LoadResult; threads: ThreadCpu | undefined } {
  const order = t.runs.map((r, i) => ({ g: grants(r), i })).sort((a, b) => a.g - b.g);
  const i = order[Math.floor(order.length / 2)]?.i ?? 0;
  const run = t.runs[i];
  if (run === undefined) throw new Error(`${t.name}: no runs`);
  return { run, threads: t.threads[i] };
}

/** Grants per second of server CPU time, median over runs (see report.ts `perCpu`). */
function grantsPerCpu(t: LoadTarget): number {
  const xs = t.runs.filter((r) => r.serverCpu > 0).map((r) => grants(r) / (r.serverCpu / 100)).sort((a, b) => a - b);
  return xs[Math.floor(xs.length / 2)] ?? NaN;
}

/** The repository's policies/ folder, as `gavel serve` finds it by default. */
function shippedPolicies(): Map<string, string> {
  const dir = join(ROOT, 'policies');
  return new Map(readdirSync(dir).filter((f) => statSync(join(dir, f)).isFile()).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

/** A Gavel folder with examples/registry.json applied to its database, as `gavel apply` does. */
function applyRegistry(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/gavel.js'), 'apply', join(ROOT, 'examples/registry.json'), '--db', join(dir, 'gavel.db')], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gavel apply failed (${r.status}):\n${r.stdout}${r.stderr}`);
}

async function startGavelIssuer(name: string, dir: string, policies: ReadonlyMap<string, string>, options: { decisionLog: boolean; nodeArgs?: string[] }): Promise<Server> {
  applyRegistry(dir);
  return startGavel(name, { dir, policies, decisionLog: options.decisionLog, ...(options.nodeArgs !== undefined ? { nodeArgs: options.nodeArgs } : {}) });
}

const job = (at: Discovered, connections: number, durationS: number): HttpJob => ({
  kind: 'http',
  url: at.tokenEndpoint,
  bodies: [grantBody(GRANT)],
  headers: { 'content-type': FORM, authorization: basicAuthorization(GRANT.clientId, GRANT.clientSecret) },
  connections,
  durationS,
});

/** One load run, with the server's CPU split by thread over it. */
async function measured(t: LoadTarget, connections: number, durationS: number): Promise<{ run: LoadResult; threads: ThreadCpu }> {
  const pid = t.server.child.proc.pid;
  const before = threadCpuSeconds(pid);
  const run = await runLoad(job(t.at, connections, durationS), pid);
  const after = threadCpuSeconds(pid);
  const share = (k: keyof ThreadCpu): number => (before !== null && after !== null ? (100 * (after[k] - before[k])) / run.elapsedS : NaN);
  return { run, threads: { main: share('main'), others: share('others') } };
}

const runLine = (r: LoadResult): string =>
  `${int(grants(r)).padStart(6)} grants/s  p50 ${ms(r.p50Ms)} ms  p99 ${ms(r.p99Ms)} ms  non-2xx ${r.non2xx}  errors ${r.errors}  server CPU ${r.serverCpu.toFixed(0)}%  autocannon CPU ${r.generatorCpu.toFixed(0)}%${failures(r) > 0 ? `  FAILURES: ${r.failures.join('; ')}` : ''}`;

interface Profiled {
  run: LoadResult;
  summary: ProfileSummary;
}

/**
 * One more Gavel as shipped, under `node --cpu-prof`, loaded for the warm-up and one run's
 * length; the profile is written when it stops (SIGTERM: gavel serve exits 0).
 */
async function profileGavel(tmp: string, policies: ReadonlyMap<string, string>, connections: number, durationS: number): Promise<Profiled> {
  const profDir = join(tmp, 'profile');
  const server = await startGavelIssuer('gavel-profiled', join(tmp, 'gavel-profiled'), policies, { decisionLog: true, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] });
  const at = await discover('gavel-profiled', `${server.http}/.well-known/oauth-authorization-server`);
  await checkGrant('gavel-profiled', at, GRANT);
  const run = await runLoad(job(at, connections, durationS), server.child.proc.pid);
  server.child.proc.kill('SIGTERM');
  const code = await server.child.exited;
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error(`gavel-profiled exited with ${code} and wrote no .cpuprofile:\n${server.child.output().slice(-2000)}`);
  return { run, summary: summarizeProfile(join(profDir, file), FRAMES) };
}

async function main(): Promise<number> {
  const { opts, full } = benchOptions(DEFAULTS);
  const { started, loadStart, source, versions } = startRun('issuer', COMMAND, `oidc-provider ${packageVersion('oidc-provider')}, jose ${packageVersion('jose')}, fastify ${packageVersion('fastify')}, autocannon ${packageVersion('autocannon')}`);

  const tmp = mkdtempSync(join(os.tmpdir(), 'gavel-bench-issuer-'));
  const cleanup = async (): Promise<void> => {
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  };
  stopOnSignals(cleanup);
  try {
    // ---- Servers.
    console.log('starting servers…');
    const policies = shippedPolicies();
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const oidc = await startOidcProvider(join(tmp, 'oidc-provider'), { clientId: GRANT.clientId, clientSecret: GRANT.clientSecret, resource: GRANT.resource, scopes: CLIENT_SCOPES, jwk: await exportJWK(privateKey) });
    const gavel = await startGavelIssuer('gavel', join(tmp, 'gavel'), policies, { decisionLog: true });
    const noLog = await startGavelIssuer('gavel-no-log', join(tmp, 'gavel-no-log'), policies, { decisionLog: false });
    const gavelMeta = (s: Server): string => `${s.http}/.well-known/oauth-authorization-server`;
    const targets: LoadTarget[] = [
      { name: 'oidc-provider', what: 'node-oidc-provider, client_credentials with a resource indicator → ES256 JWT', server: oidc, at: await discover('oidc-provider', `${oidc.http}/.well-known/openid-configuration`), runs: [], threads: [] },
      { name: 'gavel', what: '`gavel serve` as shipped: 2 mint decisions per grant, decision log on', server: gavel, at: await discover('gavel', gavelMeta(gavel)), runs: [], threads: [] },
      { name: 'gavel, log off', what: 'the same, `decision_log.enabled: false`', server: noLog, at: await discover('gavel, log off', gavelMeta(noLog)), runs: [], threads: [] },
    ];
    for (const t of targets) console.log(`  ${t.name.padEnd(16)} ${t.at.tokenEndpoint}`);

    // ---- Tokens first.
    const checked: GrantChecked[] = [];
    for (const t of targets) checked.push(await checkGrant(t.name, t.at, GRANT));
    console.log(`\ngrant check: ${checked.map((c) => `${c.name} (${c.header}; ${c.claims})`).join('; ')} — each verifies against its JWKS with scope \`${GRANT.scope}\`\n`);

    // ---- Load.
    for (const t of targets) {
      const w = await runLoad(job(t.at, opts.connections, opts.warmup), t.server.child.proc.pid);
      console.log(`warm-up ${t.name.padEnd(16)} ${runLine(w)}`);
    }
    for (let round = 1; round <= opts.rounds; round++) {
      for (const t of targets) {
        const m = await measured(t, opts.connections, opts.duration);
        t.runs.push(m.run);
        t.threads.push(m.threads);
        console.log(`round ${round} ${t.name.padEnd(16)} ${runLine(m.run)}  (main thread ${m.threads.main.toFixed(0)}%, other threads ${m.threads.others.toFixed(0)}%)`);
      }
    }
    // Still issuing good tokens after the load.
    for (const t of targets) await checkGrant(`${t.name} after the load`, t.at, GRANT);
    console.log('\ngrant check after the load: every server still issues verifying tokens with the expected scopes');

    // ---- Where Gavel's time goes.
    console.log('\nprofiling gavel (as shipped) under the same load…');
    const profiled = await profileGavel(tmp, policies, opts.connections, opts.warmup + opts.duration);
    console.log(`profiled run: ${runLine(profiled.run)}`);

    // ---- Report.
    const loadEnd = loadAverage();
    const report = buildReport({ targets, checked, profiled, opts, loadStart, loadEnd, source, versions, elapsedS: (Date.now() - started) / 1e3 });
    console.log(`\n${report.console}`);
    if (full) {
      writeSection('issuer', report.markdown);
      console.log('\nwrote the Issuer section of bench/RESULTS.md');
    } else console.log('\n(a run with options: bench/RESULTS.md left as it was)');
    return targets.some((t) => t.runs.some((r) => failures(r) > 0)) ? 1 : 0;
  } finally {
    await cleanup();
  }
}

interface ReportInput {
  targets: LoadTarget[];
  checked: GrantChecked[];
  profiled: Profiled;
  opts: { duration: number; rounds: number; warmup: number; connections: number };
  loadStart: string;
  loadEnd: string;
  source: string;
  versions: string;
  elapsedS: number;
}

function resultsTable(targets: readonly LoadTarget[]): string {
  return table(
    ['target', 'what', 'grants/s (median)', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'non-2xx / errors', 'grants/s of each run', 'server CPU (main thread + others)', 'grants per server CPU-s (median)', 'generator CPU'],
    targets.map((t) => {
      const { run: m, threads } = median(t);
      const cpu = Number.isFinite(m.serverCpu) ? `${m.serverCpu.toFixed(0)}%${threads !== undefined ? ` (${threads.main.toFixed(0)}% + ${threads.others.toFixed(0)}%)` : ''}` : '—';
      return [t.name, t.what, int(grants(m)), ms(m.p50Ms), ms(m.p90Ms), ms(m.p99Ms), ms(m.maxMs), String(t.runs.reduce((s, r) => s + failures(r), 0)), t.runs.map((r) => int(grants(r))).join(', '), cpu, int(grantsPerCpu(t)), `${m.generatorCpu.toFixed(0)}%`];
    }),
    2,
  );
}

function profileTables(s: ProfileSummary): { inclusive: string; top: string; areas: string } {
  const rows = (xs: readonly { label: string; share: number }[]): string[][] => xs.map((x) => [`\`${x.label}\``, pct(x.share)]);
  return {
    inclusive: table(['function (inclusive: itself and what it calls)', 'share of busy main-thread samples'], s.inclusive.map((x) => [x.label, pct(x.share)])),
    top: table(['frame (file:function:line), self time', 'share'], rows(s.topSelf)),
    areas: table(['area (self time)', 'share'], rows(s.areas)),
  };
}

function buildReport(r: ReportInput): { console: string; markdown: string } {
  const byName = (name: string): LoadTarget => {
    const t = r.targets.find((x) => x.name === name);
    if (t === undefined) throw new Error(`no target ${name}`);
    return t;
  };
  const [oidc, gavel, noLog] = [byName('oidc-provider'), byName('gavel'), byName('gavel, log off')];
  const g = (t: LoadTarget): number => grants(median(t).run);
  const ratio = g(gavel) / g(oidc);
  const logCost = 1 - g(gavel) / g(noLog);
  const cpuLogCost = 1 - grantsPerCpu(gavel) / grantsPerCpu(noLog);
  const us = (t: LoadTarget): string => int(1e6 / grantsPerCpu(t));
  const clean = r.targets.every((t) => t.runs.every((x) => failures(x) === 0));
  const mint = r.profiled.summary.inclusive.find((x) => x.label.startsWith('Issuer.mint'))?.share ?? NaN;
  const targets = [
    `- Gavel ÷ oidc-provider ≥ ${TARGET_RATIO}× grants/s: ${mark(ratio >= TARGET_RATIO)} (${times(ratio)}: ${int(g(gavel))} vs ${int(g(oidc))} grants/s; per server CPU-second ${times(grantsPerCpu(gavel) / grantsPerCpu(oidc))}; with Gavel's decision log off ${times(g(noLog) / g(oidc))})`,
    `- every grant under load answered 200: ${mark(clean)} (${r.targets.map((t) => `${t.name} ${t.runs.reduce((s, x) => s + failures(x), 0)}`).join(', ')} non-2xx or errors over ${r.opts.rounds} rounds)`,
    // The decisions' share m of a grant's main-thread time adds m / (1 − m) to what the grant would take without them.
    `- the mint decisions add ≤ 10% to the token endpoint's time: ${mark(mint / (1 - mint) <= 0.1)} (they add ${pct(mint / (1 - mint))}: \`Issuer.mint\`, both decisions with their log records, took ${pct(mint)} of the main thread's busy samples under the profiler)`,
    `- p99 at ${r.opts.connections} connections: Gavel ${ms(median(gavel).run.p99Ms)} ms, log off ${ms(median(noLog).run.p99Ms)} ms, oidc-provider ${ms(median(oidc).run.p99Ms)} ms (no target set)`,
  ];
  const mintLines = [
    `- The decision log (two rows per grant, written by a worker thread): ${(100 * logCost).toFixed(1)}% of Gavel's grants/s (${int(g(gavel))} with it, ${int(g(noLog))} without), ${(100 * cpuLogCost).toFixed(1)}% per server CPU-second.`,
    `- Server CPU per grant (the inverse of grants per server CPU-second): Gavel ${us(gavel)} µs, log off ${us(noLog)} µs, oidc-provider ${us(oidc)} µs.`,
    `- Under the profiler, \`Issuer.mint\` (both mint decisions: the \`risk\` root, policy evaluation, metrics, the log append) took ${pct(mint)} of the main thread's busy samples; see the profile below for the rest.`,
  ];
  const results = resultsTable(r.targets);
  const prof = profileTables(r.profiled.summary);
  const checks = r.checked.map((c) => `- ${c.name}: 200, \`token_type\` Bearer, header ${c.header}; claims ${c.claims}; verified with jose against its own JWKS (issuer, audience \`${GRANT.resource}\`, ES256 only); \`scope\` = \`${GRANT.scope}\` in the answer and the token; a second grant gave a different token; a wrong secret answered 401 \`invalid_client\``).join('\n');
  const load = loadLine(r.loadStart, r.loadEnd);
  const consoleText = ['Results', results, '', 'Targets', ...targets, '', "Mint decisions' cost", ...mintLines, '', 'Profile of gavel (main thread)', prof.inclusive, '', prof.top, '', DISPATCH_NOTE, '', prof.areas, '', load, `reproduce with: ${COMMAND}`].join('\n');
  const markdown = `${sectionHead('Issuer', COMMAND, 'bench/issuer.ts', r)}
- Every server runs in its own process${canPin ? ` pinned to CPU ${SERVER_CPU}` : ''}; every load run is a fresh autocannon process${canPin ? ` pinned to CPU ${LOAD_CPU}` : ''} (\`taskset -c\`), over 127.0.0.1.
- ${r.opts.connections} connections, no pipelining; a ${r.opts.warmup} s warm-up per target, then ${r.opts.rounds} rounds of ${r.opts.duration} s runs that interleave the targets; each target's median run (by grants/s) is reported, latencies from the same run.
- Whole run: ${r.elapsedS.toFixed(0)} s. ${load}

### What is measured

Every request is the same client_credentials grant: \`POST\` of
\`${grantBody(GRANT)}\` (form-encoded) with \`Authorization: Basic\` for
\`${GRANT.clientId}\` (examples/registry.json's client_secret_basic client). Each answer is a fresh ES256-signed JWT
access token (\`typ: at+jwt\`, RFC 9068) for the two scopes. "grants/s" counts 200 answers per second; anything
else counts as a failure.

- **gavel**: \`gavel serve\` (bin/gavel.js over dist/), \`POST /oauth2/token\`, as shipped: examples/registry.json
  applied with \`gavel apply\`, the repository's policies/ (copied beside its database), decision log on. Each grant
  authenticates the client (SHA-256 of the secret, constant-time comparison), asks the policies one \`mint\` decision
  per candidate scope (policies/mint.gavel and risk.gavel: IP reputation and velocity signals; each decision is
  logged) and signs the token with the key ring's ES256 key (node:crypto, synchronously on the request thread).
- **gavel, log off**: the same with \`"decision_log": {"enabled": false}\` in its config file.
- **oidc-provider**: node-oidc-provider ${packageVersion('oidc-provider')} behind its own \`node:http\` server (\`provider.callback()\`,
  bench/server-bench/oidc-provider-server.mjs): one static client (client_secret_basic, client_credentials only, the
  same id, secret and scopes), \`features.clientCredentials\` on, \`features.resourceIndicators\` answering
  \`{scope, audience, accessTokenFormat: 'jwt', jwt: {sign: {alg: 'ES256'}}}\` for the API, and an EC P-256 key made
  for the run as its only signing key. JWT access tokens are not stored, so its in-memory adapter does not grow.
  Node 20 is below the Node 22 it asks for; it says so on start and works.
- "server CPU" is the server process's CPU time over the run (/proc), split into its main thread (the JavaScript)
  and its other threads (libuv's pool, where WebCrypto computes oidc-provider's ECDSA signatures; Gavel's
  decision-log writer thread; V8's helpers). "generator CPU" is autocannon's: near 100% would mean the load
  generator, not the server, set the pace.

### Results

${results}

### Targets

${targets.join('\n')}

### Mint decisions' cost

${mintLines.join('\n')}

What is not separable: the mint decisions themselves. Gavel's issuer mints no scope without one, and a variant
with a trivial policy would still pay for the whole decision path, so there is no "without decisions" run to
subtract. The log-off run says what the log adds, the profile what share of the main thread the decisions take.

### Grant check

Before any measurement, and again after the last round, each server was asked for the grant:

${checks}

### Profile of Gavel as shipped

\`node --cpu-prof\` on one more \`gavel serve\` (log on), loaded for ${r.opts.warmup + r.opts.duration} s at ${r.opts.connections} connections
(${int(grants(r.profiled.run))} grants/s under the profiler, which slows it; not in the table above). The profile samples
the main thread only; ${pct(r.profiled.summary.idleShare)} of its samples were idle. Shares are of the ${int(r.profiled.summary.busySamples)} busy samples.

${prof.inclusive}

Self time, by frame:

${prof.top}

${DISPATCH_NOTE}

Self time, by area (a dist/ folder of Gavel, a package, a Node module):

${prof.areas}

### Notes

- Other work shares this 2-CPU machine, and a pinned server gets only part of its core when that work runs there
  too: the "server CPU" column shows how much each got. "grants per server CPU-s" moves less than grants/s and gives
  the comparison per CPU-second.
- "max ms" includes the first answers of each fresh autocannon process while its connections open.
`;
  return { console: consoleText, markdown };
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  },
);

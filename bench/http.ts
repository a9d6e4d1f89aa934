/**
 * The HTTP benchmark: `npm run bench:http`.
 *
 * `gavel serve` answers AuthZEN `POST /access/v1/evaluation` for the engine benchmark's
 * N = 1,000 workload under autocannon, beside a fastify hello world (the transport ceiling)
 * and the Cerbos server with the same rules (`/api/check/resources`). Gavel runs in four
 * configurations: as shipped (decision log on), with the decision log off, and both of
 * those with an end-user JWT in every request. Before anything is measured every server answers the whole
 * request mix and must agree with the reference; after the measured rounds a policy file is
 * rewritten several times under load, which must cost no request.
 *
 * Each server runs in its own process pinned to CPU 0; each load run is a fresh autocannon
 * process pinned to CPU 1. Rounds interleave the targets, so a burst of other work on this
 * shared machine hits all of them alike; each target's median run is reported.
 *
 * Options (for development; a run with any of them leaves bench/RESULTS.md alone):
 *   --duration=10  --rounds=3  --warmup=5  --connections=50
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { reference, requestMix, describeMix, type BenchRequest } from './workload.js';
import { writeSection } from './results-file.js';
import { cerbosPolicies } from './peers/cerbos-policies.js';
import { authzenDecision, cerbosBody, cerbosDecision, gavelPolicyFiles, plainBody, tokenBody } from './server-bench/bodies.js';
import { checkAll, postJson, type Checked } from './server-bench/check.js';
import { createIssuer, trustedIssuer } from './server-bench/issuer.js';
import { runLoad, type LoadResult } from './server-bench/load.js';
import { canPin, LOAD_CPU, SERVER_CPU, stopAll, stopOnSignals } from './server-bench/processes.js';
import { int, loadAverage, mark, medianPerCpu, medianRun, ms, packageVersion, pct, resultsTable, times, type Target, loadLine, sectionHead, benchOptions, startRun } from './server-bench/report.js';
import { startCerbos, startGavel, startHello, type Server } from './server-bench/servers.js';

const COMMAND = 'npm run bench:http';
const N = 1_000;
const DEFAULTS = { duration: 10, rounds: 3, warmup: 5, connections: 50 } as const;
/** Policy rewrites during the reload run, spread evenly over it. */
const RELOADS = 5;
const ROUTE = '/access/v1/evaluation';

interface LoadTarget extends Target {
  url: string;
  bodies: string[];
}

async function main(): Promise<number> {
  const { opts, full } = benchOptions(DEFAULTS);
  const { started, loadStart, source, versions } = startRun('HTTP', COMMAND, `Cerbos ${packageVersion('@cerbos/cerbos-linux-x64')}, fastify ${packageVersion('fastify')}, autocannon ${packageVersion('autocannon')}`);

  const mix = requestMix(N);
  const expected = mix.map((r) => reference(r, N));
  console.log(`workload: N = ${int(N)} policies; mix: ${describeMix(mix, N)}\n`);

  const tmp = mkdtempSync(join(os.tmpdir(), 'gavel-bench-http-'));
  const cleanup = async (): Promise<void> => {
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  };
  stopOnSignals(cleanup);
  try {
    // ---- Servers.
    const issuer = await createIssuer();
    const tokens = await Promise.all(mix.map((r) => issuer.token(r.subject.id, r.token.scope)));
    const plainBodies = mix.map((r) => JSON.stringify(plainBody(r)));
    const tokenBodies = mix.map((r, i) => JSON.stringify(tokenBody(r, tokens[i] ?? '')));
    const cerbosBodies = mix.map((r, i) => cerbosBody(r, i));
    const plainFiles = gavelPolicyFiles(N, 'plain');
    console.log('starting servers…');
    const hello = await startHello();
    const gavel = await startGavel('gavel', { dir: join(tmp, 'gavel'), policies: plainFiles });
    const noLog = await startGavel('gavel-no-log', { dir: join(tmp, 'gavel-no-log'), policies: plainFiles, decisionLog: false });
    const outcomes = await startGavel('gavel-outcomes', { dir: join(tmp, 'gavel-outcomes'), policies: plainFiles, keepRequests: false });
    const tokenServer = (name: string, decisionLog: boolean): Promise<Server> =>
      startGavel(name, {
        dir: join(tmp, name),
        policies: gavelPolicyFiles(N, 'token'),
        trustedIssuers: [{ entry: trustedIssuer('jwks.json'), jwksFile: 'jwks.json', jwks: issuer.jwks }],
        decisionLog,
      });
    const jwt = await tokenServer('gavel-jwt', true);
    // Apart from the log's cost, what the token costs.
    const jwtNoLog = await tokenServer('gavel-jwt-no-log', false);
    const cerbos = await startCerbos(join(tmp, 'cerbos'), cerbosPolicies(N));
    for (const s of [hello, gavel, noLog, outcomes, jwt, jwtNoLog, cerbos]) console.log(`  ${s.name.padEnd(16)} ${s.http}`);

    // ---- Decisions first.
    const checked = await checkDecisions(mix, expected, { gavel, noLog, outcomes, jwt, jwtNoLog, cerbos }, { plainBodies, tokenBodies, cerbosBodies });
    console.log(`\ndecision check: ${checked.map((c) => `${c.name} ${c.compared}/${mix.length}`).join(', ')} — all equal to the reference\n`);

    // ---- Load.
    const targets: LoadTarget[] = [
      { name: 'fastify hello', what: 'transport ceiling: fastify parses the body, answers `{"hello":"world"}`', url: `${hello.http}${ROUTE}`, bodies: plainBodies, runs: [], pid: hello.child.proc.pid },
      { name: 'gavel', what: '`gavel serve` as shipped (decision log on)', url: `${gavel.http}${ROUTE}`, bodies: plainBodies, runs: [], pid: gavel.child.proc.pid },
      { name: 'gavel, log off', what: 'the same, its decision log off', url: `${noLog.http}${ROUTE}`, bodies: plainBodies, runs: [], pid: noLog.child.proc.pid },
      { name: 'gavel, outcomes logged', what: 'the same, its log keeping outcomes without requests', url: `${outcomes.http}${ROUTE}`, bodies: plainBodies, runs: [], pid: outcomes.child.proc.pid },
      { name: 'gavel + JWT', what: 'an ES256 JWT in `context.token`, verified (cached), log on', url: `${jwt.http}${ROUTE}`, bodies: tokenBodies, runs: [], pid: jwt.child.proc.pid },
      { name: 'gavel + JWT, log off', what: 'the same, decision log off', url: `${jwtNoLog.http}${ROUTE}`, bodies: tokenBodies, runs: [], pid: jwtNoLog.child.proc.pid },
      { name: 'cerbos', what: 'Cerbos `/api/check/resources`, one resource and action', url: `${cerbos.http}/api/check/resources`, bodies: cerbosBodies, runs: [], pid: cerbos.child.proc.pid },
    ];
    const job = (t: LoadTarget, durationS: number) => ({ kind: 'http' as const, url: t.url, bodies: t.bodies, connections: opts.connections, durationS });
    for (const t of targets) {
      const w = await runLoad(job(t, opts.warmup), t.pid);
      console.log(`warm-up ${t.name.padEnd(16)} ${int(w.rps).padStart(7)} req/s${w.non2xx + w.errors > 0 ? `  FAILURES: ${w.failures.join('; ')}` : ''}`);
    }
    for (let round = 1; round <= opts.rounds; round++) {
      for (const t of targets) {
        const r = await runLoad(job(t, opts.duration), t.pid);
        t.runs.push(r);
        console.log(`round ${round} ${t.name.padEnd(16)} ${int(r.rps).padStart(7)} req/s  p50 ${ms(r.p50Ms)} ms  p99 ${ms(r.p99Ms)} ms  non-2xx ${r.non2xx}  errors ${r.errors}  server CPU ${r.serverCpu.toFixed(0)}%  autocannon CPU ${r.generatorCpu.toFixed(0)}%`);
      }
    }

    // ---- A policy reload under load.
    const reload = await reloadUnderLoad(gavel, join(tmp, 'gavel', 'policies'), plainFiles, () => runLoad(job(targets[1]!, opts.duration), gavel.child.proc.pid), opts.duration);
    const after = await checkAll('gavel after the reloads', expected, async (i) => authzenDecision(await postJson(`${gavel.http}${ROUTE}`, plainBodies[i] ?? '')), (i) => plainBodies[i] ?? '');
    console.log(`reload under load: ${reload.applied} reloads applied of ${reload.written} rewrites; ${int(reload.run.rps)} req/s, p99 ${ms(reload.run.p99Ms)} ms, max ${ms(reload.run.maxMs)} ms, non-2xx ${reload.run.non2xx}, errors ${reload.run.errors}; decisions after: ${after.compared}/${mix.length} equal to the reference`);

    // ---- Report.
    const loadEnd = loadAverage();
    const report = buildReport({ targets, checked, reload, opts, mix, loadStart, loadEnd, source, versions, elapsedS: (Date.now() - started) / 1e3 });
    console.log(`\n${report.console}`);
    if (full) {
      writeSection('http', report.markdown);
      console.log('\nwrote the HTTP section of bench/RESULTS.md');
    } else console.log('\n(a run with options: bench/RESULTS.md left as it was)');
    const failed = targets.some((t) => t.runs.some((r) => r.non2xx + r.errors > 0)) || reload.run.non2xx + reload.run.errors > 0 || reload.applied < RELOADS;
    return failed ? 1 : 0;
  } finally {
    await cleanup();
  }
}

async function checkDecisions(
  mix: readonly BenchRequest[],
  expected: readonly boolean[],
  servers: { gavel: Server; noLog: Server; outcomes: Server; jwt: Server; jwtNoLog: Server; cerbos: Server },
  bodies: { plainBodies: string[]; tokenBodies: string[]; cerbosBodies: string[] },
): Promise<Checked[]> {
  const at = (xs: string[], i: number): string => xs[i] ?? '';
  const gavelAt = (s: Server, xs: string[]) => async (i: number) => authzenDecision(await postJson(`${s.http}${ROUTE}`, at(xs, i)));
  const show = (xs: string[]) => (i: number) => at(xs, i).slice(0, 600);
  return [
    await checkAll('gavel', expected, gavelAt(servers.gavel, bodies.plainBodies), show(bodies.plainBodies)),
    await checkAll('gavel, log off', expected, gavelAt(servers.noLog, bodies.plainBodies), show(bodies.plainBodies)),
    await checkAll('gavel, outcomes logged', expected, gavelAt(servers.outcomes, bodies.plainBodies), show(bodies.plainBodies)),
    await checkAll('gavel + JWT', expected, gavelAt(servers.jwt, bodies.tokenBodies), show(bodies.tokenBodies)),
    await checkAll('gavel + JWT, log off', expected, gavelAt(servers.jwtNoLog, bodies.tokenBodies), show(bodies.tokenBodies)),
    await checkAll('cerbos', expected, async (i) => cerbosDecision(await postJson(`${servers.cerbos.http}/api/check/resources`, at(bodies.cerbosBodies, i)), mix[i]?.action.name ?? ''), show(bodies.cerbosBodies)),
  ];
}

interface ReloadRun {
  written: number;
  applied: number;
  run: LoadResult;
}

/**
 * Rewrites the first policy file `RELOADS` times during one load run — adding, then
 * removing, a policy for a type no request names — so that every rewrite is a new revision
 * the watcher must build and swap in while requests keep coming.
 */
async function reloadUnderLoad(gavel: Server, dir: string, files: ReadonlyMap<string, string>, load: () => Promise<LoadResult>, durationS: number): Promise<ReloadRun> {
  const [name, text] = [...files][0] ?? ['', ''];
  const applied = (): number => gavel.child.output().split('gavel: reloaded policies (revision').length - 1;
  const before = applied();
  const running = load();
  const gapMs = (durationS * 1000) / (RELOADS + 1);
  for (let i = 1; i <= RELOADS; i++) {
    await new Promise((resolve) => setTimeout(resolve, gapMs));
    const extra = i % 2 === 1 ? `permit (action == "ping", resource.type == "reload-probe-${i}");\n` : '';
    writeFileSync(join(dir, name), text + extra);
  }
  const run = await running;
  // The last rewrite's reload may land just after the run: wait for it briefly.
  for (let i = 0; i < 40 && applied() - before < RELOADS; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  return { written: RELOADS, applied: applied() - before, run };
}

interface ReportInput {
  targets: LoadTarget[];
  checked: Checked[];
  reload: ReloadRun;
  opts: { duration: number; rounds: number; warmup: number; connections: number };
  mix: readonly BenchRequest[];
  loadStart: string;
  loadEnd: string;
  source: string;
  versions: string;
  elapsedS: number;
}

function buildReport(r: ReportInput): { console: string; markdown: string } {
  const runs = (name: string): LoadResult[] => r.targets.find((t) => t.name === name)?.runs ?? [];
  const names = ['fastify hello', 'gavel', 'gavel, log off', 'gavel + JWT', 'cerbos', 'gavel + JWT, log off'] as const;
  const [ceiling, gavel, noLog, jwt, cerbos, jwtNoLog] = names.map((n) => medianRun(runs(n)).rps) as [number, number, number, number, number, number];
  // The same ratios per second of server CPU: what each server does with the CPU it got (see the table).
  const [cCeiling, cGavel, cNoLog, cJwt, cCerbos, cJwtNoLog] = names.map((n) => medianPerCpu(runs(n))) as [number, number, number, number, number, number];
  const logCost = 1 - gavel / noLog;
  const outcomes = medianRun(runs('gavel, outcomes logged'));
  const outcomesCost = 1 - outcomes.rps / noLog;
  const p99 = medianRun(runs('gavel')).p99Ms;
  const p99NoLog = medianRun(runs('gavel, log off')).p99Ms;
  const p99Jwt = medianRun(runs('gavel + JWT')).p99Ms;
  const reloadOk = r.reload.run.non2xx + r.reload.run.errors === 0 && r.reload.applied >= r.reload.written;
  const targets = [
    `- Gavel ÷ fastify ceiling ≥ 70%: ${mark(gavel / ceiling >= 0.7)} (${pct(gavel / ceiling)}: ${int(gavel)} vs ${int(ceiling)} req/s; per server CPU-second ${pct(cGavel / cCeiling)}; with the log off ${pct(noLog / ceiling)}, per CPU-second ${pct(cNoLog / cCeiling)})`,
    `- Gavel ÷ Cerbos ≥ 4×: ${mark(gavel / cerbos >= 4)} (${times(gavel / cerbos)}: ${int(gavel)} vs ${int(cerbos)} req/s; per server CPU-second ${times(cGavel / cCerbos)}; with the log off ${times(noLog / cerbos)})`,
    `- Gavel + JWT ÷ ceiling ≥ 60%: ${mark(jwt / ceiling >= 0.6)} (${pct(jwt / ceiling)}: ${int(jwt)} req/s, decision log on; per server CPU-second ${pct(cJwt / cCeiling)}; with the log off ${pct(jwtNoLog / ceiling)}, per CPU-second ${pct(cJwtNoLog / cCeiling)})`,
    `- decision log cost ≤ 10%: ${mark(logCost <= 0.1)} (${(100 * logCost).toFixed(1)}%: ${int(gavel)} req/s with the log, ${int(noLog)} without; per server CPU-second ${(100 * (1 - cGavel / cNoLog)).toFixed(1)}%; a log of outcomes without requests costs ${(100 * outcomesCost).toFixed(1)}%, ${int(outcomes.rps)} req/s, ${pct(outcomes.rps / ceiling)} of the ceiling, p99 ${ms(outcomes.p99Ms)} ms)`,
    `- p99 ≤ 5 ms at ${r.opts.connections} connections: ${mark(p99 <= 5)} (Gavel ${ms(p99)} ms; log off ${ms(p99NoLog)} ms; with a JWT ${ms(p99Jwt)} ms; the fastify ceiling itself ${ms(medianRun(runs('fastify hello')).p99Ms)} ms)`,
    `- policy reload under load without a failed request: ${mark(reloadOk)} (${r.reload.applied} reloads applied of ${r.reload.written} rewrites, ${r.reload.run.non2xx} non-2xx, ${r.reload.run.errors} errors)`,
  ];
  const results = resultsTable(r.targets);
  const reloadLine = `${r.reload.applied} reloads applied of ${r.reload.written} rewrites of a 100-policy file during one ${r.opts.duration} s run against \`gavel\`: ${int(r.reload.run.rps)} req/s, p50 ${ms(r.reload.run.p50Ms)} ms, p99 ${ms(r.reload.run.p99Ms)} ms, max ${ms(r.reload.run.maxMs)} ms, **${r.reload.run.non2xx} non-2xx, ${r.reload.run.errors} errors**; afterwards all ${r.mix.length} requests were decided again and equal the reference.`;
  const checks = r.checked.map((c) => `- ${c.name}: ${c.compared}/${r.mix.length} requests, 0 differ from the reference`).join('\n');
  const load = loadLine(r.loadStart, r.loadEnd);
  const consoleText = ['Results', results, '', 'Targets', ...targets, '', 'Policy reload under load', reloadLine, '', load, `reproduce with: ${COMMAND}`].join('\n');
  const markdown = `${sectionHead('HTTP', COMMAND, 'bench/http.ts', r)}
- Every server runs in its own process${canPin ? ` pinned to CPU ${SERVER_CPU}` : ''}; every load run is a fresh autocannon process${canPin ? ` pinned to CPU ${LOAD_CPU}` : ''} (\`taskset -c\`), over 127.0.0.1.
- ${r.opts.connections} connections, no pipelining; a ${r.opts.warmup} s warm-up per target, then ${r.opts.rounds} rounds of ${r.opts.duration} s runs that interleave the targets; each target's median run (by req/s) is reported, latencies from the same run.
- Whole run: ${r.elapsedS.toFixed(0)} s. ${load}

### What is measured

The engine benchmark's workload at N = 1,000 policies (200 resource types × 5 rules, in 10 files of 100
policies) and its 1,000-request mix (500 allow, 500 deny by the reference); every connection sends the
1,000 bodies in turn.

- **gavel**: \`gavel serve\` (bin/gavel.js over dist/), AuthZEN \`POST /access/v1/evaluation\`, as shipped: the
  decision log writes every decision to SQLite in batches. A server takes \`token\` only from a verified JWT,
  so this variant's policies read the scopes from the subject — \`subject.scopes contains "t7:read"\` over
  \`subject.properties.scopes\` (a list) — instead of \`token.scope\`; nothing else differs from the workload.
- **gavel, log off**: the same with \`"decision_log": {"enabled": false}\` in its config file: no decision is logged.
- **gavel, outcomes logged**: the same with \`"decision_log": {"keep_requests": false}\`: every decision is logged
  (id, time, interface, subject, action, resource, verdict, determining policies, reasons, revision, latency)
  without the request as decided, so such records cannot be replayed by what-if or explained again.
- **gavel + JWT**: the workload's policies unchanged (\`token.scope contains …\`); each body carries the end
  user's ES256 JWT in \`context.token\` (issuer configured with a local \`jwks_file\`), one token per distinct
  scope string of the mix (${'≤'} 1,000), so decisions still depend on the token. After the first pass each
  verification is a hit in the verifier's cache (keyed by the token's SHA-256).
- **gavel + JWT, log off**: the same, its decision log off — what the token costs apart from the log.
- **fastify hello**: fastify ${packageVersion('fastify')} with one route answering \`{"hello":"world"}\`, sent the same bodies
  as **gavel** (so it parses the same JSON): what the transport alone costs.
- **cerbos**: the Cerbos server, \`POST /api/check/resources\` with one resource and one action per request, the
  workload as one resource policy per type (bench/peers/cerbos-policies.ts): roles from the principal's one
  role, department and owner conditions, scopes, risk score and address as principal attributes,
  \`EFFECT_DENY\` rules for \`risk_score > 80\` and \`!ip.inIPAddrRange("10.0.0.0/8")\`; audit log off, log level warn.
- Latencies are autocannon's per-response times (write of the request to its complete answer) taken from its
  \`response\` events, whose summary histogram keeps whole milliseconds only. "generator CPU" is autocannon's
  CPU time over the run: near 100% would mean the load generator, not the server, set the pace. "server CPU"
  is the server process's CPU time over the same run (/proc): near 100% means it was busy all along; much less
  means it waited — for the network, or for its core while other work on the machine had it.

### Results

${results}

### Targets

${targets.join('\n')}

### Decision check

Before any measurement every server answered the whole mix; each answer equals the reference:

${checks}

### Policy reload under load

${reloadLine}

### Notes

- Other work shares this 2-CPU machine, and a pinned server gets only part of its core when that work runs
  there too: the "server CPU" column shows how much each got. req/s moves with it from run to run (see each run's
  figure); "req per server CPU-s" moves much less, so the targets also give their ratios per server CPU-second.
  Under contention the scheduler shares a core between threads, so a server with several busy threads (Cerbos is
  a Go program) may get more of it than a Node server, whose work runs on one thread.
- The per-CPU-second figures leave out time a server spends blocked rather than computing — an fsync of the
  decision log's SQLite file, for one — which req/s includes.
- "max ms" includes the first answers of each fresh autocannon process, while it and its 50 connections start; on
  this machine that is about half a second for every target, the ceiling included, so p99 is the figure to read.
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

/**
 * The gRPC benchmark: `npm run bench:grpc`.
 *
 * `gavel serve` answers `gavel.v1.DecisionService/Decide` for the engine benchmark's
 * N = 1,000 workload and Envoy's `envoy.service.auth.v3.Authorization/Check` for a route
 * mix with bearer tokens, against the Cerbos server's `cerbos.svc.v1.CerbosService/
 * CheckResources` with the same rules. autocannon speaks HTTP/1.1 only, so the load comes
 * from server-bench/grpc-load.ts: a fixed number of calls in flight, the same code for every
 * service, once with @grpc/grpc-js as the client and once with a lighter raw-HTTP/2 client
 * (grpc-js costs more CPU per call than Gavel does, so it caps Gavel's figures). Before
 * measuring, every server answers the whole mix and must agree with the reference.
 *
 * Servers run pinned to CPU 0; each load run is a fresh generator process pinned to CPU 1.
 * Rounds interleave the targets; each target's median run is reported.
 *
 * Options (for development; a run with any of them leaves bench/RESULTS.md alone):
 *   --duration=10  --rounds=3  --warmup=5  --concurrency=50  --grpcJsChannels=1  --h2Channels=10
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { describeMix, reference, requestMix, type BenchRequest } from './workload.js';
import { writeSection } from './results-file.js';
import { cerbosPolicies } from './peers/cerbos-policies.js';
import { gavelPolicyFiles } from './server-bench/bodies.js';
import { checkAll, type Checked } from './server-bench/check.js';
import { cerbosAnswer, cerbosMessage, decideAnswer, decideMessage, encoded, ENVOY_POLICIES, envoyAnswer, envoyCall, envoyMessage, envoyReference, PATHS } from './server-bench/grpc-messages.js';
import { AUDIENCE, createIssuer, trustedIssuer } from './server-bench/issuer.js';
import { runLoad, type LoadResult } from './server-bench/load.js';
import { canPin, LOAD_CPU, SERVER_CPU, stopAll, stopOnSignals } from './server-bench/processes.js';
import { int, loadAverage, mark, medianPerCpu, medianRun, ms, packageVersion, resultsTable, times, type Target, loadLine, sectionHead, benchOptions, startRun } from './server-bench/report.js';
import { startCerbos, startGavel } from './server-bench/servers.js';

const COMMAND = 'npm run bench:grpc';
const N = 1_000;
const DEFAULTS = { duration: 10, rounds: 3, warmup: 5, concurrency: 50, grpcJsChannels: 1, h2Channels: 10 } as const;

const CLIENTS = ['grpc-js', 'h2'] as const;
type GrpcClient = (typeof CLIENTS)[number];

interface GrpcTarget extends Target {
  address: string;
  path: string;
  messages: string[];
  client: GrpcClient;
  channels: number;
}

/** One unary call with raw bytes each way, for the decision check. */
function unary(client: Client, path: string, message: Uint8Array): Promise<Buffer> {
  const identity = (b: Buffer): Buffer => b;
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(path, identity, identity, Buffer.from(message), new Metadata(), (err: ServiceError | null, value?: Buffer) => (err !== null ? reject(err) : resolve(value ?? Buffer.alloc(0)))),
  );
}

async function main(): Promise<number> {
  const { opts, full } = benchOptions(DEFAULTS);
  const { started, loadStart, source, versions } = startRun('gRPC', COMMAND, `Cerbos ${packageVersion('@cerbos/cerbos-linux-x64')}, @grpc/grpc-js ${packageVersion('@grpc/grpc-js')}`, 'the load generator');

  const mix = requestMix(N);
  const expected = mix.map((r) => reference(r, N));
  const calls = mix.map((r, i) => envoyCall(r, i));
  const envoyExpected = calls.map(envoyReference);
  console.log(`workload: N = ${int(N)} policies; mix: ${describeMix(mix, N)}`);
  console.log(`envoy mix: ${envoyExpected.filter((d) => d).length} allow / ${envoyExpected.filter((d) => !d).length} deny\n`);

  const tmp = mkdtempSync(join(os.tmpdir(), 'gavel-bench-grpc-'));
  const clients: Client[] = [];
  const cleanup = async (): Promise<void> => {
    for (const c of clients) c.close();
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  };
  stopOnSignals(cleanup);
  try {
    const issuer = await createIssuer();
    const tokens = await Promise.all(calls.map((c, i) => issuer.token(mix[i]?.subject.id ?? '', c.scope)));
    const decideMessages = mix.map(decideMessage);
    const envoyMessages = calls.map((c, i) => envoyMessage(c, tokens[i] ?? '', i));
    const cerbosMessages = mix.map((r, i) => cerbosMessage(r, i));

    console.log('starting servers…');
    const policies = new Map(gavelPolicyFiles(N, 'plain')).set('envoy.gavel', ENVOY_POLICIES);
    const gavel = await startGavel('gavel', {
      dir: join(tmp, 'gavel'),
      policies,
      trustedIssuers: [{ entry: { ...trustedIssuer('jwks.json'), audiences: [AUDIENCE] }, jwksFile: 'jwks.json', jwks: issuer.jwks }],
    });
    // The same server with its decision log off, to show what the log costs over gRPC.
    const noLog = await startGavel('gavel-no-log', { dir: join(tmp, 'gavel-no-log'), policies, decisionLog: false });
    const cerbos = await startCerbos(join(tmp, 'cerbos'), cerbosPolicies(N));
    const gavelAddress = gavel.grpc ?? '';
    const noLogAddress = noLog.grpc ?? '';
    const cerbosAddress = cerbos.grpc ?? '';
    console.log(`  gavel         grpc://${gavelAddress}\n  gavel-no-log  grpc://${noLogAddress}\n  cerbos        grpc://${cerbosAddress}`);

    // ---- Decisions first.
    const gavelClient = new Client(gavelAddress, credentials.createInsecure());
    const noLogClient = new Client(noLogAddress, credentials.createInsecure());
    const cerbosClient = new Client(cerbosAddress, credentials.createInsecure());
    clients.push(gavelClient, noLogClient, cerbosClient);
    const show = (i: number): string => JSON.stringify(mix[i]).slice(0, 600);
    const at = (xs: Uint8Array[], i: number): Uint8Array => xs[i] ?? new Uint8Array();
    const checked: Checked[] = [
      await checkAll('gavel Decide', expected, async (i) => decideAnswer(await unary(gavelClient, PATHS.decide, at(decideMessages, i))), show),
      await checkAll('gavel Decide, log off', expected, async (i) => decideAnswer(await unary(noLogClient, PATHS.decide, at(decideMessages, i))), show),
      await checkAll('cerbos CheckResources', expected, async (i) => cerbosAnswer(await unary(cerbosClient, PATHS.cerbos, at(cerbosMessages, i)), mix[i]?.action.name ?? ''), show),
      await checkAll('gavel Envoy Check', envoyExpected, async (i) => envoyAnswer(await unary(gavelClient, PATHS.envoy, at(envoyMessages, i))), (i) => JSON.stringify(calls[i])),
    ];
    console.log(`\ndecision check: ${checked.map((c) => `${c.name} ${c.compared}/${mix.length}`).join(', ')} — all equal to the reference\n`);

    // ---- Load.
    // Each service under both clients (grpc-load.ts): grpc-js as a Node PEP would call, and
    // the lighter raw-HTTP/2 client, which the servers rather than the generator limit.
    const services = [
      { name: 'gavel Decide', what: '`gavel.v1.DecisionService/Decide`, decision log on', address: gavelAddress, path: PATHS.decide, messages: encoded(decideMessages), pid: gavel.child.proc.pid },
      { name: 'gavel Decide, log off', what: 'the same, decision log off', address: noLogAddress, path: PATHS.decide, messages: encoded(decideMessages), pid: noLog.child.proc.pid },
      { name: 'gavel Envoy Check', what: '`envoy.service.auth.v3.Authorization/Check`, bearer JWT (cached), log on', address: gavelAddress, path: PATHS.envoy, messages: encoded(envoyMessages), pid: gavel.child.proc.pid },
      { name: 'cerbos CheckResources', what: '`cerbos.svc.v1.CerbosService/CheckResources`, one resource and action', address: cerbosAddress, path: PATHS.cerbos, messages: encoded(cerbosMessages), pid: cerbos.child.proc.pid },
    ];
    const targets: GrpcTarget[] = CLIENTS.flatMap((client) =>
      services.map((sv) => ({ ...sv, name: `${sv.name} [${client}]`, client, channels: client === 'grpc-js' ? opts.grpcJsChannels : opts.h2Channels, runs: [] })),
    );
    const job = (t: GrpcTarget, durationS: number) => ({ kind: 'grpc' as const, address: t.address, path: t.path, messages: t.messages, concurrency: opts.concurrency, channels: t.channels, client: t.client, durationS });
    for (const t of targets) {
      const w = await runLoad(job(t, opts.warmup), t.pid);
      console.log(`warm-up ${t.name.padEnd(34)} ${int(w.rps).padStart(7)} calls/s${w.non2xx > 0 ? `  FAILURES: ${w.failures.join('; ')}` : ''}`);
    }
    for (let round = 1; round <= opts.rounds; round++) {
      for (const t of targets) {
        const r = await runLoad(job(t, opts.duration), t.pid);
        t.runs.push(r);
        console.log(`round ${round} ${t.name.padEnd(34)} ${int(r.rps).padStart(7)} calls/s  p50 ${ms(r.p50Ms)} ms  p99 ${ms(r.p99Ms)} ms  failed ${r.non2xx}  server CPU ${r.serverCpu.toFixed(0)}%  generator CPU ${r.generatorCpu.toFixed(0)}%`);
      }
    }

    const loadEnd = loadAverage();
    const report = buildReport({ targets, checked, opts, mix, loadStart, loadEnd, source, versions, elapsedS: (Date.now() - started) / 1e3 });
    console.log(`\n${report.console}`);
    if (full) {
      writeSection('grpc', report.markdown);
      console.log('\nwrote the gRPC section of bench/RESULTS.md');
    } else console.log('\n(a run with options: bench/RESULTS.md left as it was)');
    return targets.some((t) => t.runs.some((r) => r.non2xx > 0)) ? 1 : 0;
  } finally {
    await cleanup();
  }
}

interface ReportInput {
  targets: GrpcTarget[];
  checked: Checked[];
  opts: { duration: number; rounds: number; warmup: number; concurrency: number; grpcJsChannels: number; h2Channels: number };
  mix: readonly BenchRequest[];
  loadStart: string;
  loadEnd: string;
  source: string;
  versions: string;
  elapsedS: number;
}

function buildReport(r: ReportInput): { console: string; markdown: string } {
  const find = (name: string, client: GrpcClient): LoadResult[] => r.targets.find((t) => t.name === `${name} [${client}]`)?.runs ?? [];
  const targets = CLIENTS.flatMap((client) => {
    const rate = (name: string): number => medianRun(find(name, client)).rps;
    const perCpu = (name: string): number => medianPerCpu(find(name, client));
    const [decide, decideNoLog, cerbos] = [rate('gavel Decide'), rate('gavel Decide, log off'), rate('cerbos CheckResources')];
    const p99 = (name: string): string => ms(medianRun(find(name, client)).p99Ms);
    const generator = medianRun(find('gavel Decide', client)).generatorCpu;
    return [
      `- [${client}] Gavel Decide ÷ Cerbos CheckResources ≥ 1.5×: ${mark(decide / cerbos >= 1.5)} (${times(decide / cerbos)}: ${int(decide)} vs ${int(cerbos)} calls/s; per server CPU-second ${times(perCpu('gavel Decide') / perCpu('cerbos CheckResources'))}; with the log off ${times(decideNoLog / cerbos)}${generator >= 70 ? `; the generator used ${generator.toFixed(0)}% of its core on Gavel: it, not Gavel, set the pace` : ''})`,
      `- [${client}] decision log cost over gRPC (HTTP's target is ≤ 10%): ${(100 * (1 - decide / decideNoLog)).toFixed(1)}% (${int(decide)} calls/s with the log, ${int(decideNoLog)} without)`,
      `- [${client}] p99 ≤ 5 ms at ${r.opts.concurrency} calls in flight: Decide ${p99('gavel Decide')} ms — ${mark(medianRun(find('gavel Decide', client)).p99Ms <= 5)}; Envoy Check ${p99('gavel Envoy Check')} ms — ${mark(medianRun(find('gavel Envoy Check', client)).p99Ms <= 5)} (Decide with the log off ${p99('gavel Decide, log off')} ms; Cerbos ${p99('cerbos CheckResources')} ms)`,
    ];
  });
  const results = resultsTable(r.targets).replace('| non-2xx / errors |', '| failed calls |').replace('| req/s (median) |', '| calls/s (median) |').replace('| req/s of each run |', '| calls/s of each run |').replace('| req per server CPU-s (median) |', '| calls per server CPU-s (median) |');
  const checks = r.checked.map((c) => `- ${c.name}: ${c.compared}/${r.mix.length} requests, 0 differ from the reference`).join('\n');
  const load = loadLine(r.loadStart, r.loadEnd);
  const consoleText = ['Results', results, '', 'Targets', ...targets, '', load, `reproduce with: ${COMMAND}`].join('\n');
  const markdown = `${sectionHead('gRPC', COMMAND, 'bench/grpc.ts', r)}
- Every server runs in its own process${canPin ? ` pinned to CPU ${SERVER_CPU}` : ''}; every load run is a fresh generator process${canPin ? ` pinned to CPU ${LOAD_CPU}` : ''} (\`taskset -c\`), over 127.0.0.1, plaintext HTTP/2.
- The generator (bench/server-bench/grpc-load.ts): ${r.opts.concurrency} unary calls in flight at every moment, pre-encoded messages sent in turn, answers not decoded (a call counts when its status is OK); latency = call start to callback, \`process.hrtime.bigint()\`. The same generator drives every service, with two clients:
  - **[grpc-js]**: @grpc/grpc-js, ${r.opts.grpcJsChannels} channel(s), each its own connection, as a Node PEP calls a PDP. Its client spends more CPU per call than Gavel's server does, so on its one core it caps Gavel's figures (see "generator CPU").
  - **[h2]**: the same calls written straight onto node:http2 streams (gRPC's 5-byte message frame, \`grpc-status\` from the trailers) over ${r.opts.h2Channels} connections: a much lighter client, so the servers set the pace. Several connections matter: over one, a Node server and a Node client take turns (a burst of requests, one write of all the answers, a burst of answers) and neither core is ever busy.
- "server CPU": the server process's CPU time over the run (/proc), in % of its one core; "generator CPU" the same for the generator.
- A ${r.opts.warmup} s warm-up per target, then ${r.opts.rounds} rounds of ${r.opts.duration} s runs that interleave the targets; each target's median run (by calls/s) is reported, latencies from the same run.
- Whole run: ${r.elapsedS.toFixed(0)} s. ${load}

### What is measured

- **gavel Decide**: \`gavel serve\` with the N = 1,000 workload as in the HTTP section's **gavel** (scopes as the
  list \`subject.properties.scopes\`, since \`gavel.v1\` has no end-user token), decision log on.
- **gavel Decide, log off**: the same policies on a second server with \`"decision_log": {"enabled": false}\`.
- **gavel Envoy Check**: the same server's Envoy ext_authz service. Each request of the engine mix becomes an HTTP
  call Envoy asks about — its action as the method (read/list GET, create POST, update PUT, delete DELETE), its
  resource in the path (\`/docs/<id>\`; every tenth \`/admin/<id>\`), its address as the downstream peer, eight
  usual headers and a bearer JWT (ES256, three distinct tokens by role, cached after their first verification) —
  decided by three route policies of their own (bench/server-bench/grpc-messages.ts), beside the workload in the
  same folder (they name resource type \`route\`, which no workload request does).
- **cerbos CheckResources**: the Cerbos server's gRPC API with the resource policies of the HTTP section, one
  resource and one action per call, encoded with Cerbos' own generated messages (@cerbos/api).

### Results

${results}

### Targets

${targets.join('\n')}

### Decision check

Before any measurement every service answered the whole mix over gRPC; each answer equals the reference
(the workload's for Decide and Cerbos, the route policies' for Envoy Check):

${checks}

### Notes

- As in the HTTP section, other work shares this 2-CPU machine: "server CPU" says how much of its core each server
  got, and "calls per server CPU-s" is the figure that moves least between runs. The scheduler shares a core between
  threads, so under contention Cerbos (a Go program with several threads) may get more of it than Node's one busy thread.
- Decide and Envoy Check run with the decision log on (as shipped), so each call also pays for its log row.
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

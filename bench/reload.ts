/**
 * The reload benchmark: `npm run bench:reload`.
 *
 * What a policy change costs the requests being served, with a policy set large enough for
 * the build to matter: the engine benchmark's N = 10,000 workload. `gavel serve` (as
 * shipped, decision log on) and the Cerbos server (its disk store watched for changes) each
 * serve the whole set under autocannon; in a "steady" run nothing changes, in a "reloading"
 * run a policy file is rewritten every few seconds. Each rewrite adds a rule for a new
 * resource type (`reload_probe_<i>`), and a probe request outside the load asks every 20 ms
 * whether that type is allowed yet: the time from the write to the first allow is how soon a
 * change serves. Gavel rebuilds its whole set on each change (parse, check, compile, index),
 * in slices between requests; Cerbos recompiles the changed file.
 *
 * Each server runs in its own process pinned to CPU 0; each load run is a fresh autocannon
 * process pinned to CPU 1. Rounds interleave the targets and both kinds of run; each row is
 * the median run (by req/s) of its kind.
 *
 * Options (for development; a run with any of them leaves bench/RESULTS.md alone):
 *   --duration=12  --rounds=3  --warmup=5  --connections=50  --reloads=4
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPolicySet } from '../dist/index.js';
import { cerbosPolicies } from './peers/cerbos-policies.js';
import { writeSection } from './results-file.js';
import { authzenDecision, cerbosBody, cerbosDecision, gavelPolicyFiles, plainBody } from './server-bench/bodies.js';
import { checkAll, postJson } from './server-bench/check.js';
import { runLoad, type HttpJob, type LoadResult } from './server-bench/load.js';
import { LOAD_CPU, SERVER_CPU, spawnPinned, stopAll, stopOnSignals } from './server-bench/processes.js';
import { int, loadAverage, loadLine, medianRun, ms, packageVersion, sectionHead, table, benchOptions, startRun } from './server-bench/report.js';
import { startCerbos, startGavel, type Server } from './server-bench/servers.js';
import { describeMix, reference, requestMix } from './workload.js';

const COMMAND = 'npm run bench:reload';
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const N = 10_000;
const DEFAULTS = { duration: 12, rounds: 3, warmup: 5, connections: 50, reloads: 4 } as const;
const ROUTE = '/access/v1/evaluation';
const PROBE_EVERY_MS = 20;
const PROBE_GIVE_UP_MS = 30_000;
/** Directory entities for the directory runs. */
const ENTITIES = 100_000;

/** How each server is changed and asked whether the change serves yet. */
interface Reloadable {
  server: Server;
  url: string;
  bodies: string[];
  /** Writes the i-th change: a rule allowing `ping` on `reload_probe_<i>`. */
  write(i: number): void;
  /** Whether the i-th change decides yet. */
  serves(i: number): Promise<boolean>;
  steady: LoadResult[];
  reloading: { run: LoadResult; servedMs: number[] }[];
}

async function main(): Promise<number> {
  const { opts, full } = benchOptions(DEFAULTS);
  const { started, loadStart, source, versions } = startRun('reload', COMMAND, `Cerbos ${packageVersion('@cerbos/cerbos-linux-x64')}, autocannon ${packageVersion('autocannon')}`);

  const mix = requestMix(N);
  const expected = mix.map((r) => reference(r, N));
  const gavelFiles = gavelPolicyFiles(N, 'plain');
  const [firstFile, firstText] = [...gavelFiles][0] ?? ['', ''];
  const buildMs = wholeBuildMs(gavelFiles);
  console.log(`workload: N = ${int(N)} policies in ${gavelFiles.size} files; a whole build in process (buildPolicySet, median of 5): ${ms(buildMs)} ms\n`);

  const tmp = mkdtempSync(join(os.tmpdir(), 'gavel-bench-reload-'));
  const cleanup = async (): Promise<void> => {
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  };
  stopOnSignals(cleanup);
  try {
    console.log('starting servers…');
    const gavelServer = await startGavel('gavel', { dir: join(tmp, 'gavel'), policies: gavelFiles });
    const cerbosDir = join(tmp, 'cerbos');
    const cerbosServer = await startCerbos(cerbosDir, cerbosPolicies(N), true);
    const gavel: Reloadable = {
      server: gavelServer,
      url: `${gavelServer.http}${ROUTE}`,
      bodies: mix.map((r) => JSON.stringify(plainBody(r))),
      write: (i) => writeFileSync(join(tmp, 'gavel', 'policies', firstFile), `${firstText}permit (action == "ping", resource.type == "reload_probe_${i}");\n`),
      serves: async (i) => authzenDecision(await postJson(`${gavelServer.http}${ROUTE}`, JSON.stringify({ subject: { type: 'user', id: 'probe' }, action: { name: 'ping' }, resource: { type: `reload_probe_${i}`, id: '1' } }))),
      steady: [],
      reloading: [],
    };
    const cerbos: Reloadable = {
      server: cerbosServer,
      url: `${cerbosServer.http}/api/check/resources`,
      bodies: mix.map((r, i) => cerbosBody(r, i)),
      write: (i) => writeFileSync(join(cerbosDir, 'policies', 'reload_probe.yaml'), probePolicy(i)),
      serves: async (i) =>
        cerbosDecision(
          await postJson(`${cerbosServer.http}/api/check/resources`, JSON.stringify({ requestId: `probe-${i}`, principal: { id: 'probe', roles: ['viewer'], attr: {} }, resources: [{ actions: ['ping'], resource: { kind: `reload_probe_${i}`, id: '1', attr: {} } }] })),
          'ping',
        ),
      steady: [],
      reloading: [],
    };
    const targets = [gavel, cerbos];
    for (const t of targets) console.log(`  ${t.server.name.padEnd(8)} ${t.server.http}`);

    // ---- Decisions first: both servers agree with the reference on the whole mix.
    for (const t of targets) {
      const name = t.server.name;
      const decideAt = async (i: number): Promise<boolean> => {
        const answer = await postJson(t.url, t.bodies[i] ?? '');
        return t === gavel ? authzenDecision(answer) : cerbosDecision(answer, mix[i]?.action.name ?? '');
      };
      const c = await checkAll(name, expected, decideAt, (i) => (t.bodies[i] ?? '').slice(0, 400));
      console.log(`decision check: ${name} ${c.compared}/${mix.length} equal to the reference`);
    }
    console.log(`mix: ${describeMix(mix, N)}\n`);

    // ---- Load: steady and reloading runs, interleaved.
    const job = (t: Reloadable, durationS: number) => ({ kind: 'http' as const, url: t.url, bodies: t.bodies, connections: opts.connections, durationS });
    for (const t of targets) {
      const w = await runLoad(job(t, opts.warmup), t.server.child.proc.pid);
      console.log(`warm-up ${t.server.name.padEnd(8)} ${int(w.rps).padStart(7)} req/s`);
    }
    let change = 0;
    for (let round = 1; round <= opts.rounds; round++) {
      for (const t of targets) {
        const steady = await runLoad(job(t, opts.duration), t.server.child.proc.pid);
        t.steady.push(steady);
        console.log(`round ${round} ${t.server.name.padEnd(8)} steady    ${line(steady)}`);
        const { run, servedMs } = await reloadingRun(runLoad(job(t, opts.duration), t.server.child.proc.pid), opts, () => {
          const i = ++change;
          return timeToServe(() => t.write(i), () => t.serves(i), `${t.server.name}: change ${i}`);
        });
        t.reloading.push({ run, servedMs });
        console.log(`round ${round} ${t.server.name.padEnd(8)} reloading ${line(run)}  served after ${servedMs.map((x) => int(x)).join(', ')} ms`);
      }
    }

    // ---- The directory: 100,000 entities, changed by `gavel apply` from another process.
    const directoryRuns = await directoryUnderLoad(gavel, join(tmp, 'gavel'), opts, (t, d) => job(t, d));

    // ---- Report.
    const loadEnd = loadAverage();
    const report = buildReport({ gavel, cerbos, buildMs, files: gavelFiles.size, opts, loadStart, loadEnd, source, versions, elapsedS: (Date.now() - started) / 1e3, directory: directoryRuns });
    console.log(`\n${report}`);
    if (full) {
      writeSection('reload', report);
      console.log('\nwrote the Reload section of bench/RESULTS.md');
    } else console.log('\n(a run with options: bench/RESULTS.md left as it was)');
    const failed = [...targets.flatMap((t) => [...t.steady, ...t.reloading.map((r) => r.run)]), ...directoryRuns.steady, ...directoryRuns.reloading.map((r) => r.run)].some((r) => r.non2xx + r.errors > 0);
    return failed ? 1 : 0;
  } finally {
    await cleanup();
  }
}

const sleep = (msToWait: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, msToWait)));
const line = (r: LoadResult): string => `${int(r.rps).padStart(7)} req/s  p50 ${ms(r.p50Ms)} ms  p99 ${ms(r.p99Ms)} ms  slowest ${ms(r.settledMaxMs)} ms  longest gap ${ms(r.longestGapMs)} ms  non-2xx ${r.non2xx}  errors ${r.errors}`;

interface DirectoryRuns {
  steady: LoadResult[];
  reloading: { run: LoadResult; servedMs: number[] }[];
}

/** A directory document of ENTITIES users; the i-th version gives `probe-user` the attribute `version: "v<i>"`. */
function directoryDocument(i: number): string {
  const entities = [{ type: 'user', id: 'probe-user', attributes: { version: `v${i}` } as object }];
  for (let k = 0; k < ENTITIES - 1; k++) entities.push({ type: 'user', id: `u${k}`, attributes: { department: `d${k % 50}`, level: k % 7, email: `u${k}@example.com` } });
  return JSON.stringify({ entities });
}

/**
 * Steady and reloading runs against Gavel with a directory of ENTITIES entities; in a reloading
 * run the directory is applied again `reloads` times by `gavel apply` in another process
 * (pinned beside the load generator), each time with one entity changed, and the server reads
 * the whole directory again. "Served after": from the apply's start to the first decision that
 * sees the change (a policy permitting `ping` on `version_<i>` for `probe-user` at that version).
 */
async function directoryUnderLoad(gavel: Reloadable, dir: string, opts: { duration: number; rounds: number; reloads: number }, job: (t: Reloadable, durationS: number) => HttpJob): Promise<DirectoryRuns> {
  const runs: DirectoryRuns = { steady: [], reloading: [] };
  const docPath = join(dir, 'directory.json');
  writeFileSync(join(dir, 'policies', 'zz-directory-probe.gavel'), 'permit (action == "ping") when { subject.id == "probe-user" && resource.type == "version" && resource.id == subject.version };\n');
  const apply = async (i: number): Promise<void> => {
    writeFileSync(docPath, directoryDocument(i));
    const child = spawnPinned('gavel-apply', process.execPath, [join(ROOT, 'bin/gavel.js'), 'apply', docPath, '--db', join(dir, 'gavel.db')], { cpu: LOAD_CPU });
    const code = await child.exited;
    if (code !== 0) throw new Error(`gavel apply exited with ${code}:\n${child.output().slice(-2000)}`);
  };
  // Before the first directory is read, `subject.version` is missing: a policy error, not yet served.
  const serves = async (i: number): Promise<boolean> => {
    const answer = await postJson(gavel.url, JSON.stringify({ subject: { type: 'user', id: 'probe-user' }, action: { name: 'ping' }, resource: { type: 'version', id: `v${i}` } }));
    try {
      return authzenDecision(answer);
    } catch {
      return false;
    }
  };
  let version = 0;
  await timeToServe(() => apply(0), () => serves(0), 'the first directory');
  console.log(`\ndirectory: ${int(ENTITIES)} entities applied`);
  for (let round = 1; round <= opts.rounds; round++) {
    const steady = await runLoad(job(gavel, opts.duration), gavel.server.child.proc.pid);
    runs.steady.push(steady);
    console.log(`round ${round} directory steady    ${line(steady)}`);
    const { run, servedMs } = await reloadingRun(runLoad(job(gavel, opts.duration), gavel.server.child.proc.pid), opts, () => {
      const v = ++version;
      return timeToServe(() => apply(v), () => serves(v), `directory version ${v}`);
    });
    runs.reloading.push({ run, servedMs });
    console.log(`round ${round} directory reloading ${line(run)}  served after ${servedMs.map((x) => int(x)).join(', ')} ms`);
  }
  return runs;
}

/** Milliseconds from the start of `change` to the first probe `serves` allows. */
async function timeToServe(change: () => void | Promise<void>, serves: () => Promise<boolean>, what: string): Promise<number> {
  const t0 = performance.now();
  await change();
  while (!(await serves())) {
    if (performance.now() - t0 > PROBE_GIVE_UP_MS) throw new Error(`${what} was not served after ${PROBE_GIVE_UP_MS} ms`);
    await sleep(PROBE_EVERY_MS);
  }
  return performance.now() - t0;
}

/**
 * A load run during which `reloads` changes are made, spread evenly over its `duration`
 * (seconds); `next` makes one and answers its time to serve.
 */
async function reloadingRun(load: Promise<LoadResult>, opts: { duration: number; reloads: number }, next: () => Promise<number>): Promise<{ run: LoadResult; servedMs: number[] }> {
  // A failure below stops the generator too: its own rejection must not hide the cause.
  load.catch(() => {});
  const servedMs: number[] = [];
  const gapMs = (opts.duration * 1000) / (opts.reloads + 1);
  for (let k = 1; k <= opts.reloads; k++) {
    await sleep(gapMs - (servedMs.at(-1) ?? 0));
    servedMs.push(await next());
  }
  return { run: await load, servedMs };
}

/** A Cerbos resource policy allowing `ping` on `reload_probe_<i>` to every role. */
function probePolicy(i: number): string {
  return `apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: reload_probe_${i}
  rules:
    - actions: [ping]
      effect: EFFECT_ALLOW
      roles: ["*"]
`;
}

/** The whole set built in this process, as a reload builds it (median of 5): the work a reload spreads over slices. */
function wholeBuildMs(files: ReadonlyMap<string, string>): number {
  const sources = [...files].map(([file, text]) => ({ file, text }));
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const { set } = buildPolicySet(sources);
    times.push(performance.now() - t0);
    if (set === null) throw new Error('the workload does not build');
  }
  return times.sort((a, b) => a - b)[2] ?? NaN;
}

function directoryTable(r: ReportInput): string {
  const d = r.directory;
  const runs = d.reloading.map((x) => x.run);
  const served = d.reloading.flatMap((x) => x.servedMs);
  const row = (run: string, m: LoadResult, all: LoadResult[], servedText: string) => ['gavel', run, int(m.rps), ms(m.p50Ms), ms(m.p99Ms), ms(m.settledMaxMs), ms(m.longestGapMs), servedText, all.map((x) => int(x.rps)).join(', ')];
  return table(
    ['server', 'run', 'req/s (median run)', 'p50 ms', 'p99 ms', 'slowest answer ms', 'longest gap ms', 'change served after, ms: median (range)', 'req/s of each run'],
    [row(`steady, ${int(ENTITIES)} entities`, medianRun(d.steady), d.steady, '—'), row(`reloading (${r.opts.reloads} applies a run)`, medianRun(runs), runs, `${int(median(served))} (${int(Math.min(...served))}–${int(Math.max(...served))})`)],
    2,
  );
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

interface ReportInput {
  gavel: Reloadable;
  cerbos: Reloadable;
  buildMs: number;
  files: number;
  opts: { duration: number; rounds: number; warmup: number; connections: number; reloads: number };
  loadStart: string;
  loadEnd: string;
  source: string;
  versions: string;
  elapsedS: number;
  directory: DirectoryRuns;
}

function buildReport(r: ReportInput): string {
  const summary = (t: Reloadable) => {
    const runs = t.reloading.map((x) => x.run);
    const served = t.reloading.flatMap((x) => x.servedMs);
    const failures = [...t.steady, ...runs].reduce((sum, x) => sum + x.non2xx + x.errors, 0);
    const worst = (xs: LoadResult[], k: 'settledMaxMs' | 'longestGapMs') => Math.max(...xs.map((x) => x[k]));
    return { steady: medianRun(t.steady), reloading: medianRun(runs), served, failures, slowest: worst(runs, 'settledMaxMs'), gap: worst(runs, 'longestGapMs'), steadySlowest: worst(t.steady, 'settledMaxMs'), steadyGap: worst(t.steady, 'longestGapMs') };
  };
  const g = summary(r.gavel);
  const c = summary(r.cerbos);
  const rows: string[][] = [];
  for (const [name, t, s] of [['gavel', r.gavel, g], ['cerbos', r.cerbos, c]] as const) {
    const each = (runs: LoadResult[]) => runs.map((x) => int(x.rps)).join(', ');
    const row = (run: string, m: LoadResult, runs: LoadResult[], served: string) => [name, run, int(m.rps), ms(m.p50Ms), ms(m.p99Ms), ms(m.settledMaxMs), ms(m.longestGapMs), served, each(runs)];
    rows.push(row('steady', s.steady, t.steady, '—'));
    rows.push(row(`reloading (${r.opts.reloads} changes a run)`, s.reloading, t.reloading.map((x) => x.run), `${int(median(s.served))} (${int(Math.min(...s.served))}–${int(Math.max(...s.served))})`));
  }
  const results = table(['server', 'run', 'req/s (median run)', 'p50 ms', 'p99 ms', 'slowest answer ms', 'longest gap ms', 'change served after, ms: median (range)', 'req/s of each run'], rows, 2);
  return `${sectionHead('Reload', COMMAND, 'bench/reload.ts', { source: r.source, versions: r.versions })}
- Every server runs in its own process pinned to CPU ${SERVER_CPU}; every load run is a fresh autocannon process pinned to CPU ${LOAD_CPU} (\`taskset -c\`), over 127.0.0.1.
- ${r.opts.connections} connections, no pipelining; a ${r.opts.warmup} s warm-up per server, then ${r.opts.rounds} rounds, each a steady and a reloading ${r.opts.duration} s run per server; each row is the median run of its kind (latencies from that run).
- Whole run: ${r.elapsedS.toFixed(0)} s. ${loadLine(r.loadStart, r.loadEnd)}

### What is measured

The engine benchmark's N = ${int(N)} workload, its AuthZEN request mix (Gavel's \`/access/v1/evaluation\`, decision log on, as shipped) and Cerbos \`/api/check/resources\` with the same rules as ${int(N / 5)} resource policies; both servers are checked against the reference on the whole mix first. Gavel's policies are ${r.files} files of 100; Cerbos watches its policy folder (\`watchForChanges: true\`).

In a reloading run, ${r.opts.reloads} times, evenly spaced: Gavel's first policy file is rewritten with one more rule, \`permit (action == "ping", resource.type == "reload_probe_<i>")\` (a new type each time), and Cerbos gets a resource policy file allowing \`ping\` on \`reload_probe_<i>\` (one file, rewritten). A probe request outside the load asks every ${PROBE_EVERY_MS} ms whether the new type is allowed yet; "change served after" is the time from the write to the first allow. Gavel waits for a written file to be left alone for 300 ms (a file caught half-written would otherwise be applied as it stands), then rebuilds the whole set — parse, check, compile, index — in slices of at most 4 ms between requests, and swaps it in at once. A whole build of the ${int(N)} policies takes ${ms(r.buildMs)} ms in one process (\`buildPolicySet\`, median of 5, measured in this run).

### Results

${results}

"slowest answer" and "longest gap" (the longest time between two answers, from any connection) leave out each run's first second, when the generator itself starts.

### The directory

Gavel alone (Cerbos has no directory): the same server and load, with ${int(ENTITIES)} user entities in its directory. In a reloading run \`gavel apply\` of the whole document runs ${r.opts.reloads} times from another process (pinned to the load generator's CPU), one entity changed each time; the server notices the database changed (it looks once a second) and reads the whole directory again, a page of 2,000 entities per turn of its event loop, and swaps it in. "Served after": from the start of \`gavel apply\` (which reads and compares all ${int(ENTITIES)} entities itself) to the first decision that sees the change.

${directoryTable(r)}

### Findings

- Gavel, over the ${r.opts.rounds} reloading runs: slowest answer ${ms(g.slowest)} ms, longest gap between answers ${ms(g.gap)} ms (steady runs: ${ms(g.steadySlowest)} and ${ms(g.steadyGap)} ms), against ${ms(r.buildMs)} ms for a whole build: requests are answered between the build's slices instead of waiting for all of it. p99 ${ms(g.steady.p99Ms)} ms steady, ${ms(g.reloading.p99Ms)} ms reloading; ${int(g.reloading.rps)} vs ${int(g.steady.rps)} req/s (the build's CPU comes out of the same core).
- Cerbos, the same: slowest answer ${ms(c.slowest)} ms, longest gap ${ms(c.gap)} ms (steady: ${ms(c.steadySlowest)} and ${ms(c.steadyGap)} ms); p99 ${ms(c.steady.p99Ms)} → ${ms(c.reloading.p99Ms)} ms; ${int(c.reloading.rps)} vs ${int(c.steady.rps)} req/s.
- A change served after (median): Gavel ${int(median(g.served))} ms, Cerbos ${int(median(c.served))} ms.
- Failed requests: Gavel ${g.failures}, Cerbos ${c.failures} (non-2xx or errors over every run).
- The directory: the longest gap between answers in a reloading run ${ms(Math.max(...r.directory.reloading.map((x) => x.run.longestGapMs)))} ms (steady ${ms(Math.max(...r.directory.steady.map((x) => x.longestGapMs)))} ms); a change served ${int(median(r.directory.reloading.flatMap((x) => x.servedMs)))} ms (median) after \`gavel apply\` started.
`;
}

process.exitCode = await main();

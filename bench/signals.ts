/**
 * The IP reputation benchmark: `npm run bench:signals`.
 *
 * For N = 10,000, 100,000 and 1,000,000 prefixes (a plain list and a scored CSV, written to
 * temporary files by bench/signals-workload.ts), measures Gavel's `LiveIpLists.open` (read,
 * parse, build) and its lookups, and the same lookups as a linear scan with ipaddr.js and
 * with netmask: lookups/s, p50/p99 per lookup, load time, RSS; and checks that every peer
 * answer equals Gavel's.
 *
 * A Gavel lookup takes well under a microsecond, below what one `hrtime` pair can time
 * without its own cost dominating, so lookups are timed in batches of 1,000 and each
 * batch's time divided by 1,000: p50/p99 are percentiles of those batch means (a batch
 * mean hides single slow lookups, so the p99 here is the p99 of 1,000-lookup averages).
 * A peer lookup is a scan of every range and takes microseconds to milliseconds, so each
 * is timed on its own, for at most a time budget: at 1M prefixes that is few lookups.
 *
 * Each (N, engine) runs in its own child process, pinned to one CPU with `taskset` when
 * available, so no engine's heap or JIT state weighs on another's figures.
 *
 * Options (a partial run never rewrites RESULTS.md):
 *   --sizes=10000,100000    prefix counts to run
 *   --engines=gavel,ipaddr  engines to run (gavel, ipaddr, netmask)
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
// The built library, as users run it (see bench/engine.ts).
import { LiveIpLists } from '../dist/signals/ip/index.js';
import { RESULTS_MD, writeSection } from './results-file.js';
import { answerKey, ipaddrPeer, LIST_NAMES, netmaskPeer, readEntries, type Peer } from './signals-peers.js';
import { ADDRESS_COUNT, SIGNAL_SEED, SIGNAL_SIZES, writeWorkload } from './signals-workload.js';

const ENGINES = ['gavel', 'ipaddr', 'netmask'] as const;
type EngineName = (typeof ENGINES)[number];
const isEngineName = (x: unknown): x is EngineName => ENGINES.some((e) => e === x);

const BATCH = 1_000;
const WARMUP_MS = 500;
const ROUNDS = 5;
const ROUND_MS = 400;
/** Peers: each lookup timed alone, until this budget or the whole address mix. */
const PEER_BUDGET_MS = 5_000;
const COMMAND = 'npm run bench:signals';

const TARGET_P50_US = 1;
const TARGET_LOAD_MS = 3_000;
const TARGET_RSS_MB = 200;

interface Result {
  engine: EngineName;
  n: number;
  loadMs: number;
  /** Gavel: the table build alone (the rest of the load is reading and parsing). */
  buildMs: number | null;
  /** Gavel: `reload()` after one row of the scored list changed, and the longest the event loop stood still meanwhile. */
  reloadMs: number | null;
  reloadPauseMs: number | null;
  /** Gavel: the same reload in a worker thread (`offThread`, as `gavel serve` reloads), and its longest pause. */
  threadReloadMs: number | null;
  threadReloadPauseMs: number | null;
  rate: number;
  p50Us: number;
  p99Us: number;
  timed: number;
  /** Process RSS after loading (after a GC), its growth over the RSS before, and the peak. */
  rssMb: number;
  rssGrowthMb: number;
  peakRssMb: number;
  /** Gavel: ranges (IPv4 + IPv6) and distinct answers in the table. */
  ranges: number | null;
  answers: number | null;
  /** Answer keys for the first addresses of the mix (null: not looked up by this engine). */
  keys: (string | null)[];
}

function isResult(x: unknown): x is Result {
  if (typeof x !== 'object' || x === null) return false;
  const get = (k: keyof Result): unknown => Reflect.get(x, k);
  const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  const numOrNull = (v: unknown) => v === null || num(v);
  const keys = get('keys');
  return (
    isEngineName(get('engine')) &&
    [get('n'), get('loadMs'), get('rate'), get('p50Us'), get('p99Us'), get('timed'), get('rssMb'), get('rssGrowthMb'), get('peakRssMb')].every(num) &&
    [get('buildMs'), get('reloadMs'), get('reloadPauseMs'), get('threadReloadMs'), get('threadReloadPauseMs'), get('ranges'), get('answers')].every(numOrNull) &&
    Array.isArray(keys) &&
    keys.every((k: unknown) => k === null || typeof k === 'string')
  );
}

// ---------------------------------------------------------------------------------------
// Measuring, in a child.

const now = (): bigint => process.hrtime.bigint();
const msSince = (t: bigint): number => Number(now() - t) / 1e6;

function memory(): { rss: number; peak: number } {
  const collect: unknown = Reflect.get(globalThis, 'gc');
  if (typeof collect !== 'function') throw new Error('run with node --expose-gc (npm run bench:signals does)');
  collect();
  collect();
  return { rss: process.memoryUsage().rss / 1e6, peak: process.resourceUsage().maxRSS / 1e3 };
}

/** Nearest-rank percentile of sorted samples. */
function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN;
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
}

async function runGavel(n: number, dir: string, addresses: string[]): Promise<Result> {
  // Gavel's own copies of the files, so the reload below can change one without the peers seeing it.
  const own = mkdtempSync(join(dir, 'gavel-'));
  const [plain, scored] = [join(own, 'drop.netset'), join(own, 'reputation.csv')];
  copyFileSync(join(dir, 'drop.netset'), plain);
  copyFileSync(join(dir, 'reputation.csv'), scored);
  const before = memory();
  const t = now();
  const opened = await LiveIpLists.open([
    { name: LIST_NAMES[0], path: plain },
    { name: LIST_NAMES[1], path: scored },
  ]);
  const loadMs = msSince(t);
  if (!opened.ok) throw new Error(opened.errors.slice(0, 5).join('\n'));
  const lists = opened.lists;
  const after = memory();
  const table = lists.current;

  const keys = addresses.map((a) => {
    const s = table.lookup(a);
    return s === null ? 'null' : answerKey(s.reputation, s.lists, s.labels);
  });

  let sink = 0;
  let at = 0;
  const batch = (): void => {
    for (let i = 0; i < BATCH; i++) {
      const s = table.lookup(addresses[at] ?? '');
      if (s !== null) sink += s.reputation;
      at = at + 1 === addresses.length ? 0 : at + 1;
    }
  };
  let start = now();
  while (msSince(start) < WARMUP_MS) batch();
  const samples: number[] = [];
  const rates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const roundStart = now();
    let lookups = 0;
    do {
      start = now();
      batch();
      samples.push(Number(now() - start) / BATCH);
      lookups += BATCH;
    } while (msSince(roundStart) < ROUND_MS);
    rates.push(lookups / (msSince(roundStart) / 1e3));
  }
  if (sink === -1) console.log(sink); // keeps the loop's result alive
  const sorted = Float64Array.from(samples).sort();
  const stats = table.stats;

  // A reload after one row of the scored list changed: that file is read and parsed again,
  // the plain one is found unchanged by its digest, and the tables are rebuilt.
  appendFileSync(scored, '192.0.2.0/24,1,reload\n');
  const here = await timedReload(lists, '192.0.2.1', 'reload');
  lists.close();
  // The same in a worker thread, as `gavel serve` reloads (opened after the memory figures above).
  const threaded = await LiveIpLists.open(
    [
      { name: LIST_NAMES[0], path: plain },
      { name: LIST_NAMES[1], path: scored },
    ],
    { offThread: true },
  );
  if (!threaded.ok) throw new Error(threaded.errors.slice(0, 5).join('\n'));
  appendFileSync(scored, '198.51.100.0/24,1,again\n');
  const there = await timedReload(threaded.lists, '198.51.100.1', 'again');
  threaded.lists.close();
  return {
    engine: 'gavel',
    n,
    loadMs,
    buildMs: stats.buildMs,
    reloadMs: here.ms,
    reloadPauseMs: here.pauseMs,
    threadReloadMs: there.ms,
    threadReloadPauseMs: there.pauseMs,
    rate: median(rates),
    p50Us: percentile(sorted, 0.5) / 1e3,
    p99Us: percentile(sorted, 0.99) / 1e3,
    timed: samples.length * BATCH,
    rssMb: after.rss,
    rssGrowthMb: after.rss - before.rss,
    peakRssMb: after.peak,
    ranges: stats.v4Ranges + stats.v6Ranges,
    answers: stats.answers,
    keys,
  };
}

/**
 * `reload()`, timed, with the longest time the event loop stood still meanwhile (a server
 * answers no request for that long): a `setImmediate` chain notes the gap between its turns.
 */
async function timedReload(lists: LiveIpLists, address: string, label: string): Promise<{ ms: number; pauseMs: number }> {
  let last = performance.now();
  let longest = 0;
  let running = true;
  const tick = (): void => {
    const t = performance.now();
    longest = Math.max(longest, t - last);
    last = t;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  const r = now();
  const report = await lists.reload();
  const ms = msSince(r);
  running = false;
  longest = Math.max(longest, performance.now() - last);
  if (report.applied.join() !== LIST_NAMES[1] || lists.lookup(address)?.labels[0] !== label) throw new Error(`the reload did not apply: ${JSON.stringify(report)}`);
  return { ms, pauseMs: longest };
}

async function runPeer(engine: 'ipaddr' | 'netmask', n: number, dir: string, addresses: string[]): Promise<Result> {
  const before = memory();
  const t = now();
  const entries = readEntries(join(dir, 'drop.netset'), join(dir, 'reputation.csv'));
  const peer: Peer = engine === 'ipaddr' ? ipaddrPeer(entries) : netmaskPeer(entries);
  const loadMs = msSince(t);
  const after = memory();

  const keys: (string | null)[] = addresses.map(() => null);
  // Warm-up: a few lookups (one alone takes ~50 ms at 1M prefixes).
  const warm = now();
  for (let i = 0; i < addresses.length && (i < 3 || msSince(warm) < 200); i++) {
    const a = addresses[i] ?? '';
    if (peer.accepts(a)) peer.lookup(a);
  }
  const samples: number[] = [];
  const start = now();
  let totalNs = 0;
  for (let i = 0; i < addresses.length && msSince(start) < PEER_BUDGET_MS; i++) {
    const a = addresses[i] ?? '';
    if (!peer.accepts(a)) continue;
    const s = now();
    keys[i] = peer.lookup(a);
    const ns = Number(now() - s);
    samples.push(ns);
    totalNs += ns;
  }
  const sorted = Float64Array.from(samples).sort();
  return {
    engine,
    n,
    loadMs,
    buildMs: null,
    reloadMs: null,
    reloadPauseMs: null,
    threadReloadMs: null,
    threadReloadPauseMs: null,
    rate: samples.length / (totalNs / 1e9),
    p50Us: percentile(sorted, 0.5) / 1e3,
    p99Us: percentile(sorted, 0.99) / 1e3,
    timed: samples.length,
    rssMb: after.rss,
    rssGrowthMb: after.rss - before.rss,
    peakRssMb: after.peak,
    ranges: null,
    answers: null,
    keys,
  };
}

async function child(engine: EngineName, n: number, dir: string): Promise<Result> {
  const addresses: unknown = JSON.parse(readFileSync(join(dir, 'addresses.json'), 'utf8'));
  if (!Array.isArray(addresses) || !addresses.every((a: unknown) => typeof a === 'string')) throw new Error('addresses.json: not a list of strings');
  return engine === 'gavel' ? runGavel(n, dir, addresses) : runPeer(engine, n, dir, addresses);
}

// ---------------------------------------------------------------------------------------
// The parent.

function pinning(): { args: string[]; cpu: number | null } {
  if (process.platform !== 'linux') return { args: [], cpu: null };
  const probe = spawnSync('taskset', ['-V'], { stdio: 'ignore' });
  if (probe.error !== undefined || probe.status !== 0) return { args: [], cpu: null };
  const cpu = os.cpus().length - 1;
  return { args: ['-c', String(cpu)], cpu };
}

function revision(): string {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' });
  if (head.status !== 0) return 'not a git checkout';
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src/signals/ip', 'src/language/eval/ip.ts'], { cwd: root, encoding: 'utf8' });
  return `commit ${head.stdout.trim()}${dirty.stdout.trim() !== '' ? ' with uncommitted changes in src/signals/ip' : ''}`;
}

function runChild(engine: EngineName, n: number, dir: string, pin: string[]): Promise<Result> {
  const argv = [...process.execArgv, fileURLToPath(import.meta.url), '--child', engine, String(n), dir];
  const [cmd, args] = pin.length > 0 ? ['taskset', [...pin, process.execPath, ...argv]] : [process.execPath, argv];
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: Result | null = null;
    p.on('message', (m: unknown) => {
      if (isResult(m)) result = m;
      else reject(new Error(`${engine} N=${n}: unexpected message from the child`));
    });
    p.on('error', reject);
    p.on('exit', (code) => (result !== null && code === 0 ? resolve(result) : reject(new Error(`${engine} N=${n}: the child exited with ${code}`))));
  });
}

const int = (x: number): string => Math.round(x).toLocaleString('en-US');
const fixed = (x: number): string => (!Number.isFinite(x) ? '—' : x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : int(x));
const mark = (ok: boolean): string => (ok ? 'met' : '**not met**');

function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i < 2 ? '---' : '--:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

interface Check {
  n: number;
  engine: EngineName;
  checked: number;
  mismatches: { address: string; gavel: string; peer: string }[];
}

async function parent(sizes: number[], engines: EngineName[]): Promise<number> {
  const started = now();
  const loadStart = os.loadavg()[0] ?? NaN;
  const pin = pinning();
  const machine = `${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.cpus().length} logical CPUs), ${os.platform()} ${os.release()}, Node ${process.version}`;
  const version = (name: string): string => {
    const parsed: unknown = JSON.parse(readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), 'utf8'));
    const v = typeof parsed === 'object' && parsed !== null ? Reflect.get(parsed, 'version') : undefined;
    return `${name} ${typeof v === 'string' ? v : '?'}`;
  };
  const peers = `${version('ipaddr.js')}, ${version('netmask')}`;
  const source = revision();
  console.log(`Gavel IP reputation benchmark — reproduce with: ${COMMAND}`);
  console.log(`machine: ${machine}\ngavel: ${source}\npeers: ${peers}`);
  console.log(`each (N, engine) runs in its own child process, ${pin.cpu !== null ? `pinned to CPU ${pin.cpu} with taskset` : 'not pinned (taskset unavailable)'}\n`);

  const results: Result[] = [];
  const checks: Check[] = [];
  const workloads: string[] = [];
  let failures = 0;
  for (const n of sizes) {
    const dir = mkdtempSync(join(os.tmpdir(), `gavel-bench-signals-${n}-`));
    try {
      const w = writeWorkload(n, dir);
      writeFileSync(join(dir, 'addresses.json'), JSON.stringify(w.addresses));
      workloads.push(`- N=${int(n)}: ${w.describe}`);
      console.log(`N = ${int(n)}: ${w.describe}`);
      let gavel: Result | null = null;
      for (const engine of engines) {
        const t = now();
        try {
          const r = await runChild(engine, n, dir, pin.args);
          results.push(r);
          if (engine === 'gavel') gavel = r;
          console.log(
            `  ${engine.padEnd(8)} ${int(r.rate).padStart(11)} lookups/s  p50 ${fixed(r.p50Us).padStart(8)} µs  p99 ${fixed(r.p99Us).padStart(8)} µs  load ${int(r.loadMs).padStart(6)} ms  RSS ${int(r.rssMb)} MB (peak ${int(r.peakRssMb)})  (${(msSince(t) / 1e3).toFixed(1)} s)`,
          );
          if (gavel !== null && engine !== 'gavel') checks.push(compare(n, r, gavel, w.addresses));
        } catch (err: unknown) {
          failures++;
          console.log(`  ${engine.padEnd(8)} FAILED: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    console.log('');
  }

  const rows = results.map((r) => [
    int(r.n),
    r.engine,
    int(r.rate),
    fixed(r.p50Us),
    fixed(r.p99Us),
    int(r.timed),
    int(r.loadMs),
    r.buildMs === null ? '—' : int(r.buildMs),
    r.reloadMs === null || r.reloadPauseMs === null ? '—' : `${int(r.reloadMs)} (${int(r.reloadPauseMs)})`,
    r.threadReloadMs === null || r.threadReloadPauseMs === null ? '—' : `${int(r.threadReloadMs)} (${fixed(r.threadReloadPauseMs)})`,
    fixed(r.rssMb - r.rssGrowthMb),
    fixed(r.rssMb),
    fixed(r.rssGrowthMb),
    fixed(r.peakRssMb),
    r.ranges === null ? '—' : int(r.ranges),
  ]);
  const resultsTable = table(['prefixes', 'engine', 'lookups/s', 'p50 µs', 'p99 µs', 'timed lookups', 'load ms', 'of which build ms', 'reload ms (longest pause)', 'reload in a worker ms (longest pause)', 'RSS before MB', 'RSS MB', 'RSS +MB', 'peak RSS MB', 'ranges'], rows);

  const ratioRows: string[][] = [];
  for (const n of sizes) {
    const g = results.find((r) => r.n === n && r.engine === 'gavel');
    if (g === undefined) continue;
    for (const p of results.filter((r) => r.n === n && r.engine !== 'gavel')) {
      ratioRows.push([int(n), p.engine, `${int(g.rate / p.rate)}×`, `${int(p.p50Us / g.p50Us)}×`, `${(p.loadMs / g.loadMs).toFixed(2)}×`]);
    }
  }
  const ratioTable = table(['prefixes', 'peer', 'lookups/s (Gavel ÷ peer)', 'p50 (peer ÷ Gavel)', 'load (peer ÷ Gavel)'], ratioRows);

  const targets: string[] = [];
  const g1m = results.find((r) => r.engine === 'gavel' && r.n === 1_000_000);
  if (g1m !== undefined) {
    targets.push(`- lookup p50 ≤ ${TARGET_P50_US} µs with 1M prefixes: ${mark(g1m.p50Us <= TARGET_P50_US)} (${fixed(g1m.p50Us * 1e3)} ns; p99 of 1,000-lookup batches ${fixed(g1m.p99Us * 1e3)} ns)`);
    targets.push(`- load of 1M prefixes ≤ ${TARGET_LOAD_MS / 1e3} s: ${mark(g1m.loadMs <= TARGET_LOAD_MS)} (${int(g1m.loadMs)} ms: read + parse ${int(g1m.loadMs - (g1m.buildMs ?? 0))} ms, build ${int(g1m.buildMs ?? 0)} ms)`);
    targets.push(
      `- ≤ ${TARGET_RSS_MB} MB RSS with 1M prefixes: ${mark(g1m.peakRssMb <= TARGET_RSS_MB)} (the whole process at its peak while loading: ${fixed(g1m.peakRssMb)} MB; ${fixed(g1m.rssMb)} MB after loading, ` +
        `+${fixed(g1m.rssGrowthMb)} MB over the ${fixed(g1m.rssMb - g1m.rssGrowthMb)} MB the benchmark process held before loading — tsx, the harness and the address mix)`,
    );
  }
  const totalMismatches = checks.reduce((k, c) => k + c.mismatches.length, 0);
  const checkLines = checks.map((c) => `- N=${int(c.n)} ${c.engine}: ${int(c.checked)} addresses compared with Gavel; ${c.mismatches.length} differ`);
  const elapsed = msSince(started) / 1e3;
  const load = `Load average (1 min) ${loadStart.toFixed(2)} at the start, ${os.loadavg()[0]?.toFixed(2) ?? '?'} at the end (other work on the machine slows every engine).`;

  console.log('Results\n');
  console.log(resultsTable);
  console.log('\nRatios\n');
  console.log(ratioTable);
  console.log('\nTargets\n');
  console.log(targets.join('\n'));
  console.log('\nAnswer check\n');
  console.log(checkLines.join('\n'));
  for (const c of checks) for (const m of c.mismatches.slice(0, 5)) console.log(`  N=${c.n} ${c.engine} ${m.address}: gavel ${m.gavel}, peer ${m.peer}`);
  console.log(`\n${load}\ntotal time: ${elapsed.toFixed(0)} s\nreproduce with: ${COMMAND}`);

  const full = sizes.length === SIGNAL_SIZES.length && SIGNAL_SIZES.every((s, i) => sizes[i] === s) && engines.length === ENGINES.length;
  if (full && failures === 0) {
    writeSection('signals', section({ machine, source, peers, pin: pin.cpu, workloads, resultsTable, ratioTable, targets, checkLines, totalMismatches, elapsed, load }));
    console.log(`\nwrote the Signals section of ${fileURLToPath(RESULTS_MD)}`);
  } else {
    console.log('\n(partial run: bench/RESULTS.md left as it was)');
  }
  return failures > 0 || totalMismatches > 0 ? 1 : 0;
}

function compare(n: number, peer: Result, gavel: Result, addresses: string[]): Check {
  const check: Check = { n, engine: peer.engine, checked: 0, mismatches: [] };
  peer.keys.forEach((key, i) => {
    if (key === null) return;
    check.checked++;
    const g = gavel.keys[i] ?? '';
    if (g !== key) check.mismatches.push({ address: addresses[i] ?? '', gavel: g, peer: key });
  });
  return check;
}

function section(r: {
  machine: string;
  source: string;
  peers: string;
  pin: number | null;
  workloads: string[];
  resultsTable: string;
  ratioTable: string;
  targets: string[];
  checkLines: string[];
  totalMismatches: number;
  elapsed: number;
  load: string;
}): string {
  return `## Signals

IP reputation lists (\`src/signals/ip\`): loading and longest-prefix lookups. Reproduce with:

\`\`\`sh
${COMMAND}
\`\`\`

(builds dist/, then runs \`node --expose-gc --import tsx bench/signals.ts\` against the built library; the script rewrites this section on a full run.)

- Date: ${new Date().toISOString().slice(0, 10)}
- Machine: ${r.machine}
- Gavel: ${r.source}
- Peers: ${r.peers}
- Each (N, engine) runs in a fresh child process${r.pin !== null ? `, pinned to CPU ${r.pin} with \`taskset\`` : ''}.
- Whole run: ${r.elapsed.toFixed(0)} s. ${r.load}

### Workload

\`bench/signals-workload.ts\` writes two files per N (seed 0x${SIGNAL_SEED.toString(16)}): \`drop.netset\`, a plain list in
Spamhaus DROP style (60% of N, \`; SBL…\` comments), and \`reputation.csv\`, a scored \`cidr,score,label\` feed (40%,
labels from eight categories, one empty). 95% of prefixes are IPv4 (/32 45%, /24 30%, /20–/23 15%, /16–/19 8%,
/12–/15 2%), 5% IPv6 in 2000::/3 (/32 to /128); random bases, so prefixes nest and overlap within and across the
lists. ${int(ADDRESS_COUNT)} addresses are looked up:

${r.workloads.join('\n')}

### How it is measured

- **Gavel**: load = \`LiveIpLists.open\` of both files: read, parse, build the tables (the build is also
  reported alone). Reload = \`reload()\` after one row was appended to the scored file: that file is read and
  parsed again, the plain one is skipped (same digest), the tables are rebuilt; on the calling thread, and then
  again (another row) in a worker thread, as \`gavel serve\` reloads (\`offThread\`). "Longest pause" is the longest
  the event loop stood still during the reload (the gap between turns of a \`setImmediate\` chain): how long a
  server would answer no request. In a worker it is the copy of the unchanged lists to the thread and the turn
  that takes the new tables. Lookups = \`lookup(address)\` on the address strings (parsing included), in batches of
  ${int(BATCH)} timed with \`process.hrtime.bigint()\` around each batch: one lookup is below what a timer pair can
  measure without its own cost dominating. p50/p99 are percentiles of the batch means (so the p99 is that of
  1,000-lookup averages, not of single lookups); lookups/s is the median of ${ROUNDS} rounds of ≥ ${ROUND_MS} ms,
  after a ${WARMUP_MS} ms warm-up.
- **ipaddr.js** and **netmask**: load = read both files and parse every entry (\`ipaddr.parseCIDR\`,
  \`new Netmask\`); each lookup is a linear scan of every range (\`addr.match(range)\`, \`block.contains(address)\`),
  keeping each list's longest match, and is timed on its own, in mix order, for at most ${PEER_BUDGET_MS / 1e3} s — at 1M prefixes
  a lookup takes tens to hundreds of milliseconds, so only the first few dozen addresses are timed there.
  netmask is IPv4 only and runs the dotted IPv4 addresses of the mix.
- RSS = the child process's resident set after loading and a \`global.gc()\`; RSS before = the same before
  loading (Node, the tsx loader, the harness and the address mix; a plain \`node\` process starts at about half);
  +MB = the growth; peak = \`process.resourceUsage().maxRSS\`, which includes the transient memory of reading,
  parsing and building.

### Results

${r.resultsTable}

### Ratios

${r.ratioTable}

### Targets

${r.targets.join('\n')}

### Answer check

Every peer answer (reputation, lists, labels) is compared with Gavel's for the same address. Mismatches: **${r.totalMismatches}**.

${r.checkLines.join('\n')}
`;
}

// ---------------------------------------------------------------------------------------

function option(name: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

async function main(): Promise<number> {
  const at = process.argv.indexOf('--child');
  if (at >= 0) {
    const [engine, n, dir] = [process.argv[at + 1], Number(process.argv[at + 2]), process.argv[at + 3]];
    if (!isEngineName(engine) || !Number.isInteger(n) || dir === undefined) throw new Error(`bad child arguments: ${process.argv.slice(at).join(' ')}`);
    const result = await child(engine, n, dir);
    const send = process.send?.bind(process);
    if (send === undefined) throw new Error('--child runs under the benchmark parent, with an IPC channel');
    await new Promise<void>((resolve, reject) => send(result, undefined, {}, (err: Error | null) => (err ? reject(err) : resolve())));
    return 0;
  }
  const sizes = option('sizes')?.split(',').map(Number) ?? [...SIGNAL_SIZES];
  const engines = (option('engines')?.split(',') ?? [...ENGINES]).filter(isEngineName);
  if (!engines.includes('gavel')) engines.unshift('gavel');
  for (const n of sizes) if (!Number.isInteger(n) || n < 10) throw new Error(`--sizes: ${n} is not an integer of at least 10`);
  return parent(sizes, engines);
}

main().then(
  (code) => {
    process.exitCode = code;
    if (process.argv.includes('--child')) process.disconnect?.();
  },
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  },
);

/**
 * What the HTTP and gRPC benchmarks share when they report: the run's circumstances
 * (machine, commit, load average), the median of repeated runs, number formats and
 * markdown tables.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { LoadResult } from './load.js';
import { canPin, LOAD_CPU, SERVER_CPU } from './processes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function machine(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model ?? 'unknown CPU'} (${cpus.length} logical CPUs), ${os.platform()} ${os.release()}, Node ${process.version}`;
}

/** The commit measured, and whether src/ had uncommitted changes: figures follow the source. */
export function revision(): string {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  if (head.status !== 0) return 'not a git checkout';
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src', 'grammar'], { cwd: ROOT, encoding: 'utf8' });
  return `commit ${head.stdout.trim()}${dirty.stdout.trim() !== '' ? ' with uncommitted changes in src/ or grammar/ (built into dist/ and measured)' : ''}`;
}

export function packageVersion(name: string): string {
  const parsed: unknown = JSON.parse(readFileSync(`${ROOT}node_modules/${name}/package.json`, 'utf8'));
  const v = typeof parsed === 'object' && parsed !== null ? Reflect.get(parsed, 'version') : undefined;
  return typeof v === 'string' ? v : '?';
}

export const loadAverage = (): string => (os.loadavg()[0] ?? NaN).toFixed(2);

/** The run with the median req/s: its latencies are reported with it, so figures come from one run. */
export function medianRun(runs: readonly LoadResult[]): LoadResult {
  const sorted = [...runs].sort((a, b) => a.rps - b.rps);
  const m = sorted[Math.floor(sorted.length / 2)];
  if (m === undefined) throw new Error('no runs');
  return m;
}

export const int = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—');
export const ms = (x: number): string => (Number.isFinite(x) ? (x < 10 ? x.toFixed(2) : x.toFixed(1)) : '—');
export const pct = (x: number): string => `${(100 * x).toFixed(0)}%`;
export const times = (x: number): string => `${x >= 10 ? x.toFixed(0) : x.toFixed(1)}×`;
export const mark = (ok: boolean): string => (ok ? 'met' : '**not met**');

/** A markdown table; columns after the first `textColumns` are right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], textColumns = 1): string {
  const out = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i < textColumns ? '---' : '--:')).join('|')}|`];
  for (const r of rows) out.push(`| ${r.join(' | ')} |`);
  return out.join('\n');
}

export interface Target {
  name: string;
  /** The server process, for its CPU use during each run. */
  pid: number | undefined;
  /** What it measures, for the table. */
  what: string;
  runs: LoadResult[];
}

/**
 * Requests per second of server CPU time: what a server does with the CPU it actually got.
 * On this shared 2-CPU machine a pinned server often gets far less than its core (other
 * work runs there too), which moves req/s from run to run; this moves much less. It does
 * not count time a server spends blocked (an fsync, say), which req/s does.
 */
export function perCpu(r: LoadResult): number {
  return Number.isFinite(r.serverCpu) && r.serverCpu > 0 ? r.rps / (r.serverCpu / 100) : NaN;
}

/** The median over runs of `perCpu`. */
export function medianPerCpu(runs: readonly LoadResult[]): number {
  const xs = runs.map(perCpu).filter(Number.isFinite).sort((a, b) => a - b);
  return xs[Math.floor(xs.length / 2)] ?? NaN;
}

/** One row per target: the median run's figures and every run's req/s. */
export function resultsTable(targets: readonly Target[]): string {
  return table(
    ['target', 'what', 'req/s (median)', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'non-2xx / errors', 'req/s of each run', 'server CPU', 'req per server CPU-s (median)', 'generator CPU'],
    targets.map((t) => {
      const m = medianRun(t.runs);
      const failures = t.runs.reduce((s, r) => s + r.non2xx + r.errors, 0);
      return [t.name, t.what, int(m.rps), ms(m.p50Ms), ms(m.p90Ms), ms(m.p99Ms), ms(m.maxMs), String(failures), t.runs.map((r) => int(r.rps)).join(', '), Number.isFinite(m.serverCpu) ? `${m.serverCpu.toFixed(0)}%` : '—', int(medianPerCpu(t.runs)), `${m.generatorCpu.toFixed(0)}%`];
    }),
    2,
  );
}

/** `name=value` options (for development); answers undefined when absent. */
export function option(name: string): string | undefined {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg?.slice(name.length + 3);
}

export function numberOption(name: string, fallback: number): number {
  const v = option(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name}: expected a positive number, got \`${v}\``);
  return n;
}

/**
 * The numeric `--name=value` options of a benchmark over their defaults, and whether every one
 * is at its default: only such a full run rewrites its section of RESULTS.md.
 */
export function benchOptions<T extends Record<string, number>>(defaults: T): { opts: { [K in keyof T]: number }; full: boolean } {
  const opts = Object.fromEntries(Object.entries(defaults).map(([k, v]) => [k, numberOption(k, v)])) as { [K in keyof T]: number };
  return { opts, full: Object.keys(defaults).every((k) => opts[k] === defaults[k]) };
}

/** When and where a server benchmark started: what its console header and RESULTS section say of the run. */
export interface RunStart {
  started: number;
  loadStart: string;
  source: string;
  versions: string;
}

/** Prints a server benchmark's header (command, machine, commit, peers, pinning, load) and answers what it printed. */
export function startRun(title: string, command: string, versions: string, generator = 'autocannon'): RunStart {
  const run = { started: Date.now(), loadStart: loadAverage(), source: revision(), versions };
  console.log(`Gavel ${title} benchmark — reproduce with: ${command}`);
  console.log(`machine: ${machine()}\ngavel: ${run.source}\npeers: ${versions}`);
  console.log(canPin ? `servers pinned to CPU ${SERVER_CPU}, ${generator} to CPU ${LOAD_CPU} (taskset)` : 'NOT pinned: taskset is unavailable');
  console.log(`load average (1 min) at the start: ${run.loadStart}\n`);
  return run;
}

/** The load-average sentence every server benchmark reports. */
export function loadLine(start: string, end: string): string {
  return `Load average (1 min) ${start} at the start, ${end} at the end; the machine has 2 logical CPUs and other work may run on it, so figures move between runs.`;
}

/** The opening of a server benchmark's RESULTS.md section: heading, command, date, machine, versions. */
export function sectionHead(title: string, command: string, script: string, run: { source: string; versions: string }): string {
  return `## ${title}

Reproduce with:

\`\`\`sh
${command}
\`\`\`

(builds dist/, then runs \`node --import tsx ${script}\`; the script rewrites this section on a full run.)

- Date: ${new Date().toISOString().slice(0, 10)}
- Machine: ${machine()}
- Gavel: ${run.source}
- Peers and tools: ${run.versions}`;
}

/**
 * Load runs, from the benchmark's side: each run is one fresh load-generator process pinned
 * to LOAD_CPU (autocannon for HTTP, grpc-load.ts for gRPC) that gets its job over IPC and
 * answers a LoadResult. The generator's own CPU use is reported too: near 100% means the
 * generator, not the server, set the pace.
 */
import { fileURLToPath } from 'node:url';
import { cpuSeconds, LOAD_CPU, spawnPinned } from './processes.js';

export interface HttpJob {
  kind: 'http';
  url: string;
  /** Sent in turn by every connection (autocannon's `requests` list, built once). */
  bodies: string[];
  /** Request headers over the default `content-type: application/json` (a form body and Basic auth, say). */
  headers?: Record<string, string>;
  connections: number;
  durationS: number;
}

export interface GrpcJob {
  kind: 'grpc';
  /** host:port */
  address: string;
  /** `/package.Service/Method` */
  path: string;
  /** Encoded request messages, base64, sent in turn. */
  messages: string[];
  /** Calls in flight at every moment, over all channels. */
  concurrency: number;
  /** Channels (connections) the calls are spread over. */
  channels: number;
  /** @grpc/grpc-js, or gRPC framed straight onto node:http2 streams (grpc-load.ts). */
  client: 'grpc-js' | 'h2';
  durationS: number;
}

export type LoadJob = HttpJob | GrpcJob;

export interface LoadResult {
  requests: number;
  elapsedS: number;
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** HTTP: answers outside 2xx; gRPC: calls ending in a status other than OK. */
  non2xx: number;
  /** Connection errors and timeouts (HTTP); always 0 for gRPC, where every failure has a status. */
  errors: number;
  /** The generator's CPU time over the run's wall time, in % of one core. */
  generatorCpu: number;
  /** A few failures, to say what went wrong. */
  failures: string[];
  /** The server's CPU time over the run's wall time, in % of one core; NaN when unknown. */
  serverCpu: number;
  /**
   * The slowest answer after the run's first second, and the longest time between two answers
   * after it: a server that stops answering for a while (a blocking reload) shows in both, while
   * the generator's own start (connections, its JIT) does not.
   */
  settledMaxMs: number;
  longestGapMs: number;
}

const isNumber = (x: unknown): x is number => typeof x === 'number' && !Number.isNaN(x);
const LATENCIES = ['p50Ms', 'p90Ms', 'p99Ms', 'maxMs', 'settledMaxMs', 'longestGapMs'] as const;

/** Over IPC (JSON), a run without a single answer has `null` latencies, which become NaN here. */
export function toLoadResult(x: unknown): LoadResult | null {
  if (typeof x !== 'object' || x === null) return null;
  const r = (k: keyof LoadResult): unknown => Reflect.get(x, k);
  const counts: (keyof LoadResult)[] = ['requests', 'elapsedS', 'rps', 'non2xx', 'errors', 'generatorCpu'];
  if (!counts.every((k) => isNumber(r(k))) || !LATENCIES.every((k) => r(k) === null || isNumber(r(k)))) return null;
  const failures = r('failures');
  if (!Array.isArray(failures) || !failures.every((f: unknown) => typeof f === 'string')) return null;
  const n = (k: keyof LoadResult): number => {
    const v = r(k);
    return typeof v === 'number' ? v : NaN;
  };
  return {
    requests: n('requests'),
    elapsedS: n('elapsedS'),
    rps: n('rps'),
    p50Ms: n('p50Ms'),
    p90Ms: n('p90Ms'),
    p99Ms: n('p99Ms'),
    maxMs: n('maxMs'),
    non2xx: n('non2xx'),
    errors: n('errors'),
    generatorCpu: n('generatorCpu'),
    failures,
    serverCpu: NaN,
    settledMaxMs: n('settledMaxMs'),
    longestGapMs: n('longestGapMs'),
  };
}

export function isLoadJob(x: unknown): x is LoadJob {
  if (typeof x !== 'object' || x === null) return false;
  const kind: unknown = Reflect.get(x, 'kind');
  return kind === 'http' || kind === 'grpc';
}

const GENERATORS = { http: './http-load.ts', grpc: './grpc-load.ts' } as const;

/** Runs one job in a fresh generator process and answers its result, with the server's CPU use over it. */
export async function runLoad(job: LoadJob, serverPid?: number): Promise<LoadResult> {
  const before = cpuSeconds(serverPid);
  const result = await generate(job);
  const after = cpuSeconds(serverPid);
  // The server idles while the generator starts and exits: its CPU seconds all fall in the run.
  return { ...result, serverCpu: before !== null && after !== null ? (100 * (after - before)) / result.elapsedS : NaN };
}

function generate(job: LoadJob): Promise<LoadResult> {
  const script = fileURLToPath(new URL(GENERATORS[job.kind], import.meta.url));
  const child = spawnPinned(`${job.kind}-load`, process.execPath, ['--import', 'tsx', script], { cpu: LOAD_CPU, ipc: true });
  return new Promise((resolve, reject) => {
    let result: LoadResult | null = null;
    child.proc.on('message', (m: unknown) => {
      result = toLoadResult(m);
      if (result === null) reject(new Error(`${job.kind}-load: unexpected message ${JSON.stringify(m).slice(0, 200)}`));
    });
    child.proc.send(job);
    void child.exited.then((code) => {
      if (result !== null && code === 0) resolve(result);
      else reject(new Error(`${job.kind}-load exited with ${code}:\n${child.output().slice(-4000)}`));
    });
  });
}

/** Nearest-rank percentile of ascending samples. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN;
}

/** How long a run settles before `settledMaxMs` and `longestGapMs` count. */
const SETTLE_MS = 1_000;

/** A growable Float64Array of latency samples, in ms, and the settled run's slowest answer and longest gap. */
export class Samples {
  #data = new Float64Array(1 << 16);
  #n = 0;
  readonly #started = performance.now();
  #last = NaN;
  settledMax = NaN;
  longestGap = NaN;
  add(ms: number): void {
    const now = performance.now();
    if (now - this.#started >= SETTLE_MS) {
      if (!(ms <= this.settledMax)) this.settledMax = ms;
      if (this.#last - this.#started >= SETTLE_MS && !(now - this.#last <= this.longestGap)) this.longestGap = now - this.#last;
    }
    this.#last = now;
    if (this.#n === this.#data.length) {
      const bigger = new Float64Array(this.#data.length * 2);
      bigger.set(this.#data);
      this.#data = bigger;
    }
    this.#data[this.#n++] = ms;
  }
  sorted(): Float64Array {
    return this.#data.slice(0, this.#n).sort();
  }
}

/** Inside a generator: reads the job from the parent, runs it, sends the result, exits. */
export function generatorMain(run: (job: LoadJob) => Promise<LoadResult>): void {
  process.once('message', (m: unknown) => {
    if (!isLoadJob(m)) throw new Error('a load generator takes a job over IPC from the benchmark');
    run(m).then(
      (result) => process.send?.(result, undefined, {}, () => process.disconnect()),
      (err: unknown) => {
        console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
        process.exit(1);
      },
    );
  });
}

/** What a run's samples and counters add up to. */
export function summarize(samples: Samples, counts: { requests: number; non2xx: number; errors: number; elapsedS: number; cpuMicros: number; failures: string[] }): LoadResult {
  const sorted = samples.sorted();
  return {
    requests: counts.requests,
    elapsedS: counts.elapsedS,
    rps: counts.requests / counts.elapsedS,
    p50Ms: percentile(sorted, 0.5),
    p90Ms: percentile(sorted, 0.9),
    p99Ms: percentile(sorted, 0.99),
    maxMs: sorted[sorted.length - 1] ?? NaN,
    non2xx: counts.non2xx,
    errors: counts.errors,
    generatorCpu: (100 * counts.cpuMicros) / 1e6 / counts.elapsedS,
    failures: counts.failures.slice(0, 5),
    serverCpu: NaN,
    settledMaxMs: samples.settledMax,
    longestGapMs: samples.longestGap,
  };
}

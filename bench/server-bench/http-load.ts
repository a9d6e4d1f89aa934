/**
 * The HTTP load generator: autocannon in this process (no worker threads), pinned to its own
 * CPU by the benchmark. Every connection sends the job's bodies in turn — autocannon builds
 * a fixed `requests` list once, so rotating bodies costs the generator nothing per request.
 *
 * Latencies come from autocannon's own `response` events (the time from writing a request
 * to its complete answer, in fractional ms): autocannon's summary histogram keeps whole
 * milliseconds only, too coarse for a p50 of one or two.
 */
import autocannon from 'autocannon';
import { generatorMain, Samples, summarize, type LoadJob, type LoadResult } from './load.js';

function run(job: LoadJob): Promise<LoadResult> {
  if (job.kind !== 'http') throw new Error('http-load runs HTTP jobs');
  const samples = new Samples();
  let ok = 0;
  let non2xx = 0;
  const failures: string[] = [];
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: job.url,
        connections: job.connections,
        duration: job.durationS,
        requests: job.bodies.map((body) => ({ method: 'POST', path: new URL(job.url).pathname, headers: { 'content-type': 'application/json', ...job.headers }, body })),
      },
      (err: unknown, result) => {
        if (err !== null && err !== undefined) return reject(err instanceof Error ? err : new Error(String(err)));
        const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
        const used = process.cpuUsage(cpu);
        if (result.errors > 0) failures.push(`${result.errors} connection errors, ${result.timeouts} timeouts`);
        resolve(summarize(samples, { requests: ok + non2xx, non2xx, errors: result.errors, elapsedS: result.duration > 0 ? result.duration : elapsedS, cpuMicros: used.user + used.system, failures }));
      },
    );
    instance.on('response', (_client, status, _bytes, responseTime) => {
      samples.add(responseTime);
      if (status >= 200 && status < 300) ok++;
      else if (non2xx++ < 5) failures.push(`HTTP ${status}`);
    });
  });
}

generatorMain(run);

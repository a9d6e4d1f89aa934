/**
 * The gRPC load generator (autocannon speaks HTTP/1.1 only): one @grpc/grpc-js channel,
 * `concurrency` unary calls in flight at every moment for `durationS` seconds, the job's
 * pre-encoded messages sent in turn. The same code drives Gavel and Cerbos; it never decodes
 * an answer (a call counts when its status is OK), so its own cost is the transport's.
 */
import { credentials, Client, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { generatorMain, Samples, summarize, type LoadJob, type LoadResult } from './load.js';

const identity = (b: Buffer): Buffer => b;

function run(job: LoadJob): Promise<LoadResult> {
  if (job.kind !== 'grpc') throw new Error('grpc-load runs gRPC jobs');
  const messages = job.messages.map((m) => Buffer.from(m, 'base64'));
  const client = new Client(job.address, credentials.createInsecure(), { 'grpc.max_receive_message_length': 1 << 20 });
  const samples = new Samples();
  const failures: string[] = [];
  let ok = 0;
  let failed = 0;
  let next = 0;
  return new Promise((resolve, reject) => {
    client.waitForReady(Date.now() + 10_000, (err) => {
      if (err) return reject(err);
      const cpu = process.cpuUsage();
      const started = process.hrtime.bigint();
      const endAt = started + BigInt(Math.round(job.durationS * 1e9));
      let inFlight = 0;
      const finish = (): void => {
        const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
        const used = process.cpuUsage(cpu);
        client.close();
        resolve(summarize(samples, { requests: ok + failed, non2xx: failed, errors: 0, elapsedS, cpuMicros: used.user + used.system, failures }));
      };
      const call = (): void => {
        const message = messages[next++ % messages.length] ?? Buffer.alloc(0);
        const t = process.hrtime.bigint();
        inFlight++;
        client.makeUnaryRequest(job.path, identity, identity, message, new Metadata(), (e: ServiceError | null) => {
          const now = process.hrtime.bigint();
          inFlight--;
          samples.add(Number(now - t) / 1e6);
          if (e === null) ok++;
          else if (failed++ < 5) failures.push(`${status[e.code] ?? e.code}: ${e.details}`);
          if (now < endAt) call();
          else if (inFlight === 0) finish();
        });
      };
      for (let i = 0; i < job.concurrency; i++) call();
    });
  });
}

generatorMain(run);

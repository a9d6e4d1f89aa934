/**
 * The gRPC load generator (autocannon speaks HTTP/1.1 only): `concurrency` unary calls in
 * flight at every moment for `durationS` seconds, spread over `channels` connections, the
 * job's pre-encoded messages sent in turn. The same code drives Gavel and Cerbos; it never
 * decodes an answer (a call counts when its status is OK), so its own cost is the transport's.
 *
 * Two clients:
 * - `grpc-js`: @grpc/grpc-js channels, as a Node PEP would call a PDP. Its client costs
 *   more CPU per call than Gavel's server does, so on its one core it can cap a run.
 * - `h2`: the same calls written straight onto node:http2 streams (gRPC's 5-byte message
 *   frame, `grpc-status` read from the trailers): a much lighter client, to show what the
 *   servers do when the generator is not the limit.
 */
import http2 from 'node:http2';
import { credentials, Client, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { generatorMain, Samples, summarize, type GrpcJob, type LoadJob, type LoadResult } from './load.js';

/** A failure's description, or null for status OK. */
type Done = (failure: string | null) => void;

interface Transport {
  ready(): Promise<void>;
  call(channel: number, message: Buffer, done: Done): void;
  close(): void;
}

const identity = (b: Buffer): Buffer => b;

function grpcJs(job: GrpcJob): Transport {
  // A local subchannel pool per channel: otherwise grpc-js shares one connection between them.
  const clients = Array.from({ length: job.channels }, () => new Client(job.address, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
  return {
    ready: () => Promise.all(clients.map((c) => new Promise<void>((ok, fail) => c.waitForReady(Date.now() + 10_000, (err) => (err ? fail(err) : ok()))))).then(() => undefined),
    call: (channel, message, done) => {
      const client = clients[channel % clients.length];
      if (client === undefined) return done('no channel');
      client.makeUnaryRequest(job.path, identity, identity, message, new Metadata(), (e: ServiceError | null) => done(e === null ? null : `${status[e.code] ?? e.code}: ${e.details}`));
    },
    close: () => clients.forEach((c) => c.close()),
  };
}

function rawH2(job: GrpcJob): Transport {
  // A session's own errors surface on its streams, which count them as failed calls.
  const sessions = Array.from({ length: job.channels }, () => http2.connect(`http://${job.address}`).on('error', () => {}));
  const headers = { ':method': 'POST', ':path': job.path, 'content-type': 'application/grpc', te: 'trailers' };
  return {
    ready: () => Promise.all(sessions.map((s) => new Promise<void>((ok, fail) => (s.connecting ? s.once('connect', () => ok()).once('error', fail) : ok())))).then(() => undefined),
    call: (channel, message, done) => {
      const session = sessions[channel % sessions.length];
      if (session === undefined) return done('no session');
      const stream = session.request(headers);
      let grpcStatus: string | undefined;
      stream.on('trailers', (t) => (grpcStatus = String(t['grpc-status'])));
      stream.on('response', (h) => (grpcStatus ??= h['grpc-status'] === undefined ? undefined : String(h['grpc-status']))); // trailers-only answers
      stream.on('data', () => {});
      stream.on('error', (err) => (grpcStatus = `stream error: ${err.message}`));
      stream.on('close', () => done(grpcStatus === '0' ? null : `grpc-status ${grpcStatus ?? 'missing'}`));
      stream.end(message);
    },
    close: () => sessions.forEach((s) => s.close()),
  };
}

/** gRPC's length-prefixed message: a zero compression flag, the length (4 bytes, big-endian), the bytes. */
function frame(bytes: Buffer): Buffer {
  const out = Buffer.alloc(5 + bytes.length);
  out.writeUInt32BE(bytes.length, 1);
  bytes.copy(out, 5);
  return out;
}

async function run(job: LoadJob): Promise<LoadResult> {
  if (job.kind !== 'grpc') throw new Error('grpc-load runs gRPC jobs');
  const raw = job.messages.map((m) => Buffer.from(m, 'base64'));
  const messages = job.client === 'h2' ? raw.map(frame) : raw;
  const transport = job.client === 'h2' ? rawH2(job) : grpcJs(job);
  await transport.ready();
  const samples = new Samples();
  const failures: string[] = [];
  let ok = 0;
  let failed = 0;
  let next = 0;
  let inFlight = 0;
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  const endAt = started + BigInt(Math.round(job.durationS * 1e9));
  return new Promise((resolve) => {
    const finish = (): void => {
      const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
      const used = process.cpuUsage(cpu);
      transport.close();
      resolve(summarize(samples, { requests: ok + failed, non2xx: failed, errors: 0, elapsedS, cpuMicros: used.user + used.system, failures }));
    };
    const call = (channel: number): void => {
      const message = messages[next++ % messages.length] ?? Buffer.alloc(0);
      const t = process.hrtime.bigint();
      inFlight++;
      transport.call(channel, message, (failure) => {
        const now = process.hrtime.bigint();
        inFlight--;
        samples.add(Number(now - t) / 1e6);
        if (failure === null) ok++;
        else if (failed++ < 5) failures.push(failure);
        if (now < endAt) call(channel);
        else if (inFlight === 0) finish();
      });
    };
    // Slot i of `concurrency` runs on channel i mod channels, one call after another.
    for (let i = 0; i < job.concurrency; i++) call(i % job.channels);
  });
}

generatorMain(run);

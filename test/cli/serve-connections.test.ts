import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { credentials, makeGenericClientConstructor, type Client } from '@grpc/grpc-js';
import { afterEach, describe, expect, test } from 'vitest';
import { Health as HealthService, HealthCheckRequestSchema, HealthCheckResponse_ServingStatus } from '../../src/gen/proto/grpc/health/v1/health_pb.js';
import { serviceDefinition } from '../../src/grpc/service-definition.js';
import { defaultMaxConnections, openFileLimit } from '../../src/server/connection-limit.js';
import { ROOT, serveProcess, workspace, type Served } from './helpers.js';

/**
 * Each listener holds `max_connections` at most: a flood of idle connections is closed as it
 * arrives instead of taking every file descriptor the server needs for its own work.
 */
const opened: Socket[] = [];
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const s of opened.splice(0)) s.destroy();
  for (const c of cleanups.splice(0)) c();
});

/** A connection to `port`, once established; it is idle (sends nothing). */
function idle(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
    opened.push(s);
  });
}

/** Whether the server closes `socket` within `ms`. */
function closedWithin(socket: Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (socket.closed) return resolve(true);
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function serve(maxConnections: number): Promise<Served & { httpPort: number; grpcPort: number }> {
  const ws = workspace();
  writeFileSync(join(ws.dir, 'gavel.json'), JSON.stringify({ max_connections: maxConnections, decision_log: { enabled: false } }));
  const served = await serveProcess(ws.dir, ['--config', 'gavel.json', '--db', ':memory:']);
  cleanups.push(() => {
    served.stop();
    ws.remove();
  });
  const grpc = /grpc:\/\/127\.0\.0\.1:(\d+)/.exec(served.output());
  return { ...served, httpPort: Number(new URL(served.url).port), grpcPort: Number(grpc![1]) };
}

describe('connection limits', () => {
  test('past max_connections a new HTTP connection is closed on arrival and counted; freed, the listener takes connections again', async () => {
    const server = await serve(16);
    const held = await Promise.all(Array.from({ length: 16 }, () => idle(server.httpPort)));
    const extra = await idle(server.httpPort);
    expect(await closedWithin(extra, 2_000)).toBe(true);
    for (const s of held.slice(0, 4)) s.destroy();
    // The server sees the closes soon after; then a request is answered.
    let answered = false;
    for (let i = 0; i < 50 && !answered; i++) {
      answered = await fetch(`${server.url}/healthz`).then((r) => r.ok, () => false);
      if (!answered) await new Promise((r) => setTimeout(r, 100));
    }
    expect(answered).toBe(true);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^gavel_connections_dropped_total\{listener="http"\} [1-9]/m);
    // Still held: idle connections are not closed for the limit's sake.
    expect(held.slice(4).every((s) => !s.closed)).toBe(true);
  });

  test('the gRPC listener is bounded the same way, and still serves gRPC under the bound', async () => {
    const server = await serve(16);
    await Promise.all(Array.from({ length: 15 }, () => idle(server.grpcPort)));
    const Ctor = makeGenericClientConstructor(serviceDefinition(HealthService), HealthService.typeName);
    const client = new Ctor(`127.0.0.1:${server.grpcPort}`, credentials.createInsecure()) as unknown as Client & { check: (req: unknown, cb: (err: Error | null, res: { status: number }) => void) => void };
    cleanups.push(() => client.close());
    // The sixteenth connection: a real gRPC client's, answered.
    const answer = await new Promise<{ status: number }>((resolve, reject) => client.check(create(HealthCheckRequestSchema, {}), (err, res) => (err ? reject(err) : resolve(res))));
    expect(answer.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    const extra = await idle(server.grpcPort);
    expect(await closedWithin(extra, 2_000)).toBe(true);
    expect(await (await fetch(`${server.url}/metrics`)).text()).toMatch(/^gavel_connections_dropped_total\{listener="grpc"\} [1-9]/m);
  });

  test('by default each listener leaves a reserve of the open-file limit for the server itself', () => {
    expect(openFileLimit('Max open files            1024                 1048576              files     \n')).toBe(1024);
    expect(openFileLimit('Max open files            unlimited            unlimited            files     \n')).toBeNull();
    expect(defaultMaxConnections(1024)).toBe(384);
    expect(defaultMaxConnections(160)).toBe(32);
    expect(defaultMaxConnections(null)).toBe(10_000);
  });
});

describe('under a flood of connections', () => {
  test('with the default bound, a server short of descriptors still reads a policy change while 200 connections are held', async () => {
    const ws = workspace();
    const proc = spawn('sh', ['-c', `ulimit -n 160 && exec "${process.execPath}" "${join(ROOT, 'bin', 'gavel.js')}" serve --db :memory: --http 127.0.0.1:0 --grpc 127.0.0.1:0`], { cwd: ws.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    cleanups.push(() => {
      proc.kill('SIGKILL');
      ws.remove();
    });
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const until = async (text: string | RegExp, ms: number) => {
      for (const end = Date.now() + ms; Date.now() < end && !out.match(text); ) await new Promise((resolve) => setTimeout(resolve, 50));
      return out.match(text);
    };
    const port = Number((await until(/on http:\/\/127\.0\.0\.1:(\d+)/, 20_000))![1]);
    // 200 connections: the server keeps 32 (its default under 160 descriptors) and closes the rest.
    await Promise.all(Array.from({ length: 200 }, () => idle(port).catch(() => null)));
    writeFileSync(join(ws.dir, 'policies', 'extra.gavel'), '@id("extra") permit (action == "ping");\n');
    expect(await until('reloaded policies', 10_000), out).toBeTruthy();
    expect(out).not.toMatch(/too many open files/i);
  }, 30_000);
});

describe('a stop (SIGTERM) and connections that sent nothing', () => {
  /** `gavel serve` as a child whose stop the test sends and waits for. */
  async function served(stopTimeoutSeconds: number) {
    const ws = workspace();
    cleanups.push(() => ws.remove());
    writeFileSync(join(ws.dir, 'gavel.json'), JSON.stringify({ stop_timeout_seconds: stopTimeoutSeconds, decision_log: { enabled: false } }));
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'gavel.js'), 'serve', '--config', 'gavel.json', '--db', ':memory:', '--http', '127.0.0.1:0', '--grpc', '127.0.0.1:0'], { cwd: ws.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    cleanups.push(() => void child.kill('SIGKILL'));
    let out = '';
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const ports = await new Promise<{ http: number; grpc: number }>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /on http:\/\/127\.0\.0\.1:(\d+) and grpc:\/\/127\.0\.0\.1:(\d+)/.exec(out);
        if (m) resolve({ http: Number(m[1]), grpc: Number(m[2]) });
      });
    });
    return { ports, stop: async () => (child.kill('SIGTERM'), { code: await exited, output: out }) };
  }

  test('idle connections to both listeners are closed at once: the stop does not wait out its time (on gRPC it waited for ever)', async () => {
    const server = await served(60);
    const sockets = await Promise.all([idle(server.ports.http), idle(server.ports.grpc), idle(server.ports.http), idle(server.ports.grpc)]);
    for (const s of sockets) s.resume();
    const { code, output } = await server.stop();
    expect(code).toBe(0);
    expect(output).not.toContain('still in flight');
    expect(await Promise.all(sockets.map((s) => closedWithin(s, 1000)))).toEqual([true, true, true, true]);
  }, 30_000);

  test('a request in flight when the stop began is answered with Connection: close, and the stop ends with it, not at its time', async () => {
    const server = await served(60);
    const body = JSON.stringify({ subject: { type: 'user', id: 'a' }, action: { name: 'read' }, resource: { type: 'doc', id: '1' } });
    const http = await idle(server.ports.http);
    let answer = '';
    http.on('data', (d: Buffer) => (answer += d.toString()));
    http.write(`POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const started = Date.now();
    const stopped = server.stop();
    await new Promise((resolve) => setTimeout(resolve, 300));
    http.write(body.slice(10));
    const { code, output } = await stopped;
    expect(code).toBe(0);
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer.toLowerCase()).toContain('\r\nconnection: close\r\n');
    expect(output).not.toContain('still in flight');
    // Its time was 60 s (40 for requests); the stop ended once the answer was sent.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await closedWithin(http, 1000)).toBe(true);
  }, 30_000);

  test('a connection with half a request is in flight: waited for until the stop\'s time is up, then closed, on either listener', async () => {
    const server = await served(5);
    const http = await idle(server.ports.http);
    http.write('POST /v1/decide HTTP/1.1\r\nHost: x\r\n');
    const grpc = await idle(server.ports.grpc);
    grpc.write('PRI * HTTP/2.0\r\n');
    // Read what the server sends (HTTP/2 settings), or the end of the stream would wait behind it.
    for (const s of [http, grpc]) s.resume();
    // The bytes must have reached the server before the stop for the request to be in flight.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const { code, output } = await server.stop();
    expect(code).toBe(0);
    expect(output).toMatch(/requests still in flight after \d+ s; closing their connections/);
    expect(await Promise.all([closedWithin(http, 1000), closedWithin(grpc, 1000)])).toEqual([true, true]);
  }, 30_000);
});

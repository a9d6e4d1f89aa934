import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { credentials, makeGenericClientConstructor, status, type Client, type ClientReadableStream } from '@grpc/grpc-js';
import { afterEach, describe, expect, test } from 'vitest';
import { Health as HealthService, HealthCheckRequestSchema, HealthCheckResponse_ServingStatus } from '../../src/gen/proto/grpc/health/v1/health_pb.js';
import { serviceDefinition } from '../../src/grpc/service-definition.js';
import { gavel, ROOT, serveProcess, workspace } from './helpers.js';
import { freePort } from '../e2e/stack.js';

let child: ChildProcess | null = null;
let ws: ReturnType<typeof workspace> | null = null;
afterEach(() => {
  child?.kill('SIGKILL');
  ws?.remove();
});

/** Starts `gavel serve` on a free port and answers its base URL once it listens. */
function start(cwd: string, args: string[] = []): Promise<{ url: string; output: () => string; exited: Promise<number | null> }> {
  const proc = spawn(process.execPath, [join(ROOT, 'bin', 'gavel.js'), 'serve', '--http', '127.0.0.1:0', '--grpc', '127.0.0.1:0', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  child = proc;
  let out = '';
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve({ url: m[1], output: () => out, exited });
    });
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    void exited.then((code) => reject(new Error(`gavel serve exited with ${code}: ${out}`)));
  });
}

describe('gavel serve', () => {
  test('serves the example policies over a real socket and stops cleanly on SIGTERM', async () => {
    ws = workspace();
    const server = await start(ws.dir);
    expect(server.output()).toMatch(/serving \d+ policies \(revision [0-9a-f]{16}\)/);

    const ready = await fetch(`${server.url}/readyz`);
    expect(await ready.json()).toMatchObject({ status: 'ready' });
    // The AuthZEN PDP identifier is the server's own URL (as the issuer's), not the Host a caller sends.
    const metadata = await fetch(`${server.url}/.well-known/authzen-configuration`, { headers: { host: 'evil.example' } });
    expect(await metadata.json()).toMatchObject({ policy_decision_point: server.url, access_evaluation_endpoint: `${server.url}/access/v1/evaluation` });

    const r = await fetch(`${server.url}/access/v1/evaluation`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'e2e-1' },
      body: JSON.stringify({
        subject: { type: 'user', id: 'sara', properties: { roles: ['support'], country: 'DE' } },
        action: { name: 'read' },
        resource: { type: 'customer', id: 'c-1', properties: { country: 'FR' } },
      }),
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-request-id')).toBe('e2e-1');
    // Residency denies; the caller (127.0.0.1, on no list) passes the risk forbids.
    expect(await r.json()).toMatchObject({ decision: false, context: { determining: expect.arrayContaining(['customers.residency']) } });

    child!.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.output()).toContain('gavel: stopped');

    // The decision is in the log, and `gavel log` shows it.
    const shown = await gavel(['log', '--json', '--subject', 'sara'], { cwd: ws.dir });
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toEqual([
      expect.objectContaining({ request_id: 'e2e-1', via: 'authzen', decision: false, subject: { type: 'user', id: 'sara' }, action: 'read', resource: { type: 'customer', id: 'c-1' } }),
    ]);
    const human = await gavel(['log', '--decision', 'deny', '--limit', '1'], { cwd: ws.dir });
    expect(human.stdout).toMatch(/DENY +user:sara read customer:c-1 by .*customers\.residency.*\[[0-9a-f-]{36}\] request e2e-1$/m);
    expect((await gavel(['log', '--decision', 'maybe'], { cwd: ws.dir })).code).toBe(2);
    // Nothing matching is said; a subject copied as the log shows it (`user:sara`) gets a hint.
    const copied = await gavel(['log', '--subject', 'user:sara'], { cwd: ws.dir });
    expect([copied.code, copied.stdout, copied.stderr]).toEqual([0, '', 'gavel log: no decisions match (--subject takes the subject\'s id: for `user:sara` as the log shows it, that is `sara`)\n']);
    // By interface and time window.
    const cwd = ws.dir;
    const via = async (...args: string[]) => (JSON.parse((await gavel(['log', '--json', ...args], { cwd })).stdout) as { request_id: string }[]).map((r) => r.request_id);
    expect(await via('--via', 'authzen', '--subject', 'sara')).toEqual(['e2e-1']);
    expect(await via('--via', 'envoy', '--subject', 'sara')).toEqual([]);
    expect(await via('--until', '2000-01-01T00:00:00Z')).toEqual([]);
    // An age back from now, as typed at a terminal.
    expect(await via('--since', '1h', '--subject', 'sara')).toEqual(['e2e-1']);
    expect(await via('--until', '1h', '--subject', 'sara')).toEqual([]);
    const yesterday = await gavel(['log', '--until', 'yesterday'], { cwd: ws.dir });
    expect(yesterday.code).toBe(2);
    expect(yesterday.stderr).toContain('--until: `yesterday` is neither an ISO 8601 time (2026-11-22, 2026-11-22T10:00:00Z) nor an age like 15m, 2h or 7d');
    // A bare number was a date to Date.parse (`48`: 2048), and answered nothing, silently.
    expect(await gavel(['log', '--since', '48'], { cwd: ws.dir })).toMatchObject({ code: 2, stderr: expect.stringContaining('`48` is neither an ISO 8601 time') });
    // A misspelt interface is an error, not an empty answer; a usage error is one line.
    const bogus = await gavel(['log', '--via', 'authz'], { cwd });
    expect(bogus).toMatchObject({ code: 2, stderr: expect.stringContaining('--via is one of authzen, authzen_batch, native') });
    const negative = await gavel(['log', '--limit', '-3'], { cwd });
    expect(negative).toMatchObject({ code: 2, stderr: 'gavel log: --limit needs a value (one starting with a dash is given as --limit=-VALUE)\n' });
  });

  test('a stop ends gRPC health watches with NOT_SERVING instead of waiting on them', async () => {
    ws = workspace();
    const server = await start(ws.dir);
    const grpcAt = /grpc:\/\/(127\.0\.0\.1:\d+)/.exec(server.output())![1]!;
    const Ctor = makeGenericClientConstructor(serviceDefinition(HealthService), HealthService.typeName);
    const client = new Ctor(grpcAt, credentials.createInsecure()) as unknown as Client & { watch: (req: unknown) => ClientReadableStream<{ status: number }> };
    try {
      const stream = client.watch(create(HealthCheckRequestSchema, { service: '' }));
      const statuses: number[] = [];
      const ended = new Promise<number>((resolve) => stream.on('status', (s: { code: number }) => resolve(s.code)));
      stream.on('error', () => undefined);
      await new Promise<void>((resolve) => stream.once('data', (m: { status: number }) => (statuses.push(m.status), stream.on('data', (n: { status: number }) => statuses.push(n.status)), resolve())));
      child!.kill('SIGTERM');
      expect(await ended).toBe(status.OK);
      expect(statuses).toEqual([HealthCheckResponse_ServingStatus.SERVING, HealthCheckResponse_ServingStatus.NOT_SERVING]);
      expect(await server.exited).toBe(0);
      // Nothing was cut at the end of the requests' share of stop_timeout_seconds.
      expect(server.output()).not.toContain('still in flight');
    } finally {
      client.close();
    }
  });

  test('reloads a valid policy change by itself; rejects a broken one and keeps serving', async () => {
    ws = workspace();
    const { writeFileSync } = await import('node:fs');
    const server = await start(ws.dir);
    const readyz = async () => (await fetch(`${server.url}/readyz`)).json() as Promise<{ revision: string; policies: number; rejected_reload?: { errors: string[] } }>;
    const until = async (test: (r: Awaited<ReturnType<typeof readyz>>) => boolean) => {
      for (let i = 0; i < 200; i++) {
        const r = await readyz();
        if (test(r)) return r;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error('no reload seen');
    };
    const first = await readyz();
    writeFileSync(join(ws.dir, 'policies', 'extra.gavel'), '@id("extra") permit (action == "ping");\n');
    const second = await until((r) => r.revision !== first.revision);
    expect(second.policies).toBe(first.policies + 1);

    writeFileSync(join(ws.dir, 'policies', 'extra.gavel'), '@id("extra") permit when { nope };\n');
    const rejected = await until((r) => r.rejected_reload !== undefined);
    expect(rejected.revision).toBe(second.revision);
    expect(rejected.rejected_reload!.errors[0]).toMatch(/^extra\.gavel:1:28: error: unknown name `nope`/);
    expect(server.output()).toContain('rejected a policy change; still serving revision');
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/gavel_policy_reloads_total\{result="rejected"\} [1-9]/);
    // A state to alert on while the broken change waits, not only a counter that moved once.
    expect(metrics).toMatch(/^gavel_policy_reload_ok 0$/m);
    // The process's own: memory to size a container by, event-loop delay to see a stalled server.
    expect(metrics).toMatch(/^process_resident_memory_bytes \d+$/m);
    expect(metrics).toMatch(/^process_open_fds \d+$/m);
    // Restarts and CPU under the names dashboards expect: started within the last minute, some CPU used.
    const started = Number(/^process_start_time_seconds (\d+)$/m.exec(metrics)?.[1]);
    expect(Math.abs(Date.now() / 1000 - started)).toBeLessThan(120);
    expect(metrics).toMatch(/^# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total \d+(\.\d+)?$/m);
    expect(metrics).toMatch(/^gavel_event_loop_utilization (0|1|0\.\d+(e-\d+)?)$/m);
    // Without TLS there is no certificate to expire: an expiry of 0 would fire every "expires soon" alert.
    expect(metrics).not.toContain('gavel_tls_certificate_expiry_timestamp_seconds');
    // Putting the file back as it was changes no revision, and is said: "rejected" is not the last word in the log.
    writeFileSync(join(ws.dir, 'policies', 'extra.gavel'), '@id("extra") permit (action == "ping");\n');
    await until((r) => r.rejected_reload === undefined);
    for (let i = 0; i < 100 && !server.output().includes('the rejected policy change is undone'); i++) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(server.output()).toContain(`the rejected policy change is undone; serving revision ${second.revision}`);
  });

  test('SIGTERM under load, then SIGTERM and SIGHUP again while it stops: every decision that was answered is in the decision log', async () => {
    ws = workspace();
    const server = await start(ws.dir);
    const acknowledged: string[] = [];
    const body = JSON.stringify({ subject: { type: 'user', id: 'u' }, action: { name: 'read' }, resource: { type: 'doc', id: '1' } });
    let sent = 0;
    let stopped = false;
    const worker = async () => {
      while (sent < 2000) {
        const id = `load-${sent++}`;
        try {
          const r = await fetch(`${server.url}/v1/decide`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': id }, body });
          if (r.status === 200) {
            await r.json();
            acknowledged.push(id);
          }
        } catch {
          // refused or reset after the server stopped accepting: not acknowledged
        }
        if (!stopped && acknowledged.length >= 300) {
          stopped = true;
          child!.kill('SIGTERM');
          // An impatient operator: by default a second signal would end the process at once.
          setTimeout(() => (child!.kill('SIGTERM'), child!.kill('SIGHUP')), 5);
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const code = await server.exited;
    // Everything is written before `gavel: stopped`. A signal that lands after it, while Node
    // itself is exiting (its handlers gone), can still give the exit status of that signal.
    expect(server.output()).toContain('gavel: stopped');
    expect(code === 0 || (code === null && child!.signalCode === 'SIGTERM'), `exit ${code} ${child!.signalCode}`).toBe(true);
    expect(acknowledged.length).toBeGreaterThanOrEqual(300);
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(join(ws.dir, 'data', 'gavel.db'), { readonly: true });
    const logged = new Set((db.prepare("SELECT json_extract(j.value, '$.request_id') AS id FROM decision_batches b, json_each(b.records) j WHERE json_extract(j.value, '$.via') = 'native'").all() as { id: string }[]).map((r) => r.id));
    db.close();
    expect(acknowledged.filter((id) => !logged.has(id))).toEqual([]);
  });

  test('a stop while another process holds the database: within stop_timeout_seconds, the unwritten decisions counted, exit 1 (not a clean stop)', async () => {
    ws = workspace();
    writeFileSync(join(ws.dir, 'gavel.json'), JSON.stringify({ stop_timeout_seconds: 5 }));
    const server = await start(ws.dir, ['--config', 'gavel.json']);
    const { default: Database } = await import('better-sqlite3');
    // A backup tool, say, holding the write lock the decision log's writer needs.
    const holder = new Database(join(ws.dir, 'data', 'gavel.db'));
    holder.exec('BEGIN EXCLUSIVE');
    try {
      const body = JSON.stringify({ subject: { type: 'user', id: 'u' }, action: { name: 'read' }, resource: { type: 'doc', id: '1' } });
      for (let i = 0; i < 5; i++) expect((await fetch(`${server.url}/v1/decide`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status).toBe(200);
      // Still ready — decisions are made and wait in memory — with the trouble shown, and a gauge to alert on.
      let ready: { status?: string; decision_log?: { status: string; error: string; queued: number; dropped: number } } = {};
      for (let waited = 0; ready.decision_log === undefined && waited < 15_000; waited += 200) {
        await new Promise((r) => setTimeout(r, 200));
        ready = (await (await fetch(`${server.url}/readyz`)).json()) as typeof ready;
      }
      expect(ready).toMatchObject({ status: 'ready', decision_log: { status: 'failing', error: expect.stringContaining('locked'), queued: 5, dropped: 0 } });
      expect(await (await fetch(`${server.url}/metrics`)).text()).toMatch(/^gavel_decision_log_ok 0$/m);
      // The writer is waiting on the lock when the stop comes: it must be stopped between tries, not inside SQLite.
      const asked = Date.now();
      child!.kill('SIGTERM');
      const code = await server.exited;
      expect(code, server.output()).toBe(1);
      expect(Date.now() - asked).toBeLessThan(7_000);
      expect(server.output()).toMatch(/gavel: 5 decisions could not be written to the decision log/);
      expect(server.output()).toContain('gavel: stopped');
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
  }, 45_000);

  test('a directory change applied while serving is picked up, and callers cannot override it', async () => {
    ws = workspace();
    const { writeFileSync } = await import('node:fs');
    const { rmSync } = await import('node:fs');
    // Without the example risk forbids (no risk signals yet), so that the permit alone decides.
    rmSync(join(ws.dir, 'policies', 'risk.gavel'));
    writeFileSync(join(ws.dir, 'policies', 'admin.gavel'), '@id("admin") permit (action == "purge") when { subject.roles contains "admin" };\n');
    const server = await start(ws.dir);
    const ask = async (roles: string[]) => {
      const r = await fetch(`${server.url}/v1/decide`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ subject: { type: 'user', id: 'mallory', properties: { roles } }, action: { name: 'purge' }, resource: { type: 'doc', id: '1' } }),
      });
      return ((await r.json()) as { determining: string[] }).determining.includes('admin');
    };
    expect(await ask(['admin'])).toBe(true); // not in the directory yet: the caller's word is all there is
    writeFileSync(join(ws.dir, 'dir.json'), JSON.stringify({ entities: [{ type: 'user', id: 'mallory', attributes: { roles: ['staff'] } }] }));
    expect((await gavel(['apply', 'dir.json'], { cwd: ws.dir })).code).toBe(0);
    for (let i = 0; i < 100 && (await ask(['admin'])); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await ask(['admin'])).toBe(false);
    expect(server.output()).toContain('gavel: directory and registry reloaded (1 entity, 0 APIs, 0 clients, 0 users)');
  });

  test('a database file removed or replaced while serving makes /readyz say so (503) and stderr too: its writes would be lost', async () => {
    ws = workspace();
    const server = await start(ws.dir);
    const db = join(ws.dir, 'data', 'gavel.db');
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    const { renameSync } = await import('node:fs');
    for (const suffix of ['', '-wal', '-shm']) renameSync(`${db}${suffix}`, `${db}.moved${suffix}`);
    const readyz = async () => (await fetch(`${server.url}/readyz`)).json() as Promise<{ status: string; reason?: string }>;
    expect(await readyz()).toMatchObject({ status: 'not ready', reason: expect.stringContaining('was removed while serving') });
    // A new file at the path (a restore, another `gavel apply`) is not the one this server writes.
    expect((await gavel(['apply', join(ROOT, 'examples', 'registry.json')], { cwd: ws.dir })).code).toBe(0);
    expect(await readyz()).toMatchObject({ status: 'not ready', reason: expect.stringContaining('was replaced while serving') });
    for (let i = 0; i < 40 && !server.output().includes('was replaced while serving'); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.output()).toMatch(/gavel: the database file `.*gavel\.db` was (removed|replaced) while serving/);
  });

  test('a SIGHUP or SIGTERM while the CLI is still loading does not kill the server: the reload is moot, the stop is honoured once it is up', async () => {
    ws = workspace();
    const launch = () => {
      const proc = spawn(process.execPath, [join(ROOT, 'bin', 'gavel.js'), 'serve', '--http', '127.0.0.1:0', '--grpc', '127.0.0.1:0'], { cwd: ws!.dir, stdio: ['ignore', 'pipe', 'pipe'] });
      child = proc;
      let out = '';
      proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
      proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
      return { proc, output: () => out, exited };
    };
    // Loading the CLI takes most of a second; Node itself is running the launcher well before 250 ms.
    const hup = launch();
    await new Promise((resolve) => setTimeout(resolve, 250));
    hup.proc.kill('SIGHUP');
    for (let i = 0; i < 100 && !hup.output().includes('serving'); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(hup.output()).toMatch(/serving \d+ policies/);
    hup.proc.kill('SIGTERM');
    expect(await hup.exited).toEqual({ code: 0, signal: null });
    const term = launch();
    await new Promise((resolve) => setTimeout(resolve, 250));
    term.proc.kill('SIGTERM');
    expect(await term.exited).toEqual({ code: 0, signal: null });
    expect(term.output()).toContain('gavel: stopped');
  }, 30_000);

  test("the database's -wal or -shm file removed while serving makes /readyz say so (503): the server would write where no other process reads", async () => {
    ws = workspace();
    const server = await start(ws.dir);
    const db = join(ws.dir, 'data', 'gavel.db');
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    const { rmSync } = await import('node:fs');
    rmSync(`${db}-shm`);
    const answer = await fetch(`${server.url}/readyz`);
    expect(answer.status).toBe(503);
    expect(await answer.json()).toMatchObject({ status: 'not ready', reason: expect.stringMatching(/^the database's journal file `.*gavel\.db-shm` was removed while serving/) });
    for (let i = 0; i < 40 && !server.output().includes('journal file'); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.output()).toMatch(/gavel: the database's journal file `.*gavel\.db-shm` was removed while serving/);
    // Metrics say the log is not being written, and a stop is not a clean one.
    expect(await (await fetch(`${server.url}/metrics`)).text()).toMatch(/^gavel_decision_log_ok 0$/m);
    child!.kill('SIGTERM');
    expect(await server.exited).toBe(1);
    expect(server.output()).toMatch(/gavel: stopped \(exit 1\): the database's journal file `.*` was removed while serving/);
  });

  test('a database this user may only read stops the start (exit 2), instead of serving and failing every write', async () => {
    ws = workspace();
    const { chmodSync, chownSync, mkdirSync } = await import('node:fs');
    const db = join(ws.dir, 'data', 'gavel.db');
    expect((await gavel(['apply', join(ROOT, 'examples', 'registry.json'), '--db', db], { cwd: ws.dir })).code).toBe(0);
    chmodSync(db, 0o444);
    // root may write whatever the mode says: as root, the server runs as nobody, who owns the folder but may not write the file.
    const asRoot = process.getuid?.() === 0;
    if (asRoot) {
      chmodSync(ws.dir, 0o755);
      for (const path of [ws.dir, join(ws.dir, 'data'), db, join(ws.dir, 'policies')]) chownSync(path, 65534, 65534);
      const { readdirSync } = await import('node:fs');
      for (const f of readdirSync(join(ws.dir, 'policies'))) chownSync(join(ws.dir, 'policies', f), 65534, 65534);
      for (const f of readdirSync(join(ws.dir, 'data'))) chownSync(join(ws.dir, 'data', f), 65534, 65534);
      mkdirSync(join(ws.dir, 'home'), { recursive: true });
    }
    const serveOnce = () =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const args = [join(ROOT, 'bin', 'gavel.js'), 'serve', '--http', '127.0.0.1:0', '--grpc', '127.0.0.1:0'];
        const proc = asRoot ? spawn('runuser', ['-u', 'nobody', '--', process.execPath, ...args], { cwd: ws!.dir, stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(process.execPath, args, { cwd: ws!.dir, stdio: ['ignore', 'pipe', 'pipe'] });
        child = proc;
        let out = '';
        proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
        proc.on('exit', (code) => resolve({ code, out }));
      });
    const run = await serveOnce();
    expect(run.out).toContain('can only be read by this user');
    expect(run.out).not.toContain('serving');
    expect(run.code).toBe(2);
    // SQLite made the -shm as read-only as the file: once the file is writable again, the
    // message names what still blocks the start.
    const { existsSync } = await import('node:fs');
    if (existsSync(`${db}-shm`)) {
      chmodSync(db, 0o644);
      const again = await serveOnce();
      expect(again.code).toBe(2);
      expect(again.out).toMatch(/can only be read by this user \(not writable: `[^`]*gavel\.db-shm`\)/);
    }
    // A writable file in a folder this user cannot write: setting WAL is what fails, and the message names the folder.
    const { rmSync } = await import('node:fs');
    rmSync(`${db}-shm`, { force: true });
    rmSync(`${db}-wal`, { force: true });
    chmodSync(db, 0o644);
    chmodSync(join(ws.dir, 'data'), 0o555);
    const folder = await serveOnce();
    chmodSync(join(ws.dir, 'data'), 0o755);
    expect(folder.code).toBe(2);
    expect(folder.out).toMatch(/can only be read by this user \(not writable: `[^`]*data`\)/);
  });

  test('a policy change read while the process is out of file descriptors is read again by itself once they are back', async () => {
    ws = workspace();
    // Few descriptors, and connections held open to use them up: a connection bound above
    // the descriptors (max_connections' default would leave some for the server).
    writeFileSync(join(ws.dir, 'gavel.json'), JSON.stringify({ max_connections: 1000 }));
    const proc = spawn('sh', ['-c', `ulimit -n 160 && exec "${process.execPath}" "${join(ROOT, 'bin', 'gavel.js')}" serve --config gavel.json --http 127.0.0.1:0 --grpc 127.0.0.1:0`], { cwd: ws.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      const check = setInterval(() => {
        const m = /on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
        if (m) clearInterval(check), resolve(m[1]!);
      }, 50);
      proc.on('exit', (code) => (clearInterval(check), reject(new Error(`exited ${code}: ${out}`))));
    });
    const { connect } = await import('node:net');
    const sockets = await Promise.all(Array.from({ length: 200 }, () => new Promise<import('node:net').Socket>((resolve) => { const s = connect(Number(url), '127.0.0.1', () => resolve(s)); s.on('error', () => resolve(s)); })));
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      writeFileSync(join(ws.dir, 'policies', 'extra.gavel'), '@id("extra") permit (action == "ping");\n');
      const until = async (text: string, ms: number) => {
        for (const end = Date.now() + ms; Date.now() < end && !out.includes(text); ) await new Promise((resolve) => setTimeout(resolve, 100));
        return out.includes(text);
      };
      expect(await until('tried again in 5 s', 5_000), out).toBe(true);
      expect(out).toMatch(/too many open files/i);
    } finally {
      for (const s of sockets) s.destroy();
    }
    // Nothing changed in the folder since; it is read again by itself.
    for (const end = Date.now() + 10_000; Date.now() < end && !out.includes('reloaded policies'); ) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(out).toContain('gavel: reloaded policies');
  }, 30_000);

  test('a client applied by another process gets a token at once, as the README runs it: no waiting for the once-a-second poll', async () => {
    ws = workspace();
    const server = await start(ws.dir);
    expect((await gavel(['apply', join(ROOT, 'examples', 'registry.json')], { cwd: ws.dir })).code).toBe(0);
    const r = await fetch(`${server.url}/oauth2/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('reporting-app:reporting-app-example-secret-0123456789').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&scope=invoice:read',
    });
    expect([r.status, ((await r.json()) as { scope?: string }).scope]).toEqual([200, 'invoice:read']);
    // An unknown client is still refused (and does not make the server read the store again and again).
    const unknown = await fetch(`${server.url}/oauth2/token`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from('nobody:nothing-at-all-0123456789').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
    expect(unknown.status).toBe(401);
  });

  test("a trusted issuer's users and clients are their own types at gateways: a partner's `alice` is not the directory's user alice, nor its `billing` Gavel's client", async () => {
    ws = workspace();
    const { rmSync } = await import('node:fs');
    const { exportJWK, generateKeyPair, SignJWT } = await import('jose');
    rmSync(join(ws.dir, 'policies', 'risk.gavel'));
    writeFileSync(join(ws.dir, 'policies', 'finance.gavel'), '@id("finance") permit (action == "GET", resource.path == "/books") when { subject.department == "finance" };\n');
    writeFileSync(join(ws.dir, 'dir.json'), JSON.stringify({ entities: [{ type: 'user', id: 'alice', attributes: { department: 'finance' } }, { type: 'client', id: 'billing', attributes: { department: 'finance' } }] }));
    expect((await gavel(['apply', 'dir.json'], { cwd: ws.dir })).code).toBe(0);
    const issuers = [];
    const keys = new Map<string, Awaited<ReturnType<typeof generateKeyPair>>['privateKey']>();
    for (const [name, type] of [['staff', undefined], ['partner', 'partner_user']] as const) {
      const pair = await generateKeyPair('ES256');
      keys.set(name, pair.privateKey);
      writeFileSync(join(ws.dir, `${name}.jwks.json`), JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: name, alg: 'ES256' }] }));
      issuers.push({ issuer: `https://${name}.example`, audiences: ['books'], algorithms: ['ES256'], jwks_file: `${name}.jwks.json`, ...(type === undefined ? {} : { subject_type: type, client_subject_type: 'partner_client' }) });
    }
    writeFileSync(join(ws.dir, 'gavel.json'), JSON.stringify({ trusted_issuers: issuers }));
    const server = await start(ws.dir, ['--config', 'gavel.json']);
    const status = async (name: string, claims: Record<string, string> = { sub: 'alice' }) => {
      const token = await new SignJWT({ iss: `https://${name}.example`, aud: 'books', ...claims, exp: Math.floor(Date.now() / 1000) + 300 }).setProtectedHeader({ alg: 'ES256', kid: name }).sign(keys.get(name)!);
      return (await fetch(`${server.url}/v1/forward-auth`, { headers: { 'x-forwarded-uri': '/books', 'x-forwarded-method': 'GET', authorization: `Bearer ${token}` } })).status;
    };
    expect(await status('staff')).toBe(200);
    expect(await status('partner')).toBe(403);
    // A client's own token (client credentials): `client` by default, the issuer's client_subject_type when set.
    expect(await status('staff', { sub: 'billing', client_id: 'billing' })).toBe(200);
    expect(await status('partner', { sub: 'billing', client_id: 'billing' })).toBe(403);
    expect(await status('partner', { client_id: 'billing' })).toBe(403);
  });

  test('a key rotated by `gavel keys rotate` in another process is served and signs from then on', async () => {
    ws = workspace();
    const server = await start(ws.dir);
    const kids = async () => ((await (await fetch(`${server.url}/oauth2/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    const before = await kids();
    const rotated = await gavel(['keys', 'rotate'], { cwd: ws.dir });
    expect(rotated.code).toBe(0);
    // One key per algorithm in use (ES256 for access tokens, RS256 for ID tokens): the server names each.
    const made = [...rotated.stdout.matchAll(/key (\S+) \((\w+)\)/g)].map((m) => `${m[1]} (${m[2]})`);
    expect(made.length).toBeGreaterThan(0);
    const kid = made[0]!.split(' ')[0]!;
    expect(before).not.toContain(kid);
    for (let i = 0; i < 100 && !(await kids()).includes(kid); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await kids()).toEqual(expect.arrayContaining([...before, kid]));
    for (let i = 0; i < 100 && !server.output().includes('signing with'); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.output()).toContain(`gavel: signing with ${made.join(', ')}`);
  });

  test("the decision log's own writes do not make the server reload its directory", async () => {
    ws = workspace();
    const server = await start(ws.dir);
    const ask = () =>
      fetch(`${server.url}/v1/decide`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ subject: { type: 'user', id: 'alice' }, action: { name: 'read' }, resource: { type: 'doc', id: '1' } }),
      });
    // Decisions logged over more than two of the server's one-second polls for changes.
    for (let i = 0; i < 5; i++) {
      expect((await ask()).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(join(ws.dir, 'data', 'gavel.db'), { readonly: true });
    expect(db.prepare('SELECT count(*) FROM decision_batches').pluck().get()).toBeGreaterThanOrEqual(2);
    db.close();
    expect(server.output()).not.toContain('reloaded');
  });

  test('the decision log stays within max_rows while serving: the writer deletes the oldest batches as it writes', async () => {
    ws = workspace();
    writeFileSync(join(ws.dir, 'gavel.json'), JSON.stringify({ policies: 'policies', decision_log: { max_rows: 100 } }));
    const server = await serveProcess(ws.dir, ['--config', 'gavel.json']);
    try {
      const one = { subject: { type: 'user', id: 'alice' }, action: { name: 'read' }, resource: { type: 'doc', id: '1' } };
      for (let i = 0; i < 20; i++) {
        const r = await fetch(`${server.url}/v1/decide/batch`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': `burst-${i}` }, body: JSON.stringify({ requests: Array.from({ length: 50 }, () => one) }) });
        expect(r.status).toBe(200);
        // Past the log's 100 ms flush: each burst is a batch of its own.
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
      const { default: Database } = await import('better-sqlite3');
      const db = new Database(join(ws.dir, 'data', 'gavel.db'), { readonly: true });
      const kept = db.prepare('SELECT COALESCE(SUM(count), 0) FROM decision_batches').pluck().get() as number;
      db.close();
      // 1,000 decided; the newest 100 kept, and at most one batch more.
      expect(kept).toBeGreaterThanOrEqual(100);
      expect(kept).toBeLessThanOrEqual(150);
      const newest = JSON.parse((await gavel(['log', '--json', '--limit', '1'], { cwd: ws.dir })).stdout) as { request_id: string }[];
      expect(newest[0]!.request_id).toMatch(/^burst-19/);
    } finally {
      server.stop();
    }
  });

  test('the decision log stays within max_megabytes however few decisions it holds: large requests do not fill the disk', async () => {
    ws = workspace();
    writeFileSync(join(ws.dir, 'gavel.json'), JSON.stringify({ policies: 'policies', decision_log: { max_megabytes: 1 } }));
    const server = await serveProcess(ws.dir, ['--config', 'gavel.json']);
    try {
      // 40 decisions of about 100 KB each: 4 MB of records, far below max_rows.
      const big = { subject: { type: 'user', id: 'alice' }, action: { name: 'read' }, resource: { type: 'doc', id: '1' }, context: { note: 'n'.repeat(100_000) } };
      for (let i = 0; i < 20; i++) {
        const r = await fetch(`${server.url}/v1/decide/batch`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': `large-${i}` }, body: JSON.stringify({ requests: [big, big] }) });
        expect(r.status).toBe(200);
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
      const { default: Database } = await import('better-sqlite3');
      const db = new Database(join(ws.dir, 'data', 'gavel.db'), { readonly: true });
      const bytes = db.prepare('SELECT COALESCE(SUM(bytes), 0) FROM decision_batch_sizes').pluck().get() as number;
      db.close();
      expect(bytes).toBeGreaterThan(500_000);
      expect(bytes).toBeLessThanOrEqual(1024 * 1024);
      const newest = JSON.parse((await gavel(['log', '--json', '--limit', '1'], { cwd: ws.dir })).stdout) as { request_id: string }[];
      expect(newest[0]!.request_id).toMatch(/^large-19/);
    } finally {
      server.stop();
    }
  });

  test("a trusted issuer's JWKS that cannot be fetched is said on stderr and in /metrics", async () => {
    ws = workspace();
    // A loopback port nothing listens on.
    const jwks = `http://127.0.0.1:${await freePort()}/jwks.json`;
    writeFileSync(join(ws.dir, 'gavel.json'), JSON.stringify({ policies: 'policies', trusted_issuers: [{ issuer: 'https://partner.example', audiences: ['api'], jwks_uri: jwks }] }));
    const server = await start(ws.dir, ['--config', 'gavel.json']);
    // The first fetch starts with the server.
    for (let waited = 0; !server.output().includes('cannot fetch') && waited < 10_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
    expect(server.output()).toContain(`gavel: warning: cannot fetch a trusted issuer's keys from ${jwks}: fetch failed: ECONNREFUSED`);
    expect(await (await fetch(`${server.url}/metrics`)).text()).toContain(`gavel_jwks_fetch_ok{url="${jwks}"} 0`);
  });

  test('an empty policies folder serves, and says every request is denied, at start; a reload that would empty a serving set is rejected', async () => {
    ws = workspace();
    const { mkdirSync, writeFileSync: write, rmSync } = await import('node:fs');
    const dir = ws.dir;
    const until = async (holds: () => boolean) => {
      for (let i = 0; i < 200 && !holds(); i++) await new Promise((r) => setTimeout(r, 25));
      expect(holds(), server.output()).toBe(true);
    };
    rmSync(join(dir, 'policies'), { recursive: true });
    // `gavel serve` reads ./policies by default: an empty one is a valid set that denies everything.
    mkdirSync(join(dir, 'policies'));
    const server = await start(dir);
    const warnings = () => server.output().match(/warning: no policies in \S*policies: every request is denied/g)?.length ?? 0;
    await until(() => warnings() === 1);
    write(join(dir, 'policies', 'one.gavel'), '@id("one") permit (action == "ping");\n');
    await until(() => server.output().includes('reloaded policies'));
    rmSync(join(dir, 'policies', 'one.gavel'));
    // Emptied while serving (a deploy between its rm and its cp): rejected, `one` keeps serving.
    await until(() => server.output().includes('the folder holds no policies now'));
    expect(warnings()).toBe(1);
    const ready = (await (await fetch(`${server.url}/readyz`)).json()) as { policies: number; rejected_reload?: { errors: string[] } };
    expect(ready).toMatchObject({ policies: 1, rejected_reload: { errors: [expect.stringMatching(/the folder holds no policies now; the 1 of revision [0-9a-f]{16} keep serving/)] } });
    const ping = await fetch(`${server.url}/v1/decide`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ subject: { type: 'user', id: 'u' }, action: { name: 'ping' }, resource: { type: 'r', id: '1' } }) });
    expect(await ping.json()).toMatchObject({ decision: true, determining: ['one'] });
  });

  test('invalid policies in a folder named by GAVEL_POLICIES or the config file are reported under that folder', async () => {
    ws = workspace();
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(join(ws.dir, 'badpol'));
    writeFileSync(join(ws.dir, 'badpol', 'a.gavel'), 'permit when { nope };');
    writeFileSync(join(ws.dir, 'gavel.json'), JSON.stringify({ policies: 'badpol' }));
    const args = ['serve', '--http', '127.0.0.1:0', '--grpc', '127.0.0.1:0', '--db', ':memory:'];
    const byEnv = await gavel(args, { cwd: ws.dir, env: { GAVEL_POLICIES: 'badpol' } });
    expect([byEnv.code, byEnv.stderr]).toEqual([1, expect.stringContaining('badpol/a.gavel:1:15: error: unknown name `nope`')]);
    const byFile = await gavel([...args, '--config', 'gavel.json'], { cwd: ws.dir });
    expect([byFile.code, byFile.stderr]).toEqual([1, expect.stringContaining('badpol/a.gavel:1:15: error: unknown name `nope`')]);
  });

  test('refuses to start on invalid policies, with the diagnostics', async () => {
    ws = workspace();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(ws.dir, 'policies', 'bad.gavel'), 'permit when { nope };');
    await expect(start(ws.dir)).rejects.toThrow(/exited with 1: .*bad\.gavel:1:15: error: unknown name `nope`/s);
  });

  test.each([
    { note: 'emptied', content: '', says: 'holds nothing' },
    { note: 'truncated', content: 'short\n', says: 'holds fewer than 32 characters' },
  ])('an $note issuer.secret beside the database stops the start (exit 2): new keys would be sealed with it', async ({ content, says }) => {
    ws = workspace();
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(ws.dir, 'data'), { recursive: true });
    writeFileSync(join(ws.dir, 'data', 'issuer.secret'), content);
    await expect(start(ws.dir)).rejects.toThrow(new RegExp(`exited with 2: .*issuer secret \`[^\`]*issuer\.secret\` ${says}`, 's'));
  });

  test('a deleted issuer.secret beside a database holding keys stops the start (exit 2) and no new secret is made; `gavel keys rotate` says the same', async () => {
    ws = workspace();
    const first = await start(ws.dir);
    await fetch(`${first.url}/readyz`);
    child!.kill('SIGTERM');
    await first.exited;
    const { rmSync, existsSync } = await import('node:fs');
    const file = join(ws.dir, 'data', 'issuer.secret');
    rmSync(file);
    await expect(start(ws.dir)).rejects.toThrow(/exited with 2: .*the issuer secret `[^`]*issuer\.secret` is missing, but `[^`]*gavel\.db` holds signing keys sealed with it: restore the file/s);
    // A new secret would be the wrong one: the operator restoring the old one must find the place empty.
    expect(existsSync(file)).toBe(false);
    const rotate = await gavel(['keys', 'rotate'], { cwd: ws.dir });
    expect(rotate.code).toBe(2);
    expect(rotate.stderr).toMatch(/the issuer secret `[^`]*issuer\.secret` is missing, but/);
  });

  test('--db naming a folder is said to be one (SQLite says only that it cannot open it)', async () => {
    ws = workspace();
    const r = await gavel(['serve', '--db', '.', '--http', '127.0.0.1:0', '--grpc', '127.0.0.1:0'], { cwd: ws.dir });
    expect([r.code, r.stderr.trim()]).toEqual([2, 'gavel serve: cannot open the database `' + ws.dir + '`: it is a folder; name the database file in it (for example data/gavel.db)']);
  });

  test('HTTP and gRPC on one port, or an address no interface has, are said as such (exit 2)', async () => {
    ws = workspace();
    const { createServer } = await import('node:net');
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const same = await gavel(['serve', '--db', ':memory:', '--http', `127.0.0.1:${port}`, '--grpc', `127.0.0.1:${port}`], { cwd: ws.dir });
    expect([same.code, same.stderr.trim()]).toEqual([2, `gavel serve: cannot listen for gRPC on 127.0.0.1:${port}: EADDRINUSE (Gavel's HTTP listener is on that port: give HTTP and gRPC different ports, with --http and --grpc)`]);
    // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): no interface here has it.
    const elsewhere = await gavel(['serve', '--db', ':memory:', '--http', '192.0.2.1:18181', '--grpc', '127.0.0.1:0'], { cwd: ws.dir });
    expect([elsewhere.code, elsewhere.stderr.trim()]).toEqual([2, 'gavel serve: cannot listen on 192.0.2.1:18181: EADDRNOTAVAIL (no network interface of this machine has that address: choose another address with --http HOST:PORT, GAVEL_HTTP or `http` in the config file)']);
  });

  test.each([
    { flag: '--http', other: '--grpc', says: (port: number) => `cannot listen on 127.0.0.1:${port}: EADDRINUSE` },
    { flag: '--grpc', other: '--http', says: (port: number) => `cannot listen for gRPC on 127.0.0.1:${port}` },
  ])('a $flag port already in use is one clear line on stderr, and the process exits (2) instead of lingering', async ({ flag, other, says }) => {
    ws = workspace();
    const { createServer } = await import('node:net');
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    const run = await gavel(['serve', flag, `127.0.0.1:${port}`, other, '127.0.0.1:0'], { cwd: ws.dir });
    taken.close();
    expect(run.code).toBe(2);
    // Only Gavel's line: grpc-js's own log of the failed bind is silenced.
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringContaining(says(port))]);
    // A start that failed changed nothing: no database, issuer secret or data folder was left behind.
    const { existsSync } = await import('node:fs');
    expect(existsSync(join(ws.dir, 'data'))).toBe(false);
  });
});

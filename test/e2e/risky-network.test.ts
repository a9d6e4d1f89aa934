import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, cpSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ROOT, workspace } from '../cli/helpers.js';

/**
 * A risky network end to end: `gavel serve` with the example IP lists, called over real
 * sockets from different loopback addresses (127.0.0.2 is on the example block list,
 * 127.0.0.3 has reputation 10 in the scored list), with 127.0.0.1 as the only trusted proxy.
 */
let child: ChildProcess;
let ws: ReturnType<typeof workspace>;
let url = '';
let output = '';
const ADMIN_KEY = 'risky-network-admin-key';

beforeAll(async () => {
  ws = workspace();
  cpSync(join(ROOT, 'examples', 'lists'), join(ws.dir, 'lists'), { recursive: true });
  child = spawn(
    process.execPath,
    [join(ROOT, 'bin', 'gavel.js'), 'serve', '--http', '127.0.0.1:0', '--grpc', '127.0.0.1:0', '--ip-list', 'firehol-level1=lists/firehol-level1.netset', '--ip-list', 'reputation=lists/reputation.csv', '--trusted-proxy', '127.0.0.1/32'],
    { cwd: ws.dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GAVEL_ADMIN_KEY: ADMIN_KEY } },
  );
  url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
      const m = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (m) resolve(m[1]);
    });
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    child.on('exit', (code) => reject(new Error(`gavel serve exited with ${code}: ${output}`)));
  });
});

afterAll(() => {
  child.kill('SIGKILL');
  ws.remove();
});

interface Answer {
  status: number;
  body: { decision: boolean; context?: { determining?: string[]; reasons?: string[] } };
}

/** POSTs JSON from a chosen local address, as a client on that address would. */
function post(path: string, body: unknown, from: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method: 'POST', localAddress: from, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Answer['body'] }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const mint = (scope: string, client = 'reporting-app') => ({ subject: { type: 'client', id: client }, action: { name: 'mint' }, resource: { type: 'scope', id: scope } });
const evaluation = (from: string, headers: Record<string, string> = {}) => post('/access/v1/evaluation', mint('invoice:read'), from, headers);

async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`condition never held; server output:\n${output}`);
}

describe('a risky network, end to end', () => {
  test('the same request is allowed from a clean address and denied from a listed one', async () => {
    expect((await evaluation('127.0.0.1')).body).toMatchObject({ decision: true, context: { determining: ['mint.read-scopes'] } });
    expect((await evaluation('127.0.0.2')).body).toMatchObject({ decision: false, context: { determining: ['risk.blocklisted'], reasons: ['address is on a block list'] } });
    expect((await evaluation('127.0.0.3')).body).toMatchObject({ decision: false, context: { determining: ['risk.block-bad-networks'] } });
  });

  test('X-Forwarded-For is believed from the trusted proxy only', async () => {
    // A spoof from an untrusted peer (127.0.0.4) is ignored: the peer itself is clean.
    expect((await evaluation('127.0.0.4', { 'x-forwarded-for': '127.0.0.1' })).body.decision).toBe(true);
    expect((await evaluation('127.0.0.2', { 'x-forwarded-for': '127.0.0.1' })).body.decision).toBe(false);
    // The operator hears of a peer whose forwarded addresses are ignored, once per peer; never of the trusted one.
    await evaluation('127.0.0.4', { 'x-forwarded-for': '127.0.0.5' });
    // stderr arrives on its own pipe: wait for the line rather than race it.
    for (let waited = 0; !output.includes('127.0.0.4 sends') && waited < 5_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    const warnings = output.split('\n').filter((l) => l.includes('which is ignored: it is not a trusted proxy'));
    expect(warnings.filter((l) => l.startsWith('gavel: warning: 127.0.0.4 sends X-Forwarded-For'))).toHaveLength(1);
    expect(warnings.find((l) => l.includes('127.0.0.4'))).toContain('add --trusted-proxy 127.0.0.4/32');
    expect(warnings.some((l) => l.includes(' 127.0.0.1 sends'))).toBe(false);
    // The trusted proxy forwarding a listed client: the client's address decides.
    expect((await evaluation('127.0.0.1', { 'x-forwarded-for': '127.0.0.3' })).body).toMatchObject({ decision: false, context: { determining: ['risk.block-bad-networks'] } });
    // What the client wrote left of its real address is not believed.
    expect((await evaluation('127.0.0.1', { 'x-forwarded-for': '127.0.0.1, 127.0.0.2' })).body.decision).toBe(false);
  });

  test('forward-auth sees the client address a trusted gateway forwards, as context.ip too', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const headers = { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/invoices/1', 'x-forwarded-for': '127.0.0.2', 'x-request-id': 'fa-1' };
      const req = request(`${url}/v1/forward-auth`, { localAddress: '127.0.0.1', headers }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(401);
    // The decision log shows who asked and which forbid applied.
    type Logged = { request_id: string; determining: string[]; request: { context: { ip: string } } };
    let logged: Logged | undefined;
    await until(async () => {
      const r = await fetch(`${url}/v1/decisions?limit=50`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
      logged = ((await r.json()) as { decisions: Logged[] }).decisions.find((d) => d.request_id === 'fa-1');
      return logged !== undefined;
    });
    expect(logged).toMatchObject({ determining: expect.arrayContaining(['risk.blocklisted']), request: { context: { ip: '127.0.0.2' } } });
  });

  test('a list file that changes is reloaded; a broken one keeps the previous version and shows in /readyz', async () => {
    expect((await evaluation('127.0.0.6')).body.decision).toBe(true);
    appendFileSync(join(ws.dir, 'lists', 'firehol-level1.netset'), '127.0.0.6/32\n');
    await until(async () => (await evaluation('127.0.0.6')).body.decision === false);

    writeFileSync(join(ws.dir, 'lists', 'firehol-level1.netset'), '127.0.0.6/32\n127.0.0.7/8\n');
    await until(async () => {
      const ready = (await (await fetch(`${url}/readyz`)).json()) as { status: string; ip_lists: { name: string; error?: string }[] };
      return ready.status === 'ready' && ready.ip_lists.some((l) => l.name === 'firehol-level1' && l.error?.includes('firehol-level1.netset:2:1') === true);
    });
    // The previous version serves: 127.0.0.6 still listed, 127.0.0.2 too.
    expect((await evaluation('127.0.0.6')).body.decision).toBe(false);
    expect((await evaluation('127.0.0.2')).body.decision).toBe(false);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('gavel_ip_list_ok{list="firehol-level1"} 0');
    // A count that only grows is a counter, named as one.
    expect(metrics).toContain('# TYPE gavel_ip_list_reload_failures_total counter');
    expect(metrics).toMatch(/^gavel_ip_list_reload_failures_total\{list="firehol-level1"\} [1-9]/m);
  });

  test('an address denied more than 20 times in a minute is denied everything for a while', async () => {
    for (let i = 0; i < 21; i++) expect((await post('/access/v1/evaluation', mint('payments:write'), '127.0.0.8')).body.decision).toBe(false);
    expect((await evaluation('127.0.0.8')).body).toMatchObject({ decision: false, context: { determining: ['risk.probing'] } });
    // Only that address.
    expect((await evaluation('127.0.0.9')).body.decision).toBe(true);
  });
});

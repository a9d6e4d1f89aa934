/**
 * `gavel log --follow`: decisions shown as a running server logs them — what a shipper to a
 * SIEM, or an operator watching a rollout, runs beside `gavel serve`.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { gavel, ROOT, serveProcess, workspace, type Served } from './helpers.js';

let ws: ReturnType<typeof workspace>;
let server: Served;
const followers: ChildProcessWithoutNullStreams[] = [];

beforeEach(async () => {
  ws = workspace();
  server = await serveProcess(ws.dir, []);
}, 30_000);

afterEach(() => {
  for (const f of followers.splice(0)) f.kill('SIGKILL');
  server.stop();
  ws.remove();
});

/** `gavel log --follow ARGS` in the background: its stdout lines as they come, and its exit. */
function follow(args: string[]) {
  const child = spawn(process.execPath, [join(ROOT, 'bin/gavel.js'), 'log', '--follow', ...args], { cwd: ws.dir, stdio: ['pipe', 'pipe', 'pipe'] });
  followers.push(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    stderr: () => err,
    /** Waits until `n` whole lines have arrived (or 20 s), and answers them. */
    async lines(n: number): Promise<string[]> {
      for (let waited = 0; out.split('\n').length - 1 < n && waited < 20_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
      return out.split('\n').slice(0, -1);
    },
  };
}

const evaluate = (requestId: string, path = '/access/v1/evaluation') =>
  fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': requestId },
    body: JSON.stringify({ subject: { type: 'user', id: 'sara' }, action: { name: 'read' }, resource: { type: 'customer', id: 'c-1' } }),
  }).then((r) => expect(r.status).toBe(200));

describe('gavel log --follow', () => {
  test('shows each decision once, oldest first, as JSON Lines, with the filters of gavel log; SIGTERM ends it with exit 0', async () => {
    await evaluate('before-start');
    const f = follow(['--json', '--via', 'authzen']);
    // Started: give it a first look at the log (a decision made before it is not shown).
    await new Promise((r) => setTimeout(r, 700));
    await evaluate('one');
    await evaluate('filtered-out', '/v1/decide');
    await evaluate('two');
    const first = await f.lines(2);
    // Later decisions, after it has read the earlier ones.
    await evaluate('three');
    const all = await f.lines(3);
    expect(all.slice(0, 2)).toEqual(first);
    // Nothing more arrives: a decision is not shown twice by later reads.
    await new Promise((r) => setTimeout(r, 1200));
    const records = (await f.lines(3)).map((l) => JSON.parse(l) as { request_id: string; via: string });
    expect(records.map((r) => [r.request_id, r.via])).toEqual([
      ['one', 'authzen'],
      ['two', 'authzen'],
      ['three', 'authzen'],
    ]);
    f.child.kill('SIGTERM');
    expect(await f.exited).toBe(0);
    expect(f.stderr()).toBe('');
  }, 40_000);

  test('with --since, the decisions since then come first; text lines as gavel log prints them', async () => {
    await evaluate('earlier');
    // The server writes its batch within 100 ms; then the follower starts back at --since.
    await new Promise((r) => setTimeout(r, 300));
    const f = follow(['--since', '1h', '--subject', 'sara']);
    const [line] = await f.lines(1);
    expect(line).toMatch(/ authzen +DENY +user:sara read customer:c-1 by .*\[[0-9a-f-]{36}\] request earlier$/);
    f.child.kill('SIGINT');
    expect(await f.exited).toBe(0);
  }, 40_000);

  test('has no end, so --until and --limit are usage errors', async () => {
    for (const args of [['--until', '1h'], ['--limit', '5']]) {
      const r = await gavel(['log', '--follow', ...args], { cwd: ws.dir });
      expect([r.code, r.stderr.trim()]).toEqual([2, 'gavel log: --follow shows decisions as they are logged, with no end: it takes no --until or --limit']);
    }
  }, 20_000);
});

import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { gavel, ROOT, workspace } from './helpers.js';

let child: ChildProcess | null = null;
let ws: ReturnType<typeof workspace> | null = null;
afterEach(() => {
  child?.kill('SIGKILL');
  ws?.remove();
});

interface Line {
  time: string;
  level: 'info' | 'warn' | 'error';
  msg: string;
  details?: string[];
  request_id?: string;
  stack?: string;
}

/** `gavel serve` with GAVEL_LOG_FORMAT=json; its two streams kept apart, each parsed a line at a time. */
function startJson(cwd: string) {
  const proc = spawn(process.execPath, [join(ROOT, 'bin', 'gavel.js'), 'serve', '--http', '127.0.0.1:0', '--grpc', '127.0.0.1:0'], { cwd, env: { ...process.env, GAVEL_LOG_FORMAT: 'json' }, stdio: ['ignore', 'pipe', 'pipe'] });
  child = proc;
  const text = { stdout: '', stderr: '' };
  proc.stdout!.on('data', (d: Buffer) => (text.stdout += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (text.stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  // Every line must be one JSON object: a collector fed anything else drops or mangles it.
  const lines = (stream: 'stdout' | 'stderr'): Line[] => text[stream].split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Line);
  const until = async (stream: 'stdout' | 'stderr', match: (l: Line) => boolean): Promise<Line> => {
    for (let i = 0; i < 400; i++) {
      const found = lines(stream).find(match);
      if (found !== undefined) return found;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`no such line; stdout: ${text.stdout}; stderr: ${text.stderr}`);
  };
  return { proc, lines, until, exited };
}

describe('log_format: json — the server says what it does as one JSON object a line', () => {
  test('start, a rejected policy change with its errors, and the stop', async () => {
    ws = workspace();
    const server = startJson(ws.dir);
    const serving = await server.until('stdout', (l) => l.msg.startsWith('serving '));
    expect(serving).toEqual({ time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), level: 'info', msg: expect.stringMatching(/^serving \d+ policies \(revision [0-9a-f]{16}\) on http:\/\/127\.0\.0\.1:\d+ and grpc:\/\/127\.0\.0\.1:\d+$/) });
    expect(Math.abs(Date.parse(serving.time) - Date.now())).toBeLessThan(60_000);

    writeFileSync(join(ws.dir, 'policies', 'extra.gavel'), '@id("extra") permit when { nope };\n');
    const rejected = await server.until('stderr', (l) => l.msg.startsWith('rejected a policy change'));
    expect(rejected.level).toBe('error');
    expect(rejected.details).toEqual([expect.stringMatching(/^extra\.gavel:1:28: error: unknown name `nope`/)]);

    server.proc.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.lines('stdout').at(-1)).toMatchObject({ level: 'info', msg: 'stopped' });
    // Nothing but JSON on either stream.
    expect(() => server.lines('stderr')).not.toThrow();
  });

  test('a start refused for invalid policies is one JSON line with the diagnostics, exit 1', async () => {
    ws = workspace();
    writeFileSync(join(ws.dir, 'policies', 'bad.gavel'), 'permit when { nope };');
    const server = startJson(ws.dir);
    expect(await server.exited).toBe(1);
    expect(server.lines('stderr')).toEqual([{ time: expect.any(String), level: 'error', msg: 'cannot start: the policies are invalid', details: [expect.stringMatching(/^policies\/bad\.gavel:1:15: error: unknown name `nope`/)] }]);
  });

  test('a start refused after the configuration is read (a port in use) is JSON too, exit 2', async () => {
    ws = workspace();
    const { createServer } = await import('node:net');
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as { port: number }).port;
      const run = await gavel(['serve', '--http', `127.0.0.1:${port}`, '--grpc', '127.0.0.1:0'], { cwd: ws.dir, env: { ...process.env, GAVEL_LOG_FORMAT: 'json' } });
      expect(run.code).toBe(2);
      expect(JSON.parse(run.stderr.trim())).toMatchObject({ level: 'error', msg: expect.stringContaining(`cannot start: cannot listen on 127.0.0.1:${port}: EADDRINUSE`) });
    } finally {
      taken.close();
    }
  });

  test('an unknown format is a configuration error naming where it came from', async () => {
    ws = workspace();
    const run = await gavel(['serve', '--http', '127.0.0.1:0', '--grpc', '127.0.0.1:0'], { cwd: ws.dir, env: { ...process.env, GAVEL_LOG_FORMAT: 'yaml' } });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('GAVEL_LOG_FORMAT: expected "text" or "json" (`yaml` given)');
    writeFileSync(join(ws.dir, 'gavel.json'), JSON.stringify({ log_format: 7 }));
    const fromFile = await gavel(['serve', '--config', 'gavel.json', '--http', '127.0.0.1:0', '--grpc', '127.0.0.1:0'], { cwd: ws.dir });
    expect(fromFile.code).toBe(2);
    expect(fromFile.stderr).toContain('gavel.json: log_format: expected "text" or "json"');
  });
});

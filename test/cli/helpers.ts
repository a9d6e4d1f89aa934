import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'gavel.js');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `gavel` executable, as a user or a script would. */
export function gavel(args: string[], options: { cwd: string; stdin?: string; env?: NodeJS.ProcessEnv }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'], ...(options.env === undefined ? {} : { env: { ...process.env, ...options.env } }) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}

/** A scratch folder holding a copy of the example policies; removed by the caller. */
export function workspace(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'gavel-cli-'));
  cpSync(join(ROOT, 'policies'), join(dir, 'policies'), { recursive: true });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Served {
  url: string;
  output: () => string;
  stop: () => void;
}

/** Starts `gavel serve` with `args` (HTTP and gRPC on free ports) and answers once it listens. */
export function serveProcess(cwd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'serve', '--http', '127.0.0.1:0', '--grpc', '127.0.0.1:0', ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve({ url: m[1], output: () => out, stop: () => void child.kill('SIGKILL') });
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => reject(new Error(`gavel serve exited with ${code}: ${out}`)));
  });
}

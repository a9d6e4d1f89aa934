/**
 * Child processes of the server benchmarks: each server and each load generator runs in its
 * own process, pinned to one CPU with `taskset -c` (servers on CPU 0, load generators on
 * CPU 1), so that the generator never takes the server's core. Every child is registered
 * here and killed by `stopAll`, which the benchmarks call in `finally` and on SIGINT/SIGTERM.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export const SERVER_CPU = 0;
export const LOAD_CPU = 1;

/** Whether `taskset` works here; without it the benchmark runs unpinned and says so. */
export const canPin: boolean = (() => {
  if (process.platform !== 'linux') return false;
  const probe = spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0;
})();

export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  /** stdout and stderr so far, for errors and for lines the benchmark waits on. */
  output(): string;
  /** Resolves with the first match of `pattern` in the output; rejects if the child exits first or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  readonly exited: Promise<number | null>;
}

const children = new Set<Child>();

export interface SpawnOptions {
  cpu: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** An IPC channel, for the load generators. */
  ipc?: boolean;
}

/** Spawns `command args` pinned to `cpu` (when taskset works) and registers it for `stopAll`. */
export function spawnPinned(name: string, command: string, args: readonly string[], options: SpawnOptions): Child {
  const [cmd, argv] = canPin ? ['taskset', ['-c', String(options.cpu), command, ...args]] : [command, [...args]];
  const proc = spawn(cmd, argv, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: options.ipc === true ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const listeners = new Set<() => void>();
  const append = (d: Buffer): void => {
    // Keeps the tail only: Cerbos and Gavel print little, but a long run must not grow this forever.
    out = (out + d.toString()).slice(-200_000);
    for (const l of listeners) l();
  };
  proc.stdout?.on('data', append);
  proc.stderr?.on('data', append);
  const exited = new Promise<number | null>((resolve) => {
    proc.on('exit', (code, signal) => resolve(code ?? (signal === null ? null : -1)));
    proc.on('error', () => resolve(-1));
  });
  const child: Child = {
    name,
    proc,
    output: () => out,
    exited,
    waitFor: (pattern, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const m = pattern.exec(out);
          if (m !== null) {
            done();
            resolve(m);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${name}: no ${pattern} in its output after ${timeoutMs} ms:\n${out.slice(-4000)}`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        void exited.then((code) => {
          if (!listeners.has(check)) return;
          done();
          reject(new Error(`${name} exited with ${code} before printing ${pattern}:\n${out.slice(-4000)}`));
        });
        check();
      }),
  };
  children.add(child);
  void exited.then(() => children.delete(child));
  return child;
}

/** SIGTERM to every child still running, SIGKILL to those still there after `graceMs`. */
export async function stopAll(graceMs = 5_000): Promise<void> {
  const running = [...children];
  for (const c of running) c.proc.kill('SIGTERM');
  await Promise.all(
    running.map(async (c) => {
      const timer = setTimeout(() => c.proc.kill('SIGKILL'), graceMs);
      await c.exited;
      clearTimeout(timer);
    }),
  );
}

/** Kills the children when the benchmark itself is interrupted, then exits with the signal's code. */
export function stopOnSignals(cleanup: () => Promise<void>): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping the servers`);
      void cleanup().finally(() => process.exit(130));
    });
  }
}

/**
 * A port free on 127.0.0.1 right now, for a server that cannot bind port 0 and report it
 * (Cerbos). The OS picks it; another process could take it before the server binds, in
 * which case the server fails to start and the benchmark says so.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`; 100 on Linux here). */
const CLK_TCK: number = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/**
 * CPU seconds (user + system) a process has used so far, from /proc; `null` where there is
 * no /proc. Read around a load run, it says whether the server was busy the whole time
 * (~100% of its one core) or waited — on the network, or for a core other work took.
 */
export function cpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; fields after its closing parenthesis are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

/** CPU seconds of a process split by thread: its main thread, and all its other threads together. */
export interface ThreadCpu {
  main: number;
  others: number;
}

/**
 * Like `cpuSeconds`, per thread (/proc/<pid>/task): in a Node server the main thread runs the
 * JavaScript, while libuv's pool (WebCrypto signatures, for one), worker threads and V8's
 * helpers run on the others. `null` where there is no /proc. A thread that exits between two
 * reads takes its seconds with it, so read this around runs in which threads do not come and go.
 */
export function threadCpuSeconds(pid: number | undefined): ThreadCpu | null {
  if (pid === undefined) return null;
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  const out: ThreadCpu = { main: 0, others: 0 };
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const seconds = (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
      if (tid === String(pid)) out.main += seconds;
      else out.others += seconds;
    } catch {
      // The thread exited after the directory was read: its time is gone from both reads.
    }
  }
  return out;
}

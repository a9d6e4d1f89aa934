/**
 * Reads a V8 `.cpuprofile` (from `node --cpu-prof`) into what a benchmark can report: the
 * frames with the most self time, self time by area (a Gavel folder under dist/, a package,
 * a Node internal module), and the inclusive time of a few named functions. Shares are of
 * the samples in which the main thread was not idle. Only the main thread is sampled: work
 * Node runs on other threads (libuv's pool, worker threads) is not in a profile.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
}

function isProfile(x: unknown): x is Profile {
  return typeof x === 'object' && x !== null && Array.isArray(Reflect.get(x, 'nodes')) && Array.isArray(Reflect.get(x, 'samples'));
}

/** A function whose inclusive time is wanted: the file's path ends with `file`, and its name is `fn`. */
export interface Frame {
  label: string;
  file: string;
  fn: string;
}

export interface Share {
  label: string;
  share: number;
}

export interface ProfileSummary {
  /** Samples in which the main thread was busy. */
  busySamples: number;
  /** Of all samples, the idle ones. */
  idleShare: number;
  topSelf: Share[];
  areas: Share[];
  inclusive: Share[];
}

/** `dist/issuer/issuer.js`, `node_modules/fastify/lib/route.js`, `node:internal/crypto/sig`. */
function path(url: string): string {
  if (url.startsWith('file://')) {
    const p = fileURLToPath(url);
    return p.startsWith(ROOT) ? p.slice(ROOT.length) : p;
  }
  return url;
}

function area(file: string, fn: string): string {
  if (file === '') return fn.startsWith('(') ? fn : '(native)';
  const pkg = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (pkg !== null) return pkg[1] ?? file;
  const dist = /^dist\/([^/]+)/.exec(file);
  if (dist !== null) return `gavel ${dist[1]?.endsWith('.js') === true ? dist[1] : `${dist[1]}/`}`;
  const internal = /^node:(internal\/[^/]+|[^/]+)/.exec(file);
  return internal !== null ? `node:${internal[1] ?? ''}` : file;
}

function ranked(counts: Map<string, number>, total: number, top: number): Share[] {
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([label, n]) => ({ label, share: n / total }));
}

export function summarizeProfile(file: string, frames: readonly Frame[], top = 12): ProfileSummary {
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!isProfile(parsed)) throw new Error(`${file}: not a V8 CPU profile`);
  const byId = new Map(parsed.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of parsed.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const areas = new Map<string, number>();
  const inclusive = new Map<string, number>(frames.map((f) => [f.label, 0]));
  let idle = 0;
  for (const id of parsed.samples) {
    const node = byId.get(id);
    if (node === undefined) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle++;
      continue;
    }
    const p = path(url);
    const key = p === '' ? functionName || '(anonymous)' : `${p}:${functionName || '(anonymous)'}:${lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + 1);
    const a = area(p, functionName);
    areas.set(a, (areas.get(a) ?? 0) + 1);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = byId.get(at)?.callFrame;
      if (f === undefined) break;
      for (const w of frames) if (!seen.has(w.label) && f.functionName === w.fn && path(f.url).endsWith(w.file)) seen.add(w.label);
    }
    for (const label of seen) inclusive.set(label, (inclusive.get(label) ?? 0) + 1);
  }
  const busy = parsed.samples.length - idle;
  return {
    busySamples: busy,
    idleShare: parsed.samples.length > 0 ? idle / parsed.samples.length : NaN,
    topSelf: ranked(self, busy, top),
    areas: ranked(areas, busy, top),
    inclusive: frames.map((f) => ({ label: f.label, share: (inclusive.get(f.label) ?? 0) / busy })),
  };
}

/**
 * The console benchmark: `npm run bench:console`.
 *
 * Server-side render time of each console page (fastify inject: routing, the page's work,
 * HTML; no network, no browser) over the engine benchmark's 10,000-policy workload
 * (bench/workload.ts) and a SqliteStore seeded with 1,000,000 logged decisions, appended as
 * the decision log does it: `appendBatch` with batches of 500. Each page is rendered once
 * cold, then RUNS times; the median is reported against the 300 ms target. Rewrites the
 * "console" section of bench/RESULTS.md.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { buildPolicySet, type PolicySet } from '../dist/index.js';
import { buildApp } from '../dist/http/app.js';
import { LivePolicySet } from '../dist/engine/live-set.js';
import { TreeKeeper } from '../dist/server/tree-keeper.js';
import { SqliteStore } from '../dist/store/sqlite/sqlite-store.js';
import { writeSection } from './results-file.js';
import { gavelPolicies } from './workload.js';

const POLICIES = 10_000;
const DECISIONS = 1_000_000;
const BATCH = 500;
const RUNS = 5;
const TARGET_MS = 300;
const COMMAND = 'npm run bench:console';
const KEY = 'bench-console-admin-key-0123456789';

function build(): PolicySet {
  const { set, diagnostics } = buildPolicySet([{ file: 'bench.gavel', text: gavelPolicies(POLICIES) }]);
  if (set === null) throw new Error(`workload does not build: ${diagnostics[0]?.message}`);
  return set;
}

/**
 * One logged decision, serialised as the decision log does. Every 10th is a deny by the
 * type's risk forbid; subjects u0…u9999; times one second apart, the newest now.
 */
function record(i: number, start: number, set: PolicySet): string {
  const t = i % (POLICIES / 5);
  const deny = i % 10 === 0;
  const at = new Date(start + i * 1000).toISOString();
  const policy = set.policies[t * 5 + (deny ? 3 : 0)]!.id;
  const subject = `u${i % 10_000}`;
  const risk = deny ? 95 : 10;
  const request = `{"subject":{"type":"user","id":"${subject}","properties":{"role":"viewer","department":"d${i % 7}"}},"action":{"name":"read"},"resource":{"type":"t${t}","id":"r${i}","properties":{"department":"d${i % 7}","owner":"u1"}},"context":{"risk_score":${risk},"ip":"10.1.2.3"},"token":{"scope":"t${t}:read","sub":"${subject}"}}`;
  return `{"id":"req-${i}","at":"${at}","via":"authzen","decision":${!deny},"revision":"${set.revision}","determining":["${policy}"],"reasons":[],"errors":[],"subject":{"type":"user","id":"${subject}"},"action":"read","resource":{"type":"t${t}","id":"r${i}"},"latencyUs":3.2,"request":${request}}`;
}

function seed(store: SqliteStore, set: PolicySet): number {
  const started = Date.now();
  const start = started - DECISIONS * 1000;
  for (let b = 0; b < DECISIONS / BATCH; b++) {
    const records: string[] = [];
    for (let i = b * BATCH; i < (b + 1) * BATCH; i++) records.push(record(i, start, set));
    store.appendBatch({ firstAt: new Date(start + b * BATCH * 1000).toISOString(), lastAt: new Date(start + ((b + 1) * BATCH - 1) * 1000).toISOString(), count: BATCH, json: `[${records.join(',')}]` });
  }
  return Date.now() - started;
}

let treesMs = 0;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const set = build();
  const dir = mkdtempSync(join(os.tmpdir(), 'gavel-bench-console-'));
  const store = new SqliteStore(join(dir, 'gavel.db'), { durability: 'normal' });
  try {
    const seedMs = seed(store, set);
    console.log(`seeded ${DECISIONS.toLocaleString('en')} decisions in ${(seedMs / 1000).toFixed(1)} s`);
    const live = new LivePolicySet(set);
    // As `gavel serve` with an admin key: the set's syntax trees parsed ahead, in slices, and kept.
    const keeper = new TreeKeeper(live);
    const treesStart = process.hrtime.bigint();
    keeper.refresh();
    while (keeper.held < set.policies.length) await new Promise((resolve) => setImmediate(resolve));
    treesMs = Number(process.hrtime.bigint() - treesStart) / 1e6;
    console.log(`syntax trees of ${POLICIES} policies parsed ahead in ${treesMs.toFixed(0)} ms (in slices between requests)`);
    const app = buildApp({ policies: live, store, admin: { key: KEY, store, reload: null }, console: { key: KEY, store } });
    // Ready: the console's onReady hook builds the inventory, as `gavel serve` does before listening.
    const readyStart = process.hrtime.bigint();
    await app.ready();
    const readyMs = Number(process.hrtime.bigint() - readyStart) / 1e6;
    console.log(`app ready (inventory of ${POLICIES} policies built) in ${readyMs.toFixed(0)} ms`);
    const cookie = await signIn(app);
    // The decision page as the log browser links it: the newest deny's link.
    const denies = await app.inject({ method: 'GET', url: '/console/decisions?decision=deny', headers: { cookie } });
    const decisionUrl = /href="(\/console\/decisions\/req-[^"]+)"/.exec(denies.body)![1]!.replaceAll('&amp;', '&');
    // Page 2 as the browser reaches it: the first page's "older" link (a store cursor).
    const newest = await app.inject({ method: 'GET', url: '/console/decisions', headers: { cookie } });
    const olderUrl = /href="(\/console\/decisions\?[^"]*older=[^"]+)"/.exec(newest.body)![1]!.replaceAll('&amp;', '&');
    const pages: { page: string; url: string }[] = [
            { page: 'policies', url: '/console/policies' },
      { page: 'policies, search + filter', url: '/console/policies?q=t7&effect=forbid' },
      { page: 'policies, page 50', url: '/console/policies?page=50' },
      { page: 'affects, keyed facts', url: `/console/affects?path=resource.type&op=%3D%3D&value=t7&path=action&op=%3D%3D&value=read&all=on` },
      { page: 'affects, unkeyed facts', url: `/console/affects?path=subject.role&op=%3D%3D&value=editor&path=context.risk_score&op=%3C&value=50` },
      { page: 'decisions, newest', url: '/console/decisions' },
      { page: 'decisions, older (page 2)', url: olderUrl },
      { page: 'decisions, deny', url: '/console/decisions?decision=deny' },
      { page: 'decisions, subject', url: '/console/decisions?subject=u4242' },
      { page: 'decisions, policy', url: `/console/decisions?policy=${encodeURIComponent(set.policies[3]!.id)}` },
      { page: 'decisions, since 1 h ago', url: `/console/decisions?since=${encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString())}` },
      { page: 'decision (a deny, explained)', url: decisionUrl },
    ];
    const results: { page: string; url: string; status: number; coldMs: number; medianMs: number }[] = [];
    for (const p of pages) {
      const cold = await time(app, p.url, cookie);
      const runs: number[] = [];
      for (let i = 0; i < (p.page.includes('first') ? 0 : RUNS); i++) runs.push((await time(app, p.url, cookie)).ms);
      const r = { page: p.page, url: p.url, status: cold.status, coldMs: cold.ms, medianMs: runs.length === 0 ? cold.ms : median(runs) };
      console.log(`${r.page}: ${r.status} first ${r.coldMs.toFixed(0)} ms, median ${r.medianMs.toFixed(0)} ms`);
      results.push(r);
    }
    await app.close();
    report(results, seedMs, readyMs);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

type App = ReturnType<typeof buildApp>;

async function signIn(app: App): Promise<string> {
  const login = await app.inject({ method: 'GET', url: '/console/login' });
  const csrf = /name="csrf" value="([^"]+)"/.exec(login.body)![1]!;
  const setCookie = login.headers['set-cookie'];
  const loginCookie = String(Array.isArray(setCookie) ? setCookie[0] : setCookie).split(';')[0]!;
  const r = await app.inject({ method: 'POST', url: '/console/login', headers: { cookie: loginCookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams({ csrf, key: KEY }).toString() });
  const cookies = r.headers['set-cookie'];
  return (Array.isArray(cookies) ? cookies : [String(cookies)]).map((c) => c.split(';')[0]!).find((c) => c.startsWith('gavel_console='))!;
}

async function time(app: App, url: string, cookie: string): Promise<{ ms: number; status: number }> {
  (globalThis as { gc?: () => void }).gc?.();
  const start = process.hrtime.bigint();
  const r = await app.inject({ method: 'GET', url, headers: { cookie } });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.statusCode !== 200) throw new Error(`${url}: ${r.statusCode} ${r.body.slice(0, 300)}`);
  return { ms, status: r.statusCode };
}

function commit(): string {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  return head.stdout.trim() || 'unknown';
}

function report(results: { page: string; url: string; coldMs: number; medianMs: number }[], seedMs: number, readyMs: number): void {
  const table = [
    `| page | URL | first render | median of ${RUNS} | target ≤ ${TARGET_MS} ms |`,
    '| --- | --- | --- | --- | --- |',
    ...results.map((r) => `| ${r.page} | \`${r.url.length > 70 ? `${r.url.slice(0, 67)}…` : r.url}\` | ${r.coldMs.toFixed(0)} ms | ${r.page.includes('first') ? '—' : `${r.medianMs.toFixed(0)} ms`} | ${r.medianMs <= TARGET_MS ? 'met' : 'MISSED'} |`),
  ];
  for (const line of table) console.log(line);
  console.log(`\nreproduce: ${COMMAND}`);
  writeSection(
    'console',
    [
      '## Console',
      '',
      `Server-side render time of each console page (fastify \`inject\`: routing, the page's work and its HTML; no network, no browser) with the engine benchmark's ${POLICIES.toLocaleString('en')}-policy workload and a SqliteStore holding ${DECISIONS.toLocaleString('en')} logged decisions (seeded with \`appendBatch\`, batches of ${BATCH}, in ${(seedMs / 1000).toFixed(0)} s), on commit ${commit()}, ${new Date().toISOString().slice(0, 10)}, load average ${os.loadavg()[0]!.toFixed(2)}. Reproduce: \`${COMMAND}\`.`,
      '',
      ...table,
      '',
      `As \`gavel serve\` does when its admin APIs are on (src/server/tree-keeper.ts), the set's syntax trees are parsed ahead, in slices between requests, and kept (${treesMs.toFixed(0)} ms of parsing here, before the pages are timed). The policies pages read the inventory, built once per policy revision and cached beside the set (${readyMs.toFixed(0)} ms here, before the server listens).`,
      '',
      'The affects pages are `affects()` (bench/RESULTS.md#affects) plus at most 500 rendered rows (the CSV export has all). "Keyed" facts fix `action` and `resource.type`, so the index keys rule out almost every policy; "unkeyed" facts partially evaluate every policy, over the kept trees. Each run starts with a full GC.',
      '',
      'The decisions pages are `Store.decisionPage` and `decisionById`: each stored batch of 500 has a summary row (its ids and the subjects, policies, interfaces and outcomes in it; migration 11), so a filter opens only the batches that may hold a match, and a lookup by id only the batch that holds it.',
    ].join('\n'),
  );
}

await main();

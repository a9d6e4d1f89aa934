/**
 * The compliance log benchmark: `npm run bench:whatif`.
 *
 * - whatif: 200,000 decisions of the engine workload (bench/workload.ts, 1,000 policies)
 *   written with store.appendBatch, replayed against a candidate with one rule changed
 *   (scope `t<k>:admin` no longer suffices for admins of even types); decisions/s, median of 5.
 * - query: 1,000,000 decisions; a lookup by id (an old one) and a filtered newest page
 *   (deny, one subject, limit 50) and a page by a policy; medians of 7.
 * - writer: what appendBatch costs per decision (bench/log-writer.ts).
 * Rewrites the "whatif" section of bench/RESULTS.md.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { buildPolicySet, type PolicySet } from '../dist/index.js';
import { whatIf } from '../dist/engine/whatif.js';
import { SqliteStore } from '../dist/store/sqlite/sqlite-store.js';
import { logBatches } from './log-records.js';
import { writerCostUs } from './log-writer.js';
import { writeSection } from './results-file.js';
import { gavelPolicies } from './workload.js';

const POLICIES = 1_000;
const REPLAYED = 200_000;
const QUERIED = 1_000_000;
const COMMAND = 'npm run bench:whatif';
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (f: () => unknown): number => {
  const t = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t) / 1e6;
};
const build = (text: string): PolicySet => buildPolicySet([{ file: 'bench.gavel', text }]).set!;

const dir = mkdtempSync(join(os.tmpdir(), "gavel-bench-whatif-"));
try {
  const live = build(gavelPolicies(POLICIES));
  // The candidate: admins of even types need `t<k>:write` too.
  const candidate = build(gavelPolicies(POLICIES).replace(/token\.scope contains "t(\d*[02468]):admin"/g, 'token.scope contains_all ["t$1:admin", "t$1:write"]'));

  const replayStore = new SqliteStore(join(dir, 'replay.db'), { durability: 'normal' });
  for (const b of logBatches(live, POLICIES, REPLAYED)) replayStore.appendBatch(b);
  const runs: number[] = [];
  let changed = 0;
  for (let i = 0; i < 5; i++) runs.push(ms(() => (changed = whatIf(replayStore, candidate).changed)));
  const rate = REPLAYED / (median(runs) / 1000);
  replayStore.close();

  const queryStore = new SqliteStore(join(dir, 'query.db'), { durability: 'normal' });
  for (const b of logBatches(live, POLICIES, QUERIED)) queryStore.appendBatch(b);
  const q = (f: () => unknown) => median(Array.from({ length: 7 }, () => ms(f)));
  const byId = q(() => queryStore.decisionById('req-00b2wk'));
  const page = q(() => queryStore.decisionPage({ decision: false, subjectId: 'u7', limit: 50 }));
  const byPolicy = q(() => queryStore.decisionPage({ policy: 'bench.gavel#3', limit: 50 }));
  const since = q(() => queryStore.decisionPage({ via: 'mint', since: '2026-01-01T00:05:00Z', until: '2026-01-01T00:06:00Z', limit: 50 }));
  queryStore.close();
  const writer = writerCostUs().median;

  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
  const table = [
    '| measure | result | target |',
    '| --- | --- | --- |',
    `| what-if replay, ${REPLAYED.toLocaleString('en')} logged decisions, ${POLICIES.toLocaleString('en')} policies (${changed.toLocaleString('en')} change) | ${Math.round(rate).toLocaleString('en')} decisions/s (median of 5: ${median(runs).toFixed(0)} ms) | ≥ 50,000/s ${rate >= 50_000 ? 'met' : 'MISSED'} |`,
    `| by id, ${QUERIED.toLocaleString('en')} logged | ${byId.toFixed(1)} ms | ≤ 300 ms |`,
    `| newest 50 deny decisions of one subject | ${page.toFixed(1)} ms | ≤ 300 ms |`,
    `| newest 50 determined by one policy | ${byPolicy.toFixed(1)} ms | ≤ 300 ms |`,
    `| newest 50 of one interface in a one-minute window | ${since.toFixed(1)} ms | ≤ 300 ms |`,
    `| writer (appendBatch) per decision, batch and summary | ${writer.toFixed(2)} µs | |`,
  ];
  for (const line of table) console.log(line);
  console.log(`\nreproduce: ${COMMAND}`);
  writeSection(
    'whatif',
    [
      '## Whatif',
      '',
      `What-if replay (src/engine/whatif.ts) and decision log queries (src/store/sqlite/sqlite-store.ts) over logs of the engine workload written with \`store.appendBatch\`, in process, on commit ${commit}, ${new Date().toISOString().slice(0, 10)}, load average ${os.loadavg()[0]!.toFixed(2)}. Reproduce: \`${COMMAND}\`.`,
      '',
      ...table,
      '',
      'Queries read the per-batch summaries (migration 11) and open only batches that may hold an answer. The writer figure is the writer thread\'s cost per decision: the batch and its summary inserted in one transaction; the decision log builds the summary as records are appended (a set of keys per batch on the request thread), so the writer never parses a batch back.',
    ].join('\n'),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
